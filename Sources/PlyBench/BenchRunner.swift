import Foundation
import Histogram
import PlyClient
import PlyEngine
import PlyRelay
import PlyWire
import Synchronization

/// Latency percentiles from a histogram of microseconds.
public struct LatencySummary: Sendable, Codable, Hashable {
    public var count: Int
    public var p50: Double
    public var p90: Double
    public var p99: Double
    public var p999: Double
    public var max: Double
    public var mean: Double
    /// (percentile, microseconds) pairs for charts, from 0 to 100 on a log-of-the-tail scale.
    public var curve: [[Double]]

    static let curvePercentiles: [Double] = [0, 10, 20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 92.5, 95, 96.875, 97.5, 98.4375, 99,
                                             99.2188, 99.5, 99.6094, 99.75, 99.8047, 99.9, 99.9023, 99.95, 99.99, 99.999, 100]

    init(_ histogram: Histogram<UInt64>) {
        let total = Int(histogram.totalCount)
        func at(_ percentile: Double) -> Double { total == 0 ? 0 : Double(histogram.valueAtPercentile(percentile)) }
        count = total
        p50 = at(50)
        p90 = at(90)
        p99 = at(99)
        p999 = at(99.9)
        max = total == 0 ? 0 : Double(histogram.max)
        mean = total == 0 ? 0 : histogram.mean
        curve = total == 0 ? [] : Self.curvePercentiles.map { [$0, at($0)] }
    }
}

/// What one transport did at one level of concurrent matches, over the measurement window.
public struct LevelResult: Sendable, Codable {
    public var transport: BenchTransport
    /// Where the server kept matches; nil for the floor.
    public var store: BenchStore?
    /// Whether the server and clients compressed (nil for the floor, and in runs before it was chosen).
    public var compressed: Bool?
    public var matches: Int
    /// Which of the plan's rounds this measurement was (from 1); nil when the plan had one.
    public var round: Int?
    /// Connected clients: two seats per match plus spectators.
    public var clients: Int
    public var seconds: Double
    public var moves: Int
    public var movesPerSecond: Double
    public var errors: Int
    /// Of the errors, refusals by the server's rate limiter (nil in runs before it was counted).
    public var rateLimited: Int?
    /// Connections lost and made again during the window (nil in runs before it was counted).
    public var reconnects: Int?
    /// Games finished in the window, and how many of their seats ended on each transport (what
    /// `auto` settled on); nil for the floor and in runs before they were counted.
    public var games: Int?
    public var seatsEndedOn: [String: Int]?
    public var errorSamples: [String]
    /// From when a move was due to when the opponent's client had its event (microseconds).
    public var latency: LatencySummary
    /// From a command's send to its acknowledgement (microseconds); none on the floor.
    public var acknowledgement: LatencySummary?
    /// How late the load generator sent moves after they were due (its timer's share of the latency).
    public var sendLag: LatencySummary
    public var latencyHistogram: Histogram<UInt64>
    /// Bytes per move counted at the clients' sockets, all connections of the level together.
    public var bytesUpPerMove: Double?
    public var bytesDownPerMove: Double?
    public var overheadUpPerMove: Double?
    public var overheadDownPerMove: Double?
    public var requestsPerMove: Double?
    public var connectionsPerMove: Double?
    /// Server CPU (user + system) per move, and as a share of one core.
    public var serverMicrosPerMove: Double?
    public var serverCPUShare: Double?
    /// Server resident memory at the end of the window, and its growth per connected client.
    public var serverResidentBytes: Int?
    public var serverBytesPerClient: Double?
    /// The load generator's CPU (this process: the clients and their event loops) per move, and
    /// as a share of one core; and the share of the whole machine left idle over the window.
    /// Nil in runs before they were read.
    public var loadMicrosPerMove: Double?
    public var loadCPUShare: Double?
    public var machineIdleShare: Double?

