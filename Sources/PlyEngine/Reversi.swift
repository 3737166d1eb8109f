/// Reversi (Othello): 8x8, the standard four-disc opening, the first seat plays black and
/// moves first. A move must flip at least one line of the opponent's discs in any of the
/// 8 directions; a player with no legal placement must `pass`; the game ends when neither
/// player can move, and the player with more discs wins.
/// Squares are named `a1` (top left) to `h8` (bottom right); columns are letters, rows digits.
public struct Reversi: GameRules, Hashable {
    public static let size = 8

    /// Bitboards with bit `row * 8 + column`, a1 = bit 0, h8 = bit 63.
    public struct State: Hashable, Sendable {
        /// The first seat's discs (black).
        public internal(set) var first: UInt64
        /// The second seat's discs (white).
        public internal(set) var second: UInt64
        /// The seat to move.
        public internal(set) var turn: Seat

        /// The standard opening: d4 and e5 white, d5 and e4 black, black to move.
        public init() {
            first = Reversi.bit("d5") | Reversi.bit("e4")
            second = Reversi.bit("d4") | Reversi.bit("e5")
            turn = .first
        }

        /// A position from board rows, top (row 1) first: `.` empty, `x` black, `o` white.
        /// Nil unless there are 8 rows of 8 cells.
        public init?(rows: [String], turn: Seat) {
            guard let board = Board(textRows: rows), board.rows == Reversi.size, board.columns == Reversi.size else { return nil }
            first = 0
            second = 0
            self.turn = turn
            for square in 0..<64 {
                let bit: UInt64 = 1 << UInt64(square)
                switch board[square / 8, square % 8] {
                case .first: first |= bit
                case .second: second |= bit
                case nil: break
                }
            }
        }

        /// A seat's discs.
        public func discs(of seat: Seat) -> UInt64 { seat == .first ? first : second }
    }

    public enum Move: Hashable, Sendable {
        /// Place a disc on a square, `0..<64`.
        case place(Int)
        case pass
    }

    public init() {}

    public var id: GameID { .reversi }
    public var initialState: State { State() }

    public func turn(_ state: State) -> Seat { state.turn }

    public func legalMoves(_ state: State) -> [Move] {
        let own = state.discs(of: state.turn), opponent = state.discs(of: state.turn.opponent)
        let placements = Self.placements(own: own, opponent: opponent)
        if placements != 0 { return Self.squares(placements).map(Move.place) }
        // No placement: a pass, unless the opponent cannot move either and the game is over.
        return Self.placements(own: opponent, opponent: own) == 0 ? [] : [.pass]
    }

    public func apply(_ move: Move, to state: State) throws(RuleViolation) -> State {
        guard !outcome(state).isOver else { throw .gameOver }
        let own = state.discs(of: state.turn), opponent = state.discs(of: state.turn.opponent)
        var next = state
        next.turn = state.turn.opponent
        switch move {
        case .pass:
            guard Self.placements(own: own, opponent: opponent) == 0 else { throw .passNotAllowed }
            return next
        case .place(let square):
            guard (0..<64).contains(square) else { throw .outOfRange(notation(move)) }
            let bit: UInt64 = 1 << UInt64(square)
            guard (own | opponent) & bit == 0 else { throw .occupied(notation(move)) }
            let flips = Self.flips(own: own, opponent: opponent, square: bit)
            guard flips != 0 else {
                throw Self.placements(own: own, opponent: opponent) == 0 ? .mustPass : .noFlips(notation(move))
            }
            let newOwn = own | bit | flips, newOpponent = opponent & ~flips
            if state.turn == .first {
                next.first = newOwn
                next.second = newOpponent
            } else {
                next.second = newOwn
                next.first = newOpponent
            }
            return next
        }
    }

    public func outcome(_ state: State) -> Outcome {
        let first = state.first, second = state.second
        guard Self.placements(own: first, opponent: second) == 0,
              Self.placements(own: second, opponent: first) == 0 else { return .ongoing }
        let reason: EndReason = (first | second) == .max ? .boardFull : .noMoves
        let difference = first.nonzeroBitCount - second.nonzeroBitCount
        let winner: Seat? = difference > 0 ? .first : difference < 0 ? .second : nil
        return .over(GameResult(winner: winner, reason: reason))
    }

