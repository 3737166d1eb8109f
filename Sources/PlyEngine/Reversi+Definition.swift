extension Reversi: GameDefinition {
    public var title: String { "Reversi" }

    public var rulesText: String {
        """
        Reversi (Othello)

        An 8x8 board starts with four discs in the centre: d4 and e5 white, d5 and e4 black.
        Black (the first seat, x) moves first. A move places a disc of your colour on an
        empty square so that one or more straight lines of your opponent's discs, in any
        of the 8 directions, lie between the new disc and another of yours; every disc in
        those lines flips to your colour. A move that flips nothing is illegal (rule/no_flips).

        If you have no legal placement you must pass (move: pass); you may not pass
        otherwise (rule/pass_not_allowed). The game ends when neither player can move,
        usually with a full board. The player with more discs wins; equal counts draw.

        Squares are named by column letter a-h (left to right) and row number 1-8
        (top to bottom): a1 is the top-left corner, h8 the bottom-right.
        """
    }

    public var layout: BoardLayout {
        BoardLayout(aim: .cell, hint: ("arrows or hjkl to aim, Enter to place; LEGAL marks legal moves.", "arrows, Enter; LEGAL is legal."),
                    keyMoves: [BoardLayout.KeyMove(key: "p", move: "pass", help: "pass (only when you have no move)")])
    }

    public var bots: BotPlay { .search(self) }
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
