import Foundation
import NIOCore
import PlyBots
import PlyClient
import PlyEngine
import PlyRelay
import PlyServer
import PlyWire
import Testing

/// The client API and bots against a live server, over each transport.
@Suite(.timeLimit(.minutes(1)))
struct ClientTests {
    static let transports: [SeatTransports] = [.same(.over(.webSocket)), .same(.over(.longPoll)), .same(.auto), .mixed]

    /// Seats two bots in a new match, each over its transport, optionally through a relay.
    func playBots(
        _ server: LiveServer,
        transports: SeatTransports,
        game: GameID = .connect4,
        via endpoint: Endpoint? = nil,
        strategies: (Strategy, Strategy) = (.random, .greedy),
        thinkTime: ClosedRange<Duration>? = nil,
        // An upgrade's bound far beyond a loaded machine's delays: these games test play, not the timer.
        options: ConnectionOptions = ConnectionOptions(upgradeTimeout: .seconds(20)),
        duringGame: @escaping @Sendable () async throws -> Void = {}
    ) async throws -> (games: [BotGame], connections: [MatchConnection], log: [MatchEvent]) {
        let api = PlyAPI(endpoint: server.endpoint)
        let match = try await labelled("create") { try await api.createMatch(game).id }
        var connections: [MatchConnection] = []
        for name in ["ann", "bob"] {
            let grant = try await labelled("join") { try await api.join(match, name: name) }
            connections.append(try await labelled("open \(transports.choice(for: grant.seat))") {
                try await MatchConnection.open(
                    to: endpoint ?? server.endpoint, match: match, seat: (grant.seat, grant.token),
                    transport: transports.choice(for: grant.seat), options: options
                )
            })
        }
        await api.close()
        let meanwhile = Task { try await duringGame() }
        async let first = BotPlayer(strategy: strategies.0, seed: 7, thinkTime: thinkTime).play(connections[0])
        async let second = BotPlayer(strategy: strategies.1, seed: 8, thinkTime: thinkTime).play(connections[1])
        let games = try await [first, second]
        meanwhile.cancel()
        return (games, connections, try await server.log(match))
    }

    /// A log is complete when its versions run 1, 2, 3... and it ends with `ended`.
    func expectComplete(_ log: [MatchEvent], _ comment: Comment? = nil) {
        #expect(log.map(\.version) == Array(1...max(log.count, 1)), comment)
        #expect(log.last.map { if case .ended = $0.change { true } else { false } } == true, comment)
    }

    @Test(arguments: transports)
    func botsFinishGamesOverEachTransport(_ transports: SeatTransports) async throws {
        try await LiveServer.run { server in
            for game in GameID.allCases {
                let (games, connections, log) = try await playBots(server, transports: transports, game: game)
                expectComplete(log)
                // Each seat saw the spectators' log, and its own fleet besides.
                #expect(games[0].log.map { $0.view(for: nil) } == log)
                #expect(games[1].log.map { $0.view(for: nil) } == log)
                #expect(games[0].result == games[1].result)
                let expected: [Transport] = Seat.allCases.map { transports.choice(for: $0).preferred }
                #expect(connections.map(\.transport) == expected)
                // Every acknowledged command's round trip is timed, once: its moves and its fleet.
                // (A command refused for the seat's rate, 20 a second, and sent again is sent
                // twice and acknowledged once: Battleship's bots, thinking no time, reach it.)
                for (connection, game) in zip(connections, games) {
                    let placed = log.filter { if case .placed(game.seat, _) = $0.change { true } else { false } }.count
                    #expect(connection.stats.roundTrips.count == game.moves + placed, "\(connection.transport), \(game.match)")
                }
                // Bots leave a finished game at once: the server holds no poll or connection of it.
                try await waitFor(seconds: 5) { server.server.health().connections == 0 && server.server.health().waitingPolls == 0 }
                #expect(server.server.health().connections == 0, "\(server.server.health())")
            }
        }
    }

