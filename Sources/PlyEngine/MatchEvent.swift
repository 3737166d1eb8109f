/// One entry of a match's append-only log. Versions start at 1 and rise by 1 with each event,
/// so a reader that knows the last version it saw knows exactly what it missed.
public struct MatchEvent: Hashable, Sendable {
    public let version: Int
    public let change: Change

    public init(version: Int, change: Change) {
        self.version = version
        self.change = change
    }

    /// What happened. Cases are in the past tense; a match is the replay of these.
    public enum Change: Hashable, Sendable {
        /// The match was opened for a game. Always the first event.
        case created(game: GameID, options: MatchOptions)
        /// A player took a seat. The second `joined` starts the game.
        case joined(seat: Seat, name: String)
        /// A seat made its secret setup (Battleship: placed its fleet), in the game's notation;
        /// the setup is nil where the event is shown to anyone but that seat.
        case placed(seat: Seat, fleet: String?)
        /// A seat played a move, in the game's notation, and what it found where the notation
        /// does not say (Battleship: the shot's result; nil in other games).
        case moved(seat: Seat, move: String, result: ShotResult? = nil)
        /// A seat gave up.
        case resigned(seat: Seat)
        /// A seat let its per-move time limit pass.
        case timedOut(seat: Seat)
        /// The game ended. Always the last event. In games with setups, it shows every seat's
        /// (nil for a seat that made none) to everyone.
        case ended(GameResult, fleets: [String?]? = nil)
    }

    /// Who may see this event as it is: one seat (its own secret setup), or nil for everyone.
    public var audience: Seat? {
        if case .placed(let seat, let fleet) = change, fleet != nil { return seat }
        return nil
    }

    /// The event as a seat (or, for nil, a spectator) may see it: another seat's setup hidden.
    public func view(for viewer: Seat?) -> MatchEvent {
        guard let audience, audience != viewer, case .placed(let seat, _) = change else { return self }
        return MatchEvent(version: version, change: .placed(seat: seat, fleet: nil))
    }
}

/// Settings fixed when a match is created.
public struct MatchOptions: Hashable, Sendable, Codable {
    /// Seconds a seat has for each move, or nil for no limit.
    public var moveTimeLimit: Int?

    public init(moveTimeLimit: Int? = nil) {
        self.moveTimeLimit = moveTimeLimit
    }

    public static let moveTimeLimitRange = 1...86_400
}

/// Where a match stands.
public enum MatchStatus: String, Codable, Hashable, Sendable {
    /// Waiting for players to take the free seats.
    case waiting
    /// Both seats are taken and the game is on.
    case playing
    /// The game has ended.
    case finished
}
