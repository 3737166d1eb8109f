import PlyEngine

/// What a seat asks of a match. The same JSON is a long-poll `POST .../commands` body and a
/// WebSocket text message: `{"id":3,"move":"4","type":"play","v":6}`.
public struct Command: Hashable, Sendable {
    public enum Action: Hashable, Sendable {
        /// Play a move, in the game's notation.
        case play(String)
        /// Make the seat's secret setup before play (Battleship: place its fleet), in the game's
        /// notation.
        case place(String)
        /// Give up; the other seat wins.
        case resign
    }

    public var action: Action
    /// The match version the command was made against; it must be the match's current version.
    public var version: Int
    /// A number the client picks to match the acknowledgement to the command; echoed back.
    public var id: Int?

    public init(_ action: Action, version: Int, id: Int? = nil) {
        self.action = action
        self.version = version
        self.id = id
    }
}

extension Command: Codable {
    enum CodingKeys: String, CodingKey { case type, move, fleet, version = "v", id }

    public init(from decoder: any Decoder) throws {
        try self.init(from: try decoder.container(keyedBy: CodingKeys.self))
    }

    /// A command from a container already open on its object.
    init(from container: KeyedDecodingContainer<CodingKeys>) throws {
        switch try container.decode(String.self, forKey: .type) {
        case "play": action = .play(try container.decode(String.self, forKey: .move))
        case "place": action = .place(try container.decode(String.self, forKey: .fleet))
        case "resign": action = .resign
        case let other:
            throw DecodingError.dataCorruptedError(forKey: .type, in: container, debugDescription: "unknown command type '\(other)'")
        }
        version = try container.decode(Int.self, forKey: .version)
        id = try container.decodeIfPresent(Int.self, forKey: .id)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch action {
        case .play(let move):
            try container.encode("play", forKey: .type)
            try container.encode(move, forKey: .move)
        case .place(let fleet):
            try container.encode("place", forKey: .type)
            try container.encode(fleet, forKey: .fleet)
        case .resign:
            try container.encode("resign", forKey: .type)
        }
        try container.encode(version, forKey: .version)
        try container.encodeIfPresent(id, forKey: .id)
    }
}
