/// A move the rules of a game do not allow. Each case has a stable wire code (`rule/...`).
public enum RuleViolation: Error, Hashable, Sendable, CustomStringConvertible {
    /// The text does not name a move in this game's notation.
    case unreadableMove(String)
    /// The move names a column or square outside the board.
    case outOfRange(String)
    /// Connect Four: the column has no free cell.
    case columnFull(column: Int)
    /// Reversi: the square already holds a disc.
    case occupied(String)
    /// Reversi: the move would flip no disc.
    case noFlips(String)
    /// Reversi: the player has no legal placement and must pass.
    case mustPass
    /// Reversi: a pass while a legal placement exists.
    case passNotAllowed
    /// The game is over; no move is legal.
    case gameOver
    /// Battleship: the fleet breaks a placement rule (lengths, grid, straightness, overlap, touching).
    case invalidFleet(String)
    /// Battleship: the seat has already placed its fleet.
    case alreadyPlaced
    /// Battleship: a shot before both fleets are placed.
    case fleetsNotPlaced
    /// Battleship: the seat has already fired at this square.
    case alreadyShot(String)
    /// A setup (a `place` command) in a game that has none.
    case noSetup

    /// The stable code clients match on.
    public var code: ErrorCode {
        switch self {
        case .unreadableMove: .unreadableMove
        case .outOfRange: .outOfRange
        case .columnFull: .columnFull
        case .occupied: .occupied
        case .noFlips: .noFlips
        case .mustPass: .mustPass
        case .passNotAllowed: .passNotAllowed
        case .gameOver: .gameOver
        case .invalidFleet: .invalidFleet
        case .alreadyPlaced: .alreadyPlaced
        case .fleetsNotPlaced: .fleetsNotPlaced
        case .alreadyShot: .alreadyShot
        case .noSetup: .noSetup
        }
    }

    /// A sentence for people.
    public var message: String {
        switch self {
        case .unreadableMove(let text): "'\(Self.quote(text))' is not a move in this game's notation"
        case .outOfRange(let text): "'\(Self.quote(text))' is off the board"
        case .columnFull(let column): "column \(column) is full"
        case .occupied(let square): "\(square) is already occupied"
        case .noFlips(let square): "\(square) would flip no disc"
        case .mustPass: "no legal placement: you must pass"
        case .passNotAllowed: "you have a legal placement, so you may not pass"
        case .gameOver: "the game is over"
        case .invalidFleet(let reason): "that fleet cannot be placed: \(reason)"
        case .alreadyPlaced: "your fleet is already placed"
        case .fleetsNotPlaced: "both fleets must be placed before the first shot"
        case .alreadyShot(let square): "you have already fired at \(square)"
        case .noSetup: "this game has nothing to place before play; send moves"
        }
    }

    public var description: String { "\(code): \(message)" }

    /// A move as a message quotes it: at most 16 characters, with no line break.
    private static func quote(_ text: String) -> String {
        let line = String(text.map { $0.isNewline ? " " : $0 })
        return line.count > 16 ? line.prefix(16) + "…" : line
    }
}
