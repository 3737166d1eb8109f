import Foundation
import PlyClient
import PlyEngine
import PlyWire
import Synchronization

/// `ply bench --storm N`: N clients in live games on one `ply serve` (SQLite), the server
/// killed with SIGKILL and started again on the same file and port, and every client's way
/// back measured: when it resynced (its session open again after its last version, which the
/// server confirms by accepting it), how its attempts spread over time, what the server spent
/// meanwhile, and whether anything acknowledged was lost. With `--server` and
/// `--storm-restart CMD`, the clients play on that deployment instead (nginx in front of
/// instances on PostgreSQL, say) and CMD does the crash: it kills the server, or one instance
/// of it, and starts it again.
public struct StormPlan: Sendable, Hashable, Codable {
    public var clients: Int
    /// The clients' transports, in turn (a match's two seats on different ones).
    public var transports: [Transport] = Transport.allCases
    /// How long clients are given to come back before those still away are counted.
    public var patience: Duration = .seconds(60)
    /// With a server of the user's (`--server`): the shell command that crashes it and starts
    /// it again (`bash -c`, no descriptor inherited past the first three), returning once it is
    /// accepting. What it starts in the background must not keep the command's output open
    /// (redirect it), or the command is not over until that ends.
    public var restart: String?

    public init(clients: Int) {
        self.clients = clients
    }

    /// How often the clients and the server are sampled.
    public static let window: Duration = .milliseconds(100)
}

/// One 100 ms window of a storm, counted from the kill.
public struct StormWindow: Sendable, Hashable, Codable {
    /// Milliseconds from the kill to the window's end.
    public var milliseconds: Int
    /// Reconnection attempts the clients made in the window, failed ones included.
    public var attempts: Int
    /// Clients resynced by the end of the window.
    public var resynced: Int
    /// The server's CPU over the window, in cores (nil while it is down).
    public var serverCores: Double?
    public var serverResidentBytes: Int?
    /// The load generator's CPU over the window (this process: every client), in cores, and
    /// the share of the whole machine left idle (nil in results from before they were read).
    public var loadGeneratorCores: Double?
    public var machineIdleShare: Double?
}

/// What a storm measured.
public struct StormResult: Sendable, Codable {
    public var plan: StormPlan
    /// Seconds to set the clients up (create, join, open, two moves a match).
    public var setupSeconds = 0.0
    /// Clients connected when the server was killed.
    public var connected = 0
    /// Clients whose connection the crash cut (every one, when the whole server went down; with
    /// `--storm-restart`, those on the instance killed). Nil in results from before it was read.
    public var cut: Int?
    /// From the kill to the new server's listening line (with `--storm-restart`, to the end of
    /// the command).
    public var downMilliseconds = 0
    /// Whether clients' times are counted from the kill, not from the server's return: with
    /// `--storm-restart`, where the deployment may keep accepting throughout (another instance
    /// behind the proxy).
    public var timedFromKill: Bool?
    public var windows: [StormWindow] = []
    /// Clients back, and how long after the server listened again (or after the kill) the last
    /// came back (nil: not all within the patience).
    public var resynced = 0
    public var secondsToAllResynced: Double?
    /// Each client's time back after the server listened (or the kill), at the window's resolution.
    public var resyncP50Milliseconds: Int?
    public var resyncP99Milliseconds: Int?
    public var attempts = 0
    /// Attempts refused or cut (the server down, or not answering yet).
    public var failedAttempts = 0
    /// The busiest window's share of all attempts.
    public var busiestWindowShare: Double?
    /// Clients that stopped trying (refused for good).
    public var gaveUp = 0
    /// Acknowledged moves a client no longer had once back (must be 0), and matches whose log
    /// on the server differed from what their clients had.
    public var movesLost = 0
    public var logsDiffering = 0
    /// Moves played after the storm, one a match, and those refused or failed.
    public var movesAfter = 0
    public var movesAfterFailed = 0
    public var serverPeakCores: Double?
    public var serverPeakResidentBytes: Int?
    /// The load generator's busiest window, in cores, and the machine's idle share from the
    /// kill until the last client was back: under a tenth, the machine (the load generator's
    /// clients among it), not only the server, set the pace.
    public var loadGeneratorPeakCores: Double?
    public var machineIdleShare: Double?
    public var errorSamples: [String] = []
}

