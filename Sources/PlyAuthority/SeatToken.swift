import Foundation
import PlyStore

/// Seat tokens: the secret that lets a client act for a seat.
public enum SeatToken {
    /// 24 bytes (192 bits) from the system's CSPRNG (getrandom on Linux), as 32 base64url characters.
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<24).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return String(Data(bytes).base64EncodedString().map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
    }

    /// Whether a presented token is the one whose hash is kept, compared in time that does not
    /// depend on where they differ, so response times leak nothing.
    public static func matches(_ presented: String, hash: String) -> Bool {
        matches(TokenHash.of(presented), hash)
    }

    /// Compares two strings in time that does not depend on where they differ.
    static func matches(_ presented: String, _ actual: String) -> Bool {
        let a = Array(presented.utf8), b = Array(actual.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    /// The token in an `Authorization: Bearer TOKEN` header value, if that is its form (the
    /// scheme in any case, spaces around the token ignored). Runs on every poll and command,
    /// so it works on the UTF-8 bytes rather than through Foundation.
    public static func bearer(_ header: String?) -> String? {
        guard let header else { return nil }
        let bytes = header.utf8
        let scheme = Array("bearer".utf8)
        guard bytes.count > scheme.count,
              zip(bytes, scheme).allSatisfy({ $0 | 0x20 == $1 }),
              bytes[bytes.index(bytes.startIndex, offsetBy: scheme.count)] == UInt8(ascii: " ") else { return nil }
        let rest = bytes.dropFirst(scheme.count)
        guard let start = rest.firstIndex(where: { $0 != UInt8(ascii: " ") }),
              let end = rest.lastIndex(where: { $0 != UInt8(ascii: " ") }) else { return nil }
        return String(header[start...end])
    }
}
