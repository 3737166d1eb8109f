import Foundation
import NIOWebSocket
import PlyBench
import PlyBots
import PlyClient
import PlyEngine
import PlyServer
import PlyStore
import PlyWire
import Testing

/// Matches kept in SQLite: made durable before they are acknowledged, rebuilt after a crash.
@Suite(.timeLimit(.minutes(2)))
struct DurabilityTests {
    /// The `ply` binary that `swift test` built next to this test bundle.
    static let ply = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("ply").path

    static func temporaryStorePath() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("ply-test-\(UUID().uuidString).sqlite").path
    }

    static func removeStore(_ path: String) {
        SQLiteStore.remove(path: path)
    }

    /// Two bots play over both transports while the server is killed with SIGKILL mid-game and
    /// started again on the same file and port: both finish, and both logs and the server's
    /// are the same complete log; `ply replay` prints it from the file.
    @Test func aServerKilledMidGameIsRebuiltAndTheGameFinishes() async throws {
        let data = Self.temporaryStorePath()
        defer { Self.removeStore(data) }
        let servers = Children()
        do {
            try await killAndRestart(data: data, servers: servers)
        } catch {
            await servers.stopAll()
            throw error
        }
    }

    private func killAndRestart(data: String, servers: Children) async throws {
        let arguments = ["serve", "--log-level", "warning", "--data", data]
        var server = try await servers.start(Self.ply, arguments + ["--port", "0"])
        let port = server.port
        let endpoint = Endpoint(host: "127.0.0.1", port: port)
        let api = PlyAPI(endpoint: endpoint)
        let match = try await api.createMatch(.reversi).id
        let options = ConnectionOptions(commandTimeout: .seconds(20), backoff: Backoff(initial: .milliseconds(50), maximum: .milliseconds(200)))
        var connections: [MatchConnection] = []
        for (name, transport) in [("ann", Transport.webSocket), ("bob", .longPoll)] {
            let grant = try await api.join(match, name: name)
            connections.append(try await MatchConnection.open(to: endpoint, match: match, seat: (grant.seat, grant.token),
                                                              transport: .over(transport), options: options))
        }
        await api.close()
        let seats = connections
        let think: ClosedRange<Duration> = .milliseconds(5) ... .milliseconds(15)
        async let first = BotPlayer(strategy: .greedy, seed: 1, thinkTime: think).play(seats[0])
        async let second = BotPlayer(strategy: .random, seed: 2, thinkTime: think).play(seats[1])

        // Kill the server once the game is well under way, then start it again.
        while connections[0].lastVersion < 12 { try await Task.sleep(for: .milliseconds(5)) }
        await server.kill(SIGKILL)
        let versionAtCrash = connections[0].lastVersion
        try await Task.sleep(for: .milliseconds(200))
        server = try await servers.start(Self.ply, arguments + ["--port", "\(port)"])

        let games = try await [first, second]
        let reader = PlyAPI(endpoint: endpoint)
        let log = try await reader.events(match, after: 0)
        await reader.close()
        #expect(log.map(\.version) == Array(1...log.count))
        if case .ended = log.last?.change {} else { Issue.record("the game did not end: \(log.last.map { "\($0)" } ?? "no events")") }
        #expect(log.count > versionAtCrash, "the game went on after the restart")
        #expect(games[0].log == log)
        #expect(games[1].log == log)
        #expect(connections.allSatisfy { $0.stats.totals.reconnects >= 1 }, "both clients reconnected")
        for connection in connections { connection.close() }
        await server.stop()

        // The file holds the same log, and `ply replay` prints it.
        let store = try await SQLiteStore.open(path: data)
        let stored = try #require(try await store.match(match))
        await store.close()
        #expect(try stored.events.map { try WireCoding.decoder.decode(MatchEvent.self, from: $0) } == log)
        let replay = try await runPly(["replay", match, "--data", data])
        #expect(replay.contains("Match \(match) · Reversi"))
        #expect(replay.contains("Result: "), "\(replay)")
        let moves = log.filter { if case .moved = $0.change { true } else { false } }.count
        #expect(replay.contains("\(String(moves).count < 3 ? String(repeating: " ", count: 3 - String(moves).count) : "")\(moves). "))
    }

    /// A server stopped and started again on its file has every match, and every seat token
    /// still acts for its seat.
    @Test func aRestartedServerKeepsMatchesAndTokens() async throws {
        let data = Self.temporaryStorePath()
        defer { Self.removeStore(data) }
        let (id, ann, bob) = try await LiveServer.run(store: try await SQLiteStore.open(path: data)) { server in
            let (id, ann, bob) = try await server.startedMatch()
            let reply = try await server.request(.post, "/matches/\(id)/commands", body: #"{"move":"4","type":"play","v":3}"#, token: ann.token)
            #expect(reply.status == 200, "\(reply.body)")
            return (id, ann, bob)
        }
        try await LiveServer.run(store: try await SQLiteStore.open(path: data)) { server in
            let snapshot = try await server.snapshot(id)
            #expect(snapshot.version == 4)
            #expect(snapshot.status == .playing)
            #expect(snapshot.lastMove == "4")
            let wrongSeat = try await server.request(.post, "/matches/\(id)/commands", body: #"{"move":"3","type":"play","v":4}"#, token: ann.token)
            #expect(wrongSeat.errorCode == "match/not_your_turn")
            let reply = try await server.request(.post, "/matches/\(id)/commands", body: #"{"move":"3","type":"play","v":4}"#, token: bob.token)
            #expect(reply.status == 200, "\(reply.body)")
            // New matches go on from the stored ones.
            let newer = try await server.createMatch()
            let listed = try await server.request(.get, "/matches").decode([MatchSnapshot].self).map(\.id)
            #expect(listed == [newer, id])
        }
    }

    /// Memory follows live play: a finished match leaves memory once its result is durable, and
    /// is served from the store over both transports (snapshot, `events?after=0`, a WebSocket's
    /// backlog, `ply replay --server`), listed still, and the same after a restart.
    @Test func aFinishedMatchLeavesMemoryAndIsServedFromTheStore() async throws {
        let data = Self.temporaryStorePath()
        defer { Self.removeStore(data) }
        var configuration = ServerConfiguration()
        configuration.finishedMatchesHeld = 0
        let (id, log, snapshot) = try await LiveServer.run(configuration, store: try await SQLiteStore.open(path: data)) { server in
            let (id, ann, bob) = try await server.startedMatch()
            let playing = try await server.createMatch()
            let authority = server.server.authority
            #expect(authority.residentMatchCount == 2)
            let version = try await server.playToAWin(id, ann, bob)
            #expect(authority.residentMatchCount == 1, "the finished match left memory; the other stays")
            #expect(authority.liveMatchCount == 1)
            let snapshot = try await server.snapshot(id)
            #expect(snapshot.status == .finished && snapshot.version == version)
            let log = try await server.log(id)
            #expect(log.map(\.version) == Array(1...version))
            // A spectator's WebSocket gets the whole backlog; a move is refused as for any finished match.
            let spectator = try await server.webSocket("/matches/\(id)/ws?after=0")
            var backlog: [MatchEvent] = []
            while backlog.count < version, let message = try await spectator.next() {
                if case .event(let event) = message { backlog.append(event) }
            }
            #expect(backlog == log)
            spectator.link.close()
            let refused = try await server.request(.post, "/matches/\(id)/commands", body: #"{"move":"3","type":"play","v":\#(version)}"#, token: bob.token)
            #expect(refused.errorCode == "match/finished")
            #expect(try await server.request(.get, "/matches").decode([MatchSnapshot].self).map(\.id) == [playing, id])
            let replay = try await runPly(["replay", id, "--server", "http://127.0.0.1:\(server.port)", "--text"])
            #expect(replay.contains("Match \(id) · Connect Four") && replay.contains("Result: "), "\(replay)")
            #expect(authority.residentMatchCount == 1, "read for each request, held by none")
            return (id, log, snapshot)
        }
        try await LiveServer.run(configuration, store: try await SQLiteStore.open(path: data)) { server async throws in
            #expect(server.server.authority.liveMatchCount == 1, "only the unfinished match is rebuilt")
            #expect(try await server.snapshot(id) == snapshot)
            #expect(try await server.log(id) == log)
            #expect(try await server.request(.get, "/matches?status=finished").decode([MatchSnapshot].self) == [snapshot])
        }
    }

    /// A match idle for longer than the limit expires: requests get `match/expired` (410), its
    /// WebSockets are closed with 4410, and its log stays in the store.
    @Test func anIdleMatchExpiresAndItsLogStays() async throws {
        let data = Self.temporaryStorePath()
        defer { Self.removeStore(data) }
        var configuration = ServerConfiguration()
        configuration.matchIdleTimeout = .seconds(3600)
        configuration.defaultMoveTimeLimit = nil  // a running turn clock would end the match first
        let store = try await SQLiteStore.open(path: data)
        try await LiveServer.run(configuration, store: store) { server in
            let (id, _, _) = try await server.startedMatch()
            let busy = try await server.createMatch()
            let watcher = try await server.webSocket("/matches/\(id)/ws")
            for _ in 0..<4 { _ = try await watcher.next() }  // the welcome and the backlog
            let expired = await server.server.authority.expireIdleMatches(now: .now + .seconds(3600))
            #expect(Set(expired) == [id, busy])
            let reply = try await server.request(.get, "/matches/\(id)")
            #expect(reply.status == 410)
            #expect(reply.errorCode == "match/expired")
            #expect(await watcher.closed() == WebSocketErrorCode(codeNumber: 4410))
            #expect(try await server.request(.get, "/matches").decode([MatchSnapshot].self).isEmpty)
        }
        let reopened = try await SQLiteStore.open(path: data)
        #expect(try await reopened.liveMatches().isEmpty, "expired matches are not rebuilt")
        #expect(try await reopened.matchIDs(limit: 10).count == 2, "but their logs stay")
        await reopened.close()
    }
}

/// Child processes a test started, so that a failing test stops them too.
actor Children {
    private var started: [ChildProcess] = []

    func start(_ executable: String, _ arguments: [String], log: URL? = nil) async throws -> ChildProcess {
        let child = try await ChildProcess.start(executable, arguments, log: log)
        started.append(child)
        return child
    }

    func stopAll() async {
        for child in started { await child.stop(grace: .seconds(2)) }
    }
}

/// Runs the `ply` binary built with the tests and returns what it printed.
func runPly(_ arguments: [String]) async throws -> String {
    try await ChildProcess.run(DurabilityTests.ply, arguments).output
}
