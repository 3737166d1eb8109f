import NIOCore
import PlyEngine

/// The JSON of the messages sent on every move (events and acknowledgements from the server,
/// commands from its clients) written straight into a buffer, without Foundation's
/// `JSONEncoder`: the same bytes as `WireCoding.encoder` gives (keys sorted, `/` unescaped,
/// control characters escaped as Foundation escapes them), which `OutboundJSONTests` checks for
/// random values of every kind and for every fixture.
/// Decoding stays on Foundation's parser.
public enum OutboundJSON {
    /// An event, as `WireCoding.encoder.encode(event)` would write it.
    public static func encode(_ event: MatchEvent, allocator: ByteBufferAllocator) -> ByteBuffer {
        var object = Object(allocator.buffer(capacity: 64))
        // Keys in sorted order: fleet(s), game, length, move, name, options, reason, result,
        // seat, then type and v (winner last).
        switch event.change {
        case .created(let game, let options):
            object.key("game")
            object.string(game.rawValue)
            if options != MatchOptions() {
                object.key("options")
                object.raw("{")
                if let limit = options.moveTimeLimit {
                    object.raw("\"moveTimeLimit\":")
                    object.integer(limit)
                }
                object.raw("}")
            }
        case .joined(let seat, let name):
            object.key("name")
            object.string(name)
            object.seat(seat)
        case .placed(let seat, let fleet):
            if let fleet {
                object.key("fleet")
                object.string(fleet)
            }
            object.seat(seat)
        case .moved(let seat, let move, let result):
            if case .sunk(let length) = result {
                object.key("length")
                object.integer(length)
            }
            object.key("move")
            object.string(move)
            if let result {
                object.key("result")
                object.string(result.name)
            }
            object.seat(seat)
        case .resigned(let seat), .timedOut(let seat):
            object.seat(seat)
        case .ended(let result, let fleets):
            if let fleets {
                object.key("fleets")
                object.raw("[")
                for (index, fleet) in fleets.enumerated() {
                    if index > 0 { object.raw(",") }
                    if let fleet { object.string(fleet) } else { object.raw("null") }
                }
                object.raw("]")
            }
            object.key("reason")
            object.string(result.reason.rawValue)
        }
        object.key("type")
        object.string(event.kind.rawValue)
        object.key("v")
        object.integer(event.version)
        if case .ended(let result, _) = event.change, let winner = result.winner {
            object.key("winner")
            object.integer(winner.rawValue)
        }
        return object.close()
    }

    /// An acknowledgement, as `WireCoding.encoder.encode(acknowledgement)` would write it.
    public static func encode(_ acknowledgement: Acknowledgement, allocator: ByteBufferAllocator) -> ByteBuffer {
        var object = Object(allocator.buffer(capacity: 32))
        if let id = acknowledgement.id {
            object.key("id")
            object.integer(id)
        }
        object.key("type")
        object.string(acknowledgement.type)
        object.key("v")
        object.integer(acknowledgement.version)
        return object.close()
    }

    /// A command, as `WireCoding.encoder.encode(command)` would write it: what every client
    /// sends on every move.
    public static func encode(_ command: Command, allocator: ByteBufferAllocator) -> ByteBuffer {
        var object = Object(allocator.buffer(capacity: 48))
        // Keys in sorted order: fleet, id, move, type, v.
        if case .place(let fleet) = command.action {
            object.key("fleet")
            object.string(fleet)
        }
        if let id = command.id {
            object.key("id")
            object.integer(id)
        }
        if case .play(let move) = command.action {
            object.key("move")
            object.string(move)
        }
        object.key("type")
        switch command.action {
        case .play: object.raw("\"play\"")
        case .place: object.raw("\"place\"")
        case .resign: object.raw("\"resign\"")
        }
        object.key("v")
        object.integer(command.version)
        return object.close()
    }

    /// Already-encoded JSON values joined into one JSON array (a long poll's answer), each
    /// copied once.
    public static func array(_ elements: some Collection<ByteBuffer>, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: elements.reduce(2) { $0 + $1.readableBytes + 1 })
        buffer.writeInteger(UInt8(ascii: "["))
        for (index, element) in elements.enumerated() {
            if index > 0 { buffer.writeInteger(UInt8(ascii: ",")) }
            buffer.writeImmutableBuffer(element)
        }
        buffer.writeInteger(UInt8(ascii: "]"))
        return buffer
    }

    /// One event of a `text/event-stream`: `id: V`, one `data:` line with the JSON, a blank line.
    /// The JSON is one line (a JSON encoder escapes every line break inside strings), so it is
    /// one `data` field.
    public static func streamEvent(_ json: ByteBuffer, id: Int, allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: json.readableBytes + 32)
        buffer.writeStaticString("id: ")
        buffer.writeString(String(id))
        buffer.writeStaticString("\ndata: ")
        buffer.writeImmutableBuffer(json)
        buffer.writeStaticString("\n\n")
        return buffer
    }

    /// One JSON object being written: keys given in sorted order.
    private struct Object {
        var buffer: ByteBuffer
        var empty = true

        init(_ buffer: ByteBuffer) {
            self.buffer = buffer
            self.buffer.writeInteger(UInt8(ascii: "{"))
        }

        mutating func key(_ name: StaticString) {
            if !empty { buffer.writeInteger(UInt8(ascii: ",")) }
            empty = false
            buffer.writeInteger(UInt8(ascii: "\""))
            buffer.writeStaticString(name)
            buffer.writeStaticString("\":")
        }

        mutating func raw(_ text: StaticString) { buffer.writeStaticString(text) }

        mutating func seat(_ seat: Seat) {
            key("seat")
            integer(seat.rawValue)
        }

        mutating func integer(_ value: Int) {
            if value < 0 { buffer.writeInteger(UInt8(ascii: "-")) }
            var magnitude = value.magnitude
            // At most 20 digits, written from the right into a fixed scratch space.
            var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
            withUnsafeMutableBytes(of: &digits) { scratch in
                var index = scratch.count
                repeat {
                    index -= 1
                    scratch[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                    magnitude /= 10
                } while magnitude > 0
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: scratch[index...]))
            }
        }

        /// A string, escaped as Foundation escapes: `"` and `\`, `\b \t \n \f \r`, other
        /// control characters as `\u00xx` (lowercase hex); everything else as its UTF-8.
        mutating func string(_ text: String) {
            buffer.writeInteger(UInt8(ascii: "\""))
            if text.utf8.allSatisfy({ $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
                buffer.writeString(text)
            } else {
                for byte in text.utf8 { escape(byte) }
            }
            buffer.writeInteger(UInt8(ascii: "\""))
        }

        private mutating func escape(_ byte: UInt8) {
            switch byte {
            case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
            case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
            case 0x08: buffer.writeStaticString("\\b")
            case 0x09: buffer.writeStaticString("\\t")
            case 0x0A: buffer.writeStaticString("\\n")
            case 0x0C: buffer.writeStaticString("\\f")
            case 0x0D: buffer.writeStaticString("\\r")
            case ..<0x20:
                buffer.writeStaticString("\\u00")
                buffer.writeInteger(Self.hex(byte >> 4))
                buffer.writeInteger(Self.hex(byte & 0x0F))
            default: buffer.writeInteger(byte)
            }
        }

        private static func hex(_ nibble: UInt8) -> UInt8 {
            nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
        }

        consuming func close() -> ByteBuffer {
            buffer.writeInteger(UInt8(ascii: "}"))
            return buffer
        }
    }
}