/// The server of a storm, once it is back: sampled while it comes up. A server of the user's
/// is read by the processes `--server-process` names, if any.
private final class ServerSlot: Sendable {
    private let child = Mutex<ChildProcess?>(nil)
    private let processes: [String]
    init(processes: [String] = []) { self.processes = processes }
    func set(_ process: ChildProcess?) { child.withLock { $0 = process } }
    var usage: ProcessUsage? {
        if let child = child.withLock({ $0 }) { return ProcessUsage.of(pid: child.pid, countingDescriptors: false) }
        return processes.isEmpty ? nil : .matching(processes)
    }
}

/// A storm's client: one seat and what it had before the kill.
private struct StormSeat {
    let connection: MatchConnection
    let stats: WireStats
    let match: String
    var acknowledged = 0
    var backAt: Int?
}

extension BenchRunner {
    func runStorm(_ storm: StormPlan, report: @escaping @Sendable (Double) -> Void) async throws -> StormResult {
        var result = StormResult(plan: storm)
        let endpoint: Endpoint
        var own: (arguments: [String], log: URL?, data: String)?
        var child: ChildProcess?
        if let server = plan.server {
            guard let given = Endpoint(server) else { throw BenchError.badPlan("--server must look like http://HOST:PORT") }
            guard storm.restart != nil else {
                throw BenchError.badPlan("--storm with --server needs --storm-restart: the command that kills the server (or an instance of it) and starts it again")
            }
            endpoint = given
        } else {
            let port = try LoopbackPort.free()
            let data = FileManager.default.temporaryDirectory.appendingPathComponent("ply-storm-\(UUID().uuidString).sqlite").path
            var arguments = ["serve", "--port", "\(port)", "--data", data, "--log-level", "warning", "--commands-per-second", "1000000000",
                             "--client-limits", "off", "--max-connections", "\(max(16_384, storm.clients * 3 + 100))"]
            if let idle = plan.idleTimeoutMilliseconds { arguments += ["--idle-timeout", String(Double(idle) / 1000)] }
            own = (arguments, logDirectory?.appendingPathComponent("storm-server.log"), data)
            child = try await ChildProcess.start(serverExecutable ?? executable, arguments, log: own?.log)
            endpoint = Endpoint(host: "127.0.0.1", port: port)
        }
        defer {
            if let data = own?.data { for suffix in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: data + suffix) } }
        }
        var errors: [String] = []

        // Set-up: matches of two seats, each seat a client over the next transport, and two
        // moves a match, so that every client has acknowledged history to keep.
        let started = ContinuousClock.now
        let options = plan.fitted(ConnectionOptions())
        var seats: [StormSeat] = []
        let matches = (storm.clients + 1) / 2
        let batch = 100
        for first in stride(from: 0, to: matches, by: batch) {
            let made = await withTaskGroup(of: Result<[StormSeat], any Error>.self) { group in
                for index in first..<min(first + batch, matches) {
                    group.addTask {
                        do {
                            return .success(try await Self.stormMatch(index, endpoint: endpoint, storm: storm, options: options))
                        } catch {
                            return .failure(error)
                        }
                    }
                }
                var made: [StormSeat] = []
                for await outcome in group {
                    switch outcome {
                    case .success(let pair): made += pair
                    case .failure(let error): errors.append("set-up: \(error)")
                    }
                }
                return made
            }
            seats += made
            report(0.3 * Double(first + batch) / Double(matches))
        }
        result.setupSeconds = (ContinuousClock.now - started) / .seconds(1)
        for index in seats.indices { seats[index].acknowledged = seats[index].connection.lastVersion }
        result.connected = seats.count { $0.connection.state == .connected }

        // The crash, and the server back on the same file and port (or the user's command).
        let killed = ContinuousClock.now
        let server = ServerSlot(processes: own == nil ? plan.serverProcesses : [])
        let sampling: Task<([StormWindow], [Int?]), Never>
        if let own {
            await child?.kill(SIGKILL)
            child = nil
            sampling = Task { [seats] in await Self.sample(seats, server: server, since: killed, patience: storm.patience, everyoneCut: true) }
            do {
                child = try await ChildProcess.start(serverExecutable ?? executable, own.arguments, log: own.log)
            } catch {
                errors.append("restart: \(error)")
            }
        } else {
            sampling = Task { [seats] in await Self.sample(seats, server: server, since: killed, patience: storm.patience, everyoneCut: false) }
            do {
                let (status, output) = try await ChildProcess.shell(storm.restart ?? "", timeout: storm.patience)
                if status != 0 { errors.append("--storm-restart exited with \(status): \(output.suffix(300))") }
            } catch {
                errors.append("--storm-restart: \(error)")
            }
        }
        let listening = ContinuousClock.now
        result.downMilliseconds = Int((listening - killed) / .milliseconds(1))
        result.timedFromKill = own == nil
        server.set(child)
        report(0.4)
        let (windows, backAt) = await sampling.value
        result.windows = windows
        report(0.8)

        // Back: who came, how fast, how their attempts spread, what nobody should have lost.
        let upMilliseconds = own == nil ? 0 : result.downMilliseconds
        let times = backAt.compactMap { $0.map { max(0, $0 - upMilliseconds) } }.sorted()
        let cut = seats.count { $0.stats.totals.reconnectAttempts > 0 || $0.connection.state != .connected }
        result.cut = cut
        result.resynced = times.count
        if times.count >= cut, cut > 0, let last = times.last { result.secondsToAllResynced = Double(last) / 1000 }
        result.resyncP50Milliseconds = times.isEmpty ? nil : times[times.count / 2]
        result.resyncP99Milliseconds = times.isEmpty ? nil : times[min(times.count - 1, times.count * 99 / 100)]
        result.attempts = windows.reduce(0) { $0 + $1.attempts }
        result.failedAttempts = max(0, result.attempts - seats.reduce(0) { $0 + $1.stats.totals.reconnects })
        result.busiestWindowShare = result.attempts == 0 ? nil : Double(windows.map(\.attempts).max() ?? 0) / Double(result.attempts)
        result.gaveUp = seats.count { if case .failed = $0.connection.state { true } else { false } }
        result.movesLost = seats.reduce(0) { $0 + max(0, $1.acknowledged - $1.connection.lastVersion) }
        result.serverPeakCores = windows.compactMap(\.serverCores).max()
        result.serverPeakResidentBytes = windows.compactMap(\.serverResidentBytes).max()
        result.loadGeneratorPeakCores = windows.compactMap(\.loadGeneratorCores).max()
        let idle = windows.compactMap(\.machineIdleShare)
        result.machineIdleShare = idle.isEmpty ? nil : idle.reduce(0, +) / Double(idle.count)

        // Every match plays on: one more move each, from the seat to move; then each log is
        // compared with the server's.
        let api = PlyAPI(endpoint: endpoint, options: options)
        let byMatch = Dictionary(grouping: seats, by: \.match)
        let (after, failedAfter, differing, moveErrors) = await Self.playOn(byMatch, api: api)
        result.movesAfter = after
        result.movesAfterFailed = failedAfter
        result.logsDiffering = differing
        errors += moveErrors
        result.errorSamples = Array(errors.prefix(5))
        for seat in seats { seat.connection.close() }
        await api.close()
        await child?.stop()
        report(1)
        return result
    }

    /// One match of a storm: created, both seats joined and connected (transports in turn),
    /// and a move by each.
    private static func stormMatch(_ index: Int, endpoint: Endpoint, storm: StormPlan, options: ConnectionOptions) async throws -> [StormSeat] {
        let api = PlyAPI(endpoint: endpoint, options: options)
        defer { Task { await api.close() } }
        let match = try await api.createMatch(.connect4).id
        var seats: [StormSeat] = []
        for (number, name) in ["a", "b"].enumerated() where 2 * index + number < storm.clients {
            let grant = try await api.join(match, name: name)
            let transport = storm.transports[(2 * index + number) % storm.transports.count]
            let stats = WireStats()
            let connection = try await MatchConnection.open(to: endpoint, match: match, seat: (grant.seat, grant.token),
                                                            transport: .over(transport), options: options, stats: stats)
            seats.append(StormSeat(connection: connection, stats: stats, match: match))
        }
        // Column 4 for each seat: legal in every Connect Four.
        func waitFor(_ seat: StormSeat, _ what: String, _ condition: () -> Bool) async throws {
            do {
                try await waitUntil(condition)
            } catch {
                throw BenchError.childFailed("match \(match): its \(seat.connection.transport) seat \(seat.connection.seat.map { "\($0)" } ?? "-") "
                    + "waited 30 s for \(what), at version \(seat.connection.lastVersion), \(seat.connection.state)")
            }
        }
        for seat in seats where seats.count == 2 {
            try await waitFor(seat, "version 3") { seat.connection.lastVersion >= 3 && seat.connection.state == .connected }
        }
        if seats.count == 2 {
            for (turn, seat) in seats.enumerated() {
                try await waitFor(seat, "version \(3 + turn)") { seat.connection.lastVersion == 3 + turn }
                try await seat.connection.send(.play("4"))
            }
            for seat in seats { try await waitFor(seat, "version 5") { seat.connection.lastVersion == 5 } }
        }
        return seats
    }

    /// Samples the clients every 100 ms from the kill until all are back or the patience has
    /// passed: attempts per window, those back, and the server's CPU and memory once it is up.
    /// When the crash may not have cut everyone (`everyoneCut` false: one instance of several
    /// killed), sampling ends once every client is connected, each one cut is back, and no
    /// attempt has been made for a second, from 3 s after the kill.
    private static func sample(_ seats: [StormSeat], server: ServerSlot, since killed: ContinuousClock.Instant,
                               patience: Duration, everyoneCut: Bool) async -> ([StormWindow], [Int?]) {
        var windows: [StormWindow] = []
        var backAt = [Int?](repeating: nil, count: seats.count)
        var attemptsBefore = 0
        var tick = killed
        var lastCPU: Double?
        var lastOwnCPU = ProcessUsage.of(pid: getpid(), countingDescriptors: false)?.cpuSeconds
        var lastSample = ContinuousClock.now
        var lastMachine = MachineUsage.now()
        var quietWindows = 0
        while true {
            tick += StormPlan.window
            try? await Task.sleep(until: tick)
            let milliseconds = Int((tick - killed) / .milliseconds(1))
            var attempts = 0
            var away = 0
            for (index, seat) in seats.enumerated() {
                let totals = seat.stats.totals
                attempts += totals.reconnectAttempts
                let connected = seat.connection.state == .connected
                if backAt[index] == nil, totals.reconnects >= 1, connected { backAt[index] = milliseconds }
                if !connected || (totals.reconnectAttempts > 0 && backAt[index] == nil) { away += 1 }
            }
            quietWindows = attempts == attemptsBefore ? quietWindows + 1 : 0
            let usage = server.usage
            let own = ProcessUsage.of(pid: getpid(), countingDescriptors: false)?.cpuSeconds
            // CPU over the time since the last sample, which a busy machine makes longer than
            // a window. Processes read by name may end (an instance killed): their CPU leaves
            // the sum.
            let now = ContinuousClock.now
            let elapsed = max((now - lastSample) / .seconds(1), 0.001)
            lastSample = now
            let cores = usage.flatMap { now in lastCPU.map { max(0, now.cpuSeconds - $0) / elapsed } }
            lastCPU = usage?.cpuSeconds
            let ownCores = own.flatMap { now in lastOwnCPU.map { (now - $0) / elapsed } }
            lastOwnCPU = own
            let machine = MachineUsage.now()
            let idle = machine.flatMap { now in lastMachine.flatMap { MachineUsage.idleShare(from: $0, to: now) } }
            lastMachine = machine
            let back = backAt.count { $0 != nil }
            windows.append(StormWindow(milliseconds: milliseconds, attempts: attempts - attemptsBefore, resynced: back,
                                       serverCores: cores, serverResidentBytes: usage?.residentBytes,
                                       loadGeneratorCores: ownCores, machineIdleShare: idle))
            attemptsBefore = attempts
            let settled = everyoneCut ? back == seats.count
                : away == 0 && quietWindows >= 10 && tick - killed >= .seconds(3)
            if settled || tick - killed > patience { return (windows, backAt) }
        }
    }

    /// One more move in each match, by the seat to move, then each match's log compared with
    /// its clients': moves played, refused or failed, logs differing, and the first errors.
    private static func playOn(_ byMatch: [String: [StormSeat]], api: PlyAPI) async -> (Int, Int, Int, [String]) {
        var played = 0, failed = 0, differing = 0
        var errors: [String] = []
        for (match, seats) in byMatch where seats.count == 2 {
            // Seat a (first) moves at odd versions: at 5, the seat to move is a; column 3 is free.
            guard let mover = seats.first(where: { $0.connection.seat == .first }) else { continue }
            do {
                try await mover.connection.send(.play("3"))
                played += 1
            } catch {
                failed += 1
                if errors.count < 5 { errors.append("\(match): the move after the storm failed: \(error)") }
            }
            // Read again while the log is shorter than a seat's: behind a proxy, the instance
            // read may learn of the move a few milliseconds after the one that acknowledged it
            // (docs/protocol.md, a poll with wait=0 on several servers).
            var log: [MatchEvent]?
            let deadline = ContinuousClock.now + .seconds(5)
            while ContinuousClock.now < deadline {
                log = try? await api.events(match)
                if let log, seats.allSatisfy({ $0.connection.lastVersion <= log.count }) { break }
                try? await Task.sleep(for: .milliseconds(50))
            }
            guard let log else {
                differing += 1
                continue
            }
            for seat in seats {
                try? await waitUntil(seconds: 5) { seat.connection.lastVersion >= log.count }
                if seat.connection.log.map({ $0.view(for: nil) }) != log.map({ $0.view(for: nil) }) {
                    differing += 1
                    if errors.count < 5 {
                        errors.append("\(match): the server's log has \(log.count) events, the \(seat.connection.transport) seat's \(seat.connection.log.count)")
                    }
                }
            }
        }
        return (played, failed, differing, errors)
    }
}

