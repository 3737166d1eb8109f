/// The rules of a two-player, turn-based game with perfect information.
///
/// Rules are pure: positions are values, `apply` returns a new position or a typed
/// violation, and nothing reads a clock, a random source or the outside world.
public protocol GameRules: Sendable {
    associatedtype State: Hashable & Sendable
    associatedtype Move: Hashable & Sendable

    /// Which game these rules play.
    var id: GameID { get }
    /// The position before the first move.
    var initialState: State { get }
    /// The seat whose turn it is in `state`.
    func turn(_ state: State) -> Seat
    /// Every move the seat to move may play; empty once the game is over.
    func legalMoves(_ state: State) -> [Move]
    /// The position after `move`, or the rule it breaks.
    func apply(_ move: Move, to state: State) throws(RuleViolation) -> State
    /// Whether the game goes on, or who won and why.
    func outcome(_ state: State) -> Outcome
    /// The move's name in the game's notation (`4`, `d3`, `pass`).
    func notation(_ move: Move) -> String
    /// The move a notation names, or `rule/unreadable_move` / `rule/out_of_range`.
    func move(_ notation: String) throws(RuleViolation) -> Move
    /// The position as a grid of pieces.
    func board(_ state: State) -> Board
    /// The move that puts a piece at a board cell (Connect Four: the cell's column), if the game names one.
    func move(atRow row: Int, column: Int) -> Move?
    /// Points per seat, when the game counts them (Reversi: discs), else nil.
    func score(_ state: State) -> [Seat: Int]?
    /// The cells that decided a finished game, to show (Connect Four: the line of four), as
    /// indexes of `Board.cells`; empty where no cells did.
    func winningCells(_ state: State) -> Set<Int>
}

extension GameRules {
    public func score(_ state: State) -> [Seat: Int]? { nil }
    public func winningCells(_ state: State) -> Set<Int> { [] }

    /// Applies a move given in notation.
    public func apply(notation: String, to state: State) throws(RuleViolation) -> State {
        try apply(move(notation), to: state)
    }
}
