/// What a client can send on a WebSocket: a command, or a `hello` that carries the seat
/// token for clients that cannot set an `Authorization` header on the upgrade request.
public enum ClientMessage: Hashable, Sendable {
    case hello(Hello)
    case command(Command)
}

/// `{"token":"...","type":"hello"}`; answered by a `welcome` or an `auth/...` error.
public struct Hello: Hashable, Sendable, Codable {
    public var type = "hello"
    public var token: String
    public var id: Int?

    public init(token: String, id: Int? = nil) {
        self.token = token
        self.id = id
    }
}

extension ClientMessage: Decodable {
    private enum TypeKey: String, CodingKey { case type }

    public init(from decoder: any Decoder) throws {
        let type = try decoder.container(keyedBy: TypeKey.self).decode(String.self, forKey: .type)
        self = type == "hello" ? .hello(try Hello(from: decoder)) : .command(try Command(from: decoder))
    }
}
