import Foundation
import PlyBots
import PlyClient
import PlyEngine
import PlyWire

/// A server started for `ply play` without `--server`: where the player reaches it (perhaps
/// through a simulated network), where the bot does, and how to stop it. The `ply` executable
/// makes it; the terminal client knows no server code.
public struct EmbeddedServer: Sendable {
    public let endpoint: Endpoint
    public let botEndpoint: Endpoint
    public let stop: @Sendable () async -> Void

    public init(endpoint: Endpoint, botEndpoint: Endpoint? = nil, stop: @escaping @Sendable () async -> Void) {
        self.endpoint = endpoint
        self.botEndpoint = botEndpoint ?? endpoint
        self.stop = stop
    }
}

/// The terminal client. One stream of messages drives it: keys (when the terminal has some to
/// read), network news and effects' results (as `Input`s), and a tick for the clock-driven
/// parts of the screen. Every message goes through `update`, the only code that changes the
/// state; the effects it returns are carried out here, and what they find comes back as
/// messages. Nothing else writes the state.
@MainActor
public final class TerminalApp {
    /// Where the games are.
    public enum Venue: Sendable {
        /// An embedded server, started on demand, with a bot as the opponent.
        case embedded(game: GameID, bot: Strategy, botThinkTime: ClosedRange<Duration>, seed: UInt64,
                      start: @Sendable () async throws -> EmbeddedServer)
        /// A real server: a lobby of its matches.
        case server(Endpoint)
    }

    private let venue: Venue
    /// The transport for the next connection: `t` changes it.
    private var transport: TransportChoice
    private let name: String
    private var state: PlayState
    private let session: TerminalSession<Input>
    private var running = true

    private var server: EmbeddedServer?
    private var api: PlyAPI?
    private var connection: MatchConnection?
    /// The seat the player holds in the match on screen (nil when watching).
    private var seat: (seat: Seat, token: String)?
    /// The tasks that feed the connection on screen to the loop: its events and its states.
    private var feedTasks: [Task<Void, Never>] = []
    /// The embedded game's bot.
    private var botTask: Task<Void, Never>?
    /// The effects that open and close games, one after another.
    private var queue: Task<Void, Never>?
    private var humanMovesFirst = true
    private var gamesStarted: UInt64 = 0

    /// How the player's connections are made (`--compression` among them).
    private let options: ConnectionOptions

    public init(venue: Venue, transport: TransportChoice, name: String, glyphs: Glyphs, colour: Bool,
                options: ConnectionOptions = ConnectionOptions()) {
        self.venue = venue
        self.options = options
        self.transport = transport
        self.name = name
        let (hasLobby, firstGame): (Bool, GameID) = switch venue {
        case .embedded(let game, _, _, _, _): (false, game)
        case .server: (true, .connect4)
        }
        state = PlayState(mode: .opening("Starting…"), transport: transport.preferred, hasLobby: hasLobby, firstGame: firstGame,
                          glyphs: glyphs, colour: colour)
        session = TerminalSession(colour: colour)
        if case .server(let endpoint) = venue { api = PlyAPI(endpoint: endpoint, options: options) }
    }

    /// Whether the app stopped because of SIGINT, SIGTERM or SIGHUP.
    public var wasInterrupted: Bool { TerminalSession<Input>.wasInterrupted }

    /// Runs until the player quits or a signal arrives; the terminal is restored either way.
    public func run() async throws {
        apply(.launch)
        await session.run(lines: { [unowned self] width, height in render(state, width: width, height: height) }) { [unowned self] message in
            switch message {
            case .custom(let input):
                apply(input)
            case .key(let key):
                apply(.key(key))
            case .tick:
                if let network = networkStatus() { apply(.network(network)) }
                apply(.tick(.now))
            }
            return running
        }
        await finish()
    }

    private func apply(_ input: Input) {
        for effect in update(&state, input) { perform(effect) }
    }

