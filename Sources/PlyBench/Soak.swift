import Foundation
import PlyBots
import PlyClient
import PlyWire
import Synchronization


/// `ply bench --soak`: bot play (`ply bot`'s fleet) for a long time against one child
/// `ply serve` on SQLite, the server sampled as it goes.
public struct SoakPlan: Sendable, Hashable, Codable {
    public var duration: Duration
    /// Games played at once; each finished game is followed by a new one.
    public var matches = 40
    public var transports = SeatTransports.mixed
    /// Growth is measured from the first sample after this.
    public var warmup: Duration = .seconds(120)
    /// How often the server is sampled: by default about 180 samples over the run, at least a second apart.
    public var sampleInterval: Duration?

    public init(duration: Duration) {
        self.duration = duration
    }

    var interval: Duration { sampleInterval ?? max(.seconds(1), duration / 180) }
}

/// The server at one moment of a soak.
public struct SoakSample: Sendable, Hashable, Codable {
    /// Seconds since the bots started (0 and before: idle).
    public var seconds: Double
    public var residentBytes: Int?
    public var descriptors: Int?
    /// What the server's `/health` said (its own request's connection included).
    public var connections: Int
    public var webSockets: Int
    public var waitingPolls: Int
    /// Unfinished matches.
    public var liveMatches: Int
    /// The fleet's games finished and moves played so far, and moves per second since the last sample.
    public var gamesFinished: Int
    public var moves: Int
    public var movesPerSecond: Double
}

/// What a soak measured.
public struct SoakResult: Sendable, Codable {
    public var plan: SoakPlan
    /// Before the bots started.
    public var idle: SoakSample?
    public var samples: [SoakSample] = []
    /// Once the bots had stopped and the server had let go (its descriptors, connections, polls and
    /// WebSockets back to idle), or 30 s had passed.
    public var after: SoakSample?
    public var secondsToIdle: Double?
    public var gamesFinished = 0
    public var moves = 0
    public var errors = 0
    public var abandoned = 0
    public var errorSamples: [String] = []

    /// The first sample after the warm-up, which growth is measured from.
    public var warm: SoakSample? { samples.first { $0.seconds >= plan.warmup / .seconds(1) } }

    /// Memory growth from the warm sample to the last one, and to the highest after it.
    public var growth: Double? { change(to: samples.last?.residentBytes) }
    public var peakGrowth: Double? {
        guard let warm else { return nil }
        return change(to: samples.filter { $0.seconds >= warm.seconds }.compactMap(\.residentBytes).max())
    }

    private func change(to bytes: Int?) -> Double? {
        guard let base = warm?.residentBytes, base > 0, let bytes else { return nil }
        return Double(bytes) / Double(base) - 1
    }

    /// What the live seats need at a sample: a WebSocket per WebSocket seat, at most a waiting
    /// poll per long-polling seat, and two HTTP connections per long-polling or event-stream
    /// seat (its poll's or stream's, and its commands'), plus the one `/health` is asked on.
    func need(_ sample: SoakSample) -> (webSockets: Int, polls: Int, connections: Int) {
        let seats = plan.transports.seatsPerMatch
        let (webSocket, stream, longPoll) = (seats[.webSocket] ?? 0, seats[.serverSentEvents] ?? 0, seats[.longPoll] ?? 0)
        let live = sample.liveMatches
        return (live * webSocket, live * longPoll, live * (webSocket + 2 * stream + 2 * longPoll) + 1)
    }

    /// The most, over the samples, by which WebSockets, waiting polls and connections exceeded
    /// that need (0 or less: never).
    public var beyondNeed: (webSockets: Int, polls: Int, connections: Int) {
        samples.reduce((Int.min, Int.min, Int.min)) { most, sample in
            let need = need(sample)
            return (max(most.0, sample.webSockets - need.webSockets), max(most.1, sample.waitingPolls - need.polls),
                    max(most.2, sample.connections - need.connections))
        }
    }
}

/// The fleet's latest report, as its games finish.
private final class Latest: Sendable {
    private let report = Mutex<FleetReport?>(nil)
    func withLock<T>(_ body: (inout FleetReport?) -> T) -> T { report.withLock { body(&$0) } }
}

extension BenchRunner {
    /// Starts `ply serve` (SQLite), reads it idle, plays bot games `soak.matches` at a time for
    /// `soak.duration` while sampling it, stops the bots (games under way are abandoned, their
    /// connections closed) and waits up to 30 s for the server to be back to its idle descriptors.
    func runSoak(_ soak: SoakPlan, report: @escaping @Sendable (Double) -> Void) async throws -> SoakResult {
        let (host, port, child, data) = try await startServer(.ply(.webSocket), store: .sqlite)
        let endpoint = Endpoint(host: host, port: port)
        let api = PlyAPI(endpoint: endpoint)
        var result = SoakResult(plan: soak)
        let latest = Latest()
        func sample(at seconds: Double, movesPerSecond: Double = 0) async -> SoakSample? {
            guard let health = try? await api.health() else { return nil }
            let usage = child?.usage
            let progress = latest.withLock { $0 }
            return SoakSample(seconds: seconds, residentBytes: usage?.residentBytes, descriptors: usage?.descriptors,
                              connections: health.connections, webSockets: health.webSockets, waitingPolls: health.waitingPolls,
                              liveMatches: health.matches, gamesFinished: progress?.finished ?? 0, moves: progress?.moves ?? 0,
                              movesPerSecond: movesPerSecond)
        }
        try await Task.sleep(for: .seconds(1))
        result.idle = await sample(at: 0)

        let fleetPlan = FleetPlan(
            endpoint: endpoint, transports: soak.transports, game: plan.game, strategies: (.greedy, .random),
            games: Int(Int32.max), concurrency: soak.matches, seed: plan.seed,
            thinkTime: plan.thinkMilliseconds.map { .milliseconds($0.lowerBound) ... .milliseconds($0.upperBound) }
        )
        let started = ContinuousClock.now
        let fleet = Task { await BotFleet(plan: fleetPlan).run { progress in latest.withLock { $0 = progress } } }
        var previous = (at: started, moves: 0)
        var tick = started
        while ContinuousClock.now - started < soak.duration {
            tick += soak.interval
            try? await Task.sleep(until: tick)
            let now = ContinuousClock.now
            let moves = latest.withLock { $0?.moves ?? 0 }
            let rate = Double(moves - previous.moves) / max((now - previous.at) / .seconds(1), 0.001)
            previous = (now, moves)
            if let taken = await sample(at: (now - started) / .seconds(1), movesPerSecond: rate) { result.samples.append(taken) }
            report(min((now - started) / soak.duration, 1) * 0.95)
        }
        fleet.cancel()
        let played = await fleet.value
        result.gamesFinished = played.finished
        result.moves = played.moves
        result.errors = played.errors
        result.abandoned = played.abandoned
        result.errorSamples = played.errorSamples

        // The server should let go of every connection the bots had: back to its idle descriptors.
        let stopped = ContinuousClock.now
        repeat {
            try? await Task.sleep(for: .milliseconds(500))
            result.after = await sample(at: (ContinuousClock.now - started) / .seconds(1))
            if let idle = result.idle, let now = result.after, now.waitingPolls == 0, now.webSockets == 0,
               now.connections <= idle.connections, now.descriptors ?? 0 <= idle.descriptors ?? 0 {
                result.secondsToIdle = (ContinuousClock.now - stopped) / .seconds(1)
                break
            }
        } while ContinuousClock.now - stopped < .seconds(30)
        await api.close()
        await stopServer(child, data: data)
        report(1)
        return result
    }
}