/// Waits, polling every 10 ms, until a condition holds; throws after `seconds`.
func waitUntil(seconds: Double = 30, _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    while !condition() {
        guard ContinuousClock.now < deadline else { throw BenchError.childFailed("a storm client did not get there within \(seconds) s") }
        try await Task.sleep(for: .milliseconds(10))
    }
}

// MARK: Report

extension Report {
    static let stormHeader = ["clients", "transports", "down ms", "resynced", "all back s", "back p50 / p99 ms", "attempts (failed)",
                              "busiest 100 ms", "gave up", "moves lost", "moves after (failed)", "logs differing", "server peak cores / MiB",
                              "load generator peak cores", "machine idle"]

    var stormRows: [[String]] {
        guard let storm = results.storm else { return [] }
        return [[
            "\(storm.plan.clients)", storm.plan.transports.map(\.rawValue).joined(separator: "+"), "\(storm.downMilliseconds)",
            storm.cut.flatMap { $0 == storm.connected ? nil : "\(storm.resynced) of \($0) cut (\(storm.connected) connected)" }
                ?? "\(storm.resynced) of \(storm.connected)", storm.secondsToAllResynced.map { String(format: "%.1f", $0) } ?? "not all",
            "\(storm.resyncP50Milliseconds.map(String.init) ?? "-") / \(storm.resyncP99Milliseconds.map(String.init) ?? "-")",
            "\(storm.attempts) (\(storm.failedAttempts))", storm.busiestWindowShare.map { String(format: "%.1f%%", $0 * 100) } ?? "-",
            "\(storm.gaveUp)", "\(storm.movesLost)", "\(storm.movesAfter) (\(storm.movesAfterFailed))", "\(storm.logsDiffering)",
            "\(Self.number(storm.serverPeakCores, "%.2f")) / \(Self.mebibytes(storm.serverPeakResidentBytes))",
            Self.number(storm.loadGeneratorPeakCores, "%.2f"), Self.number(storm.machineIdleShare.map { $0 * 100 }, "%.0f%%"),
        ]]
    }