    /// The wire statistics of the connection on screen, for the status bar and wire view.
    private func networkStatus() -> NetworkStatus? {
        guard let connection else { return nil }
        var network = NetworkStatus(transport: connection.transport)
        network.state = connection.state
        network.totals = connection.stats.totals
        network.roundTrips = connection.stats.roundTrips
        network.records = connection.stats.recentRecords
        network.transportNote = connection.settledReason
        return network
    }

    // MARK: Effects

    private func perform(_ effect: Effect) {
        switch effect {
        case .quit:
            running = false
        case .play(let move, let version):
            sendCommand(Command(.play(move), version: version))
        case .place(let fleet, let version):
            sendCommand(Command(.place(fleet), version: version))
        case .resign(let version):
            sendCommand(Command(.resign, version: version))
        case .refreshLobby:
            guard let api else { return }
            let session = self.session
            Task.detached {
                do {
                    session.post(.lobby(try await api.matches()))
                } catch {
                    session.post(.lobbyFailed("Could not list the matches: \(error)"))
                }
            }
        case .closeGame:
            enqueue { app in app.closeGame() }
        case .fetchClock(let match):
            guard let api else { return }
            let session = self.session
            Task.detached {
                let asked = ContinuousClock.now
                guard let snapshot = try? await api.snapshot(match), let left = snapshot.turnTimeLeft else { return }
                // The server read its clock somewhere between the question and the answer.
                let at = asked + (ContinuousClock.now - asked) / 2
                session.post(.clock(match: match, version: snapshot.version, timeLeft: .milliseconds(Int64(left * 1000)), at: at))
            }
        case .switchTransport(let target, let after):
            enqueue { app in
                do {
                    try await app.switchTransport(to: target, after: after)
                } catch {
                    app.session.post(.failed("Could not switch to \(target): \(error); still on \(app.transport)."))
                }
            }
        case .newGame(let game):
            open { app in
                if case .embedded = app.venue {
                    try await app.startGameAgainstBot(game)
                } else if let api = app.api {
                    let setup = try await api.setUpMatch(game, names: [app.name]) { _, _ in nil }
                    guard let grant = setup.grants.first else { return }
                    try await app.openGame(setup.match, seat: (grant.seat, grant.token), againstBot: false)
                }
            }
        case .join(let match):
            open { app in
                guard let api = app.api else { return }
                let grant = try await api.join(match, name: app.name)
                try await app.openGame(match, seat: (grant.seat, grant.token), againstBot: false)
            }
        case .watch(let match):
            open { app in try await app.openGame(match, seat: nil, againstBot: false) }
        }
    }

    /// Runs `work` after every earlier opening or closing effect has finished.
    private func enqueue(_ work: @escaping @MainActor (TerminalApp) async -> Void) {
        let previous = queue
        queue = Task { [weak self] in
            await previous?.value
            guard let self, self.running else { return }
            await work(self)
        }
    }

    /// Opens something in turn; a failure comes back as `openFailed`.
    private func open(_ work: @escaping @MainActor (TerminalApp) async throws -> Void) {
        enqueue { app in
            do {
                try await work(app)
            } catch {
                app.session.post(.openFailed("\(error)"))
            }
        }
    }

    /// Sends a command; its acknowledgement or refusal comes back as a message. `update` never
    /// asks for a second command while one is on its way, and the connection refuses one
    /// (`CommandError.busy`) if it ever did.
    private func sendCommand(_ command: Command) {
        guard let connection else { return }
        let session = self.session
        let match = connection.match
        Task.detached {
            do {
                try await connection.send(command)
                session.post(.acknowledged(match: match))
            } catch CommandError.refused(let error) {
                session.post(.refused(match: match, error.message))
            } catch {
                session.post(.refused(match: match, "\(error)"))
            }
        }
    }

    // MARK: Games

