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

/// Why a bot stopped before its game ended.
public enum BotError: Error, Sendable, CustomStringConvertible {
    case connectionEnded(ConnectionState)
    case notSeated
    case refused(WireError)

    public var description: String {
        switch self {
        case .connectionEnded(let state): "the connection ended before the game did (\(state))"
        case .notSeated: "a bot needs a seat to play"
        case .refused(let error): "the server refused a move: \(error)"
        }
    }
}

/// Plays one seat of a match to the end over a match connection: it keeps a replica of the
/// match from the events, and when its seat is to move (and it has read every event that
/// arrived) it sends its strategy's move against the latest version.
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
        guard let seat = connection.seat else { throw BotError.notSeated }
        var random = SeededRandom(seed: seed)
        var match: Match?
        var brain: (any Brain)?
        var played = 0
        var setupSent = false
        for await update in connection.updates {
            switch update {
            case .event(let event):
                if var replica = match {
                    try replica.apply(event)
                    match = replica
                } else {
                    match = try Match(replaying: [event])
                    brain = strategy.brain(for: match!.game)
                }
                if let current = match { try brain?.observe(event, in: current) }
            case .rolledBack(let version):
                // What came after `version` never became durable: think again from the match as
                // it was then (a fleet rolled back is placed again).
                (match, brain) = try replay(match?.events.filter { $0.version <= version } ?? [])
                setupSent = false
            }
            guard let current = match else { continue }
            if let result = current.result {
                connection.close()
                return BotGame(match: connection.match, seat: seat, strategy: strategy, result: result, moves: played, log: current.events)
            }
            // A setup goes in as soon as the game starts, whoever is to move.
            if current.awaitsSetup(from: seat) {
                guard !setupSent, let setup = brain?.setup(random: &random) else { continue }
                setupSent = true
                do {
                    _ = try await politely { try await connection.send(Command(.place(setup), version: current.version)) }
                } catch CommandError.refused(let error) where error.code == .finished {
                    continue
                } catch CommandError.refused(let error) {
                    throw BotError.refused(error)
                }
                continue
            }
            // Act only on the newest event, so the command carries the current version.
            guard current.turn == seat, connection.lastVersion == current.version,
                  let move = brain?.chooseMove(random: &random) else { continue }
            if let thinkTime {
                try await Task.sleep(for: .nanoseconds(Int64.random(in: thinkTime.lowerBound.nanoseconds...thinkTime.upperBound.nanoseconds, using: &random)))
            }
            do {
                _ = try await politely { try await connection.send(Command(.play(move), version: current.version)) }
                played += 1
            } catch CommandError.refused(let error) where error.code == .staleVersion || error.code == .finished || error.code == .rolledBack {
                // The opponent resigned or timed out meanwhile, or the server lost a move: the
                // events (or the word of the rollback) will say so.
                continue
            } catch CommandError.refused(let error) {
                throw BotError.refused(error)
            }
        }
        throw BotError.connectionEnded(connection.state)
    }

    /// A match and a brain that has observed it, from a log (nil for none).
    private func replay(_ log: [MatchEvent]) throws -> (Match?, (any Brain)?) {
        guard let first = log.first else { return (nil, nil) }
        var match = try Match(replaying: [first])
        var brain = strategy.brain(for: match.game)
        try brain.observe(first, in: match)
        for event in log.dropFirst() {
            try match.apply(event)
            try brain.observe(event, in: match)
        }
        return (match, brain)
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
