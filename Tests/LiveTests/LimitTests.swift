import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOWebSocket
import PlyBench
import PlyBots
import PlyClient
import PlyEngine
import PlyServer
import PlyStore
import Synchronization
import PlyWire
import Testing

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}

/// The server's documented limits, each met by a client that passes it.
@Suite(.timeLimit(.minutes(1)))
struct LimitTests {
    static let badCommand = ByteBuffer(string: #"{"type":"play","move":"9","v":3}"#)

    /// A seat's commands share one budget, whatever connections they come on (200 commands on
    /// 200 new connections used to be accepted); another seat has a budget of its own.
    @Test func commandsBeyondTheRateOfASeatAreRefusedOnAnyConnection() async throws {
        var configuration = ServerConfiguration()
        configuration.commandsPerSecond = 0.001
        configuration.commandBurst = 3
        try await LiveServer.run(configuration) { server in
            let (id, ann, bob) = try await server.startedMatch()
            var codes: [String] = []
            for _ in 0..<5 {
                // Each request on a fresh connection.
                let reply = try await server.request(.post, "/matches/\(id)/commands", body: String(buffer: Self.badCommand), token: ann.token)
                codes.append(reply.errorCode ?? "\(reply.status)")
            }
            #expect(codes == Array(repeating: "rule/out_of_range", count: 3) + Array(repeating: "request/rate_limited", count: 2))
            let other = try await server.request(.post, "/matches/\(id)/commands", body: #"{"type":"play","move":"4","v":3}"#, token: bob.token)
            #expect(other.errorCode == "match/not_your_turn", "the other seat's budget is its own: \(other.body)")
            #expect(try await server.snapshot(id).version == 3, "nothing was played")
        }
    }

    @Test func messagesBeyondTheRateOfAWebSocketAreRefused() async throws {
        var configuration = ServerConfiguration()
        configuration.commandsPerSecond = 0.001
        configuration.commandBurst = 3
        try await LiveServer.run(configuration) { server in
            let (id, ann, _) = try await server.startedMatch()
            let socket = try await server.webSocket("/matches/\(id)/ws?after=3", token: ann.token)
            _ = try await socket.next()  // welcome
            for _ in 0..<5 { socket.send(String(buffer: Self.badCommand)) }
            var codes: [String] = []
            while codes.count < 5, case .error(let error) = try await socket.next() { codes.append(error.code.rawValue) }
            #expect(codes == Array(repeating: "rule/out_of_range", count: 3) + Array(repeating: "request/rate_limited", count: 2))
            socket.link.close()
            #expect(await socket.closed() == .normalClosure, "a rate-limited connection stays open")
        }
    }

    /// A seat's newer poll ends its older one with `[]`; spectators' polls are not limited.
    @Test func aSeatHasOnePollWaiting() async throws {
        try await LiveServer.run { server in
            let (id, ann, _) = try await server.startedMatch()
            let path = "/matches/\(id)/events?after=3&wait=30"
            async let older = server.request(.get, path, token: ann.token)
            async let spectator = server.request(.get, path)
            try await waitFor { server.server.health().waitingPolls == 2 }
            async let newer = server.request(.get, path, token: ann.token)
            let first = try await older
            #expect(first.status == 200)
            #expect(first.body == "[]", "the older poll of the seat ends empty")
            try await waitFor { server.server.health().waitingPolls == 2 }
            _ = try await server.request(.post, "/matches/\(id)/commands", body: #"{"type":"play","move":"4","v":3}"#, token: ann.token)
            #expect(try await newer.decode([MatchEvent].self).map(\.version) == [4])
            #expect(try await spectator.decode([MatchEvent].self).map(\.version) == [4])
        }
    }

    /// A client that goes away leaves no poll waiting on the server.
    @Test func aPollEndsWhenItsConnectionCloses() async throws {
        try await LiveServer.run { server in
            let id = try await server.createMatch()
            let link = try await HTTPLink.connect(to: server.endpoint, stats: WireStats())
            let answer: EventLoopFuture<HTTPLink.Response> = link.send(.GET, "/matches/\(id)/events?after=1&wait=60", timeout: .seconds(60))
            try await waitFor { server.server.health().waitingPolls == 1 }
            link.close()
            _ = try? await answer.get()
            try await waitFor { server.server.health().waitingPolls == 0 }
        }
    }

    @Test func connectionsBeyondTheLimitAreClosed() async throws {
        var configuration = ServerConfiguration()
        configuration.maxConnections = 3
        try await LiveServer.run(configuration) { server in
            var links: [HTTPLink] = []
            for _ in 0..<3 {
                let link = try await HTTPLink.connect(to: server.endpoint, stats: WireStats())
                #expect(try await link.send(.GET, "/health").status == .ok)
                links.append(link)
            }
            let extra = try await HTTPLink.connect(to: server.endpoint, stats: WireStats())
            await #expect(throws: (any Error).self) { _ = try await extra.send(.GET, "/health") }
            links.removeLast().close()
            try await waitFor { server.server.health().connections < 3 }
            let again = try await HTTPLink.connect(to: server.endpoint, stats: WireStats())
            #expect(try await again.send(.GET, "/health").status == .ok)
            for link in links + [extra, again] { link.close() }
        }
    }

    /// `--allow-origin` covers WebSocket upgrades and HTTP requests alike; a request without
    /// an `Origin` (not from a browser) is always allowed. (Every case of CORS: FrontDoorTests.)
    @Test func requestsFromAnOriginNotAllowedAreRefused() async throws {
        var configuration = ServerConfiguration()
        configuration.allowedOrigins = ["https://ply.example"]
        try await LiveServer.run(configuration) { server in
            let id = try await server.createMatch()
            let evil = try await server.request(.post, "/matches/\(id)/seats", body: #"{"name":"cy"}"#, headers: [.origin: "https://evil.example"])
            #expect(evil.status == 403)
            #expect(evil.errorCode == "request/forbidden_origin")
            // What it may read is answered, without a grant: its browser keeps it from the page.
            let read = try await server.request(.get, "/matches/\(id)", headers: [.origin: "https://evil.example"])
            #expect(read.status == 200 && read.headers[.accessControlAllowOrigin] == nil)
            #expect(try await server.request(.get, "/matches/\(id)", headers: [.origin: "https://ply.example"]).headers[.accessControlAllowOrigin] == "https://ply.example")
            #expect(try await server.snapshot(id).seats.allSatisfy { $0.name == nil }, "nothing was joined")
            let path = "/matches/\(id)/ws"
            let refused = TestSocket(try await WebSocketLink.connect(to: server.endpoint, path: path, headers: [("Origin", "https://evil.example")], stats: WireStats()))
            guard case .error(let error) = try await refused.next() else { Issue.record("no error"); return }
            #expect(error.code == .forbiddenOrigin)
            #expect(await refused.closed() == WebSocketErrorCode(codeNumber: 4403))
            for headers in [[("Origin", "https://ply.example")], []] {
                let allowed = TestSocket(try await WebSocketLink.connect(to: server.endpoint, path: path, headers: headers, stats: WireStats()))
                guard case .welcome = try await allowed.next() else { Issue.record("not welcomed with \(headers)"); return }
                allowed.link.close()
            }
        }
    }

    /// A WebSocket client that stops reading, watching a match, does not slow the two players
    /// of that match: events are broadcast by flipping a flag in each connection's outbox, and
    /// only that connection's writer waits on its socket. A server with such a client still
    /// shuts down (its socket is dropped when the grace period ends).
    @Test func aWebSocketThatStopsReadingDoesNotSlowOthers() async throws {
        var configuration = ServerConfiguration()
        configuration.webSocketSendBuffer = 4096
        configuration.shutdownGrace = .seconds(1)
        try await LiveServer.run(configuration) { server in
            let api = PlyAPI(endpoint: server.endpoint)
            let match = try await api.createMatch(.connect4).id
            let stuck = try await server.webSocket("/matches/\(match)/ws?after=0")
            stuck.link.stopReading()
            var seats: [MatchConnection] = []
            for name in ["cy", "di"] {
                let grant = try await api.join(match, name: name)
                seats.append(try await MatchConnection.open(to: server.endpoint, match: match, seat: (grant.seat, grant.token), transport: .over(.webSocket)))
            }
            await api.close()
            let players = seats
            async let first = BotPlayer(strategy: .random, seed: 1).play(players[0])
            async let second = BotPlayer(strategy: .random, seed: 2).play(players[1])
            let games = try await [first, second]
            #expect(games[0].log == games[1].log)
            #expect(games[0].log.last.map { if case .ended = $0.change { true } else { false } } == true)
            for seat in seats { seat.close() }
        }
    }

    /// One client's creations, joins and upgrades each have a budget; its live matches are capped.
    @Test func aClientsCreationsJoinsAndUpgradesHaveBudgets() async throws {
        var configuration = ServerConfiguration()
        configuration.clientLimits = ClientLimits(creationsPerSecond: 0.001, creationBurst: 3, joinsPerSecond: 0.001, joinBurst: 2,
                                                  upgradesPerSecond: 0.001, upgradeBurst: 2)
        try await LiveServer.run(configuration) { server in
            var created: [String] = []
            var refused: [String] = []
            for _ in 0..<5 {
                let reply = try await server.request(.post, "/matches", body: #"{"game":"connect4"}"#)
                if reply.status == 201 { created.append(try reply.decode(MatchSnapshot.self).id) } else { refused.append(reply.errorCode ?? "") }
            }
            #expect(created.count == 3)
            #expect(refused == ["request/rate_limited", "request/rate_limited"])
            let joins = try await [created[0], created[0], created[1]].asyncMap { id in
                try await server.request(.post, "/matches/\(id)/seats", body: #"{"name":"cy"}"#)
            }
            #expect(joins.map(\.status) == [201, 201, 429])
            for expected in [true, true, false] {
                let socket = try await server.webSocket("/matches/\(created[1])/ws")
                let first = try await socket.next()
                if expected {
                    guard case .welcome = first else { Issue.record("not welcomed: \(String(describing: first))"); return }
                    socket.link.close()
                } else {
                    guard case .error(let error) = first else { Issue.record("not refused: \(String(describing: first))"); return }
                    #expect(error.code == .rateLimited)
                    #expect(await socket.closed() == WebSocketErrorCode(codeNumber: 4429))
                }
            }
        }
    }

    /// A client may have so many unfinished matches, and the server so many in all; a match
    /// that ends gives its place back.
    @Test func liveMatchesAreCappedPerClientAndInAll() async throws {
        var configuration = ServerConfiguration()
        configuration.clientLimits = ClientLimits(liveMatches: 2)
        try await LiveServer.run(configuration) { server in
            let (first, _, bob) = try await server.startedMatch()
            _ = try await server.createMatch()
            let refused = try await server.request(.post, "/matches", body: #"{"game":"connect4"}"#)
            #expect(refused.status == 429)
            #expect(refused.errorCode == "request/rate_limited")
            _ = try await server.request(.post, "/matches/\(first)/commands", body: #"{"type":"resign","v":3}"#, token: bob.token)
            try await waitFor { try await server.request(.post, "/matches", body: #"{"game":"connect4"}"#).status == 201 }
        }
        configuration = ServerConfiguration()
        configuration.maxLiveMatches = 2
        try await LiveServer.run(configuration) { server in
            _ = try await server.createMatch()
            _ = try await server.createMatch()
            let refused = try await server.request(.post, "/matches", body: #"{"game":"connect4"}"#)
            #expect(refused.status == 503)
            #expect(refused.errorCode == "server/at_capacity")
        }
    }

    /// Behind a trusted proxy the client is the one `X-Forwarded-For` names (the nearest
    /// address that is not a trusted proxy, so a client cannot pick its own by sending the
    /// header); from any other peer the header is ignored.
    @Test func aTrustedProxyNamesTheClient() async throws {
        /// The status of a creation forwarded for each header, in turn.
        @Sendable func statuses(_ server: LiveServer, _ forwarded: [String]) async throws -> [Int] {
            var statuses: [Int] = []
            for header in forwarded {
                let reply = try await server.request(.post, "/matches", body: #"{"game":"connect4"}"#, headers: [HTTPField.Name("X-Forwarded-For")!: header])
                statuses.append(reply.status)
            }
            return statuses
        }
        var configuration = ServerConfiguration()
        configuration.clientLimits = ClientLimits(liveMatches: 1)
        configuration.trustedProxies = ["127.0.0.1"]
        try await LiveServer.run(configuration) { server in
            // A client, the same at its limit, another, the first behind an address it made up
            // (still itself), and one behind a chain of trusted proxies (skipped).
            let seen = try await statuses(server, ["10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.9, 10.0.0.1", "10.0.0.3, 127.0.0.1"])
            #expect(seen == [201, 429, 201, 429, 201])
        }
        configuration.trustedProxies = []
        try await LiveServer.run(configuration) { server in
            let seen = try await statuses(server, ["10.0.0.1", "10.0.0.2"])
            #expect(seen == [201, 429], "an untrusted peer's header is ignored")
        }
    }

    /// One client may have so many polls waiting, and so many connections open.
    @Test func aClientsWaitingPollsAndConnectionsAreCapped() async throws {
        var configuration = ServerConfiguration()
        configuration.clientLimits = ClientLimits(connections: 4, waitingPolls: 2)
        try await LiveServer.run(configuration) { server in
            let id = try await server.createMatch()
            let path = "/matches/\(id)/events?after=1&wait=20"
            let waiting = (0..<2).map { _ in Task { try await server.request(.get, path) } }
            try await waitFor { server.server.health().waitingPolls == 2 }
            let third = try await server.request(.get, path)
            #expect(third.status == 429, "\(third.body)")
            #expect(third.errorCode == "request/rate_limited")
            // Two connections wait, the third closed (once the server has seen it go); two more
            // may open, not a fifth.
            try await waitFor { server.server.health().connections == 2 }
            // One at a time: connections are admitted on their own event loops, so three opened at
            // once could be counted in any order.
            var open: [RawClient] = []
            for count in 3...4 {
                open.append(try await RawClient.connect(port: server.port))
                try await waitFor { server.server.health().connections == count }
            }
            let fifth = try await RawClient.connect(port: server.port)
            #expect(await fifth.closedByServer(within: 20))
            for client in open { client.close() }
            for poll in waiting { poll.cancel() }
        }
    }

    /// Listing matches by status gives the newest first, whatever has happened to them.
    @Test func matchesAreListedByStatusNewestFirst() async throws {
        try await LiveServer.run { server in
            let waiting = try await server.createMatch()
            let (playing, _, _) = try await server.startedMatch()
            let (finished, _, bob) = try await server.startedMatch()
            _ = try await server.request(.post, "/matches/\(finished)/commands", body: #"{"type":"resign","v":3}"#, token: bob.token)
            let newer = try await server.createMatch()
            func list(_ query: String) async throws -> [String] {
                try await server.request(.get, "/matches\(query)").decode([MatchSnapshot].self).map(\.id)
            }
            #expect(try await list("?status=waiting") == [newer, waiting])
            #expect(try await list("?status=playing") == [playing])
            #expect(try await list("?status=finished") == [finished])
            #expect(try await list("") == [newer, finished, playing, waiting])
            #expect(try await list("?limit=2") == [newer, finished])
        }
    }

    /// Many clients coming and going leave nothing behind on the server: no connections, no
    /// polls, no file descriptors.
    @Test func connectionChurnLeavesNothingBehind() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("ply-churn-\(UUID().uuidString).sqlite").path
        defer { SQLiteStore.remove(path: data) }
        let children = Children()
        let server = try await children.start(DurabilityTests.ply, ["serve", "--port", "0", "--log-level", "warning", "--data", data])
        do {
            try await churn(server)
        } catch {
            await children.stopAll()
            throw error
        }
        await server.stop()
    }

    private func churn(_ server: ChildProcess) async throws {
        let endpoint = Endpoint(host: "127.0.0.1", port: server.port)
        let api = PlyAPI(endpoint: endpoint)
        let match = try await api.createMatch(.connect4).id
        let grant = try await api.join(match, name: "ann")
        func descriptors() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(server.pid)/fd").count) ?? -1 }
        let before = descriptors()
        for round in 0..<4 {
            let connections = try await withThrowingTaskGroup(of: MatchConnection.self) { group in
                for index in 0..<50 {
                    let transport: Transport = index % 2 == 0 ? .webSocket : .longPoll
                    let seat = index == 0 && round == 0 ? (grant.seat, grant.token) : nil
                    group.addTask { try await MatchConnection.open(to: endpoint, match: match, seat: seat, transport: .over(transport)) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(try await api.health().connections >= 50)
            for connection in connections { connection.close() }
        }
        let health = try await waitForValue(seconds: 15) {
            let health = try await api.health()
            return health.connections <= 1 && health.waitingPolls == 0 ? health : nil
        }
        #expect(health.webSockets == 0)
        #expect(descriptors() <= before + 1, "descriptors: \(before) before, \(descriptors()) after")
        await api.close()
    }
}

/// Waits (up to `seconds`) until a condition holds.
func waitFor(seconds: Double = 10, _ condition: () async throws -> Bool) async throws {
    _ = try await waitForValue(seconds: seconds) { try await condition() ? true : nil }
}

func waitForValue<T>(seconds: Double = 10, _ value: () async throws -> T?) async throws -> T {
    let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
    while true {
        if let value = try await value() { return value }
        guard ContinuousClock.now < deadline else { throw WaitTimedOut() }
        try await Task.sleep(for: .milliseconds(10))
    }
}

struct WaitTimedOut: Error {}
