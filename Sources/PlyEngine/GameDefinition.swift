/// Everything ply knows of one game, in one place: its rules and notation (through its initial
/// position), its name and rules for people, how a terminal lays out its board and aims at it,
/// and how bots may search it. The wire, the server, the bots, the terminal and `ply rules`
/// all ask `GameID.definition`; adding a game is writing its definition and naming it there.
public protocol GameDefinition: Sendable {
    var id: GameID { get }
    /// A name for people.
    var title: String { get }
    /// How to play, for people (`ply rules`).
    var rulesText: String { get }
    /// The position before the first move, seen through notation.
    var initialPosition: any Position { get }
    /// How a terminal draws the board and aims a move.
    var layout: BoardLayout { get }
    /// How bots play it.
    var bots: BotPlay { get }
}

/// How bots play a game.
public enum BotPlay: Sendable {
    /// By searching the position (random, greedy, minimax) with these rules' evaluation: games
    /// of perfect information.
    case search(any Evaluator)
    /// By placing a random fleet and firing from the results of their own shots only (random,
    /// or hunt and target): Battleship.
    case fleetHunt
}

/// Rules a search can play: a static evaluation of a position and a good order to try moves in.
public protocol Evaluator: GameRules {
    /// How good `state` is for `seat`, higher better; zero is even. Not called on finished games.
    func evaluate(_ state: State, for seat: Seat) -> Int
    /// The legal moves, most promising first (alpha-beta prunes more when good moves come first).
    func orderedMoves(_ state: State) -> [Move]
}

/// How a terminal shows a game's board and lets a player aim a move.
public struct BoardLayout: Hashable, Sendable {
    /// What the cursor picks.
    public enum Aim: Hashable, Sendable {
        /// A column (Connect Four: the piece falls); digit keys pick one too.
        case column
        /// Any cell (Reversi).
        case cell
    }

    /// A key that plays a move by name, and what it does, for the help screen.
    public struct KeyMove: Hashable, Sendable {
        public let key: Character
        public let move: String
        public let help: String

        public init(key: Character, move: String, help: String) {
            self.key = key
            self.move = move
            self.help = help
        }
    }

    /// A secret setup a seat makes before play, and how a terminal lets a player make it.
    public enum Setup: Hashable, Sendable {
        /// Ships of these lengths, placed one by one on the seat's grid (Battleship).
        case fleet(lengths: [Int])
    }

    public var aim: Aim
    /// The hint while it is the player's turn, wide and narrow (`LEGAL` stands for the glyph
    /// that marks legal cells).
    public var hint: (wide: String, narrow: String)
    public var keyMoves: [KeyMove]
    public var setup: Setup?
    /// What the score counts (`Position.score`), for people.
    public var scoreName: String

    public init(aim: Aim, hint: (wide: String, narrow: String), keyMoves: [KeyMove] = [], setup: Setup? = nil, scoreName: String = "Discs") {
        self.aim = aim
        self.hint = hint
        self.keyMoves = keyMoves
        self.setup = setup
        self.scoreName = scoreName
    }

    public static func == (a: BoardLayout, b: BoardLayout) -> Bool {
        a.aim == b.aim && a.hint == b.hint && a.keyMoves == b.keyMoves && a.setup == b.setup && a.scoreName == b.scoreName
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(aim)
        hasher.combine(hint.wide)
        hasher.combine(hint.narrow)
        hasher.combine(keyMoves)
        hasher.combine(setup)
        hasher.combine(scoreName)
    }
}

extension GameDefinition where Self: GameRules & Hashable {
    public var initialPosition: any Position { GamePosition(rules: self) }
}
