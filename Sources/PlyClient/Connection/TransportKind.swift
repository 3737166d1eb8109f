/// How a client reaches a match.
public enum TransportKind: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// One WebSocket, full duplex.
    case webSocket = "ws"
    /// HTTP long-polling: one held poll and one connection for commands.
    case longPoll = "longpoll"
    /// WebSocket, falling back to long-polling when the upgrade is refused or stalls.
    case auto

    public var description: String {
        switch self {
        case .webSocket: "WebSocket"
        case .longPoll: "long-polling"
        case .auto: "auto"
        }
    }
}
