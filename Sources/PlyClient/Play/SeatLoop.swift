import PlyEngine
import PlyWire

/// What differs between the players of a seat (a bot's brain, the benchmark's seeded random
/// moves and its clocks): the hooks of `MatchConnection.play(with:)`, which does the rest the
/// same way for all of them.
public protocol SeatHooks: Sendable {
    /// Sees an event the seat's replica of the match (`match`) has just applied, `at` when it
    /// was delivered.
    mutating func observe(_ event: MatchEvent, in match: Match, at: ContinuousClock.Instant) throws
    /// What came after a version never became durable: the replica is back to `match` (nil
    /// for no event at all); a brain that follows the game thinks again from it.
    mutating func rolledBack(to match: Match?) throws
    /// The secret setup to place as the game starts (Battleship: a fleet), in notation; nil
    /// for none.
    mutating func setup(for match: Match) -> String?
    /// The seat's move, in notation, when it is to move in `match`: the hook may take its time
    /// (a bot thinks) from `turnBegan`, when the event that gave it the turn was delivered.
    /// Nil plays nothing: the seat waits for the next event.
    mutating func move(in match: Match, turnBegan: ContinuousClock.Instant) async throws -> String?
    /// The server took the seat's move, sent `sent`, when its acknowledgement came.
    mutating func acknowledged(sentAt sent: ContinuousClock.Instant)
}

extension SeatHooks {
    public mutating func observe(_ event: MatchEvent, in match: Match, at: ContinuousClock.Instant) throws {}
    public mutating func rolledBack(to match: Match?) throws {}
    public mutating func acknowledged(sentAt sent: ContinuousClock.Instant) {}
}

/// Why a seat stopped playing before its game ended.
public enum SeatError: Error, Sendable, CustomStringConvertible {
    case connectionEnded(ConnectionState)
    case notSeated
    case refused(WireError)

    public var description: String {
        switch self {
        case .connectionEnded(let state): "the connection ended before the game did (\(state))"
        case .notSeated: "only a seat can play; this connection watches"
        case .refused(let error): "the server refused a command: \(error)"
        }
    }
}

/// The seat loop's state and rules, whoever drives it (`MatchConnection.play(with:)` in a task,
/// `SeatDriver` on the connection's event loop): a replica of the match from the events; its
/// setup placed as soon as the game starts, whoever is to move; and once every setup is in, a
/// move when the seat is to move on the newest version.
struct SeatState {
    let seat: Seat
    private(set) var replica: Match?
    private(set) var setupSent = false

    init(seat: Seat) {
        self.seat = seat
    }

    /// What the seat is to do after an update.
    enum Step {
        /// Nothing yet: wait for the next update.
        case wait
        /// The game is over, as the replica finished.
        case finished(Match)
        /// Place the seat's setup in this match (once, unless a rollback undoes it).
        case place(Match)
        /// Move in this match: the seat is to move on its newest version.
        case move(Match)
    }

    /// Takes an update into the replica (the hooks see it), and says what to do now.
    /// `newest` is the last version the connection has delivered (nil: this update's): a move
    /// is made only on it, so that its command carries the current version.
    mutating func take(_ update: MatchUpdate, hooks: inout some SeatHooks, at now: ContinuousClock.Instant, newest: Int?) throws -> Step {
        switch update {
        case .event(let event):
            if replica == nil { replica = try Match(replaying: [event]) } else { try replica?.apply(event) }
            if let match = replica { try hooks.observe(event, in: match, at: now) }
        case .rolledBack(let version):
            let kept = replica?.events.filter { $0.version <= version } ?? []
            replica = kept.isEmpty ? nil : try Match(replaying: kept)
            setupSent = false
            try hooks.rolledBack(to: replica)
        }
        guard let match = replica else { return .wait }
        if match.status == .finished { return .finished(match) }
        if match.awaitsSetup(from: seat) { return setupSent ? .wait : .place(match) }
        guard !Seat.allCases.contains(where: match.awaitsSetup), match.turn == seat, newest ?? match.version == match.version else { return .wait }
        return .move(match)
    }

    /// The setup has been sent (not before the hooks gave one).
    mutating func placed() {
        setupSent = true
    }

    /// What the server may refuse a setup or a move for that is let go: the game moved on
    /// meanwhile, and the events say how.
    static let placeLetGo: Set<ErrorCode> = [.finished]
    static let moveLetGo: Set<ErrorCode> = [.staleVersion, .finished, .rolledBack]
}

extension MatchConnection {
    /// Plays this connection's seat to the end of its game and returns the match as it
    /// finished, with the seat loop's rules (`SeatState`). A command the server refuses
    /// because the game moved on meanwhile (the opponent resigned or timed out, a version
    /// went stale or was rolled back) is let go: the events say what happened. Rate limits and
    /// a store out of reach are waited out (`politely`); any other refusal ends the game with
    /// `SeatError.refused`.
    public func play(with hooks: inout some SeatHooks) async throws -> Match {
        guard let seat else { throw SeatError.notSeated }
        var loop = SeatState(seat: seat)
        for await update in updates {
            let now = ContinuousClock.now
            switch try loop.take(update, hooks: &hooks, at: now, newest: lastVersion) {
            case .wait:
                continue
            case .finished(let match):
                return match
            case .place(let match):
                guard let setup = hooks.setup(for: match) else { continue }
                loop.placed()
                _ = try await settle(Command(.place(setup), version: match.version), letting: SeatState.placeLetGo)
            case .move(let match):
                guard let move = try await hooks.move(in: match, turnBegan: now) else { continue }
                let sent = ContinuousClock.now
                if try await settle(Command(.play(move), version: match.version), letting: SeatState.moveLetGo) {
                    hooks.acknowledged(sentAt: sent)
                }
            }
        }
        throw SeatError.connectionEnded(state)
    }

    /// Sends a command politely; true when it was taken, false when refused with one of the
    /// codes let go.
    func settle(_ command: Command, letting codes: Set<ErrorCode>, lostOnce: Bool = false) async throws -> Bool {
        do {
            _ = try await politely { try await send(command, lostOnce: lostOnce) }
            return true
        } catch CommandError.refused(let error) where codes.contains(error.code) {
            return false
        } catch CommandError.refused(let error) {
            throw SeatError.refused(error)
        }
    }
}

/// Runs `call`, and while the server answers `request/rate_limited` (429 to a request, or a
/// refused command) or `server/store_unavailable` (its shared database is out of reach, and the
/// command was not applied; a version-checked command sent again is refused as stale if it
/// was), waits and asks again, longer each time (from 50 ms to 2 s, jittered): many clients on
/// one machine slow to the server's budget for its address instead of failing their games.
public func politely<T: Sendable>(_ call: () async throws -> T) async throws -> T {
    var wait = Duration.milliseconds(50)
    while true {
        do {
            return try await call()
        } catch let error as WireError where error.code == .rateLimited || error.code == .storeUnavailable {
        } catch CommandError.refused(let error) where error.code == .rateLimited || error.code == .storeUnavailable {
        }
        try await Task.sleep(for: wait * Double.random(in: 0.5...1.5))
        wait = min(wait * 2, .seconds(2))
    }
}
