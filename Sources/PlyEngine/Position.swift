/// A position of any game, seen through move notation: what matches, servers and screens
/// need without knowing which game they hold.
public protocol Position: Sendable, CustomStringConvertible {
    var game: GameID { get }
    var turn: Seat { get }
    var outcome: Outcome { get }
    /// The legal moves in notation.
    var legalMoves: [String] { get }
    var board: Board { get }
    var score: [Seat: Int]? { get }
    /// The cells that decided a finished game, as indexes of `board.cells`.
    var winningCells: Set<Int> { get }
    /// The move that targets a board cell, in notation, if the game names one.
    func move(atRow row: Int, column: Int) -> String?
    /// The position after a move given in notation, or the rule it breaks.
    func playing(_ move: String) throws(RuleViolation) -> any Position
    /// A move's one spelling in the game's notation (`+5` and ` 5 ` are `5`; `D3` is `d3`).
    func canonical(_ move: String) throws(RuleViolation) -> String
    /// Whether two positions are the same position of the same game.
    func isSame(as other: any Position) -> Bool

    // Hidden information. Games with none (Connect Four, Reversi) take the defaults below.

    /// Whether the game hides anything from anyone; then events and snapshots are shown to
    /// each viewer as it may see them.
    var hidesInformation: Bool { get }
    /// Whether a seat still has its secret setup to make before play (Battleship: its fleet).
    func awaitsSetup(from seat: Seat) -> Bool
    /// A setup's one spelling, checked (`rule/no_setup` in a game without one).
    func canonicalSetup(_ setup: String) throws(RuleViolation) -> String
    /// A setup drawn at random, every legal one possible; nil for games without setups.
    func randomSetup(using random: inout SeededRandom) -> String?
    /// The position after a seat's setup; nil for a setup this position may not see.
    func settingUp(_ setup: String?, by seat: Seat) throws(RuleViolation) -> any Position
    /// Each seat's setup as this position shows it (nil where unknown or not made); empty
    /// for games without setups.
    var setups: [String?] { get }
    /// The position after a move, with what the move found that its notation does not say (a
    /// shot's result). Where this position cannot decide that (a view without the target
    /// fleet), `told` is taken; where it can, `told` must agree.
    func playing(_ move: String, told: ShotResult?) throws(RuleViolation) -> (position: any Position, report: ShotResult?)
    /// This position as a seat (or, for nil, a spectator) may see it.
    func view(for viewer: Seat?) -> any Position
    /// The position with every seat's setup shown (the end of a game; nil for a seat that made
    /// none), checked against what the position already holds.
    func revealing(_ setups: [String?]) throws(RuleViolation) -> any Position
    /// The grids to draw, each as rows of marks: one board, or one grid per seat.
    var grids: [[[Mark]]] { get }
}

extension Position {
    public var hidesInformation: Bool { false }
    public func awaitsSetup(from seat: Seat) -> Bool { false }
    public func canonicalSetup(_ setup: String) throws(RuleViolation) -> String { throw .noSetup }
    public func randomSetup(using random: inout SeededRandom) -> String? { nil }
    public func settingUp(_ setup: String?, by seat: Seat) throws(RuleViolation) -> any Position { throw .noSetup }
    public var setups: [String?] { [] }

    public func playing(_ move: String, told: ShotResult?) throws(RuleViolation) -> (position: any Position, report: ShotResult?) {
        (try playing(move), nil)
    }

    public func view(for viewer: Seat?) -> any Position { self }
    public func revealing(_ setups: [String?]) throws(RuleViolation) -> any Position { throw .noSetup }

    public var grids: [[[Mark]]] {
        let board = self.board
        return [(0..<board.rows).map { row in (0..<board.columns).map { board[row, $0].map(Mark.piece) ?? .empty } }]
    }

    /// The grids as text, side by side a space apart, one string per row (a snapshot's `board`).
    public var textRows: [String] {
        let grids = self.grids
        guard let rows = grids.first?.count else { return [] }
        return (0..<rows).map { row in grids.map { String($0[row].map(\.character)) }.joined(separator: " ") }
    }
}

/// What a cell of a grid shows.
public enum Mark: Hashable, Sendable {
    case empty
    /// A seat's piece (Connect Four, Reversi).
    case piece(Seat)
    /// A ship's square, not hit (seen only by its own seat, or by all at the end).
    case ship
    /// A shot into water.
    case miss
    /// A shot that hit a ship still afloat.
    case hit
    /// A square of a sunk ship.
    case sunk

    /// The mark in text boards: `.` empty, `x` and `o` the seats' pieces, `S` a ship, `~` a
    /// miss, `X` a hit, `#` a sunk ship.
    public var character: Character {
        switch self {
        case .empty: "."
        case .piece(.first): "x"
        case .piece(.second): "o"
        case .ship: "S"
        case .miss: "~"
        case .hit: "X"
        case .sunk: "#"
        }
    }
}

/// What a shot found: water, a ship, or the last square of a ship.
public enum ShotResult: Hashable, Sendable {
    case miss
    case hit
    /// The shot sank a ship of this length.
    case sunk(length: Int)

    public var isHit: Bool { self != .miss }

    /// The word on the wire: `miss`, `hit` or `sunk`.
    public var name: String {
        switch self {
        case .miss: "miss"
        case .hit: "hit"
        case .sunk: "sunk"
        }
    }
}

/// A position of one game, with its typed rules and state.
public struct GamePosition<Rules: GameRules>: Position, Hashable where Rules: Hashable {
    public let rules: Rules
    public let state: Rules.State

    public init(rules: Rules, state: Rules.State? = nil) {
        self.rules = rules
        self.state = state ?? rules.initialState
    }

    public var game: GameID { rules.id }
    public var turn: Seat { rules.turn(state) }
    public var outcome: Outcome { rules.outcome(state) }
    public var legalMoves: [String] { rules.legalMoves(state).map(rules.notation) }
    public var board: Board { rules.board(state) }
    public var score: [Seat: Int]? { rules.score(state) }
    public var winningCells: Set<Int> { rules.winningCells(state) }

    public func move(atRow row: Int, column: Int) -> String? {
        rules.move(atRow: row, column: column).map(rules.notation)
    }

    public func playing(_ move: String) throws(RuleViolation) -> any Position {
        GamePosition(rules: rules, state: try rules.apply(notation: move, to: state))
    }

    public func canonical(_ move: String) throws(RuleViolation) -> String {
        rules.notation(try rules.move(move))
    }

    public func isSame(as other: any Position) -> Bool {
        (other as? Self) == self
    }

    public var description: String { board.textRows.joined(separator: "\n") }
}