    /// Said when the machine was nearly busy while the clients came back: then their times show
    /// the load generator's clients as much as the server.
    var stormWarning: String? {
        guard let idle = results.storm?.machineIdleShare, idle < 0.1 else { return nil }
        return String(format: "Warning: the machine was %.0f%% idle while the clients came back: the load generator's clients, not only the server, set the pace.", idle * 100)
    }

    /// Attempts per 100 ms from the kill, as a line of block characters (the busiest window full).
    var stormSparkline: String {
        guard let storm = results.storm else { return "" }
        let high = max(storm.windows.map(\.attempts).max() ?? 1, 1)
        let blocks = Array(" ▁▂▃▄▅▆▇█")
        return String(storm.windows.map { blocks[Int((Double($0.attempts) / Double(high) * 8).rounded(.up))] })
    }

    /// What was crashed, in a line.
    private var stormCrash: String {
        guard let storm = results.storm else { return "" }
        if let restart = storm.plan.restart {
            return "the deployment at \(results.plan.server ?? "--server") crashed by --storm-restart '\(restart)'; times from the kill"
        }
        return "the server killed (SIGKILL) and restarted on the same SQLite file"
    }

    var stormText: [String] {
        guard let storm = results.storm else { return [] }
        let back = storm.timedFromKill == true ? "the restart command done" : "server back"
        return ["", "Storm: clients in live games, \(stormCrash)",
                Self.textTable(Self.stormHeader, stormRows),
                "Attempts per 100 ms from the kill (\(back) at \(storm.downMilliseconds) ms): |\(stormSparkline)|"]
            + (stormWarning.map { [$0] } ?? [])
            + (storm.errorSamples.isEmpty ? [] : ["Storm errors (first few)"] + storm.errorSamples)
    }

