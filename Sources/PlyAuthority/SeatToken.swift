import Foundation

/// Seat tokens: the secret that lets a client act for a seat.
enum SeatToken {
    /// 24 bytes (192 bits) from the system's CSPRNG (getrandom on Linux), as 32 base64url characters.
    static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<24).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
    }

    /// Compares a presented token with a seat's token in time that does not depend on where
    /// they differ, so response times leak nothing about a token.
    static func matches(_ presented: String, _ actual: String) -> Bool {
        let a = Array(presented.utf8), b = Array(actual.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    /// The token in an `Authorization: Bearer TOKEN` header value, if that is its form.
    static func bearer(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }
}