    /// Why this level's figures may show the machine or the load generator rather than the
    /// server: less than a tenth of the machine idle, or the load generator spending more CPU
    /// per move than the server. Nil when neither.
    public var limitedBy: String? {
        if let idle = machineIdleShare, idle < 0.1 {
            return String(format: "the machine was %.0f%% idle", idle * 100)
        }
        if let load = loadMicrosPerMove, let server = serverMicrosPerMove, load > server {
            return String(format: "the load generator spent %.0f µs of CPU a move, the server %.0f", load, server)
        }
        return nil
    }

    /// The transport, and the store and compression when they are not the default.
    public var label: String { configuration + roundSuffix }

    /// " · round N" with several rounds, else nothing.
    var roundSuffix: String { round.map { " · round \($0)" } ?? "" }

    /// The transport, store and compression, without the round.
    public var configuration: String {
        transport.description + (store == .memory ? " (memory store)" : "") + (compressed == true ? ", compressed" : "")
    }

    /// Whether the two were measured with the same transport, store, compression and matches.
    func isSameConfiguration(as other: LevelResult) -> Bool {
        transport == other.transport && store == other.store && compressed == other.compressed && matches == other.matches
    }
}

/// How many idle clients one transport held, and what each cost the server in memory.
public struct HoldResult: Sendable, Codable {
    public var transport: BenchTransport
    /// Whether the server and the held clients compressed (nil in runs before it was chosen).
    public var compressed: Bool?
    public var label: String { transport.description + (compressed == true ? ", compressed" : "") }
    public var requested: Int
    public var held: Int
    public var secondsToConnect: Double
    public var serverBytesPerClient: Double?
    public var failures: Int
    /// Opens that failed once and were tried again (up to three tries, as a client would), and
    /// the first errors of those that failed all three. Nil in runs before they were kept.
    public var retriedOpens: Int?
    public var failureSamples: [String]?
    /// Once every client (and attacker) had gone: the server's descriptors beyond its count
    /// before they came, and the polls and connections its `/health` still counted (its own
    /// request's connection included). Nil in runs before they were read.
    public var leftoverDescriptors: Int?
    public var leftoverPolls: Int?
    public var leftoverConnections: Int?
    /// The attack on the door while the clients were held (`--attack`).
    public var attack: AttackResult?
}

/// An attack on the server's door while idle clients were held, a normal game alongside.
public struct AttackResult: Sendable, Codable {
    public var seconds: Double
    public var figures: AttackFigures
    /// The normal game, played back to back over the held transport for the attack's length
    /// (the last one to its end): games finished, moves, failures, move latency.
    public var gamesFinished: Int
    public var moves: Int
    public var errors: Int
    public var errorSamples: [String]
    public var latency: LatencySummary
    /// Held clients still connected when the attack ended.
    public var heldAfter: Int
    /// The server's memory around the attack; nil for a server the bench did not start.
    public var memory: AttackMemory?
}

/// Server resident memory before an attack, at its peak, and 30 s after the attack ended.
public struct AttackMemory: Sendable, Codable {
    public var before: Int
    public var peak: Int
    public var after: Int
    /// Seconds after the attack ended until memory was back within 10% of before; nil if it
    /// was not within 30 s.
    public var secondsToRecover: Double?
}

/// The machine a run was measured on.
public struct Machine: Sendable, Codable {
    public var cpu: String
    public var cores: Int
    public var memoryGiB: Double
    public var kernel: String
    public var os: String

