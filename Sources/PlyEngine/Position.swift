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