    func stormMarkdown(chartPrefix: String) -> [String] {
        guard let storm = results.storm else { return [] }
        let setting = storm.plan.restart.map { restart in
            "played in each) on the deployment at \(results.plan.server ?? "--server"), crashed by `\(restart)` (which took \(storm.downMilliseconds) ms)."
        } ?? "played in each) on one `ply serve` with SQLite; the server was killed with SIGKILL and started again on the same file and port."
        let from = storm.timedFromKill == true ? "times are from the kill (the deployment may have kept accepting)" : "times are from the server's listening line"
        return [
            "", "### Reconnect storm", "",
            "\(storm.plan.clients) clients (\(storm.plan.transports.map(\.description).joined(separator: ", ")) in turn, two seats a match, two moves",
            setting,
            "A client is back (resynced) once its session is open again after its last version, which the server confirms by accepting it;",
            "\(from), at 100 ms resolution. Attempts count every reconnection try, failed ones included;",
            "`busiest 100 ms` is the largest share of them in one window. Moves lost: acknowledged versions a client no longer had once back.",
            "Then each match played one more move and every client's log was compared with the server's. `load generator peak cores` is",
            "the busiest window of this process (every client), `machine idle` the whole machine's idle share until the last client was back.",
            "", Self.markdownTable(Self.stormHeader, stormRows), "",
        ] + (stormWarning.map { [$0, ""] } ?? []) + [
            "![The storm over time](\(chartPrefix)storm.svg)",
        ] + (storm.errorSamples.isEmpty ? [] : ["", "Errors (first few): " + storm.errorSamples.joined(separator: "; ")])
    }
}

