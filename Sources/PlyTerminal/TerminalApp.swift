import Foundation
import Logging
import PlyBots
import PlyClient
import PlyEngine
import PlyServer
import PlyWire
import Synchronization

/// Set by SIGINT, SIGTERM and SIGHUP (the terminal went away); the main loop sees it and
/// restores the terminal before exiting.
private let interrupted = Atomic<Bool>(false)

/// Inputs posted by network tasks, taken by the main loop: the network never waits for the
/// screen, and the screen never waits for the network.
final class Inbox: Sendable {
    private let queue = Mutex<[Input]>([])
    func post(_ input: Input) { queue.withLock { $0.append(input) } }
    func drain() -> [Input] { queue.withLock { queue in defer { queue.removeAll() }; return queue } }
}

/// The terminal client: it owns the screen and the connections, turns keys and network news
/// into `Input`s for `update`, carries out the `Effect`s it returns, and draws `render`'s lines.
@MainActor
public final class TerminalApp {
    /// Where the games are.
    public enum Venue: Sendable {
        /// An embedded server on a free loopback port, with a bot as the opponent.
        case embedded(game: GameID, bot: Strategy, botThinkTime: ClosedRange<Duration>, seed: UInt64)
        /// A real server: a lobby of its matches.
        case server(Endpoint)
    }

    private let venue: Venue
    private let transport: TransportKind
    private let name: String
    private var state: PlayState
    private let inbox = Inbox()
    private var running = true

    private var server: PlyServer?
    private var serverTask: Task<Void, any Error>?
    private var api: PlyAPI?
    private var connection: MatchConnection?
    /// Tasks that belong to the game on screen: its event feed and, when embedded, its bot.
    private var gameTasks: [Task<Void, Never>] = []
    private var humanMovesFirst = true
    private var gamesStarted: UInt64 = 0

    public init(venue: Venue, transport: TransportKind, name: String, glyphs: Glyphs, colour: Bool) {
        self.venue = venue
        self.transport = transport
        self.name = name
        let hasLobby = if case .server = venue { true } else { false }
        state = PlayState(mode: .opening("Starting…"), transport: transport, hasLobby: hasLobby, glyphs: glyphs, colour: colour)
    }

    /// Whether the app stopped because of SIGINT, SIGTERM or SIGHUP.
    public var wasInterrupted: Bool { interrupted.load(ordering: .relaxed) }

