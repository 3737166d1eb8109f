import NIOCore
import PlyClient
import PlyEngine
import PlyWire
import Synchronization

/// A batch of bot games: what to play, where, and how many at once.
public struct FleetPlan: Sendable {
    public var endpoint: Endpoint
    public var transports: SeatTransports
    public var game: GameID
    /// The two sides; they take turns at moving first, game by game.
    public var strategies: (Strategy, Strategy)
    public var games: Int
    public var concurrency: Int
    public var seed: UInt64
    public var thinkTime: ClosedRange<Duration>?
    public var options: ConnectionOptions

    public init(endpoint: Endpoint, transports: SeatTransports = .same(.over(.webSocket)), game: GameID = .connect4,
                strategies: (Strategy, Strategy) = (.random, .random), games: Int = 1, concurrency: Int = 1,
                seed: UInt64 = 1, thinkTime: ClosedRange<Duration>? = nil, options: ConnectionOptions = ConnectionOptions()) {
        self.endpoint = endpoint
        self.transports = transports
        self.game = game
        self.strategies = strategies
        self.games = games
        self.concurrency = concurrency
        self.seed = seed
        self.thinkTime = thinkTime
        self.options = options
    }
}

/// Wins, draws and losses of one strategy.
public struct Record: Sendable, Hashable {
    public var wins = 0
    public var draws = 0
    public var losses = 0
}

/// What a fleet did.
public struct FleetReport: Sendable {
    public var planned: Int
    public var finished = 0
    public var errors = 0
    /// Games under way when the fleet was stopped (its task cancelled), left unfinished.
    public var abandoned = 0
    public var moves = 0
    /// Records by strategy description (`minimax(4)`); a strategy playing itself counts twice.
    public var records: [String: Record] = [:]
    public var elapsed: Duration = .zero
    /// The first few errors, for people.
    public var errorSamples: [String] = []
    /// Every connection's wire statistics together.
    public let stats = WireStats()

    /// Bytes on the wire per move, both directions.
    public var bytesPerMove: Double {
        let totals = stats.totals
        return moves == 0 ? 0 : Double(totals.bytesSent + totals.bytesReceived) / Double(moves)
    }
}

/// Runs a plan's games, `concurrency` at a time: each game creates a match, seats two bots and
/// plays it to the end. A game that fails counts as an error; the others go on. Cancelled (a
/// signal), the fleet starts no more games and abandons those under way, closing their
/// connections, and reports what was played.
public struct BotFleet: Sendable {
    public let plan: FleetPlan

    public init(plan: FleetPlan) {
        self.plan = plan
    }

    public func run(progress: @escaping @Sendable (FleetReport) -> Void = { _ in }) async -> FleetReport {
        let report = SharedReport(FleetReport(planned: plan.games))
        let api = PlyAPI(endpoint: plan.endpoint, options: plan.options)
        let started = ContinuousClock.now
        await withTaskGroup(of: Void.self) { group in
            var next = 0
            func startGame() {
                let index = next
                next += 1
                group.addTask {
                    let outcome = await playGame(index, api: api)
                    let snapshot = report.value.withLock { report in
                        report.record(outcome)
                        report.elapsed = .now - started
                        return report
                    }
                    progress(snapshot)
                }
            }
            while next < min(plan.concurrency, plan.games) { startGame() }
            while await group.next() != nil {
                if next < plan.games, !Task.isCancelled { startGame() }
            }
        }
        await api.close()
        return report.value.withLock { report in
            report.elapsed = .now - started
            return report
        }
    }

    /// One game: its two bots' results, or the error that stopped it.
    private func playGame(_ index: Int, api: PlyAPI) async -> Result<(BotGame, BotGame, [WireStats]), any Error> {
        // The two sides take turns at sitting first.
        let (first, second) = index % 2 == 0 ? plan.strategies : (plan.strategies.1, plan.strategies.0)
        var connections: [MatchConnection] = []
        defer { for connection in connections { connection.close() } }
        do {
            let names = [first, second].enumerated().map { slot, strategy in "\(strategy.name)-\(index)\(slot == 0 ? "a" : "b")" }
            let plan = self.plan
            let setup = try await api.setUpMatch(plan.game, names: names) { match, grant in
                try await MatchConnection.open(to: plan.endpoint, match: match, seat: (grant.seat, grant.token),
                                               transport: plan.transports.choice(for: grant.seat), options: plan.options)
            }
            connections = setup.connections.compactMap { $0 }
            let players = zip(connections, [first, second]).enumerated().map { slot, pair in
                (pair.0, BotPlayer(strategy: pair.1, seed: plan.seed &* 1_000_003 &+ UInt64(index) &* 2 &+ UInt64(slot), thinkTime: plan.thinkTime))
            }
            // Both players at once; if one fails, the other is stopped rather than left waiting
            // for a move that will never come.
            let games = try await withThrowingTaskGroup(of: (Int, BotGame).self) { group in
                for (slot, (connection, player)) in players.enumerated() {
                    group.addTask { (slot, try await player.play(connection)) }
                }
                var games: [Int: BotGame] = [:]
                for try await (slot, game) in group { games[slot] = game }
                guard let a = games[0], let b = games[1] else { throw CancellationError() }
                return (a, b)
            }
            // A game cut short by a stop is abandoned, whatever its players made of it.
            try Task.checkCancellation()
            return .success((games.0, games.1, connections.map(\.stats)))
        } catch {
            return .failure(Task.isCancelled ? CancellationError() : error)
        }
    }
}

/// The report that the fleet's game tasks add to.
private final class SharedReport: Sendable {
    let value: Mutex<FleetReport>
    init(_ report: FleetReport) { value = Mutex(report) }
}

extension FleetReport {
    mutating func record(_ outcome: Result<(BotGame, BotGame, [WireStats]), any Error>) {
        switch outcome {
        case .success(let (first, second, stats)):
            finished += 1
            moves += first.moves + second.moves
            for game in [first, second] {
                var record = records[game.strategy.description] ?? Record()
                switch game.outcome {
                case "win": record.wins += 1
                case "draw": record.draws += 1
                default: record.losses += 1
                }
                records[game.strategy.description] = record
            }
            for connection in stats { self.stats.absorb(connection) }
        case .failure(is CancellationError):
            abandoned += 1
        case .failure(let error):
            errors += 1
            if errorSamples.count < 5 { errorSamples.append("\(error)") }
        }
    }
}
