import Foundation
import HummingbirdTesting
import NIOCore
import PlyEngine
import PlyServer
import PlyWire
import Testing
import NIOPosix
import NIOWebSocket

@Suite(.timeLimit(.minutes(1)))
struct ResumeAndShutdownTests {
    /// Plays `moves` columns for alternating seats from the current version, over long-polling commands.
    func play(_ server: LiveServer, _ id: String, _ grants: [SeatGrant], _ moves: [String]) async throws {
        for move in moves {
            let snapshot = try await server.snapshot(id)
            let grant = try #require(grants.first { $0.seat == snapshot.turn })
            let reply = try await server.request(.post, "/matches/\(id)/commands",
                                                 body: #"{"type":"play","move":"\#(move)","v":\#(snapshot.version)}"#, token: grant.token)
            #expect(reply.status == 200, "\(reply.body)")
        }
    }

    /// Reads events from a WebSocket until it has `count` of them, then drops the connection.
    func readEvents(_ server: LiveServer, _ id: String, after: Int, count: Int) async throws -> [MatchEvent] {
        let socket = try await server.webSocket("/matches/\(id)/ws?after=\(after)")
        var events: [MatchEvent] = []
        while events.count < count, let message = try await socket.next() {
            if case .event(let event) = message { events.append(event) }
        }
        socket.link.drop()
        return events
    }

    @Test func aWebSocketThatReconnectsGetsExactlyWhatItMissed() async throws {
        try await LiveServer.run { server in
            let (id, ann, bob) = try await server.startedMatch()
            try await play(server, id, [ann, bob], ["1", "2"])
            let before = try await readEvents(server, id, after: 0, count: 5)
            #expect(before.map(\.version) == [1, 2, 3, 4, 5])
            // Disconnected: the game goes on.
            try await play(server, id, [ann, bob], ["3", "4", "5"])
            let resumed = try await readEvents(server, id, after: 5, count: 3)
            #expect(resumed.map(\.version) == [6, 7, 8])
            #expect(before + resumed == (try await server.log(id)))
        }
    }

    @Test func aLongPollThatReconnectsGetsExactlyWhatItMissed() async throws {
        try await LiveServer.run { server in
            let (id, ann, bob) = try await server.startedMatch()
            // A poll is waiting when its connection drops.
            let client = TestClient(host: "127.0.0.1", port: server.port)
            client.connect()
            try await client.executeAndDontWaitForResponse(.init("/matches/\(id)/events?after=3&wait=30", method: .get))
            try await Task.sleep(for: .milliseconds(100))
            try await client.shutdown()
            try await play(server, id, [ann, bob], ["3", "3"])
            let resumed = try await server.request(.get, "/matches/\(id)/events?after=3&wait=0").decode([MatchEvent].self)
            #expect(resumed.map(\.version) == [4, 5])
            #expect(resumed.map(\.change) == [.moved(seat: .first, move: "3"), .moved(seat: .second, move: "3")])
            let again = try await server.request(.get, "/matches/\(id)/events?after=5&wait=0").decode([MatchEvent].self)
            #expect(again.isEmpty)
        }
    }

    @Test func aLongPollIsHeldUntilTheNextEvent() async throws {
        try await LiveServer.run { server in
            let (id, ann, _) = try await server.startedMatch()
            async let poll = server.request(.get, "/matches/\(id)/events?after=3&wait=20")
            try await Task.sleep(for: .milliseconds(200))
            _ = try await server.request(.post, "/matches/\(id)/commands", body: #"{"type":"play","move":"7","v":3}"#, token: ann.token)
            let events = try await poll.decode([MatchEvent].self)
            #expect(events == [MatchEvent(version: 4, change: .moved(seat: .first, move: "7"))])
        }
    }

    @Test func aLongPollWithNothingToSayAnswersAnEmptyListAfterItsWait() async throws {
        try await LiveServer.run { server in
            let id = try await server.createMatch()
            let started = ContinuousClock.now
            let reply = try await server.request(.get, "/matches/\(id)/events?after=1&wait=0.3")
            #expect(reply.status == 200)
            #expect(reply.body == "[]")
            #expect(ContinuousClock.now - started >= .milliseconds(250))
        }
    }

    @Test func shutdownAnswersWaitingPollsAndClosesWebSocketsWithGoingAway() async throws {
        try await LiveServer.run { server in
            let (id, _, _) = try await server.startedMatch()
            async let poll = server.request(.get, "/matches/\(id)/events?after=3&wait=30")
            let socket = try await server.webSocket("/matches/\(id)/ws?after=3")
            try await Task.sleep(for: .milliseconds(300))
            let started = ContinuousClock.now
            await server.server.shutDown()
            let answered = try await poll
            #expect(answered.status == 200)
            #expect(answered.body == "[]")
            #expect(await socket.closed() == .goingAway)
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }
}

extension ResumeAndShutdownTests {
    /// A peer that completes the upgrade and then never answers a ping is disconnected.
    @Test func aWebSocketPeerThatStopsAnsweringPingsIsDisconnected() async throws {
        var configuration = ServerConfiguration()
        configuration.pingInterval = .milliseconds(200)
        try await LiveServer.run(configuration) { server in
            let id = try await server.createMatch()
            // A bare TCP peer: it sends an upgrade request and then reads nothing, answers nothing.
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: server.port).get()
            let upgrade = "GET /matches/\(id)/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            try await channel.writeAndFlush(ByteBuffer(string: upgrade))
            let started = ContinuousClock.now
            try await channel.closeFuture.get()
            #expect(ContinuousClock.now - started < .seconds(5))
            // The WebSocket is freed (read in the process, once the close has been handled).
            try await waitFor(seconds: 5) { server.server.health().webSockets == 0 }
        }
    }
}