    static func current() -> Machine {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown"
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let kilobytes = meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal") }?
            .split(separator: " ").compactMap { Double($0) }.first ?? 0
        let release = (try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        return Machine(cpu: model, cores: ProcessInfo.processInfo.activeProcessorCount, memoryGiB: kilobytes / 1_048_576,
                       kernel: release, os: ProcessInfo.processInfo.operatingSystemVersionString)
    }
}

/// Everything a run measured: `results.json`.
public struct BenchResults: Sendable, Codable {
    public var date: Date
    public var machine: Machine
    public var command: String
    public var plan: BenchPlan
    public var levels: [LevelResult] = []
    public var holds: [HoldResult] = []
    public var soak: SoakResult?
    public var storm: StormResult?
}

/// Progress for the terminal: which step, and how far through the whole run.
public struct BenchProgress: Sendable {
    public var step: String
    public var fraction: Double
}

/// Runs a plan: for each level and transport, N matches of seeded random games (against
/// `ply serve` or the floor, each a child process), a warm-up, then a measured window; then
/// the hold phase.
public struct BenchRunner: Sendable {
    public let plan: BenchPlan
    /// The ply binary that runs the floor, and `ply serve` unless `serverExecutable` is given.
    public let executable: String
    /// Another build's ply binary to serve with (a before-and-after comparison with the same load).
    public let serverExecutable: String?
    public let logDirectory: URL?

    public init(plan: BenchPlan, executable: String = ChildProcess.currentExecutable, serverExecutable: String? = nil, logDirectory: URL? = nil) {
        self.plan = plan
        self.executable = executable
        self.serverExecutable = serverExecutable
        self.logDirectory = logDirectory
    }

    public func run(command: String, progress: @escaping @Sendable (BenchProgress) -> Void) async throws -> BenchResults {
        var results = BenchResults(date: Date(), machine: .current(), command: command, plan: plan)
        let runs = plan.transports.flatMap { transport in
            transport.isFloor ? [(transport, BenchStore?.none, false)]
                : plan.stores.flatMap { store in plan.compressionModes.map { (transport, Optional(store), $0) } }
        }
        // Each transport's floor in the run holds as many idle readers first: what a connection
        // costs a bare server of the same parts, beside what it costs ply.
        let holds = Transport.allCases.flatMap { transport in
            (plan.transports.contains(.floorOf(transport)) ? [(BenchTransport.floorOf(transport), false)] : [])
                + plan.compressionModes.map { (BenchTransport.ply(transport), $0) }
        }
        let rounds = plan.rounds ?? 1
        let steps = Double(rounds * plan.levels.count * runs.count + (plan.holds ? holds.count : 0) + (plan.soak == nil ? 0 : 1) + (plan.storm == nil ? 0 : 1))
        var done = 0.0
        for round in 1...rounds {
            for level in plan.levels {
                for (transport, store, compressed) in runs {
                    let report: @Sendable (Double) -> Void = { [done] part in
                        let name = "\(transport)" + (store == .memory ? " (memory)" : "") + (compressed ? ", compressed" : "")
                        let of = rounds > 1 ? " · round \(round) of \(rounds)" : ""
                        progress(BenchProgress(step: "\(name) · \(level) matches\(of)", fraction: (done + part) / steps))
                    }
                    var result = try await runLevel(transport, store: store, compressed: compressed, matches: level, report: report)
                    result.round = rounds > 1 ? round : nil
                    results.levels.append(result)
                    done += 1
                }
            }
        }
        if plan.holds {
            for (transport, compressed) in holds {
                let report: @Sendable (Double) -> Void = { [done] part in
                    let attack = plan.attack == nil ? "" : part < 0.8 ? "" : ", attacking the door"
                    let what = "\(transport)" + (compressed ? " compressed" : "")
                    progress(BenchProgress(step: "holding \(plan.hold) idle \(what) clients\(attack)", fraction: (done + part) / steps))
                }
                results.holds.append(try await runHold(transport, compressed: compressed, report: report))
                done += 1
            }
        }
        if let soak = plan.soak {
            results.soak = try await runSoak(soak) { [done] part in
                progress(BenchProgress(step: "soak: \(soak.matches) bot games at a time, \(soak.transports.argument)", fraction: (done + part) / steps))
            }
        }
        if let storm = plan.storm {
            results.storm = try await runStorm(storm) { [done] part in
                progress(BenchProgress(step: "storm: \(storm.clients) clients, the server killed and restarted", fraction: (done + part) / steps))
            }
        }
        progress(BenchProgress(step: "done", fraction: 1))
        return results
    }

