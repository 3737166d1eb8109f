import Crypto

/// How a seat token is kept: never in clear, only its SHA-256, in lower-case hex. A stolen
/// store (or a look at the server's memory) gives no token that acts for a seat.
public enum TokenHash {
    /// The hash of a token.
    public static func of(_ token: String) -> String {
        SHA256.hash(data: Array(token.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// Whether text is already a hash (64 hex digits), not a token in clear (32 base64url characters).
    public static func isHash(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}