    public func notation(_ move: Move) -> String {
        switch move {
        case .pass: return "pass"
        case .place(let square) where (0..<64).contains(square):
            let column = Character(Unicode.Scalar(UInt8(ascii: "a") + UInt8(square % 8)))
            return "\(column)\(square / 8 + 1)"
        case .place(let square): return "#\(square)"
        }
    }

    public func move(_ notation: String) throws(RuleViolation) -> Move {
        let text = notation.trimmingWhitespace.lowercased()
        if text == "pass" { return .pass }
        let scalars = Array(text.unicodeScalars)
        guard scalars.count >= 2, ("a"..."z").contains(scalars[0]),
              scalars.dropFirst().allSatisfy({ ("0"..."9").contains($0) }),
              let row = Int(String(String.UnicodeScalarView(scalars[1...]))) else {
            throw .unreadableMove(notation)
        }
        let column = Int(scalars[0].value) - Int(UInt8(ascii: "a"))
        guard column < Self.size, (1...Self.size).contains(row) else { throw .outOfRange(text) }
        return .place((row - 1) * Self.size + column)
    }

    public func board(_ state: State) -> Board {
        var board = Board(rows: Self.size, columns: Self.size)
        for square in 0..<64 {
            let bit: UInt64 = 1 << UInt64(square)
            board[square / 8, square % 8] = state.first & bit != 0 ? .first : state.second & bit != 0 ? .second : nil
        }
        return board
    }

    public func move(atRow row: Int, column: Int) -> Move? {
        (0..<Self.size).contains(row) && (0..<Self.size).contains(column) ? .place(row * Self.size + column) : nil
    }

    /// How many squares a seat could place a disc on: its mobility.
    public func mobility(of seat: Seat, in state: State) -> Int {
        Self.placements(own: state.discs(of: seat), opponent: state.discs(of: seat.opponent)).nonzeroBitCount
    }

    public func score(_ state: State) -> [Seat: Int]? {
        [.first: state.first.nonzeroBitCount, .second: state.second.nonzeroBitCount]
    }

    // MARK: Bitboard moves

    static func bit(_ square: String) -> UInt64 {
        guard case .place(let index) = try? Reversi().move(square) else { preconditionFailure(square) }
        return 1 << UInt64(index)
    }

    /// Squares of set bits, lowest first.
    static func squares(_ bits: UInt64) -> [Int] {
        var bits = bits, squares: [Int] = []
        squares.reserveCapacity(bits.nonzeroBitCount)
        while bits != 0 {
            squares.append(bits.trailingZeroBitCount)
            bits &= bits - 1
        }
        return squares
    }

    private static let notColumnA: UInt64 = 0xFEFE_FEFE_FEFE_FEFE
    private static let notColumnH: UInt64 = 0x7F7F_7F7F_7F7F_7F7F

    /// The eight directions as shifts; masks drop discs that would wrap around a board edge.
    private static let directions: [(shift: Int, mask: UInt64)] = [
        (1, notColumnA), (-1, notColumnH), (8, .max), (-8, .max),
        (9, notColumnA), (7, notColumnH), (-7, notColumnA), (-9, notColumnH),
    ]

    @inline(__always)
    private static func step(_ bits: UInt64, _ direction: (shift: Int, mask: UInt64)) -> UInt64 {
        let moved = direction.shift > 0 ? bits << UInt64(direction.shift) : bits >> UInt64(-direction.shift)
        return moved & direction.mask
    }

    /// Every empty square where `own` would flip at least one of `opponent`'s discs.
    static func placements(own: UInt64, opponent: UInt64) -> UInt64 {
        let empty = ~(own | opponent)
        var result: UInt64 = 0
        for direction in directions {
            var line = step(own, direction) & opponent
            for _ in 0..<5 { line |= step(line, direction) & opponent }
            result |= step(line, direction) & empty
        }
        return result
    }

    /// The opponent's discs that a disc placed on `square` would flip.
    static func flips(own: UInt64, opponent: UInt64, square: UInt64) -> UInt64 {
        var flips: UInt64 = 0
        for direction in directions {
            var line: UInt64 = 0
            var cursor = step(square, direction)
            while cursor & opponent != 0 {
                line |= cursor
                cursor = step(cursor, direction)
            }
            if cursor & own != 0 { flips |= line }
        }
        return flips
    }
}
