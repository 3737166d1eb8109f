import ArgumentParser
import Foundation
import PlyBots
import PlyClient
import Logging
import PlyEngine
import PlyWire
import PlyRelay
import PlyServer
import PlyTerminal


struct PlayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "play",
        abstract: "Play in the terminal: at once against a bot, or on a server's lobby.",
        discussion: """
        Without --server, ply starts a server inside this process on a free loopback port and a \
        bot to play against, and opens a game at once. With --server, it opens that server's \
        lobby: create a match, join a free seat, or watch. Press ? in the game for the keys.
        """
    )

    @Option(help: "A ply server, http://HOST:PORT; without it, an embedded server and a bot.")
    var server: String?

    @Option(help: ArgumentHelp("\(Transport.names), or auto (the first of them that works, in that order)."))
    var transport: TransportChoice = .over(.webSocket)

    @Option(help: "The game against the bot: connect4, reversi or battleship.")
    var game: GameID = .connect4

    @Option(help: "The bot's strategy: random, greedy or minimax (in Battleship, random fires at random; greedy and minimax hunt and target).")
    var bot = "minimax"

    @Option(help: "How many moves the bot's minimax looks ahead.")
    var depth = 4

    @Option(help: "The bot's thinking time in milliseconds, MIN-MAX.")
    var botThink = "300-700"

    @Option(help: "Your name on the board.")
    var name = ProcessInfo.processInfo.environment["USER"].flatMap { $0.isEmpty ? nil : String($0.prefix(16)) } ?? "player"

    @Option(help: "Without --server: a simulated network between you and the embedded server, its round-trip time, e.g. 80ms.")
    var rtt = Milliseconds(0)

    @Option(help: "Without --server: jitter on that network, e.g. 10ms.")
    var jitter = Milliseconds(0)

    @Option(help: ArgumentHelp("Without --server: a middlebox between you and the embedded server, played by ply's relay: \(Middlebox.arguments) (as ply bench --middlebox); with --transport auto, the status bar says where it settled and why.",
                               valueName: "mode"))
    var middlebox: String?

    @Option(help: "The seed of the bot's choices.")
    var seed: UInt64 = 1

    @Flag(help: "Ask for compression (permessage-deflate on WebSocket, gzip for event streams and long-poll answers); the embedded server then compresses too. The wire view (w) shows each message's bytes on the wire and inflated.")
    var compression = false

    @OptionGroup var network: IdleTimeoutOption

    @Flag(help: "Draw with ASCII characters only.")
    var ascii = false

    @Flag(help: "No colours (also when NO_COLOR is set).")
    var noColor = false

    func validate() throws {
        if let server, Endpoint(server) == nil { throw ValidationError("--server must look like http://HOST:PORT") }
        guard Strategy(name: bot, depth: depth) != nil else { throw ValidationError("--bot must be random, greedy or minimax") }
        guard thinkTime != nil else { throw ValidationError("--bot-think must be MIN-MAX milliseconds, e.g. 300-700") }
        try OptionCheck.count(depth, "--depth", in: 1...12)
        if server != nil, rtt.value > 0 || jitter.value > 0 || middlebox != nil {
            throw ValidationError("--rtt, --jitter and --middlebox simulate a network to the embedded server; a real server's network is real")
        }
        _ = try middlebox.map(OptionCheck.middlebox)
        guard isatty(STDIN_FILENO) != 0, isatty(STDOUT_FILENO) != 0 else { throw ValidationError("ply play needs a terminal") }
    }

    private var thinkTime: ClosedRange<Duration>? { Milliseconds.durations(botThink) }

    @MainActor
    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let venue: TerminalApp.Venue = if let server, let endpoint = Endpoint(server) {
            .server(endpoint)
        } else {
            .embedded(game: game, bot: Strategy(name: bot, depth: depth)!, botThinkTime: thinkTime!, seed: seed, start: { [latency, compression, box = try? middlebox.map(OptionCheck.middlebox), idleTimeout = network.timeout] in
                try await Self.startEmbeddedServer(latency: latency, middlebox: box ?? nil, compression: compression, idleTimeout: idleTimeout)
            })
        }
        let app = TerminalApp(
            venue: venue,
            transport: transport,
            name: name,
            glyphs: ascii ? .ascii : Glyphs.forEnvironment(environment),
            colour: !noColor && (environment["NO_COLOR"] ?? "").isEmpty,
            options: {
                var options = ConnectionOptions()
                options.compression = compression
                return network.fitted(options)
            }()
        )
        try await app.run()
        if app.wasInterrupted { throw ExitCode(130) }
    }

    /// The simulated network of `--rtt` and `--jitter`: half of each in each direction.
    private var latency: TCPRelay.Latency? {
        rtt.value > 0 || jitter.value > 0
            ? TCPRelay.Latency(oneWay: .microseconds(rtt.value * 500), jitter: .microseconds(jitter.value * 500))
            : nil
    }

    /// A server in this process on a free loopback port, keeping its matches in memory and
    /// logging nowhere (the screen is the player's). With a latency or a middlebox, the player
    /// reaches it through ply's TCP relay, which delays each direction and plays the middlebox;
    /// the bot connects directly. With an idle timeout, its timers are fitted under it, as
    /// `ply serve --idle-timeout` does.
    static func startEmbeddedServer(latency: TCPRelay.Latency?, middlebox: Middlebox? = nil, compression: Bool = false,
                                    idleTimeout: Duration? = nil) async throws -> EmbeddedServer {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let quiet = Logger(label: "ply.embedded") { _ in SwiftLogNoOpLogHandler() }
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.compression = compression
        if let idleTimeout { configuration.fit(idleTimeout: idleTimeout) }
        let server = PlyServer(configuration: configuration, logger: quiet, handleSignals: false) {
            continuation.yield($0)
        }
        let running = Task {
            defer { continuation.finish() }
            try await server.run()
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else {
            // It stopped before it listened: say why.
            try await running.value
            throw ValidationError("the embedded server stopped before it listened")
        }
        let direct = Endpoint(host: "127.0.0.1", port: port)
        var relay: TCPRelay?
        if latency != nil || middlebox != nil { relay = try await TCPRelay.start(to: "127.0.0.1", port: port, latency: latency, middlebox: middlebox) }
        return EmbeddedServer(endpoint: relay.map { Endpoint(host: "127.0.0.1", port: $0.port) } ?? direct, botEndpoint: direct) { [relay] in
            await relay?.stop()
            await server.shutDown()
            _ = await running.result
        }
    }
}
