import Foundation
import HTTPTypes
import Logging
import NIOCore
import NIOEmbedded
import NIOHTTP1
import PlyAuthority
import PlyClient
import PlyEngine
import PlyStore
import PlyWire
@testable import PlyServer
import Testing

/// The Server-Sent Events transport from the outside (a stream as any client reads it: its
/// head, `retry:`, `id:` and `data:`, heartbeats, resumption, tickets, shutdown) and, on an
/// embedded channel, what only a blocked socket can show.
@Suite(.timeLimit(.minutes(2)))
struct EventStreamTests {
    /// A POST without a body, as curl and a browser's fetch send it (the test client would
    /// otherwise send an empty chunked body, which must be declared JSON).
    static let noBody: HTTPFields = [.contentLength: "0"]

    @Test func aStreamCarriesEveryEventWithItsVersionThenEnds() async throws {
        try await LiveServer.run { server in
            let (id, ann, bob) = try await server.startedMatch()
            let stream = try await server.eventStream("/matches/\(id)/stream?after=0", headers: [("Accept", "text/event-stream")])
            let opening = await stream.events(3)
            #expect(stream.status == 200)
            #expect(stream.headers["content-type"] == ["text/event-stream"])
            #expect(stream.headers["cache-control"] == ["no-store"])
            #expect(stream.headers["x-accel-buffering"] == ["no"])
            #expect(stream.others.first == .retry(2000), "retry: comes first: \(stream.others)")
            #expect(opening.count == 3)
            try await waitFor { server.server.health().streams == 1 }
            let last = try await server.playToAWin(id, ann, bob)
            var ids: [String] = []
            var data: [String] = []
            while let event = await stream.nextEvent() {
                ids.append(event.lastEventID)
                data.append(event.data)
            }
            #expect(stream.ended, "the response ended (not the connection dropped)")
            #expect(ids == (4...last).map(String.init))
            // Byte for byte the JSON long-polling returns for the same events.
            let polled = try await server.request(.get, "/matches/\(id)/events?after=3").body
            #expect("[" + data.joined(separator: ",") + "]" == polled)
            try await waitFor { server.server.health().streams == 0 }
        }
    }

    /// What a browser's EventSource sends when it reconnects by itself, `Last-Event-ID`, resumes
    /// exactly after it (and wins over `after`); a version that is not the match's is refused.
    @Test func lastEventIDResumesExactlyAfterIt() async throws {
        try await LiveServer.run { server in
            let (id, ann, bob) = try await server.startedMatch()
            let last = try await server.playToAWin(id, ann, bob)
            let resumed = try await server.eventStream("/matches/\(id)/stream?after=1", headers: [("Last-Event-ID", "7")])
            var ids: [String] = []
            while let event = await resumed.nextEvent() { ids.append(event.lastEventID) }
            #expect(ids == (8...last).map(String.init))
            for bad in ["x", "-1", "\(last + 1)"] {
                let refused = try await server.eventStream("/matches/\(id)/stream", headers: [("Last-Event-ID", bad)])
                _ = await refused.nextEvent()
                #expect(refused.status == 400, "Last-Event-ID: \(bad): \(refused.refusal ?? "")")
                #expect(refused.refusal?.contains("after must be an integer") == true, "\(refused.refusal ?? "")")
            }
            // Everything already seen, in a finished match: 204, which stops an EventSource.
            let done = try await server.eventStream("/matches/\(id)/stream?after=\(last)")
            _ = await done.nextEvent()
            #expect(done.status == 204)
        }
    }

