import PlyClient
import PlyEngine
import PlyWire

/// A cell of the board: row 0 at the top.
public struct Cell: Sendable, Hashable {
    public var row: Int
    public var column: Int
    public init(row: Int, column: Int) {
        self.row = row
        self.column = column
    }
}

/// What the connection is doing and what it has cost, as the status bar and wire view show it.
public struct NetworkStatus: Sendable {
    public var transport: Transport
    public var state: ConnectionState?
    public var totals = WireTotals()
    public var roundTrips = RoundTrips()
    public var records: [WireRecord] = []
    /// Why the connection is on `transport`, when `auto` passed others over.
    public var transportNote: String?

    public init(transport: Transport) { self.transport = transport }
}

/// A match on screen.
public struct GameScreen: Sendable {
    public var matchID: String
    /// The seat this player acts for, or nil when watching.
    public var seat: Seat?
    /// The match as its events have built it.
    public var match: Match
    public var cursor: Cell
    /// A move is on its way and not yet acknowledged.
    public var awaitingAnswer = false
    /// Resign was pressed once; a second press (`y`) confirms.
    public var confirmingResign = false
    /// Whether the other seat is ply's own bot (`ply play` without a server).
    public var againstBot: Bool
    /// Why the connection is on the transport it is (`auto` passed over others), shown on opening.
    public var transportNote: String?
    /// When the seat to move runs out of time, if the match has a per-move limit: from the
    /// server's snapshot when it has told, else from when this client saw the turn begin.
    public var turnDeadline: ContinuousClock.Instant?
    /// The version `turnDeadline` belongs to.
    public var clockVersion = 0
    /// The fleet being placed, in a game with a fleet to place.
    public var placement = Placement()

    public init(matchID: String, seat: Seat?, match: Match, againstBot: Bool) {
        self.matchID = matchID
        self.seat = seat
        self.match = match
        self.againstBot = againstBot
        let board = match.position.board
        cursor = Cell(row: board.rows / 2 - 1, column: board.columns / 2)
    }

    public var isMyTurn: Bool { seat != nil && match.turn == seat }
}

/// The lobby of a server: its matches, one selected.
public struct Lobby: Sendable {
    public var matches: [MatchSnapshot] = []
    public var selected = 0
    /// `c` was pressed: choosing the game for a new match.
    public var choosingGame = false
    /// No list has come yet.
    public var loading = true
    /// A list has been asked for and not come yet.
    public var asking = false
    /// When the list was last asked for: the lobby asks again every `Lobby.refreshInterval`.
    public var askedAt: ContinuousClock.Instant?

    /// How often an open lobby asks for the list, so new matches, joins and ends show by themselves.
    public static let refreshInterval: Duration = .seconds(2)

    public init() {}
}

/// Everything the terminal shows. `render` draws it; `update` changes it.
public struct PlayState: Sendable {
    public enum Mode: Sendable {
        case lobby(Lobby)
        case game(GameScreen)
        /// Waiting for something to open (a server, a match).
        case opening(String)
    }

    public enum Notice: Sendable, Hashable {
        case info(String)
        case error(String)
    }

    public var mode: Mode
    /// Where to go back to if what is opening fails.
    public var returnTo: Mode?
    public var network: NetworkStatus
    public var notice: Notice?
    public var showHelp = false
    public var showWire = false
    /// Whether there is a lobby to go back to (a real server rather than the embedded one).
    public var hasLobby: Bool
    /// The game `ply play` starts against the bot when there is no lobby.
    public var firstGame: GameID
    public var glyphs: Glyphs
    public var colour: Bool
    /// Draws what the player asks to be random (a fleet placed with `a`).
    public var random = SeededRandom(seed: UInt64.random(in: 1...UInt64.max))

    public init(mode: Mode, transport: Transport, hasLobby: Bool, firstGame: GameID = .connect4, glyphs: Glyphs = .unicode, colour: Bool = true) {
        self.mode = mode
        network = NetworkStatus(transport: transport)
        self.hasLobby = hasLobby
        self.firstGame = firstGame
        self.glyphs = glyphs
        self.colour = colour
    }
}
