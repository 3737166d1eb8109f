/// Why a game ended. The raw values are stable wire codes.
public enum EndReason: String, Codable, Hashable, Sendable, CaseIterable {
    /// Connect Four: four pieces in a line.
    case fourInARow = "four_in_a_row"
    /// The board filled up (Connect Four draw, or Reversi with no empty square).
    case boardFull = "board_full"
    /// Reversi: neither player has a legal move.
    case noMoves = "no_moves"
    /// A seat resigned.
    case resignation
    /// A seat let its per-move time limit pass.
    case timeout
    /// Battleship: every ship of the loser's fleet was sunk.
    case fleetSunk = "fleet_sunk"
}

/// The end of a game: who won (nobody for a draw), and why.
public struct GameResult: Hashable, Sendable, Codable {
    /// The winning seat, or nil for a draw.
    public let winner: Seat?
    public let reason: EndReason

    public init(winner: Seat?, reason: EndReason) {
        self.winner = winner
        self.reason = reason
    }

    public var isDraw: Bool { winner == nil }
}

/// Whether a position is still being played, or how it ended.
public enum Outcome: Hashable, Sendable {
    case ongoing
    case over(GameResult)

    public var result: GameResult? {
        if case .over(let result) = self { return result }
        return nil
    }

    public var isOver: Bool { result != nil }
}