    /// A fleet faster than its address's budgets (creations, joins, commands) slows down to
    /// them, waiting and asking again on `request/rate_limited`, and finishes every game.
    @Test func aFleetOverItsBudgetSlowsDownInsteadOfFailing() async throws {
        var configuration = ServerConfiguration()
        configuration.clientLimits.commandsPerSecond = 60
        configuration.clientLimits.commandBurst = 10
        configuration.clientLimits.creationsPerSecond = 5
        configuration.clientLimits.creationBurst = 2
        try await LiveServer.run(configuration) { server in
            let plan = FleetPlan(endpoint: server.endpoint, transports: .mixed, game: .connect4, games: 8, concurrency: 8, seed: 3)
            let report = await BotFleet(plan: plan).run()
            #expect(report.finished == 8)
            #expect(report.errors == 0, "\(report.errorSamples)")
        }
    }

    @Test func aFleetPlaysManyGamesAtOnce() async throws {
        try await LiveServer.run { server in
            let plan = FleetPlan(endpoint: server.endpoint, transports: .mixed, game: .connect4,
                                 strategies: (.minimax(depth: 2), .random), games: 8, concurrency: 4, seed: 5)
            let report = await BotFleet(plan: plan).run()
            #expect(report.finished == 8)
            #expect(report.errors == 0, "\(report.errorSamples)")
            #expect(report.moves > 8 * 7)
            let minimax = try #require(report.records["minimax(2)"])
            #expect(minimax.wins + minimax.draws + minimax.losses == 8)
            #expect(report.stats.totals.handshakes == 8)
            #expect(report.stats.totals.httpRequests > report.moves / 2)
        }
    }

    /// The network fails again and again during a game: both bots still finish, with the whole
    /// log, each event once, in order.
    @Test(arguments: [SeatTransports.same(.over(.webSocket)), .same(.over(.longPoll)), .mixed])
    func connectionsCutMidGameStillEndWithCompleteLogs(_ transports: SeatTransports) async throws {
        try await LiveServer.run { server in
            let relay = try await TCPRelay.start(to: "127.0.0.1", port: server.port)
            let relayed = Endpoint(host: "127.0.0.1", port: relay.port)
            let options = ConnectionOptions(backoff: Backoff(initial: .milliseconds(5), maximum: .milliseconds(50)))
            let (games, connections, log) = try await playBots(
                server, transports: transports, via: relayed, thinkTime: .milliseconds(15) ... .milliseconds(30), options: options
            ) {
                for _ in 0..<6 {
                    try await Task.sleep(for: .milliseconds(80))
                    relay.cutAll()
                }
            }
            await relay.stop()
            expectComplete(log)
            #expect(games[0].log == log)
            #expect(games[1].log == log)
            let reconnects = connections.map(\.stats.totals.reconnects).reduce(0, +)
            #expect(reconnects >= 2, "the relay cut the game \(reconnects) times")
        }
    }

    /// Commands whose connection is cut right after they are sent are acknowledged exactly
    /// once each: a move is never lost and never played twice.
    @Test(arguments: Transport.allCases)
    func aCommandCutOffBeforeItsAnswerIsAppliedOnce(_ transport: Transport) async throws {
        try await LiveServer.run { server in
            let relay = try await TCPRelay.start(to: "127.0.0.1", port: server.port)
            let relayed = Endpoint(host: "127.0.0.1", port: relay.port)
            let api = PlyAPI(endpoint: server.endpoint)
            let match = try await api.createMatch(.reversi).id
            let options = ConnectionOptions(backoff: Backoff(initial: .milliseconds(2), maximum: .milliseconds(20)))
            var seats: [MatchConnection] = []
            for name in ["ann", "bob"] {
                let grant = try await api.join(match, name: name)
                seats.append(try await MatchConnection.open(to: relayed, match: match, seat: (grant.seat, grant.token),
                                                            transport: .over(transport), options: options))
            }
            var replica = try Match(replaying: try await server.log(match))
            var sent: [String] = []
            for turn in 0..<12 {
                guard let seat = replica.turn, let move = replica.position.legalMoves.sorted().first else { break }
                let connection = seats[seat.rawValue]
                let command = Command(.play(move), version: replica.version)
                async let ack = connection.send(command)
                try await Task.sleep(for: .microseconds(200 * (turn % 5)))
                relay.cutAll()
                let acknowledged = try await ack
                sent.append(move)
                try replica.play(move, by: seat, against: replica.version)
                #expect(acknowledged.version == replica.version)
            }
            let log = try await server.log(match)
            let played = log.compactMap { if case .moved(_, let move, _) = $0.change { move } else { nil } }
            #expect(played == sent)
            #expect(log == replica.events)
            for seat in seats { seat.close() }
            await api.close()
            await relay.stop()
        }
    }

