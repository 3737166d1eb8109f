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

extension ClientMessage {
    /// The number the client gave the message, echoed in its answer.
    public var id: Int? {
        switch self {
        case .hello(let hello): hello.id
        case .command(let command): command.id
        }
    }
}

extension ClientMessage: Decodable {
    private enum CodingKeys: String, CodingKey { case type, token, id }

    /// One keyed container for both kinds: a command reads its own fields from it.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Command.CodingKeys.self)
        if try container.decode(String.self, forKey: .type) == "hello" {
            let hello = try decoder.container(keyedBy: CodingKeys.self)
            self = .hello(Hello(token: try hello.decode(String.self, forKey: .token), id: try hello.decodeIfPresent(Int.self, forKey: .id)))
        } else {
            self = .command(try Command(from: container))
        }
    }
}