    /// A browser's EventSource cannot send `Authorization`: a ticket asked for with the seat's
    /// token opens one stream of that seat (its own fleet shown), once; spent, expired or for
    /// another match it opens nothing, and asking for one needs a seat's token.
    @Test func aTicketOpensOneSeatStreamOnceAndOnlyForItsMatch() async throws {
        try await LiveServer.run { server in
            let (id, ann, _) = try await server.startedMatch(.battleship)
            let fleet = "a1-a5 c1-c4 e1-e3 g1-g3 i1-i2"
            let placed = try await server.request(.post, "/matches/\(id)/commands", body: #"{"type":"place","fleet":"\#(fleet)","v":3}"#, token: ann.token)
            #expect(placed.status == 200, "\(placed.body)")
            let issued = try await server.request(.post, "/matches/\(id)/stream-tickets", token: ann.token, headers: Self.noBody)
            #expect(issued.status == 201, "\(issued.body)")
            let ticket = try issued.decode(StreamTicket.self)
            #expect(ticket.expiresIn == 60 && ticket.ticket.count >= 20 && ticket.ticket != ann.token)
            let stream = try await server.eventStream("/matches/\(id)/stream?after=3&ticket=\(ticket.ticket)")
            let seen = await stream.events(1)
            #expect(seen.first?.contains(fleet) == true, "the seat sees its own fleet: \(seen)")
            stream.link.close()
            let again = try await server.eventStream("/matches/\(id)/stream?after=3&ticket=\(ticket.ticket)")
            _ = await again.nextEvent()
            #expect(again.status == 403 && again.refusal?.contains("auth/wrong_token") == true, "spent: \(again.refusal ?? "")")
            let (other, _, _) = try await server.startedMatch(.battleship)
            let elsewhere = try await server.request(.post, "/matches/\(id)/stream-tickets", token: ann.token, headers: Self.noBody).decode(StreamTicket.self)
            let wrong = try await server.eventStream("/matches/\(other)/stream?ticket=\(elsewhere.ticket)")
            _ = await wrong.nextEvent()
            #expect(wrong.status == 403, "another match's ticket: \(wrong.refusal ?? "")")
            for (token, code) in [(nil, "auth/missing_token"), ("nope", "auth/wrong_token")] as [(String?, String)] {
                let refused = try await server.request(.post, "/matches/\(id)/stream-tickets", token: token, headers: Self.noBody)
                #expect(refused.errorCode == code && refused.status == (token == nil ? 401 : 403), "\(refused.status) \(refused.body)")
            }
            // A spectator's stream shows neither fleet.
            let spectator = try await server.eventStream("/matches/\(id)/stream?after=3")
            #expect(await spectator.events(1).first?.contains(fleet) == false)
            spectator.link.close()
        }
    }

    @Test func aTicketIsGoodOnceWithinItsLifetime() {
        let tickets = StreamTickets(lifetime: .seconds(60))
        let now = ContinuousClock.now
        let (first, lifetime) = tickets.issue(match: "m", token: "t", now: now)
        #expect(lifetime == .seconds(60))
        #expect(tickets.redeem(first, match: "m", now: now + .seconds(59)) == "t")
        #expect(tickets.redeem(first, match: "m", now: now + .seconds(1)) == nil, "spent")
        let second = tickets.issue(match: "m", token: "t", now: now).ticket
        #expect(tickets.redeem(second, match: "m", now: now + .seconds(60)) == nil, "expired")
        let third = tickets.issue(match: "m", token: "t", now: now).ticket
        #expect(tickets.redeem(third, match: "other", now: now) == nil)
        #expect(tickets.redeem(third, match: "m", now: now) == nil, "shown to another match, it is spent")
        let fourth = tickets.issue(match: "m", token: "t", now: now).ticket
        tickets.prune(now: now + .seconds(61))
        #expect(tickets.redeem(fourth, match: "m", now: now) == nil, "pruned once expired")
    }

    /// An idle stream sends heartbeat comments, and no timer of the door (request head,
    /// kept-alive idleness) closes it, however long it waits for the next event.
    @Test func anIdleStreamBeatsAndOutlivesEveryTimeout() async throws {
        var configuration = ServerConfiguration()
        configuration.streamHeartbeat = .milliseconds(200)
        // Short enough to pass while the stream waits, long enough for the test's own requests
        // (each on a new connection) on a loaded machine.
        configuration.keepAliveTimeout = .seconds(2)
        configuration.headerTimeout = .seconds(2)
        try await LiveServer.run(configuration) { server in
            let (id, ann, _) = try await server.startedMatch()
            let stream = try await server.eventStream("/matches/\(id)/stream?after=3")
            // Idle well past both timeouts (the stream's bytes wait in its buffer meanwhile).
            try await Task.sleep(for: .seconds(5))
            try await waitFor { server.server.health().streams == 1 }
            let move = try await server.request(.post, "/matches/\(id)/commands", body: #"{"move":"4","type":"play","v":3}"#, token: ann.token)
            #expect(move.status == 200)
            let event = await stream.nextEvent()
            #expect(event?.lastEventID == "4", "the stream was still open past every timeout")
            let beats = stream.others.filter { if case .comment = $0 { true } else { false } }
            #expect(beats.count >= 5, "heartbeats while idle: \(stream.others)")
            stream.link.close()
        }
    }

    /// Graceful shutdown: an open stream gets `server/shutting_down` as its last event, then
    /// the response ends; ply's client takes it as a reason to come back.
    @Test func shutdownEndsAStreamWithItsReason() async throws {
        let server = try await LiveServer.run { server in
            let (id, _, _) = try await server.startedMatch()
            let stream = try await server.eventStream("/matches/\(id)/stream?after=3")
            try await waitFor { server.server.health().streams == 1 }
            Task { await server.server.shutDown() }
            var last: ServerMessage?
            while let message = try await stream.next() { last = message }
            if case .error(let error) = last {
                #expect(error.code == .shuttingDown)
            } else {
                Issue.record("the last event was \(String(describing: last))")
            }
            return server.port
        }
        #expect(server > 0)
    }

    // MARK: An embedded channel

    /// The whole connection pipeline on an embedded channel, with a started match.
    func open(_ configuration: ServerConfiguration) async throws -> (NIOAsyncTestingChannel, MatchAuthority, SeatGrant, SeatGrant) {
        var logger = Logger(label: "ply.test")
        logger.logLevel = .critical
        let authority = Authority(store: MemoryStore(), logger: logger)
        let match = try await authority.match(try await authority.create(CreateMatchRequest(game: .connect4)).id)
        let ann = try await match.join(name: "ann")
        let bob = try await match.join(name: "bob")
        let connections = Connections(configuration: configuration)
        let child = PlyChildChannel(router: { _, _ in WireError(.notFound, "no router here").response }, webSocket: nil,
                                    longPoll: LongPollTransport(authority: authority, connections: connections, configuration: configuration),
                                    eventStreams: EventStreamTransport(authority: authority, connections: connections, configuration: configuration),
                                    connections: connections, origins: OriginPolicy(allowed: []))
        let channel = NIOAsyncTestingChannel()
        let quiet = logger
        try await channel.testingEventLoop.executeInContext { _ = child.setup(channel: channel, logger: quiet) }
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
        try await channel.writeInbound(ByteBuffer(string: "GET /matches/\(match.id)/stream?after=3 HTTP/1.1\r\nHost: ply\r\n\r\n"))
        await channel.testingEventLoop.run()
        return (channel, match, ann, bob)
    }

    func written(_ channel: NIOAsyncTestingChannel) async throws -> String {
        await channel.testingEventLoop.run()
        var text = ""
        while let buffer = try await channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    /// A reader that stops reading: once the socket is blocked, more than the outbound limit of
    /// writes queued behind it closes the stream's connection; below the limit it stays.
    @Test func aStreamWhoseReaderStopsReadingIsClosedPastTheLimit() async throws {
        var configuration = ServerConfiguration()
        configuration.maxOutboundMessages = 3
        let (channel, match, ann, bob) = try await open(configuration)
        let head = try await written(channel)
        #expect(head.hasPrefix("HTTP/1.1 200 OK"), "\(head)")
        #expect(head.contains("retry: 2000"))
        // Writable, any number of events goes.
        var seat = ann.seat
        for column in ["1", "2", "1", "2"] {
            _ = try await match.execute(Command(.play(column), version: match.version), by: seat)
            seat = seat.opponent
        }
        #expect(try await written(channel).components(separatedBy: "id: ").count - 1 == 4)
        #expect(channel.isActive)
        channel.isWritable = false
        for column in ["3", "4", "3"] {
            _ = try await match.execute(Command(.play(column), version: match.version), by: seat)
            seat = seat.opponent
        }
        await channel.testingEventLoop.run()
        #expect(channel.isActive, "three writes queued: at the limit")
        _ = try await match.execute(Command(.play("4"), version: match.version), by: seat)
        await channel.testingEventLoop.run()
        #expect(!channel.isActive)
        _ = bob
    }

    /// The heartbeat on the embedded loop's clock: one comment per interval of silence.
    @Test func theHeartbeatKeepsItsInterval() async throws {
        var configuration = ServerConfiguration()
        configuration.streamHeartbeat = .seconds(15)
        let (channel, _, _, _) = try await open(configuration)
        _ = try await written(channel)
        await channel.testingEventLoop.advanceTime(by: .seconds(14))
        #expect(try await written(channel).isEmpty)
        await channel.testingEventLoop.advanceTime(by: .seconds(1))
        #expect(try await written(channel).contains(": heartbeat\n\n"))
        await channel.testingEventLoop.advanceTime(by: .seconds(30))
        #expect(try await written(channel).components(separatedBy: ": heartbeat").count == 3)
        #expect(channel.isActive, "no timer of the door closed the stream")
        _ = try? await channel.close()
    }
}
