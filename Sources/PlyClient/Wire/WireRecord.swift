/// One exchange as it crossed the wire, for the wire view: an HTTP request or response line,
/// or a WebSocket frame, with its overhead (HTTP lines and headers, frame header and mask)
/// and its payload, in bytes.
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
        /// A TCP connection opened or closed, or a WebSocket handshake.
        case connection(String)
    }

    public var direction: Direction
    public var kind: Kind
    public var overheadBytes: Int
    public var payloadBytes: Int
    /// When it happened, on the process's monotonic clock.
    public var at: ContinuousClock.Instant

    public init(_ direction: Direction, _ kind: Kind, overhead: Int, payload: Int, at: ContinuousClock.Instant = .now) {
        self.direction = direction
        self.kind = kind
        overheadBytes = overhead
        payloadBytes = payload
        self.at = at
    }

    /// Bytes on the wire in all.
    public var totalBytes: Int { overheadBytes + payloadBytes }
}
