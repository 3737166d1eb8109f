import PlyClient
import PlyEngine
import PlyWire

/// A key as the app understands it.
public enum Key: Sendable, Hashable {
    case up, down, left, right, home, end, enter, escape
    case character(Character)
    case resize
}

/// Everything that can change the state: keys, what the network reports, and the results of
/// effects. `update` is the only place that applies them.
public enum Input: Sendable {
    /// The app has started: open the lobby, or start the embedded game.
    case launch
    case key(Key)
    /// A match is open on screen (after creating, joining or watching it).
    case opened(GameScreen)
    /// Opening a match (or starting the embedded server) failed.
    case openFailed(String)
    /// An event of a match; ignored unless that match is on screen.
    case event(match: String, MatchEvent)
    /// Servers sharing a database: what the match on screen showed after a version never became
    /// durable, so the game goes back to it (the events that follow are the match's).
    case rolledBack(match: String, to: Int)
    /// The connection to a match changed; ignored unless that match is on screen.
    case connection(match: String, ConnectionState)
    /// The wire statistics of the connection on screen.
    case network(NetworkStatus)
    /// The server says the seat to move has `timeLeft` at `version`, as of `at`.
    case clock(match: String, version: Int, timeLeft: Duration, at: ContinuousClock.Instant)
    /// The match on screen now goes over this transport.
    case switched(match: String, Transport)
    /// The command sent for a match was acknowledged, or refused (or failed) with a reason.
    case acknowledged(match: String)
    case refused(match: String, String)
    /// The server's matches, for the lobby; or why they could not be listed.
    case lobby([MatchSnapshot])
    case lobbyFailed(String)
    /// Time passed: the live parts of the screen (the lobby) look again.
    case tick(ContinuousClock.Instant)
    case failed(String)
    case info(String)
}

/// What the app must do outside the state: talk to the server, or stop. Effects that open
/// or close a game are carried out one after another, in order.
public enum Effect: Sendable, Hashable {
    case play(move: String, version: Int)
    /// Sends the seat's secret setup (Battleship: its fleet), in notation.
    case place(fleet: String, version: Int)
    case resign(version: Int)
    /// A new game: against the bot (starting the embedded server the first time), or a new
    /// match of this game on the server, with this player in it.
    case newGame(GameID)
    /// Closes the game on screen: its connection, its feed and its bot.
    case closeGame
    /// Asks the server how long the seat to move has left (`clock`).
    case fetchClock(match: String)
    /// Moves the game on screen to another transport, carrying on after `after`.
    case switchTransport(to: Transport, after: Int)
    case refreshLobby
    case join(String)
    case watch(String)
    case quit
}