    // MARK: Servers

    /// A fresh server (or floor) for each measurement, so that each starts from the same state.
    /// Its rate limits (per seat, per connection, per client) are lifted: the load generator
    /// plays every game from one address, and a benchmark must measure transports, never a limiter.
    func startServer(_ transport: BenchTransport, store: BenchStore? = .sqlite, compressed: Bool = false) async throws
        -> (host: String, port: Int, child: ChildProcess?, data: String?) {
        if !transport.isFloor, let server = plan.server {
            guard let endpoint = Endpoint(server) else { throw BenchError.badPlan("--server must look like http://HOST:PORT") }
            return (endpoint.host, endpoint.port, nil, nil)
        }
        guard !transport.isFloor else {
            let log = logDirectory?.appendingPathComponent("\(transport.argument)-server.log")
            let arguments = ["floor", "--port", "0"] + (transport == .floor ? [] : ["--http"])
            let child = try await ChildProcess.start(executable, arguments, log: log)
            return ("127.0.0.1", child.port, child, nil)
        }
        // SQLite (WAL), as `ply serve` does by default, in a file of its own; or the memory store.
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("ply-bench-\(UUID().uuidString).sqlite").path
        var arguments = ["serve", "--port", "0", "--log-level", "warning", "--commands-per-second", "1000000000", "--client-limits", "off"]
        arguments += store == .memory ? ["--store", "memory"] : ["--data", data]
        if compressed { arguments += ["--compression", "on"] }
        if let idle = plan.idleTimeoutMilliseconds { arguments += ["--idle-timeout", String(Double(idle) / 1000)] }
        let log = logDirectory?.appendingPathComponent("\(transport.argument)-\(store?.rawValue ?? "sqlite")\(compressed ? "-compressed" : "")-server.log")
        let child = try await ChildProcess.start(serverExecutable ?? executable, arguments, log: log)
        return ("127.0.0.1", child.port, child, store == .memory ? nil : data)
    }

