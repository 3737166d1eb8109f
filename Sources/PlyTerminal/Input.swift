import PlyClient
import PlyEngine
import PlyWire

/// A key as the app understands it.
public enum Key: Sendable, Hashable {
    case up, down, left, right, enter, escape
    case character(Character)
    case resize
}

/// Everything that can change the state: keys, and what the network reports.
public enum Input: Sendable {
    case key(Key)
    /// A match is open on screen (after creating, joining or watching it).
    case opened(GameScreen)
    /// An event of a match; ignored unless that match is on screen.
    case event(match: String, MatchEvent)
    case connection(ConnectionState)
    case network(NetworkStatus)
    case acknowledged
    case refused(String)
    case lobby([MatchSnapshot])
    case failed(String)
    case info(String)
}

/// What the app must do outside the state: talk to the server, or stop.
public enum Effect: Sendable, Hashable {
    case play(move: String, version: Int)
    case resign(version: Int)
    /// A new game: against the bot again, or a new match of the same game on the server.
    case rematch(GameID)
    case toLobby
    case refreshLobby
    case create(GameID)
    case join(String)
    case watch(String)
    case quit
}