    /// A winning move whose answer is lost is applied once and acknowledged once: sent again, it
    /// is refused as coming after the end, and the log shows it was the move that ended the game.
    @Test(arguments: Transport.allCases)
    func aWinningMoveCutOffBeforeItsAnswerIsAcknowledged(_ transport: Transport) async throws {
        try await LiveServer.run { server in
            // Answers take 300 ms through the relay: time to cut the connection once the move is in.
            let relay = try await TCPRelay.start(to: "127.0.0.1", port: server.port, latency: TCPRelay.Latency(oneWay: .milliseconds(150)))
            let (id, ann, bob) = try await server.startedMatch()
            for (index, column) in ["1", "2", "1", "2", "1", "2"].enumerated() {
                let grant = index % 2 == 0 ? ann : bob
                let reply = try await server.request(.post, "/matches/\(id)/commands", body: #"{"type":"play","move":"\#(column)","v":\#(index + 3)}"#, token: grant.token)
                #expect(reply.status == 200, "\(reply.body)")
            }
            let options = ConnectionOptions(backoff: Backoff(initial: .milliseconds(5), maximum: .milliseconds(20)))
            let connection = try await MatchConnection.open(to: Endpoint(host: "127.0.0.1", port: relay.port), match: id,
                                                            seat: (ann.seat, ann.token), transport: .over(transport), options: options)
            async let answer = connection.send(Command(.play("1"), version: 9))
            try await waitFor { try await server.log(id).count == 11 }
            relay.cutAll()
            #expect(try await answer.version == 11, "acknowledged with the version of its ended event")
            #expect(try await server.log(id).filter { if case .moved = $0.change { true } else { false } }.count == 7)
            connection.close()
            await relay.stop()
        }
    }

    /// While the server cannot be reached, a command waits for the connection to come back,
    /// but only until its deadline, and no longer than its task wants it.
    @Test(arguments: Transport.allCases)
    func aCommandWithNoConnectionTimesOutOrIsCancelled(_ transport: Transport) async throws {
        try await LiveServer.run { server in
            let relay = try await TCPRelay.start(to: "127.0.0.1", port: server.port)
            let (id, ann, _) = try await server.startedMatch()
            let options = ConnectionOptions(commandTimeout: .milliseconds(300),
                                            backoff: Backoff(initial: .milliseconds(20), maximum: .milliseconds(50)))
            let connection = try await MatchConnection.open(to: Endpoint(host: "127.0.0.1", port: relay.port), match: id,
                                                            seat: (ann.seat, ann.token), transport: .over(transport), options: options)
            await relay.stop()
            await #expect(throws: CommandError.timedOut, "state: \(connection.state)") { try await connection.send(Command(.play("4"), version: 3)) }
            let waiting = Task { try await connection.send(Command(.play("4"), version: 3)) }
            try await Task.sleep(for: .milliseconds(50))
            waiting.cancel()
            await #expect(throws: CancellationError.self) { try await waiting.value }
            #expect(try await server.log(id).count == 3, "nothing was played")
            if case .reconnecting = connection.state {} else { Issue.record("the connection should still be trying to reconnect: \(connection.state)") }
            connection.close()
        }
    }

    /// A second command while one is on its way (a resign pressed while a move waits for a
    /// stalled server) is not sent and fails with a typed error; it once trapped.
    @Test(arguments: Transport.allCases)
    func aSecondCommandWhileOneIsOnItsWayIsRefusedNotSent(_ transport: Transport) async throws {
        try await LiveServer.run { server in
            let relay = try await TCPRelay.start(to: "127.0.0.1", port: server.port)
            let (id, ann, _) = try await server.startedMatch()
            let options = ConnectionOptions(commandTimeout: .seconds(1), backoff: Backoff(initial: .milliseconds(20), maximum: .milliseconds(50)))
            let connection = try await MatchConnection.open(to: Endpoint(host: "127.0.0.1", port: relay.port), match: id,
                                                            seat: (ann.seat, ann.token), transport: .over(transport), options: options)
            await relay.stop()
            let first = Task { try await connection.send(Command(.play("4"), version: 3)) }
            try await Task.sleep(for: .milliseconds(100))
            await #expect(throws: CommandError.busy) { try await connection.send(Command(.resign, version: 3)) }
            await #expect(throws: CommandError.timedOut) { try await first.value }
            #expect(try await server.log(id).count == 3, "nothing was played or resigned")
            connection.close()
        }
    }

    /// `ply bot` stopped by SIGTERM (or Ctrl-C) starts no more games, abandons those under way
    /// cleanly (the server is left holding none of their connections or polls) and still prints
    /// its summary.
    @Test(arguments: [SIGTERM, SIGINT])
    func aStoppedBotFleetReportsWhatItPlayed(_ signal: Int32) async throws {
        var configuration = ServerConfiguration()
        configuration.clientLimits = .off
        configuration.commandsPerSecond = 1_000_000
        try await LiveServer.run(configuration) { server in
            let output = FileManager.default.temporaryDirectory.appendingPathComponent("ply-bot-\(UUID().uuidString).txt")
            defer { try? FileManager.default.removeItem(at: output) }
            FileManager.default.createFile(atPath: output.path, contents: nil)
            let bot = Process()
            bot.executableURL = URL(fileURLWithPath: DurabilityTests.ply)
            bot.arguments = ["bot", "--server", "http://127.0.0.1:\(server.port)", "--games", "100000", "--concurrency", "4",
                             "--transport", "mixed", "--strategy", "random", "--opponent", "random"]
            bot.standardOutput = try FileHandle(forWritingTo: output)
            bot.standardError = FileHandle.nullDevice
            try bot.run()
            try await waitFor(seconds: 20) { server.server.authority.matches(status: .finished).count >= 8 }
            kill(bot.processIdentifier, signal)
            let status: Int32 = await withCheckedContinuation { continuation in
                DispatchQueue.global().async {
                    bot.waitUntilExit()
                    continuation.resume(returning: bot.terminationStatus)
                }
            }
            let text = try String(contentsOf: output, encoding: .utf8)
            #expect(status == 128 + signal, "\(text)")
            #expect(text.contains("ply bot: 100000 games"), "\(text)")
            #expect(text.contains("stopped     by \(signal == SIGINT ? "SIGINT" : "SIGTERM"):"), "\(text)")
            let finished = text.firstRange(of: "finished    ").flatMap { Int(text[$0.upperBound...].prefix { $0.isNumber }) } ?? 0
            #expect(finished > 0, "\(text)")
            try await waitFor { server.server.health().connections == 0 && server.server.health().waitingPolls == 0 }
        }
    }

    /// `auto` tries WebSocket, then Server-Sent Events, then long-polling. Refused upgrades
    /// (a server or proxy without WebSocket) settle on SSE, and the connection says why.
    @Test func autoSettlesOnServerSentEventsWhenTheUpgradeIsRefused() async throws {
        var configuration = ServerConfiguration()
        configuration.webSocket = false
        try await LiveServer.run(configuration) { server in
            let (games, connections, log) = try await playBots(server, transports: .same(.auto))
            #expect(connections.map(\.transport) == [.serverSentEvents, .serverSentEvents])
            #expect(connections.allSatisfy { $0.passedOver.map(\.transport) == [.webSocket] })
            #expect(connections[0].settledReason == "On SSE: WS upgrade refused (400).", "\(connections[0].settledReason ?? "nil")")
            expectComplete(log)
            #expect(games[0].log == log)
            // A WebSocket-only client is refused outright.
            await #expect(throws: LinkError.self) {
                _ = try await MatchConnection.open(to: server.endpoint, match: games[0].match, transport: .over(.webSocket))
            }
        }
    }

