import PlyEngine

/// The server's answer to a command: `{"id":3,"type":"ack","v":7}`, where `v` is the match
/// version after the command's events. The body of a `POST .../commands` 200 response and a
/// WebSocket message are the same bytes.
public struct Acknowledgement: Hashable, Sendable, Codable {
    public var type = "ack"
    public var version: Int
    public var id: Int?

    public init(version: Int, id: Int? = nil) {
        self.version = version
        self.id = id
    }

    enum CodingKeys: String, CodingKey { case type, version = "v", id }
}

/// The first message on every WebSocket the server admits (`{"type":"welcome","v":7}`, with
/// `seat` when the upgrade carried a seat token), and the reply to a `hello` (with its `seat`
/// and `id`). `v` is the match's version when the welcome was sent.
public struct Welcome: Hashable, Sendable, Codable {
    public var type = "welcome"
    public var seat: Seat?
    public var version: Int?
    public var id: Int?

    public init(seat: Seat?, version: Int? = nil, id: Int? = nil) {
        self.seat = seat
        self.version = version
        self.id = id
    }

    enum CodingKeys: String, CodingKey { case type, seat, version = "v", id }
}

/// Servers sharing a database: what a server showed after `v` never became durable, so the
/// client drops its events after `v`; the events after `v` that follow are the match's
/// (`{"type":"rolled_back","v":8}`, on a WebSocket).
public struct RolledBack: Hashable, Sendable, Codable {
    public var type = "rolled_back"
    public var version: Int

    public init(version: Int) {
        self.version = version
    }

    enum CodingKeys: String, CodingKey { case type, version = "v" }
}

/// What a client can receive on a WebSocket, or read from a response: an event, an
/// acknowledgement, a welcome or an error. Events are told apart by their `type`.
public enum ServerMessage: Hashable, Sendable {
    case event(MatchEvent)
    case ack(Acknowledgement)
    case welcome(Welcome)
    case error(WireError)
    case rolledBack(RolledBack)
}

extension ServerMessage: Decodable {
    /// Events, the most common message, are read from the one container opened to look at `type`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: MatchEvent.CodingKeys.self)
        switch try container.decode(String.self, forKey: .type) {
        case "ack": self = .ack(try Acknowledgement(from: decoder))
        case "welcome": self = .welcome(try Welcome(from: decoder))
        case "error": self = .error(try WireError(from: decoder))
        case "rolled_back": self = .rolledBack(try RolledBack(from: decoder))
        default: self = .event(try MatchEvent(from: container))
        }
    }
}
