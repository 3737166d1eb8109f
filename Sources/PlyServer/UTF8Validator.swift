import NIOCore

/// Checks UTF-8 (RFC 3629) as it arrives, a piece at a time: a WebSocket text message sent in
/// fragments is failed at the first fragment that cannot be UTF-8 (RFC 6455 8.1), not once the
/// whole message is in. Overlong forms, surrogates and code points past U+10FFFF are invalid.
struct UTF8Validator {
    /// Continuation bytes the sequence under way still needs.
    private var needed = 0
    /// The range the next continuation byte must be in (narrower after E0, ED, F0 and F4).
    private var lower: UInt8 = 0x80
    private var upper: UInt8 = 0xBF

    /// Takes the next bytes; false as soon as they cannot be UTF-8, whatever follows.
    mutating func feed(_ buffer: ByteBuffer) -> Bool {
        buffer.withUnsafeReadableBytes { feed($0) }
    }

    mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            index += 1
            if needed == 0 {
                if byte < 0x80 { continue }
                switch byte {
                case 0xC2...0xDF: needed = 1
                case 0xE0: needed = 2; lower = 0xA0
                case 0xE1...0xEC, 0xEE...0xEF: needed = 2
                case 0xED: needed = 2; upper = 0x9F
                case 0xF0: needed = 3; lower = 0x90
                case 0xF1...0xF3: needed = 3
                case 0xF4: needed = 3; upper = 0x8F
                default: return false
                }
            } else {
                guard byte >= lower, byte <= upper else { return false }
                lower = 0x80
                upper = 0xBF
                needed -= 1
            }
        }
        return true
    }

    /// Whether what was fed ends where a character ends.
    var isComplete: Bool { needed == 0 }

    /// Whether a whole buffer is UTF-8.
    static func isValid(_ buffer: ByteBuffer) -> Bool {
        var validator = UTF8Validator()
        return validator.feed(buffer) && validator.isComplete
    }
}