    /// Behind a proxy that strips `Upgrade` and buffers whole responses (so an event stream
    /// never shows its first bytes), `auto` passes over both and plays on long-polling.
    @Test func autoSettlesOnLongPollingBehindAProxyThatBuffersStreams() async throws {
        try await LiveServer.run { server in
            let relay = try await TCPRelay.start(to: "127.0.0.1", port: server.port, buffering: TCPRelay.ResponseBuffering(), stripsUpgrade: true)
            let options = ConnectionOptions(upgradeTimeout: .seconds(1))
            let (games, connections, log) = try await playBots(server, transports: .same(.auto),
                                                               via: Endpoint(host: "127.0.0.1", port: relay.port), options: options)
            #expect(connections.map(\.transport) == [.longPoll, .longPoll])
            #expect(connections.allSatisfy { $0.passedOver.map(\.transport) == [.webSocket, .serverSentEvents] })
            // The refusal of the upgrade is quick, but on a loaded machine it may come after the
            // second the test allows, and then reads as unanswered: either way it moved on.
            let reason = connections[0].settledReason ?? "nil"
            #expect(reason.hasPrefix("On LP: WS upgrade ") && reason.hasSuffix("; SSE stream held back (a proxy buffers it?)."), "\(reason)")
            expectComplete(log)
            #expect(games[1].log == log)
            await relay.stop()
        }
    }

