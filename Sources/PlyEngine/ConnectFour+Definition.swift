extension ConnectFour: GameDefinition {
    public var title: String { "Connect Four" }

    public var rulesText: String {
        """
        Connect Four

        Two players take turns dropping a piece into one of the 7 columns of an upright
        board 6 rows high. The piece falls to the lowest free cell of that column.
        The first player to line up four of their pieces horizontally, vertically or
        diagonally wins. If all 42 cells fill up with no line of four, the game is a draw.

        Moves are named by column: 1 (left) to 7 (right).
        A full column cannot take another piece (rule/column_full).
        The first seat (x) moves first.
        """
    }

    public var layout: BoardLayout {
        BoardLayout(aim: .column, hint: ("arrows or 1-7 to aim, Enter or Space to drop.", "1-7 or arrows, Enter."))
    }

    public var bots: BotPlay { .search(self) }

    /// Every line of four of the winner's pieces (more than one if the last move made more).
    public func winningCells(_ state: State) -> Set<Int> {
        guard case .over(let result) = outcome(state), let winner = result.winner else { return [] }
        let board = board(state)
        var cells: Set<Int> = []
        for row in 0..<board.rows {
            for column in 0..<board.columns {
                for (down, across) in [(0, 1), (1, 0), (1, 1), (1, -1)] {
                    let line = (0..<4).map { (row + down * $0, column + across * $0) }
                    let whole = line.allSatisfy { cell in
                        (0..<board.rows).contains(cell.0) && (0..<board.columns).contains(cell.1) && board[cell.0, cell.1] == winner
                    }
                    if whole { cells.formUnion(line.map { $0.0 * board.columns + $0.1 }) }
                }
            }
        }
        return cells
    }
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
