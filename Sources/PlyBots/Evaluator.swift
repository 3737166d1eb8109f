import PlyEngine

/// Rules a search can play: a static evaluation of a position and a good order to try moves in.
public protocol Evaluator: GameRules {
    /// How good `state` is for `seat`, higher better; zero is even. Not called on finished games.
    func evaluate(_ state: State, for seat: Seat) -> Int
    /// The legal moves, most promising first (alpha-beta prunes more when good moves come first).
    func orderedMoves(_ state: State) -> [Move]
}

extension ConnectFour: Evaluator {
    /// Every line of four cells as a bitboard mask: 24 horizontal, 21 vertical, 24 diagonal.
    static let windows: [UInt64] = {
        var windows: [UInt64] = []
        func bit(_ column: Int, _ row: Int) -> UInt64 { 1 << UInt64(column * ConnectFour.stride + row) }
        for column in 0..<columns {
            for row in 0..<rows {
                for (dc, dr) in [(1, 0), (0, 1), (1, 1), (1, -1)] {
                    let end = (column + 3 * dc, row + 3 * dr)
                    guard (0..<columns).contains(end.0), (0..<rows).contains(end.1) else { continue }
                    windows.append((0..<4).reduce(0) { $0 | bit(column + $1 * dc, row + $1 * dr) })
                }
            }
        }
        return windows
    }()

    static let centre: UInt64 = ((1 << UInt64(rows)) - 1) << UInt64(3 * stride)

    /// Lines still open to one side count for it: 1, 5 and 50 points for one, two and three
    /// pieces in a line of four the opponent has not blocked; centre pieces add 3 each.
    public func evaluate(_ state: State, for seat: Seat) -> Int {
        let own = state.pieces(of: seat), other = state.pieces(of: seat.opponent)
        let points = [0, 1, 5, 50, 0]
        var score = 0
        for window in Self.windows {
            let mine = (own & window).nonzeroBitCount, theirs = (other & window).nonzeroBitCount
            if theirs == 0 { score += points[mine] } else if mine == 0 { score -= points[theirs] }
        }
        return score + 3 * ((own & Self.centre).nonzeroBitCount - (other & Self.centre).nonzeroBitCount)
    }

    public func orderedMoves(_ state: State) -> [Move] {
        let legal = Set(legalMoves(state))
        return [3, 2, 4, 1, 5, 0, 6].filter(legal.contains)
    }
}

extension Reversi: Evaluator {
    /// Square values: corners are worth holding, the squares next to them risky.
    static let weights: [Int] = [
        100, -20, 10, 5, 5, 10, -20, 100,
        -20, -50, -2, -2, -2, -2, -50, -20,
        10, -2, 1, 1, 1, 1, -2, 10,
        5, -2, 1, 0, 0, 1, -2, 5,
        5, -2, 1, 0, 0, 1, -2, 5,
        10, -2, 1, 1, 1, 1, -2, 10,
        -20, -50, -2, -2, -2, -2, -50, -20,
        100, -20, 10, 5, 5, 10, -20, 100,
    ]

    /// Square values, plus mobility (more moves for you, fewer for the opponent), plus the
    /// disc count once the board is nearly full.
    public func evaluate(_ state: State, for seat: Seat) -> Int {
        let own = state.discs(of: seat), other = state.discs(of: seat.opponent)
        var score = 0
        for square in 0..<64 {
            let bit: UInt64 = 1 << UInt64(square)
            if own & bit != 0 { score += Self.weights[square] } else if other & bit != 0 { score -= Self.weights[square] }
        }
        score += 5 * (mobility(of: seat, in: state) - mobility(of: seat.opponent, in: state))
        if (own | other).nonzeroBitCount > 54 { score += 10 * (own.nonzeroBitCount - other.nonzeroBitCount) }
        return score
    }

    public func orderedMoves(_ state: State) -> [Move] {
        legalMoves(state).sorted { a, b in weight(a) > weight(b) }
    }

    private func weight(_ move: Move) -> Int {
        if case .place(let square) = move { return Self.weights[square] }
        return 0
    }
}
