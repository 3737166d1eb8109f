/// One entry of a `Sec-WebSocket-Extensions` header (RFC 6455 9.1): an extension's name and
/// its parameters in the order sent, each with its value (unquoted) or none.
///
/// swift-nio splits a header's values at commas (`HTTPHeaders[canonicalForm:]`); this reads
/// one such value, `name *( ";" param )` with `param = token [ "=" ( token / quoted-string ) ]`.
/// An entry that does not follow the grammar is nil: a server declines it, a client fails.
public struct ExtensionOffer: Sendable, Equatable {
    public var name: String
    public var parameters: [(name: String, value: String?)]

    public init(name: String, parameters: [(name: String, value: String?)] = []) {
        self.name = name
        self.parameters = parameters
    }

    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: ";", omittingEmptySubsequences: false).map(Self.trimmed)
        guard let name = parts.first, Self.isToken(name) else { return nil }
        self.name = name.lowercased()
        parameters = []
        for part in parts.dropFirst() {
            let pair = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map(Self.trimmed)
            guard Self.isToken(pair[0]) else { return nil }
            var value: String?
            if pair.count == 2 {
                var raw = pair[1]
                if raw.count >= 2, raw.first == "\"", raw.last == "\"" { raw = String(raw.dropFirst().dropLast()) }
                // RFC 6455 9.1: a quoted value must still be a token once unquoted.
                guard Self.isToken(raw) else { return nil }
                value = raw
            }
            parameters.append((pair[0].lowercased(), value))
        }
    }

    public static func == (lhs: ExtensionOffer, rhs: ExtensionOffer) -> Bool {
        lhs.name == rhs.name && lhs.parameters.map(\.name) == rhs.parameters.map(\.name) && lhs.parameters.map(\.value) == rhs.parameters.map(\.value)
    }

    /// The header entry this stands for.
    public var headerValue: String {
        ([name] + parameters.map { parameter in parameter.value.map { "\(parameter.name)=\($0)" } ?? parameter.name }).joined(separator: "; ")
    }

    static func trimmed(_ text: some StringProtocol) -> String {
        String(text.drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }

    /// RFC 9110 5.6.2: one or more visible characters other than delimiters.
    static func isToken(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { byte in
            byte > 0x20 && byte < 0x7F && !"\"(),/:;<=>?@[\\]{}".utf8.contains(byte)
        }
    }
}
