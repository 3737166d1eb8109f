import ArgumentParser
import Foundation
import PlyBench
import PlyClient
import PlyRelay
import PlyEngine
import PlyWire

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure long-polling, SSE and WebSocket against each other and against their floors, side by side.",
        discussion: """
        For each level of concurrent matches and each transport, ply bench starts a fresh \
        `ply serve` as a child process (or a floor), plays seeded random games on \
        it (two bot seats per match, jittered think time), excludes a warm-up, and measures \
        move latency from when each move was due until the opponent's client had it, \
        acknowledgement round trips, bytes and requests per move at the clients' sockets, and \
        the server's CPU (the kernel's CPU clock of the process, in nanoseconds) and memory. \
        The server's rate limit is lifted, so the figures are the transports', not a limiter's. \
        Each transport has a floor (ws-floor, sse-floor, longpoll-floor): a bare server of the \
        same swift-nio parts carrying ply's per-move pattern with no game, no JSON and no \
        store; the raw TCP floor (floor) relays the same bytes with no HTTP at all. The report \
        gives each floor against the raw TCP floor (what the transport costs) and ply against \
        its own floor (what ply adds), and the load generator's own CPU beside the server's. \
        Build with -c release for real figures.
        """
    )

    @Option(help: "Use this running server instead of starting ply serve (its CPU and memory are then not read, unless --server-process names them).")
    var server: String?

    @Option(name: .customLong("server-process"), help: ArgumentHelp(
        "With --server: a text in the command line of each process that makes up the server (repeat), e.g. 'ply serve', 'postgres:', 'nginx'; their CPU and memory are read together as the server's.",
        valueName: "text"))
    var serverProcesses: [String] = []

    @Option(help: "Serve with this ply binary instead of this one (to compare two builds under the same load).")
    var serverExecutable: String?

    @Option(help: ArgumentHelp("Transports to compare, comma-separated: \(BenchTransport.arguments.joined(separator: ", "))."))
    var transports = BenchTransport.allCases.map(\.argument).joined(separator: ",")

    @Option(help: "Where the server keeps matches, comma-separated: sqlite (the default store), memory. Each ply transport runs with each.")
    var stores = "sqlite"

    @Option(help: "A middlebox between the clients and the server, reproduced by ply's relay: cut-upgrades=MS (each WebSocket cut MS milliseconds after its 101), buffer (each response held until it ends or fills 4 KiB, as nginx's proxy_buffering does), strip-upgrade (Upgrade taken out of requests) or idle-cut=MS (a NAT that silently forgets connections idle for MS milliseconds). Add auto to --transports to see where ply's auto settles.")
    var middlebox: String?

    @Option(help: "Fit the clients' and the server's keep-alive timers (pings, heartbeats, long polls) under this idle timeout, in seconds, as ply serve --idle-timeout and the clients' --idle-timeout do (with --middlebox idle-cut=MS, to see them keep connections through the NAT).")
    var idleTimeout: Double?

    @Option(help: "Compression, comma-separated: off, on, or off,on to run each ply transport both ways in one run (ply serve --compression on, the clients asking for it).")
    var compression = "off"

    @Option(help: "Levels of concurrent matches, comma-separated (default: 1,10,100,1000; none with --soak).")
    var levels: String?

    @Option(help: "The game: connect4, reversi or battleship.")
    var game: GameID = .connect4

    @Option(help: "Think time per move in milliseconds, MIN-MAX, drawn with jitter.")
    var think = "50-150"

    @Flag(help: "No think time: each move is due the moment its turn comes (saturation).")
    var saturate = false

    @Option(help: "Spectators per match.")
    var spectators = 0

    @Option(help: "Seconds of warm-up per level, not measured.")
    var warmup = 2.0

    @Option(help: "Seconds measured per level.")
    var duration = 10.0

    @Option(help: "Measure every level of every transport this many times, in interleaved rounds; the ratio table is read within each round and a table gives each ratio's median and spread over the rounds.")
    var rounds = 1

    @Option(help: "The seed: the same seed plays the same games on every transport.")
    var seed: UInt64 = 1

    @Option(help: "Simulated network round-trip time between clients and server, e.g. 40ms.")
    var rtt = Milliseconds(0)

    @Option(help: "Jitter on the simulated network, e.g. 5ms.")
    var jitter = Milliseconds(0)

    @Option(help: "Idle clients to hold open on each transport, to measure memory per client (0: skip).")
    var hold = 0

    @Option(help: ArgumentHelp("Seconds to attack each transport's server while the clients are held: slowloris, fragment bombs and ping floods, alongside a normal game; then its memory is watched for 30 s (0: no attack).",
                               valueName: "seconds"))
    var attack = 0.0

    @Option(help: ArgumentHelp("Instead of levels: bot games against one ply serve (SQLite) for this long, e.g. 30m, sampling its memory, descriptors, polls, WebSockets and moves/s.",
                               valueName: "duration"))
    var soak: TimeSpan?

    @Option(help: "With --soak: games played at once.")
    var soakMatches = 40

    @Option(help: ArgumentHelp("With --soak: the bots' transports: one for both seats (\(Transport.names)), A+B for one each, or mixed (ws+longpoll)."))
    var soakTransport = SeatTransports.mixed

    @Option(help: "With --soak: memory growth is measured after this warm-up.")
    var soakWarmup = TimeSpan(seconds: 120)

    @Option(help: "Instead of levels: this many clients in live games (transports in turn) on one ply serve with SQLite, which is killed with SIGKILL and started again on the same file (or on --server, crashed by --storm-restart); measures how long until every client has resynced, reconnection attempts per 100 ms, the server's CPU and memory, clients that gave up and moves lost.")
    var storm: Int?

    @Option(help: ArgumentHelp("With --storm: the clients' transports, comma-separated, in turn (default: \(Transport.names))."))
    var stormTransports: String?

    @Option(help: "With --storm: seconds the clients are given to come back.")
    var stormPatience = 60.0

    @Option(help: ArgumentHelp("With --storm and --server: the shell command that crashes the server, or one instance of it behind a proxy, and starts it again, returning once it accepts (redirect what it starts in the background); times are then counted from the kill. scripts/cluster-storm.sh runs it against nginx and two instances on PostgreSQL.", valueName: "command"))
    var stormRestart: String?

    @Option(help: "Write results.json, results.csv, report.md and SVG charts into this directory.")
    var out: String?

    @Option(help: "Do not run: print the tables of an earlier run's results.json (and with --out, write its reports again).")
    var from: String?

    func run() async throws {
        if let from {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            let report = Report(try decoder.decode(BenchResults.self, from: Data(contentsOf: URL(fileURLWithPath: from))))
            print(report.terminalText)
            if let out { try report.write(to: URL(fileURLWithPath: out)) }
            return
        }
        var plan = BenchPlan()
        plan.server = server
        plan.serverProcesses = serverProcesses
        plan.transports = try transports.split(separator: ",").map { name in
            guard let transport = BenchTransport(argument: String(name)) else { throw ValidationError("unknown transport \(name)") }
            return transport
        }
        plan.stores = try stores.split(separator: ",").map { name in
            guard let store = BenchStore(rawValue: String(name)) else { throw ValidationError("unknown store \(name): sqlite or memory") }
            return store
        }
        let modes = try compression.split(separator: ",").map { mode -> Bool in
            switch mode {
            case "off": return false
            case "on": return true
            default: throw ValidationError("--compression takes off, on, or off,on: not '\(mode)'")
            }
        }
        guard !modes.isEmpty, Set(modes).count == modes.count else { throw ValidationError("--compression takes off, on, or off,on") }
        plan.compressions = modes
        plan.middlebox = try middlebox.map(OptionCheck.middlebox)
        if let idleTimeout {
            plan.idleTimeoutMilliseconds = Int(try OptionCheck.seconds(idleTimeout, "--idle-timeout", least: 0.2, most: 86_400) / .milliseconds(1))
        }
        plan.levels = try (levels ?? (soak == nil && storm == nil ? "1,10,100,1000" : "")).split(separator: ",").map { text in
            guard let level = Int(text), (1...1_000_000).contains(level) else { throw ValidationError("--levels must be whole numbers from 1 to 1000000") }
            return level
        }
        plan.game = game
        plan.thinkMilliseconds = saturate ? nil : try range(think)
        try OptionCheck.count(spectators, "--spectators", in: 0...1000)
        plan.spectators = spectators
        plan.warmup = try OptionCheck.seconds(warmup, "--warmup", zeroAllowed: true, most: 86_400)
        plan.duration = try OptionCheck.seconds(duration, "--duration", most: 86_400)
        try OptionCheck.count(rounds, "--rounds", in: 1...100)
        plan.rounds = rounds > 1 ? rounds : nil
        plan.seed = seed
        plan.rttMilliseconds = rtt.value
        plan.jitterMilliseconds = jitter.value
        try OptionCheck.count(hold, "--hold", in: 0...1_000_000)
        plan.hold = hold
        let attackTime = try OptionCheck.seconds(attack, "--attack", zeroAllowed: true, most: 86_400)
        plan.attack = attackTime > .zero ? attackTime : nil
        if let soak {
            try OptionCheck.count(soakMatches, "--soak-matches", in: 1...100_000)
            var soakPlan = SoakPlan(duration: soak.duration)
            soakPlan.matches = soakMatches
            soakPlan.transports = soakTransport
            soakPlan.warmup = soakWarmup.duration
            plan.soak = soakPlan
        }
        if storm == nil, stormRestart != nil { throw ValidationError("--storm-restart goes with --storm") }
        if let storm {
            try OptionCheck.count(storm, "--storm", in: 2...200_000)
            var stormPlan = StormPlan(clients: storm)
            if let stormTransports {
                stormPlan.transports = try stormTransports.split(separator: ",").map { name in
                    guard let transport = Transport(rawValue: String(name)) else {
                        throw ValidationError("--storm-transports takes \(Transport.names), comma-separated: not '\(name)'")
                    }
                    return transport
                }
            }
            stormPlan.patience = try OptionCheck.seconds(stormPatience, "--storm-patience", least: 1, most: 3600)
            if (server == nil) != (stormRestart == nil) {
                throw ValidationError("--storm-restart and --server go together: with --server, --storm needs the command that crashes that server; without, ply starts and kills its own")
            }
            stormPlan.restart = stormRestart
            plan.storm = stormPlan
        }

        let directory = out.map { URL(fileURLWithPath: $0) }
        let command = (["ply"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
        let interactive = isatty(STDERR_FILENO) != 0
        let results = try await BenchRunner(plan: plan, serverExecutable: serverExecutable, logDirectory: directory).run(command: command) { progress in
            guard interactive else { return }
            let width = 30, filled = Int(progress.fraction * Double(width))
            let bar = String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled)
            FileHandle.standardError.write(Data("\r[\(bar)] \(Int(progress.fraction * 100))% \(progress.step)\u{1B}[K".utf8))
        }
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
        let report = Report(results)
        print(report.terminalText)
        if let directory {
            try report.write(to: directory)
            print("\nWrote results.json, results.csv, report.md and charts to \(directory.path)")
        }
    }

    private func range(_ text: String) throws -> ClosedRange<Int> {
        guard let range = Milliseconds.range(text) else { throw ValidationError("--think must be MIN-MAX milliseconds") }
        return range
    }
}

/// The floors the benchmark compares against, started by `ply bench` as children: the raw TCP
/// relay, or with `--http` the transports' floors (`TransportFloorServer`).
struct FloorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "floor",
        abstract: "Run the benchmark's raw TCP relay, or with --http its transports' floors (started by ply bench).",
        shouldDisplay: false
    )

    @Option var host = "127.0.0.1"
    @Option var port = 0
    @Flag(help: "Serve the transports' floors (WebSocket, long-polling, SSE) instead of the raw TCP relay.")
    var http = false

    func run() async throws {
        let channel = try await http ? TransportFloorServer.start(host: host, port: port) : FloorServer.start(host: host, port: port)
        FileHandle.standardOutput.write(Data("ply floor listening on http://\(host):\(channel.localAddress?.port ?? port)\n".utf8))
        signal(SIGTERM) { _ in _exit(0) }
        try await channel.closeFuture.get()
    }
}