extension Charts {
    /// The storm over time, from the kill: attempts per 100 ms, clients back, the server's CPU.
    func storm(_ storm: StormResult) -> String {
        let windows = storm.windows
        let width = 760.0, panelHeight = 150.0, left = 70.0, right = 170.0, top = 65.0, gap = 45.0
        let plotWidth = width - left - right
        let height = top + 3 * panelHeight + 2 * gap + 40
        let end = Double(max(windows.last?.milliseconds ?? 1000, 1000)) / 1000
        func x(_ seconds: Double) -> Double { left + seconds / end * plotWidth }
        var svg = [
            ##"<svg xmlns="http://www.w3.org/2000/svg" width="\##(Int(width))" height="\##(Int(height))" font-family="sans-serif" font-size="12">"##,
            ##"<rect width="100%" height="100%" fill="white"/>"##,
            ##"<text x="\##(left)" y="22" font-size="15" font-weight="bold">Reconnect storm: \##(storm.plan.clients) clients, \##(storm.plan.restart == nil ? "the server killed and restarted" : "crashed by --storm-restart")</text>"##,
        ]
        let panels: [(String, String, (StormWindow) -> Double?)] = [
            ("reconnection attempts per 100 ms", "#d62728", { Double($0.attempts) }),
            ("clients back (resynced)", "#2ca02c", { Double($0.resynced) }),
            ("server CPU, cores", "#1f77b4", { $0.serverCores }),
        ]
        let back = Double(storm.downMilliseconds) / 1000
        for (index, (title, colour, value)) in panels.enumerated() {
            let panelTop = top + Double(index) * (panelHeight + gap)
            let high = Self.niceCeiling(max(windows.compactMap(value).max() ?? 1, 1))
            func y(_ value: Double) -> Double { panelTop + panelHeight - value / high * panelHeight }
            svg += Self.panelAxes(title: title, top: panelTop, height: panelHeight, left: left, width: plotWidth, high: high, ticks: 4,
                                  end: end, x: x) { String(format: "%.1f", $0) }
            svg.append(##"<line x1="\##(x(back))" y1="\##(panelTop)" x2="\##(x(back))" y2="\##(panelTop + panelHeight)" stroke="#999999" stroke-dasharray="4,4"/>"##)
            let points = windows.compactMap { window in value(window).map { String(format: "%.1f,%.1f", x(Double(window.milliseconds) / 1000), y($0)) } }
            svg.append(##"<polyline fill="none" stroke="\##(colour)" stroke-width="2" points="\##(points.joined(separator: " "))"/>"##)
        }
        svg.append(##"<text x="\##(left + plotWidth / 2)" y="\##(height - 8)" text-anchor="middle">seconds since the kill (dashed: \##(storm.plan.restart == nil ? "the server listening again" : "the restart command done"))</text>"##)
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }
}
