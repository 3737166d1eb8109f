import PlyClient
import PlyEngine
import PlyWire

/// How one bot's game went.
public struct BotGame: Sendable {
    public var match: String
    public var seat: Seat
    public var strategy: Strategy
    public var result: GameResult
    /// Moves this bot played.
    public var moves: Int
    /// Every event the bot received, in order.
    public var log: [MatchEvent]

    /// Whether this bot's seat won, lost, or drew.
    public var outcome: String {
        guard let winner = result.winner else { return "draw" }
        return winner == seat ? "win" : "loss"
    }
}

/// Plays one seat of a match to the end over a match connection, in the seat loop every
/// player of ply shares (`MatchConnection.play(with:)`): its brain follows the events, and
/// when its seat is to move it thinks (for `thinkTime`) and plays its strategy's move.
public struct BotPlayer: Sendable {
    public var strategy: Strategy
    public var seed: UInt64
    /// Time taken to choose each move, drawn from this range (none by default).
    public var thinkTime: ClosedRange<Duration>?

    public init(strategy: Strategy, seed: UInt64, thinkTime: ClosedRange<Duration>? = nil) {
        self.strategy = strategy
        self.seed = seed
        self.thinkTime = thinkTime
    }

    public func play(_ connection: MatchConnection) async throws -> BotGame {
        var hooks = BrainHooks(strategy: strategy, random: SeededRandom(seed: seed), thinkTime: thinkTime)
        let match = try await connection.play(with: &hooks)
        connection.close()
        guard let seat = connection.seat, let result = match.result else { throw SeatError.connectionEnded(connection.state) }
        return BotGame(match: connection.match, seat: seat, strategy: strategy, result: result, moves: hooks.played, log: match.events)
    }
}

/// A bot's part of the seat loop: a brain that observes every event (and, after a rollback,
/// the match as it was then), places its setup and chooses its moves.
private struct BrainHooks: SeatHooks {
    let strategy: Strategy
    var random: SeededRandom
    let thinkTime: ClosedRange<Duration>?
    var brain: (any Brain)?
    var played = 0

    mutating func observe(_ event: MatchEvent, in match: Match, at: ContinuousClock.Instant) throws {
        if brain == nil { brain = strategy.brain(for: match.game) }
        try brain?.observe(event, in: match)
    }

    mutating func rolledBack(to match: Match?) throws {
        brain = nil
        guard let match else { return }
        var replica = try Match(replaying: Array(match.events.prefix(1)))
        var fresh = strategy.brain(for: match.game)
        for (index, event) in match.events.enumerated() {
            if index > 0 { try replica.apply(event) }
            try fresh.observe(event, in: replica)
        }
        brain = fresh
    }

    mutating func setup(for match: Match) -> String? { brain?.setup(random: &random) }

    mutating func move(in match: Match, turnBegan: ContinuousClock.Instant) async throws -> String? {
        guard let move = brain?.chooseMove(random: &random) else { return nil }
        if let thinkTime {
            try await Task.sleep(for: .nanoseconds(Int64.random(in: thinkTime.lowerBound.nanoseconds...thinkTime.upperBound.nanoseconds, using: &random)))
        }
        return move
    }

    mutating func acknowledged(sentAt sent: ContinuousClock.Instant) { played += 1 }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