    /// Runs until the player quits or a signal arrives; the terminal is restored either way.
    public func run() async throws {
        signal(SIGINT) { _ in interrupted.store(true, ordering: .relaxed) }
        signal(SIGTERM) { _ in interrupted.store(true, ordering: .relaxed) }
        signal(SIGHUP) { _ in interrupted.store(true, ordering: .relaxed) }
        let screen = Screen(colour: state.colour)
        screen.start()
        defer { screen.stop() }

        begin()
        var lastRefresh = ContinuousClock.now
        var dirty = true
        while running, !interrupted.load(ordering: .relaxed) {
            while let key = screen.readKey() {
                apply(.key(key))
                dirty = true
            }
            for input in inbox.drain() {
                apply(input)
                dirty = true
            }
            if ContinuousClock.now - lastRefresh > .milliseconds(200) {
                refreshNetwork()
                lastRefresh = .now
                dirty = true
            }
            if dirty {
                let (width, height) = screen.size
                screen.draw(render(state, width: width, height: height))
                dirty = false
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        await finish()
    }

    private func apply(_ input: Input) {
        for effect in update(&state, input) { perform(effect) }
    }

    /// The wire statistics of the connection on screen, for the status bar and wire view.
    private func refreshNetwork() {
        guard let connection else { return }
        var network = NetworkStatus(transport: connection.transport)
        network.state = connection.state
        network.totals = connection.stats.totals
        network.roundTrips = connection.stats.roundTrips
        network.records = connection.stats.recentRecords
        state.network = network
    }

    // MARK: Venues

    private func begin() {
        switch venue {
        case .embedded(let game, _, _, _):
            state.mode = .opening("Starting a server and a bot…")
            Task {
                do {
                    let endpoint = try await startEmbeddedServer()
                    api = PlyAPI(endpoint: endpoint)
                    try await startEmbeddedGame(game)
                } catch {
                    inbox.post(.failed("Could not start the game: \(error)"))
                }
            }
        case .server(let endpoint):
            api = PlyAPI(endpoint: endpoint)
            state.mode = .lobby(Lobby())
            perform(.refreshLobby)
        }
    }

    /// A server in this process on a free loopback port, logging nowhere (the screen is ours).
    private func startEmbeddedServer() async throws -> Endpoint {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let quiet = Logger(label: "ply.embedded") { _ in SwiftLogNoOpLogHandler() }
        let server = PlyServer(configuration: ServerConfiguration(host: "127.0.0.1", port: 0), logger: quiet, handleSignals: false) {
            continuation.yield($0)
        }
        self.server = server
        serverTask = Task { try await server.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw LinkError.connectionClosed }
        return Endpoint(host: "127.0.0.1", port: port)
    }

    /// A new match on the embedded server: the player and the bot take turns at moving first.
    private func startEmbeddedGame(_ game: GameID) async throws {
        guard case .embedded(_, let strategy, let thinkTime, let seed) = venue, let api else { return }
        closeGame()
        let match = try await api.createMatch(game).id
        let humanFirst = humanMovesFirst
        humanMovesFirst.toggle()
        let first = try await api.join(match, name: humanFirst ? name : "bot")
        let second = try await api.join(match, name: humanFirst ? "bot" : name)
        let (human, bot) = humanFirst ? (first, second) : (second, first)
        let botConnection = try await MatchConnection.open(to: api.endpoint, match: match, seat: (bot.seat, bot.token), transport: transport)
        gamesStarted += 1
        let player = BotPlayer(strategy: strategy, seed: seed &+ gamesStarted, thinkTime: thinkTime)
        gameTasks.append(Task.detached { _ = try? await player.play(botConnection) })
        try await openGame(match, seat: (human.seat, human.token), againstBot: true)
    }

    /// Connects to a match and feeds its events to the screen.
    private func openGame(_ match: String, seat: (seat: Seat, token: String)?, againstBot: Bool) async throws {
        guard let api else { return }
        let connection = try await MatchConnection.open(to: api.endpoint, match: match, seat: seat, transport: transport)
        self.connection = connection
        let inbox = self.inbox
        gameTasks.append(Task.detached {
            var opened = false
            for await event in connection.events {
                if opened {
                    inbox.post(.event(match: match, event))
                } else if let replica = try? Match(replaying: [event]) {
                    opened = true
                    inbox.post(.opened(GameScreen(matchID: match, seat: seat?.seat, match: replica, againstBot: againstBot)))
                }
            }
        })
        gameTasks.append(Task.detached {
            for await change in connection.states { inbox.post(.connection(change)) }
        })
    }

    /// Closes the game on screen: its connection, feed and bot.
    private func closeGame() {
        connection?.close()
        connection = nil
        for task in gameTasks { task.cancel() }
        gameTasks.removeAll()
    }

    private func finish() async {
        closeGame()
        await api?.close()
        if let server {
            await server.shutDown()
            _ = await serverTask?.result
        }
    }

    // MARK: Effects

    private func perform(_ effect: Effect) {
        let inbox = self.inbox
        switch effect {
        case .quit:
            running = false
        case .play(let move, let version):
            send(Command(.play(move), version: version))
        case .resign(let version):
            send(Command(.resign, version: version))
        case .rematch(let game):
            run("Starting a new game…") { app in
                if case .embedded = app.venue {
                    try await app.startEmbeddedGame(game)
                } else if let api = app.api {
                    let match = try await api.createMatch(game).id
                    let grant = try await api.join(match, name: app.name)
                    try await app.openGame(match, seat: (grant.seat, grant.token), againstBot: false)
                }
            }
        case .toLobby:
            closeGame()
            state.network = NetworkStatus(transport: transport)
            state.mode = .lobby(Lobby())
            perform(.refreshLobby)
        case .refreshLobby:
            guard let api else { return }
            Task.detached {
                do {
                    inbox.post(.lobby(try await api.matches()))
                } catch {
                    inbox.post(.failed("Could not list the matches: \(error)"))
                }
            }
        case .create(let game):
            run("Creating a match…") { app in
                guard let api = app.api else { return }
                let match = try await api.createMatch(game).id
                let grant = try await api.join(match, name: app.name)
                try await app.openGame(match, seat: (grant.seat, grant.token), againstBot: false)
            }
        case .join(let match):
            run("Joining \(match)…") { app in
                guard let api = app.api else { return }
                let grant = try await api.join(match, name: app.name)
                try await app.openGame(match, seat: (grant.seat, grant.token), againstBot: false)
            }
        case .watch(let match):
            run("Opening \(match)…") { app in try await app.openGame(match, seat: nil, againstBot: false) }
        }
    }

    /// Sends a command; its acknowledgement or refusal comes back through the inbox.
    private func send(_ command: Command) {
        guard let connection else { return }
        let inbox = self.inbox
        Task.detached {
            do {
                try await connection.send(command)
                inbox.post(.acknowledged)
            } catch CommandError.refused(let error) {
                inbox.post(.refused(error.message))
            } catch {
                inbox.post(.refused("\(error)"))
            }
        }
    }

    /// Shows `message` while `work` opens something; a failure shows on the notice line.
    private func run(_ message: String, _ work: @escaping @MainActor (TerminalApp) async throws -> Void) {
        let previous = state.mode
        state.mode = .opening(message)
        Task {
            do {
                try await work(self)
            } catch {
                self.state.mode = previous
                self.inbox.post(.failed("\(error)"))
            }
        }
    }
}