    /// Stops a server started by `startServer` and deletes its store.
    func stopServer(_ child: ChildProcess?, data: String?) async {
        await child?.stop()
        guard let data else { return }
        for suffix in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: data + suffix) }
    }

    // MARK: Levels

    private func runLevel(_ transport: BenchTransport, store: BenchStore?, compressed: Bool, matches: Int,
                          report: @escaping @Sendable (Double) -> Void) async throws -> LevelResult {
        let (host, port, child, data) = try await startServer(transport, store: store, compressed: compressed)
        // The simulated network, when there is one, sits between every client and the server.
        let relay: TCPRelay? = if plan.latency != nil || (plan.middlebox != nil && !transport.isFloor) {
            try await TCPRelay.start(to: host, port: port, latency: plan.latency, middlebox: transport.isFloor ? nil : plan.middlebox)
        } else {
            nil
        }
        let clientHost = relay == nil ? host : "127.0.0.1"
        let clientPort = relay?.port ?? port

        let ledger = Ledger()
        let stats = WireStats()
        let api = transport.isFloor ? nil : PlyAPI(endpoint: Endpoint(host: clientHost, port: clientPort), options: plan.fitted(ConnectionOptions()))
        let context = SlotContext(plan: plan, host: clientHost, port: clientPort, ledger: ledger, stats: stats, api: api, compression: compressed)
        try await Task.sleep(for: .milliseconds(300))
        let baseline = child?.usage

        let tasks: [Task<Void, Never>] = (0..<matches).map { index in
            if let choice = transport.choice {
                let slot = PlySlot(index: index, kind: choice, context: context)
                return Task { await slot.run() }
            }
            let slot = FloorSlot(index: index, level: matches, transport: transport.floorTransport, context: context)
            return Task { await slot.run() }
        }
        let total = plan.warmup + plan.duration
        try await Task.sleep(for: plan.warmup)
        // The window opens once every match is under way too (setting up many takes a while on
        // a busy machine), or after a minute, whichever is first.
        let setupDeadline = ContinuousClock.now + .seconds(60)
        while ledger.slotsUnderWay < matches, ContinuousClock.now < setupDeadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        // The server's CPU and memory: the child's, or those of the processes named for a running server.
        let serverUsage = { [plan] () -> ProcessUsage? in child?.usage ?? (plan.serverProcesses.isEmpty ? nil : .matching(plan.serverProcesses)) }
        let ownPID = getpid()
        let startTotals = stats.totals, startUsage = serverUsage(), started = ContinuousClock.now
        let startLoad = ProcessUsage.of(pid: ownPID), startMachine = MachineUsage.now()
        ledger.measuring = true
        while ContinuousClock.now - started < plan.duration {
            try await Task.sleep(for: .milliseconds(250))
            report(min(1, (plan.warmup + (ContinuousClock.now - started)) / total))
        }
        ledger.measuring = false
        let endTotals = stats.totals, endUsage = serverUsage(), seconds = (ContinuousClock.now - started) / .seconds(1)
        let endLoad = ProcessUsage.of(pid: ownPID), endMachine = MachineUsage.now()

        for task in tasks { task.cancel() }
        for task in tasks { await task.value }
        await api?.close()
        await relay?.stop()
        await stopServer(child, data: data)

        let (latency, acknowledgement, lag, moves, errors, rateLimited, samples) = ledger.snapshot
        let perMove = { (value: Int) -> Double? in transport == .floor || moves == 0 ? nil : Double(value) / Double(moves) }
        var result = LevelResult(
            transport: transport, store: store, compressed: transport.isFloor ? nil : compressed, matches: matches, clients: matches * (2 + (transport.isFloor ? 0 : plan.spectators)),
            seconds: seconds, moves: moves, movesPerSecond: Double(moves) / max(seconds, 0.001),
            errors: errors, rateLimited: rateLimited, reconnects: transport.isFloor ? nil : endTotals.reconnects - startTotals.reconnects,
            errorSamples: samples,
            latency: LatencySummary(latency),
            acknowledgement: transport == .floor ? nil : LatencySummary(acknowledgement),
            sendLag: LatencySummary(lag),
            latencyHistogram: latency,
            bytesUpPerMove: perMove(endTotals.bytesSent - startTotals.bytesSent),
            bytesDownPerMove: perMove(endTotals.bytesReceived - startTotals.bytesReceived),
            overheadUpPerMove: perMove(endTotals.overheadSent - startTotals.overheadSent),
            overheadDownPerMove: perMove(endTotals.overheadReceived - startTotals.overheadReceived),
            requestsPerMove: perMove(endTotals.httpRequests - startTotals.httpRequests),
            connectionsPerMove: perMove(endTotals.tcpConnections - startTotals.tcpConnections)
        )
        if !transport.isFloor { (result.games, result.seatsEndedOn) = ledger.games }
        if let startUsage, let endUsage, moves > 0 {
            result.serverMicrosPerMove = (endUsage.cpuSeconds - startUsage.cpuSeconds) * 1e6 / Double(moves)
            result.serverCPUShare = (endUsage.cpuSeconds - startUsage.cpuSeconds) / seconds
            result.serverResidentBytes = endUsage.residentBytes
            if let baseline { result.serverBytesPerClient = Double(endUsage.residentBytes - baseline.residentBytes) / Double(result.clients) }
        }
        if let startLoad, let endLoad, moves > 0 {
            result.loadMicrosPerMove = (endLoad.cpuSeconds - startLoad.cpuSeconds) * 1e6 / Double(moves)
            result.loadCPUShare = (endLoad.cpuSeconds - startLoad.cpuSeconds) / seconds
        }
        if let startMachine, let endMachine { result.machineIdleShare = MachineUsage.idleShare(from: startMachine, to: endMachine) }
        return result
    }

    // MARK: Holding idle clients

    /// Opens `plan.hold` idle spectators of one match (each WebSocket open, each long poll
    /// held by the server) and reads what they cost the server; attacks its door if the plan
    /// says so; lets everything go and reads what the server still holds.
    private func runHold(_ transport: BenchTransport, compressed: Bool, report: @escaping @Sendable (Double) -> Void) async throws -> HoldResult {
        let (host, port, child, data) = try await startServer(transport, compressed: compressed)
        let endpoint = Endpoint(host: host, port: port)
        let api = PlyAPI(endpoint: endpoint)
        let stats = WireStats()
        let open: @Sendable () async throws -> HeldClient
        let match: String?
        switch transport {
        case .floorOf(let kind):
            match = nil
            open = { try await HeldClient.floorReader(kind, to: endpoint, pair: "held", stats: stats) }
        case .ply(let kind):
            let id = try await api.createMatch(plan.game).id
            match = id
            let options = {
                var options = plan.fitted(ConnectionOptions(pollWait: .seconds(60), pingInterval: nil, backoff: Backoff(initial: .seconds(1), maximum: .seconds(5))))
                options.compression = compressed
                return options
            }()
            open = { HeldClient(try await MatchConnection.open(to: endpoint, match: id, transport: .over(kind), options: options, stats: stats)) }
        case .floor, .auto:
            throw BenchError.badPlan("\(transport) holds no clients")
        }
        try await Task.sleep(for: .milliseconds(500))
        let baseline = child?.usage
        let started = ContinuousClock.now
        var connections: [HeldClient] = []
        var failures = 0, retried = 0
        var failureSamples: [String] = []
        let batch = 250
        let attacked = plan.attack != nil && match != nil
        let share = attacked ? 0.3 : 0.8
        for start in stride(from: 0, to: plan.hold, by: batch) {
            let opened = await withTaskGroup(of: (Result<HeldClient, any Error>, tries: Int).self) { group in
                for _ in start..<min(start + batch, plan.hold) {
                    group.addTask {
                        var tries = 1
                        while true {
                            do {
                                return (.success(try await open()), tries)
                            } catch {
                                if tries == 3 { return (.failure(error), tries) }
                            }
                            tries += 1
                            try? await Task.sleep(for: .milliseconds(200))
                        }
                    }
                }
                var opened: [(Result<HeldClient, any Error>, tries: Int)] = []
                for await outcome in group { opened.append(outcome) }
                return opened
            }
            for (outcome, tries) in opened {
                if tries > 1 { retried += 1 }
                switch outcome {
                case .success(let connection): connections.append(connection)
                case .failure(let error):
                    failures += 1
                    if failureSamples.count < 3 { failureSamples.append("\(error)") }
                }
            }
            report(Double(start + batch) / Double(plan.hold) * share)
        }
        let secondsToConnect = (ContinuousClock.now - started) / .seconds(1)
        // Let the polls settle into their held state, then read the server's memory.
        try await Task.sleep(for: .seconds(2))
        let held = connections.filter { $0.isActive() }.count
        let usage = child?.usage
        var result = HoldResult(transport: transport, compressed: compressed, requested: plan.hold, held: held, secondsToConnect: secondsToConnect,
                                serverBytesPerClient: nil, failures: failures)
        result.retriedOpens = retried
        result.failureSamples = failureSamples
        if let baseline, let usage, held > 0 {
            result.serverBytesPerClient = Double(usage.residentBytes - baseline.residentBytes) / Double(held)
        }
        if let duration = plan.attack, let match, let kind = transport.kind {
            report(0.8)
            result.attack = try await attack(kind, endpoint: endpoint, api: api, match: match, child: child,
                                             held: connections.compactMap(\.connection), for: duration)
        }
        report(0.95)
        for connection in connections { connection.close() }
        // A floor has no /health: what it still holds is not read.
        if match != nil { try await readLeftovers(into: &result, api: api, child: child, baseline: baseline) }
        await api.close()
        await stopServer(child, data: data)
        return result
    }

    /// Once everything has gone, waits up to 15 s for the server to let go of every socket and
    /// poll, and records what it still holds.
    private func readLeftovers(into result: inout HoldResult, api: PlyAPI, child: ChildProcess?, baseline: ProcessUsage?) async throws {
        let deadline = ContinuousClock.now + .seconds(15)
        repeat {
            try await Task.sleep(for: .milliseconds(500))
            let health = try? await api.health()
            result.leftoverPolls = health?.waitingPolls
            result.leftoverConnections = health?.connections
            if let before = baseline?.descriptors, let now = child?.usage?.descriptors { result.leftoverDescriptors = now - before }
            if result.leftoverPolls == 0, result.leftoverConnections ?? 2 <= 1, result.leftoverDescriptors ?? 0 <= 0 { return }
        } while ContinuousClock.now < deadline
    }

    // MARK: Attacking the door

    /// Attacks the door for `duration` while a normal game is played over the held transport,
    /// then watches the server's memory for 30 s.
    private func attack(_ kind: Transport, endpoint: Endpoint, api: PlyAPI, match: String, child: ChildProcess?,
                        held: [MatchConnection], for duration: Duration) async throws -> AttackResult {
        let before = child?.usage?.residentBytes
        let peak = Mutex(before ?? 0)
        let sampler = Task {
            while !Task.isCancelled {
                if let resident = child?.usage?.residentBytes { peak.withLock { $0 = max($0, resident) } }
                try? await Task.sleep(for: .milliseconds(250))
            }
        }
        let ledger = Ledger()
        ledger.measuring = true
        let context = SlotContext(plan: plan, host: endpoint.host, port: endpoint.port, ledger: ledger, stats: WireStats(), api: api,
                                  compression: false)
        let started = ContinuousClock.now
        let end = started + duration
        // Games back to back while the attack lasts; the last one is played to its end.
        let game = Task {
            let slot = PlySlot(index: 0, kind: .over(kind), context: context)
            var number = 0, finished = 0
            while ContinuousClock.now < end {
                do {
                    try await slot.play(number)
                    finished += 1
                } catch {
                    ledger.failed(error)
                }
                number += 1
            }
            return finished
        }
        let figures = await DoorAttack(endpoint: endpoint, match: match, attackers: plan.attackers ?? Attackers()).run(for: duration)
        let attackEnded = ContinuousClock.now
        let heldAfter = held.filter { $0.state == .connected }.count
        let finished = await game.value
        // The server's memory, every half second for 30 s after the attack.
        var memory: AttackMemory?
        if let before {
            var recovered: Double?
            var after = before
            while ContinuousClock.now - attackEnded < .seconds(30) {
                try await Task.sleep(for: .milliseconds(500))
                after = child?.usage?.residentBytes ?? after
                if recovered == nil, Double(after) <= Double(before) * 1.1 { recovered = (ContinuousClock.now - attackEnded) / .seconds(1) }
            }
            memory = AttackMemory(before: before, peak: peak.withLock { $0 }, after: after, secondsToRecover: recovered)
        }
        sampler.cancel()
        let (latency, _, _, moves, errors, _, samples) = ledger.snapshot
        return AttackResult(seconds: (attackEnded - started) / .seconds(1), figures: figures, gamesFinished: finished, moves: moves,
                            errors: errors, errorSamples: samples, latency: LatencySummary(latency), heldAfter: heldAfter,
                            memory: memory)
    }
}