    /// Behind a proxy that lets WebSockets open and cuts each one 200 ms later, `auto` does not
    /// flap between opening and failing for good: after three such cuts it moves on to SSE and
    /// stays, says why, and the games finish with nothing lost or applied twice.
    @Test func autoMovesOnFromWebSocketsCutSoonAfterOpening() async throws {
        try await LiveServer.run { server in
            let relay = try await TCPRelay.start(to: "127.0.0.1", port: server.port, cutsUpgradesAfter: .milliseconds(200))
            let options = ConnectionOptions(backoff: Backoff(initial: .milliseconds(20), maximum: .milliseconds(100)))
            let (games, connections, log) = try await playBots(server, transports: .same(.auto), via: Endpoint(host: "127.0.0.1", port: relay.port),
                                                               thinkTime: .milliseconds(100) ... .milliseconds(200), options: options)
            expectComplete(log)
            #expect(games[0].log == log && games[1].log == log)
            for connection in connections {
                #expect(connection.transport == .serverSentEvents)
                #expect(connection.passedOver.map(\.transport) == [.webSocket])
                #expect(connection.settledReason == "On SSE: WS cut 3 times soon after opening (a proxy?).", "\(connection.settledReason ?? "nil")")
                // The first WebSocket and the three cut ones' reconnections, then no more.
                #expect(connection.stats.totals.reconnects <= 4, "\(connection.stats.totals.reconnects) reconnects")
            }
            await relay.stop()
        }
    }

