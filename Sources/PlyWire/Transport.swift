/// The ways a client and a server carry ply's messages: the one list of transports that every
/// module names (server, clients, bots, benchmark, terminal, command line).
public enum Transport: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// One WebSocket, full duplex.
    case webSocket = "ws"
    /// Server-Sent Events: one long response streams the events; commands are HTTP POSTs.
    case serverSentEvents = "sse"
    /// HTTP long-polling: one held poll and one connection for commands.
    case longPoll = "longpoll"

    public var description: String {
        switch self {
        case .webSocket: "WebSocket"
        case .serverSentEvents: "Server-Sent Events"
        case .longPoll: "long-polling"
        }
    }

    /// A short name, where there is little room (a narrow status bar).
    public var abbreviation: String {
        switch self {
        case .webSocket: "WS"
        case .serverSentEvents: "SSE"
        case .longPoll: "LP"
        }
    }

    /// The transport after this one in `allCases`, round again after the last.
    public var next: Transport {
        let all = Transport.allCases
        return all[((all.firstIndex(of: self) ?? 0) + 1) % all.count]
    }
}

/// A value written as the text a person types for it (`ws`, `ws+longpoll`, `floor`): its JSON
/// is that string, so results and plans read as the command line that made them.
public protocol ArgumentCodable: Codable {
    init?(argument: String)
    var argument: String { get }
}

extension ArgumentCodable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Self(argument: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a \(Self.self): \(text)"))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(argument)
    }
}
