import ArgumentParser
import Foundation
import PlyBots
import PlyClient
import PlyEngine
import PlyWire
import Synchronization

struct BotCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bot",
        abstract: "Run headless bots: many games at once as load, or one bot in a person's match.",
        discussion: """
        Without --join, each game creates a match on the server and seats two bots in it, \
        --strategy against --opponent (they take turns at moving first). With --join MATCH, \
        one bot takes the free seat in that match and plays it to the end.
        """
    )

    @Option(help: "The server to play on.")
    var server = "http://127.0.0.1:8080"

    @Option(help: ArgumentHelp("A transport for both seats (\(Transport.names)), auto (the first of them that works), A+B for one each, or mixed (ws+longpoll)."))
    var transport: SeatTransports = .same(.over(.webSocket))

    @Option(help: "The game: connect4, reversi or battleship.")
    var game: GameID = .connect4

    @Option(help: "random, greedy or minimax (in Battleship, random fires at random; greedy and minimax hunt and target).")
    var strategy = "minimax"

    @Option(help: "How many moves minimax looks ahead.")
    var depth = 4

    @Option(help: "The other side's strategy (default: the same as --strategy).")
    var opponent: String?

    @Option(help: "How many moves the other side's minimax looks ahead (default: --depth).")
    var opponentDepth: Int?

    @Option(help: "How many games to play.")
    var games = 1

    @Option(help: "How many games to play at once.")
    var concurrency = 1

    @Option(help: "The seed: the same seed plays the same games.")
    var seed: UInt64 = 1

    @Option(help: "Think time per move in milliseconds, as MIN-MAX (e.g. 50-150); none by default.")
    var think: String?

    @Option(help: "Take the free seat in this match (created by a person) and play it.")
    var join: String?

    @Flag(help: "Ask for compression: permessage-deflate on WebSocket, gzip for event streams and long-poll answers (the server compresses only with --compression on).")
    var compression = false

    @OptionGroup var network: IdleTimeoutOption

    @Option(help: "The bot's name when joining a match.")
    var name = "bot"

    func validate() throws {
        guard Endpoint(server) != nil else { throw ValidationError("--server must look like http://HOST:PORT") }
        guard Strategy(name: strategy, depth: depth) != nil else { throw ValidationError("--strategy must be random, greedy or minimax") }
        if let opponent, Strategy(name: opponent, depth: depth) == nil { throw ValidationError("--opponent must be random, greedy or minimax") }
        try OptionCheck.count(games, "--games", in: 1...100_000_000)
        try OptionCheck.count(concurrency, "--concurrency", in: 1...1_000_000)
        try OptionCheck.count(depth, "--depth", in: 1...12)
        if let opponentDepth { try OptionCheck.count(opponentDepth, "--opponent-depth", in: 1...12) }
        if let think, Milliseconds.durations(think) == nil { throw ValidationError("--think must be MIN-MAX milliseconds, e.g. 50-150") }
    }

    private var connectionOptions: ConnectionOptions {
        var options = ConnectionOptions()
        options.compression = compression
        return network.fitted(options)
    }

    func run() async throws {
        let endpoint = Endpoint(server)!
        let mine = Strategy(name: strategy, depth: depth)!
        if let join {
            try await joinMatch(join, endpoint: endpoint, strategy: mine)
            return
        }
        let theirs = Strategy(name: opponent ?? strategy, depth: opponentDepth ?? depth)!
        let plan = FleetPlan(
            endpoint: endpoint, transports: transport, game: game, strategies: (mine, theirs),
            games: games, concurrency: concurrency, seed: seed, thinkTime: think.flatMap(Milliseconds.durations),
            options: connectionOptions
        )
        let interactive = isatty(STDERR_FILENO) != 0
        let fleet = Task { [self] in
            await BotFleet(plan: plan).run { report in
                if interactive { FileHandle.standardError.write(Data(("\r" + progressLine(report)).utf8)) }
            }
        }
        // Ctrl-C or SIGTERM: no more games; those under way are abandoned, and the summary of
        // what was played is printed all the same.
        let stop = SignalStop { fleet.cancel() }
        let report = await fleet.value
        stop.cancel()
        if interactive { FileHandle.standardError.write(Data("\n".utf8)) }
        print(summary(report, plan: plan, stoppedBy: stop.signal))
        if let signal = stop.signal { throw ExitCode(128 + signal) }
        if report.finished == 0 { throw ExitCode.failure }
    }

    /// One bot in a person's match.
    private func joinMatch(_ match: String, endpoint: Endpoint, strategy: Strategy) async throws {
        let api = PlyAPI(endpoint: endpoint)
        let grant = try await api.join(match, name: name)
        await api.close()
        print("joined \(match) as seat \(grant.seat.rawValue) (\(strategy)); playing over \(transport.choice(for: grant.seat))")
        let connection = try await MatchConnection.open(
            to: endpoint, match: match, seat: (grant.seat, grant.token), transport: transport.choice(for: grant.seat),
            options: connectionOptions
        )
        let game = try await BotPlayer(strategy: strategy, seed: seed, thinkTime: think.flatMap(Milliseconds.durations)).play(connection)
        let winner = game.result.winner.map { $0 == grant.seat ? "the bot won" : "the bot lost" } ?? "a draw"
        print("\(winner) (\(game.result.reason.rawValue)) after \(game.moves) moves by the bot")
    }


    private func progressLine(_ report: FleetReport) -> String {
        let done = report.finished + report.errors
        let width = 24, filled = report.planned == 0 ? 0 : width * done / report.planned
        let rate = report.elapsed > .zero ? Double(done) / report.elapsed.seconds : 0
        return "[\(String(repeating: "=", count: filled))\(String(repeating: " ", count: width - filled))] "
            + "\(done)/\(report.planned) games · \(report.moves) moves · \(report.errors) errors · "
            + "\(report.stats.totals.reconnects) reconnects · \(String(format: "%.1f", rate)) games/s"
    }

    private func summary(_ report: FleetReport, plan: FleetPlan, stoppedBy signal: Int32?) -> String {
        let totals = report.stats.totals
        let moves = max(report.moves, 1)
        func perMove(_ bytes: Int) -> String { String(format: "%.0f", Double(bytes) / Double(moves)) }
        func ms(_ duration: Duration?) -> String { duration.map { String(format: "%.2f ms", $0.seconds * 1000) } ?? "-" }
        var lines = [
            "ply bot: \(plan.games) games of \(plan.game.rawValue) over \(transport.argument), "
                + "\(plan.strategies.0) vs \(plan.strategies.1), \(plan.concurrency) at a time, seed \(plan.seed)",
            "  finished    \(report.finished) games, \(report.errors) errors, in \(String(format: "%.1f", report.elapsed.seconds)) s",
            "  moves       \(report.moves) (\(String(format: "%.1f", Double(report.moves) / max(report.elapsed.seconds, 0.001))) per second)",
        ]
        if let signal {
            lines.append("  stopped     by \(signal == SIGINT ? "SIGINT" : "SIGTERM"): \(report.abandoned) games under way abandoned, "
                + "\(plan.games - report.finished - report.errors - report.abandoned) not started")
        }
        for (name, record) in report.records.sorted(by: { $0.key < $1.key }) {
            lines.append("  \(name.padding(toLength: 11, withPad: " ", startingAt: 0)) \(record.wins) wins, \(record.draws) draws, \(record.losses) losses")
        }
        lines += [
            "  reconnects  \(totals.reconnects)",
            "  wire        up \(perMove(totals.bytesSent)) B/move (\(perMove(totals.payloadSent)) payload), "
                + "down \(perMove(totals.bytesReceived)) B/move (\(perMove(totals.payloadReceived)) payload)",
            "  bytes       \(totals.bytesSent) sent, \(totals.bytesReceived) received in all, by the match connections' sockets",
            "  requests    \(String(format: "%.2f", Double(totals.httpRequests) / Double(moves))) HTTP requests per move, "
                + "\(totals.tcpConnections) TCP connections, \(totals.handshakes) WebSocket handshakes",
            "  round trip  p50 \(ms(report.stats.roundTrips.p50)), p99 \(ms(report.stats.roundTrips.p99)) (command to acknowledgement)",
        ]
        lines += report.errorSamples.map { "  error       \($0)" }
        return lines.joined(separator: "\n")
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// Turns the first SIGINT or SIGTERM into a call of `stop` (instead of the default of dying at
/// once), and remembers which signal it was.
final class SignalStop {
    private final class Caught: Sendable {
        let number = Mutex<Int32?>(nil)
    }

    private let sources: [any DispatchSourceSignal]
    private let caught = Caught()

    init(_ stop: @escaping @Sendable () -> Void) {
        let caught = self.caught
        sources = [SIGINT, SIGTERM].map { number in
            Foundation.signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                caught.number.withLock { $0 = $0 ?? number }
                stop()
            }
            source.resume()
            return source
        }
    }

    var signal: Int32? { caught.number.withLock { $0 } }

    /// Stops listening: the signals' defaults come back.
    func cancel() {
        for source in sources { source.cancel() }
        Foundation.signal(SIGINT, SIG_DFL)
        Foundation.signal(SIGTERM, SIG_DFL)
    }
}