    /// The seat loop every player runs (`MatchConnection.play(with:)`): a watcher cannot play;
    /// a move the rules refuse ends the game for that player with the server's refusal; a move
    /// the game moved past while the seat thought (the opponent resigned) is let go, and the
    /// loop returns the finished match, its setup and acknowledgements seen by the hooks.
    @Test(arguments: [Transport.webSocket, .longPoll, .serverSentEvents])
    func theSeatLoopLetsGoOfWhatTheGameMovedPastAndStopsOnOtherRefusals(_ transport: Transport) async throws {
        /// Plays its moves in turn, running each turn's action (the opponent's doing) first.
        struct Scripted: SeatHooks {
            var moves: [String]
            var actions: [@Sendable () async throws -> Void] = []
            var acknowledged = 0
            func setup(for match: Match) -> String? { nil }
            mutating func move(in match: Match, turnBegan: ContinuousClock.Instant) async throws -> String? {
                if !actions.isEmpty { try await actions.removeFirst()() }
                return moves.isEmpty ? nil : moves.removeFirst()
            }
            mutating func acknowledged(sentAt sent: ContinuousClock.Instant) { acknowledged += 1 }
        }
        try await LiveServer.run { server in
            let (id, ann, bob) = try await server.startedMatch()
            let watcher = try await MatchConnection.open(to: server.endpoint, match: id, transport: .over(transport))
            var idle = Scripted(moves: [])
            await #expect(throws: SeatError.self) { _ = try await watcher.play(with: &idle) }
            watcher.close()

            // Column 9 does not exist: the server's refusal ends the loop.
            let first = try await MatchConnection.open(to: server.endpoint, match: id, seat: (ann.seat, ann.token), transport: .over(transport))
            var wrong = Scripted(moves: ["9"])
            do {
                _ = try await first.play(with: &wrong)
                Issue.record("an illegal move was not refused")
            } catch SeatError.refused(let error) {
                #expect(error.code == .outOfRange, "\(error)")
            }
            first.close()

            // A legal move; the opponent answers; then, as the seat thinks about its next one,
            // the opponent resigns: the move, now against a past version, is let go, and the
            // loop ends with the finished match.
            let again = try await MatchConnection.open(to: server.endpoint, match: id, seat: (ann.seat, ann.token), transport: .over(transport))
            let play = Task {
                var hooks = Scripted(moves: ["4", "4"], actions: [
                    {},
                    { _ = try await server.request(.post, "/matches/\(id)/commands", body: #"{"type":"resign","v":5}"#, token: bob.token) },
                ])
                let match = try await again.play(with: &hooks)
                return (match, hooks.acknowledged)
            }
            try await waitFor(seconds: 20) { again.lastVersion == 4 }
            _ = try await server.request(.post, "/matches/\(id)/commands", body: #"{"move":"3","type":"play","v":4}"#, token: bob.token)
            let (match, acknowledged) = try await play.value
            #expect(match.status == .finished)
            #expect(match.result?.winner == .first)
            #expect(acknowledged == 1, "the first move was taken, the second let go")
            #expect(match.events == (try await server.log(id)))
            again.close()
        }
    }

    /// Once a seat has the match's last event, its session asks for nothing more: a long poll
    /// after it would wait out its whole `wait` (25 s) for nothing, at the server, for every
    /// finished game (an event stream is ended by the server). Commands still go, and are
    /// answered as after the end.
    @Test(arguments: [Transport.longPoll, .serverSentEvents])
    func aSeatAsksForNothingAfterItsMatchsLastEvent(_ transport: Transport) async throws {
        try await LiveServer.run { server in
            let (id, ann, bob) = try await server.startedMatch()
            let connection = try await MatchConnection.open(to: server.endpoint, match: id, seat: (ann.seat, ann.token), transport: .over(transport))
            _ = try await server.request(.post, "/matches/\(id)/commands", body: #"{"type":"resign","v":3}"#, token: bob.token)
            let last = try #require(try await server.log(id).last)
            try await waitFor(seconds: 20) { connection.lastVersion == last.version }
            // The old client polled again at once, from the answer's own completion.
            try await Task.sleep(for: .milliseconds(500))
            let health = server.server.health()
            #expect(health.waitingPolls == 0 && health.streams == 0, "\(health)")
            do {
                _ = try await connection.send(.play("4"))
                Issue.record("a move after the end was taken")
            } catch CommandError.refused(let error) {
                #expect(error.code == .finished, "\(error)")
            }
            connection.close()
        }
    }

    /// The same seat loop driven from the connection's event loop (`SeatDriver`, the
    /// benchmark's seats): a move the rules refuse ends the game with the server's refusal; a
    /// legal move is sent when it is due, on the version it was chosen on, and acknowledged; a
    /// move still being thought about when the opponent resigns is dropped, and the driver
    /// returns the finished match.
    @Test(arguments: [Transport.webSocket, .longPoll, .serverSentEvents])
    func theDrivenSeatLoopPlaysByTheSameRules(_ transport: Transport) async throws {
        struct Scripted: ScheduledSeatHooks {
            var moves: [(String, Duration)]
            var acknowledged = 0
            var lateness: [Duration] = []
            func setup(for match: Match) -> String? { nil }
            mutating func scheduledMove(in match: Match, turnBegan: ContinuousClock.Instant) -> (move: String, due: ContinuousClock.Instant)? {
                guard !moves.isEmpty else { return nil }
                let (move, think) = moves.removeFirst()
                return (move, turnBegan + think)
            }
            mutating func sending(due: ContinuousClock.Instant, at now: ContinuousClock.Instant) { lateness.append(now - due) }
            mutating func acknowledged(sentAt sent: ContinuousClock.Instant) { acknowledged += 1 }
        }
        @Sendable func driven(_ hooks: Scripted, _ id: String, _ grant: SeatGrant, _ port: Int) async throws -> (PlyClient.SeatDriver<Scripted>, MatchConnection) {
            let driver = PlyClient.SeatDriver(seat: grant.seat, hooks: hooks)
            let connection = try await MatchConnection.open(to: Endpoint(host: "127.0.0.1", port: port), match: id, seat: (grant.seat, grant.token),
                                                            transport: .over(transport), onUpdate: driver.onUpdate)
            driver.attach(connection)
            return (driver, connection)
        }
        try await LiveServer.run { server in
            let (id, ann, bob) = try await server.startedMatch()
            // Column 9 does not exist: the server's refusal ends the game for the driver.
            let (wrong, first) = try await driven(Scripted(moves: [("9", .zero)]), id, ann, server.port)
            do {
                _ = try await wrong.play()
                Issue.record("an illegal move was not refused")
            } catch SeatError.refused(let error) {
                #expect(error.code == .outOfRange, "\(error)")
            }
            first.close()

            // A legal move after 200 ms of thought; the opponent answers; the next move is still
            // being thought about (a minute) when the opponent resigns.
            let (driver, again) = try await driven(Scripted(moves: [("4", .milliseconds(200)), ("4", .seconds(60))]), id, ann, server.port)
            try await waitFor(seconds: 20) { again.lastVersion == 4 }
            _ = try await server.request(.post, "/matches/\(id)/commands", body: #"{"move":"3","type":"play","v":4}"#, token: bob.token)
            try await waitFor(seconds: 20) { again.lastVersion == 5 }
            _ = try await server.request(.post, "/matches/\(id)/commands", body: #"{"type":"resign","v":5}"#, token: bob.token)
            let match = try await driver.play()
            #expect(match.status == .finished)
            #expect(match.result?.winner == .first)
            #expect(driver.hooks.acknowledged == 1 && driver.hooks.moves.isEmpty, "the first move taken, the second chosen and dropped")
            #expect(driver.hooks.lateness.count == 1 && driver.hooks.lateness.allSatisfy { $0 >= .zero }, "sent when due, not before")
            #expect(match.events == (try await server.log(id)))
            again.close()
        }
    }

    /// A connection cut where no FIN comes back (a NAT that forgot it) is noticed by what
    /// should have come and did not (a stream's heartbeat, a WebSocket's pong, a poll's answer),
    /// taken for lost, and resumed with nothing missed; while those come, the same bounds never
    /// trip, however long the match stays quiet.
    @Test(arguments: Transport.allCases)
    func aConnectionCutSilentlyIsNoticedAndResumed(_ transport: Transport) async throws {
        var configuration = ServerConfiguration()
        configuration.streamHeartbeat = .milliseconds(200)
        try await LiveServer.run(configuration) { server in
            let relay = try await TCPRelay.start(to: "127.0.0.1", port: server.port)
            let (id, ann, _) = try await server.startedMatch()
            // Bounds many heartbeats, pings or polls long: a loaded machine delays one, not all.
            // (A ping unanswered by the next one is a dead peer: 3 s, past a busy suite's stalls;
            // a poll is given its wait again to answer: 2 s more.)
            let options = ConnectionOptions(pollWait: .seconds(2), pingInterval: .seconds(3), streamSilence: .seconds(5),
                                            backoff: Backoff(initial: .milliseconds(20), maximum: .milliseconds(100)))
            let watcher = try await MatchConnection.open(to: Endpoint(host: "127.0.0.1", port: relay.port), match: id,
                                                         transport: .over(transport), options: options)
            // Quiet for longer than the stream's bound, with heartbeats, pongs and polls: no reconnection.
            try await Task.sleep(for: .seconds(6))
            #expect(watcher.stats.totals.reconnects == 0, "the connection was kept")
            relay.silenceAll()
            _ = try await server.request(.post, "/matches/\(id)/commands", body: #"{"move":"4","type":"play","v":3}"#, token: ann.token)
            // Lost once nothing came for the bound, then resumed after 3 through the relay.
            // (A reconnection is counted once its session is up, a moment after it delivers.)
            try await waitFor(seconds: 40) { watcher.lastVersion == 4 && watcher.stats.totals.reconnects >= 1 }
            #expect(watcher.log == (try await server.log(id)))
            watcher.close()
            await relay.stop()
        }
    }

    /// Checks that the connections counted at their sockets exactly the bytes the relay carried,
    /// and returns their totals. (The last bytes, closing handshakes, may still be on their way
    /// on a busy machine: they are waited for a while.)
    func expectCountsMatch(_ connections: [MatchConnection], _ relay: TCPRelay) async throws -> WireTotals {
        var totals = WireTotals()
        for _ in 0..<40 {
            totals = connections.map { $0.stats.totals }.reduce(WireTotals(), +)
            if totals.bytesSent == relay.counts.upstream, totals.bytesReceived == relay.counts.downstream { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(totals.bytesSent == relay.counts.upstream)
        #expect(totals.bytesReceived == relay.counts.downstream)
        return totals
    }

    /// The bytes each client counted at its sockets are exactly the bytes the relay carried.
    @Test(arguments: [SeatTransports.same(.over(.webSocket)), .same(.over(.longPoll))])
    func wireCountsMatchAnIndependentCount(_ transports: SeatTransports) async throws {
        try await LiveServer.run { server in
            let relay = try await TCPRelay.start(to: "127.0.0.1", port: server.port)
            let (_, connections, _) = try await playBots(server, transports: transports, via: Endpoint(host: "127.0.0.1", port: relay.port))
            let totals = try await expectCountsMatch(connections, relay)
            #expect(totals.payloadSent > 0 && totals.overheadSent > 0)
            #expect(totals.payloadReceived > 0 && totals.overheadReceived > 0)
            await relay.stop()
        }
    }

    @Test(arguments: Transport.allCases)
    func aSpectatorSeesEverythingAndCannotMove(_ transport: Transport) async throws {
        try await LiveServer.run { server in
            let (id, ann, _) = try await server.startedMatch()
            let spectator = try await MatchConnection.open(to: server.endpoint, match: id, transport: .over(transport))
            _ = try await server.request(.post, "/matches/\(id)/commands", body: #"{"move":"4","type":"play","v":3}"#, token: ann.token)
            var seen: [MatchEvent] = []
            for await case .event(let event) in spectator.updates {
                seen.append(event)
                if seen.count == 4 { break }
            }
            #expect(seen == (try await server.log(id)))
            do {
                try await spectator.send(.play("3"))
                Issue.record("a spectator's move was acknowledged")
            } catch CommandError.refused(let error) {
                #expect(error.code == .missingToken)
            }
            spectator.close()
        }
    }

    @Test func connectingToAnUnknownMatchFails() async throws {
        try await LiveServer.run { server in
            for transport in TransportChoice.arguments.compactMap(TransportChoice.init(argument:)) {
                await #expect(throws: WireError.self) {
                    _ = try await MatchConnection.open(to: server.endpoint, match: "nope", transport: transport)
                }
            }
        }
    }
}

struct Labelled: Error, CustomStringConvertible {
    let label: String
    let error: any Error
    var description: String { "\(label): \(error)" }
}

/// Runs a step, naming it in any error it throws.
func labelled<T>(_ label: String, _ body: () async throws -> T) async throws -> T {
    do { return try await body() } catch { throw Labelled(label: label, error: error) }
}

extension SeatTransports: CustomTestStringConvertible {
    public var testDescription: String { argument }
}