    /// A new match on the embedded server (started the first time): the player and the bot
    /// take turns at moving first.
    private func startGameAgainstBot(_ game: GameID) async throws {
        guard case .embedded(_, let strategy, let thinkTime, let seed, let start) = venue else { return }
        if api == nil {
            let server = try await start()
            self.server = server
            api = PlyAPI(endpoint: server.endpoint, options: options)
        }
        guard let api else { return }
        let humanFirst = humanMovesFirst
        humanMovesFirst.toggle()
        let botSeat: Seat = humanFirst ? .second : .first
        let (botEndpoint, transport, options) = (server?.botEndpoint ?? api.endpoint, transport, options)
        // The player's own connection is opened by `openGame`, with the screen's statistics.
        let setup = try await api.setUpMatch(game, names: humanFirst ? [name, "bot"] : ["bot", name]) { match, grant in
            guard grant.seat == botSeat else { return nil }
            return try await MatchConnection.open(to: botEndpoint, match: match, seat: (grant.seat, grant.token), transport: transport, options: options)
        }
        guard let human = setup.grants.first(where: { $0.seat != botSeat }), let botConnection = setup.connections.compactMap({ $0 }).first else { return }
        gamesStarted += 1
        let player = BotPlayer(strategy: strategy, seed: seed &+ gamesStarted, thinkTime: thinkTime)
        botTask = Task.detached {
            _ = try? await player.play(botConnection)
            botConnection.close()
        }
        let match = setup.match
        try await openGame(match, seat: (human.seat, human.token), againstBot: true)
    }

    /// Connects to a match and feeds its events and connection changes to the loop.
    private func openGame(_ match: String, seat: (seat: Seat, token: String)?, againstBot: Bool) async throws {
        guard let api else { return }
        let connection = try await MatchConnection.open(to: api.endpoint, match: match, seat: seat, transport: transport,
                                                        options: options, stats: WireStats(keepsRecords: true))
        self.connection = connection
        self.seat = seat
        let note = connection.settledReason
        feed(connection) { event in
            (try? Match(replaying: [event])).map {
                var screen = GameScreen(matchID: match, seat: seat?.seat, match: $0, againstBot: againstBot)
                screen.transportNote = note
                return .opened(screen)
            }
        }
    }

    /// Feeds a connection's events and states to the loop. The first event becomes `first(event)`
    /// when given (a new screen built from it), every later one an `event`.
    private func feed(_ connection: MatchConnection, first: (@Sendable (MatchEvent) -> Input?)? = nil) {
        let session = self.session
        let match = connection.match
        feedTasks.append(Task.detached {
            var opening = first
            for await update in connection.updates {
                guard case .event(let event) = update else {
                    if case .rolledBack(let version) = update, opening == nil { session.post(.rolledBack(match: match, to: version)) }
                    continue
                }
                if let open = opening {
                    guard let input = open(event) else { continue }
                    opening = nil
                    session.post(input)
                } else {
                    session.post(.event(match: match, event))
                }
            }
        })
        feedTasks.append(Task.detached {
            for await change in connection.states { session.post(.connection(match: match, change)) }
        })
    }

    /// The game on screen, over another transport: the new connection carries on after the
    /// last version the screen had; only once it is open is the old one closed, so a failed
    /// switch leaves the game where it was. An event both deliver counts once (`update`).
    private func switchTransport(to target: Transport, after: Int) async throws {
        guard let old = connection, let api else { return }
        // The same statistics go on: the status bar and wire view count the whole game.
        let new = try await MatchConnection.open(to: api.endpoint, match: old.match, seat: seat, transport: .over(target), after: after,
                                                 options: options, stats: old.stats)
        for task in feedTasks { task.cancel() }
        feedTasks.removeAll()
        old.close()
        connection = new
        transport = .over(target)
        feed(new)
        session.post(.switched(match: new.match, target))
    }

    /// Closes the game on screen: its connection, feed and bot.
    private func closeGame() {
        connection?.close()
        connection = nil
        seat = nil
        for task in feedTasks { task.cancel() }
        feedTasks.removeAll()
        botTask?.cancel()
        botTask = nil
    }

    private func finish() async {
        running = false
        queue?.cancel()
        closeGame()
        await api?.close()
        await server?.stop()
    }
}
