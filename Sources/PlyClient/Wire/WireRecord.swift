import NIOCore
/// One exchange as it crossed the wire, for the wire view: an HTTP request or response line,
/// a WebSocket frame, or a Server-Sent Event, with its overhead (HTTP lines and headers, frame
/// header and mask, `id:`/`data:` lines and chunk framing) and its payload, in bytes.
public struct WireRecord: Sendable, Hashable {
    public enum Direction: String, Sendable, Hashable {
        case sent, received
    }

    public enum Kind: Sendable, Hashable {
        /// An HTTP request: its request line, e.g. `POST /matches/x/commands HTTP/1.1`.
        case request(String)
        /// An HTTP response: its status line, e.g. `HTTP/1.1 200 OK`.
        case response(String)
        /// A WebSocket frame: its opcode (`text`, `ping`, `pong`, `close`).
        case frame(String)
        /// A Server-Sent Event: its `id:` line.
        case event(String)
        /// A TCP connection opened or closed, or a WebSocket handshake.
        case connection(String)
    }

    public var direction: Direction
    public var kind: Kind
    public var overheadBytes: Int
    public var payloadBytes: Int
    /// The payload inflated, when it crossed the wire compressed (`payloadBytes` is what it
    /// took on the wire); nil when it was not compressed.
    public var plainPayloadBytes: Int?
    /// When it happened, on the process's monotonic clock.
    public var at: ContinuousClock.Instant
    /// The start of its payload as text (a JSON message or body), on one line; nil when empty.
    public var preview: String?

    public init(_ direction: Direction, _ kind: Kind, overhead: Int, payload: Int, plainPayload: Int? = nil,
                at: ContinuousClock.Instant = .now, preview: String? = nil) {
        self.direction = direction
        self.kind = kind
        overheadBytes = overhead
        payloadBytes = payload
        plainPayloadBytes = plainPayload
        self.at = at
        self.preview = preview
    }

    /// How many bytes of a payload a preview keeps.
    public static let previewBytes = 80

    /// The start of a payload as one line of text, or nil when there is none.
    public static func preview(of payload: ByteBuffer?) -> String? {
        guard let payload, payload.readableBytes > 0 else { return nil }
        let text = String(decoding: payload.readableBytesView.prefix(previewBytes), as: UTF8.self)
        return String(text.map { $0.isNewline || $0 == "\t" ? " " : $0 })
    }

    /// Bytes on the wire in all.
    public var totalBytes: Int { overheadBytes + payloadBytes }
}
