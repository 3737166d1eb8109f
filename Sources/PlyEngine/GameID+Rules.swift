extension GameID {
    /// How to play, for people (`ply rules`).
    public var rulesText: String {
        switch self {
        case .connect4:
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
        case .reversi:
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
    }
}
