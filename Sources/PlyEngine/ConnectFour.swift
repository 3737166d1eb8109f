/// Connect Four: 7 columns by 6 rows; a piece falls to the lowest free cell of its column;
/// four in a row horizontally, vertically or diagonally wins; a full board is a draw.
/// Moves are named by column, `1` to `7`.
public struct ConnectFour: GameRules, Hashable {
    public static let columns = 7
    public static let rows = 6

    /// A column-major bitboard with one spare bit on top of each column, so that shifts by
    /// 1 (vertical), 7 (horizontal), 6 and 8 (diagonals) never wrap from one line into the next.
    public struct State: Hashable, Sendable {
        /// The first seat's pieces: bit `column * 7 + row`, row 0 at the bottom.
        public internal(set) var first: UInt64 = 0
        /// The second seat's pieces.
        public internal(set) var second: UInt64 = 0

        public init() {}

        /// A seat's pieces.
        public func pieces(of seat: Seat) -> UInt64 { seat == .first ? first : second }

        var occupied: UInt64 { first | second }

        /// Moves played so far.
        public var moveCount: Int { occupied.nonzeroBitCount }

        /// The number of pieces in a column (0-based).
        public func height(ofColumn column: Int) -> Int {
            (occupied & ConnectFour.columnMask(column)).nonzeroBitCount
        }
    }

    /// A column, 0-based.
    public typealias Move = Int

    public init() {}

    public var id: GameID { .connect4 }
    public var initialState: State { State() }

    /// Bits per column in the bitboard: the rows and one spare.
    public static let stride = rows + 1
    static func columnMask(_ column: Int) -> UInt64 { ((1 << UInt64(rows)) - 1) << UInt64(column * stride) }

    public func turn(_ state: State) -> Seat { state.moveCount % 2 == 0 ? .first : .second }

    public func legalMoves(_ state: State) -> [Move] {
        guard !outcome(state).isOver else { return [] }
        return (0..<Self.columns).filter { state.height(ofColumn: $0) < Self.rows }
    }

    public func apply(_ move: Move, to state: State) throws(RuleViolation) -> State {
        guard !outcome(state).isOver else { throw .gameOver }
        guard (0..<Self.columns).contains(move) else { throw .outOfRange(notation(move)) }
        let height = state.height(ofColumn: move)
        guard height < Self.rows else { throw .columnFull(column: move + 1) }
        let bit: UInt64 = 1 << UInt64(move * Self.stride + height)
        var next = state
        if turn(state) == .first { next.first |= bit } else { next.second |= bit }
        return next
    }

    public func outcome(_ state: State) -> Outcome {
        // Only the seat that moved last can have just completed a line.
        for seat in Seat.allCases where Self.hasFour(state.pieces(of: seat)) {
            return .over(GameResult(winner: seat, reason: .fourInARow))
        }
        if state.moveCount == Self.columns * Self.rows {
            return .over(GameResult(winner: nil, reason: .boardFull))
        }
        return .ongoing
    }

    /// Whether a bitboard holds four in a line in any direction.
    static func hasFour(_ board: UInt64) -> Bool {
        for shift: UInt64 in [1, UInt64(stride), UInt64(stride - 1), UInt64(stride + 1)] {
            let pairs = board & (board >> shift)
            if pairs & (pairs >> (2 * shift)) != 0 { return true }
        }
        return false
    }

    public func notation(_ move: Move) -> String { String(move + 1) }

    public func move(_ notation: String) throws(RuleViolation) -> Move {
        let text = notation.trimmingWhitespace
        guard let number = Int(text) else { throw .unreadableMove(notation) }
        guard (1...Self.columns).contains(number) else { throw .outOfRange(text) }
        return number - 1
    }

    public func board(_ state: State) -> Board {
        var board = Board(rows: Self.rows, columns: Self.columns)
        for column in 0..<Self.columns {
            for row in 0..<Self.rows {
                let bit: UInt64 = 1 << UInt64(column * Self.stride + row)
                let seat: Seat? = state.first & bit != 0 ? .first : state.second & bit != 0 ? .second : nil
                board[Self.rows - 1 - row, column] = seat
            }
        }
        return board
    }

    public func move(atRow row: Int, column: Int) -> Move? {
        (0..<Self.columns).contains(column) ? column : nil
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs and newlines.
    var trimmingWhitespace: String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let start = firstIndex(where: { !isSpace($0) }), let end = lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(self[start...end])
    }
}
