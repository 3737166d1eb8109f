import NIOCore

/// The HTML standard's event stream format (its "interpreting an event stream" rules), fed the
/// bytes of a `text/event-stream` body as they arrive, in pieces cut anywhere: lines end with
/// CR, LF or CRLF (a CR at the end of one piece and an LF at the start of the next are one end);
/// a leading byte order mark is dropped; a line starting with `:` is a comment; `field: value`
/// (one space after the colon dropped) or a bare `field`; `data` lines are joined with LF;
/// `id` (without NUL) sets the last event id, which outlives the event; `retry` takes digits
/// only; a blank line dispatches the event, unless its data is empty. Unknown fields are ignored.
public struct EventStreamParser: Sendable {
    /// One event as dispatched.
    public struct Event: Sendable, Hashable {
        /// `event`'s value, or `message`.
        public var type: String
        public var data: String
        /// The last event id as of this event (it may have been set by an earlier one).
        public var lastEventID: String

        public init(type: String = "message", data: String, lastEventID: String = "") {
            self.type = type
            self.data = data
            self.lastEventID = lastEventID
        }
    }

    /// What a piece of the stream yields, in order.
    public enum Item: Sendable, Hashable {
        case event(Event)
        /// A `retry` field: the reconnection time, in milliseconds.
        case retry(Int)
        /// A comment line (a heartbeat, as ply's server sends).
        case comment
    }

    private var line: [UInt8] = []
    private var afterCR = false
    /// The stream's first bytes while they may still be a byte order mark; nil once decided.
    private var start: [UInt8]? = []
    private var data: [UInt8] = []
    private var type: [UInt8] = []
    public private(set) var lastEventID = ""

    public init(lastEventID: String = "") {
        self.lastEventID = lastEventID
    }

    /// Takes the next bytes of the stream and returns what they complete.
    public mutating func feed(_ buffer: ByteBuffer) -> [Item] {
        buffer.withUnsafeReadableBytes { feed($0) }
    }

    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [Item] {
        var items: [Item] = []
        for byte in bytes {
            if var pending = start {
                // A byte order mark (EF BB BF) at the very start is not part of the first line.
                pending.append(byte)
                if Self.byteOrderMark.starts(with: pending) {
                    start = pending.count == Self.byteOrderMark.count ? nil : pending
                    continue
                }
                start = nil
                for early in pending { take(early, into: &items) }
                continue
            }
            take(byte, into: &items)
        }
        return items
    }

    private static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    private mutating func take(_ byte: UInt8, into items: inout [Item]) {
        switch byte {
        case UInt8(ascii: "\n"):
            if afterCR {
                afterCR = false
                return
            }
            endLine(into: &items)
        case UInt8(ascii: "\r"):
            afterCR = true
            endLine(into: &items)
        default:
            afterCR = false
            line.append(byte)
        }
    }

    private mutating func endLine(into items: inout [Item]) {
        defer { line.removeAll(keepingCapacity: true) }
        guard !line.isEmpty else { return dispatch(into: &items) }
        if line[0] == UInt8(ascii: ":") { return items.append(.comment) }
        let field: ArraySlice<UInt8>, value: ArraySlice<UInt8>
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            field = line[..<colon]
            let rest = line[(colon + 1)...]
            value = rest.first == UInt8(ascii: " ") ? rest.dropFirst() : rest
        } else {
            field = line[...]
            value = []
        }
        switch String(decoding: field, as: UTF8.self) {
        case "data":
            data.append(contentsOf: value)
            data.append(UInt8(ascii: "\n"))
        case "event":
            type = Array(value)
        case "id":
            if !value.contains(0) { lastEventID = String(decoding: value, as: UTF8.self) }
        case "retry":
            if !value.isEmpty, value.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
               let milliseconds = Int(String(decoding: value, as: UTF8.self)) {
                items.append(.retry(milliseconds))
            }
        default:
            break
        }
    }

    private mutating func dispatch(into items: inout [Item]) {
        defer {
            data.removeAll(keepingCapacity: true)
            type.removeAll()
        }
        guard !data.isEmpty else { return }
        data.removeLast()  // the LF after the last data line
        items.append(.event(Event(type: type.isEmpty ? "message" : String(decoding: type, as: UTF8.self),
                                  data: String(decoding: data, as: UTF8.self), lastEventID: lastEventID)))
    }
}
