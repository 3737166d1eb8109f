import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOWebSocket
import PlyAuthority
import PlyEngine
import PlyStore
import PlyWire
@testable import PlyServer
import Testing

/// The WebSocket handler on an embedded channel: frames in, frames out, time moved by hand.
/// What only a socket can show (upgrades, real clients) is in the live tests.
@Suite(.timeLimit(.minutes(1)))
struct WebSocketConnectionTests {
    /// A started match, a channel with the handler (and the aggregator before it) admitted as
    /// a spectator after version 3, and the frames it wrote on opening (welcome, backlog).
    func open(_ configuration: ServerConfiguration = ServerConfiguration()) async throws -> (NIOAsyncTestingChannel, MatchAuthority, SeatGrant, [WebSocketFrame]) {
        var logger = Logger(label: "ply.test")
        logger.logLevel = .critical
        let authority = Authority(store: MemoryStore(), logger: logger)
        let match = try await authority.match(try await authority.create(CreateMatchRequest(game: .connect4)).id)
        let ann = try await match.join(name: "ann")
        _ = try await match.join(name: "bob")
        let connections = Connections(configuration: configuration)
        let quiet = logger
        let channel = NIOAsyncTestingChannel()
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
        // Added once connected, as the upgrade adds it to a live connection.
        try await channel.testingEventLoop.executeInContext {
            try channel.pipeline.syncOperations.addHandlers([
                WebSocketFrameGuard(fragmentTime: TimeAmount(configuration.maxFragmentedMessageTime)),
                NIOWebSocketFrameAggregator(minNonFinalFragmentSize: 1, maxAccumulatedFrameCount: configuration.maxMessageFragments,
                                            maxAccumulatedFrameSize: configuration.maxMessageBytes),
                WebSocketConnection(admission: .admitted(match, nil, after: 3), client: "local", connections: connections, configuration: configuration, logger: quiet),
            ])
        }
        return (channel, match, ann, try await outbound(channel))
    }

    /// Everything written so far, once the loop has run what the authority handed it.
    func outbound(_ channel: NIOAsyncTestingChannel) async throws -> [WebSocketFrame] {
        await channel.testingEventLoop.run()
        var frames: [WebSocketFrame] = []
        while let frame = try await channel.readOutbound(as: WebSocketFrame.self) { frames.append(frame) }
        return frames
    }

    func send(_ channel: NIOAsyncTestingChannel, _ frame: WebSocketFrame) async {
        _ = try? await channel.writeInbound(frame)
    }

    func closeCode(_ frames: [WebSocketFrame]) -> WebSocketErrorCode? {
        guard var data = frames.last(where: { $0.opcode == .connectionClose })?.data else { return nil }
        return data.readWebSocketErrorCode()
    }

    /// A client frame as it arrives: its payload masked with its key.
    func text(_ string: String, fin: Bool = true, opcode: WebSocketOpcode = .text) -> WebSocketFrame {
        let key = WebSocketMaskingKey.random()
        var data = ByteBuffer(string: string)
        data.webSocketMask(key)
        return WebSocketFrame(fin: fin, opcode: opcode, maskKey: key, data: data)
    }

    @Test func aSpectatorIsWelcomedAndGetsEachEventAsItIsPublished() async throws {
        let (channel, match, ann, opening) = try await open()
        #expect(opening.map { String(buffer: $0.data) } == [#"{"type":"welcome","v":3}"#])
        _ = try await match.execute(Command(.play("4"), version: 3), by: ann.seat)
        #expect(try await outbound(channel).map { String(buffer: $0.data) } == [#"{"move":"4","seat":0,"type":"moved","v":4}"#])
        _ = try? await channel.close()
    }

    /// The fragment bomb: a message in more fragments than the limit, however small, is refused
    /// with 1009 where the frames arrive, and nothing of it is kept.
    @Test func aMessageInTooManyFragmentsIsRefused() async throws {
        var configuration = ServerConfiguration()
        configuration.maxMessageFragments = 4
        let (channel, _, _, _) = try await open(configuration)
        await send(channel, text(#"{"ty"#, fin: false))
        for _ in 0..<5 { await send(channel, text("x", fin: false, opcode: .continuation)) }
        #expect(closeCode(try await outbound(channel)) == .messageTooLarge)
        #expect(!channel.isActive)
    }

    @Test func emptyFragmentsAreRefused() async throws {
        let (channel, _, _, _) = try await open()
        await send(channel, text("", fin: false))
        #expect(closeCode(try await outbound(channel)) == .messageTooLarge)
        #expect(!channel.isActive)
    }

    @Test func aMessageInAFewFragmentsIsServed() async throws {
        let (channel, _, _, _) = try await open()
        for (index, part) in [#"{"type":"#, #""play","move":"4","#, #""v":3}"#].enumerated() {
            await send(channel, text(part, fin: index == 2, opcode: index == 0 ? .text : .continuation))
        }
        let replies = try await outbound(channel).map { String(buffer: $0.data) }
        #expect(replies.count == 1)
        #expect(replies.first?.contains("auth/missing_token") == true, "a spectator's command: answered, connection open: \(replies)")
        #expect(channel.isActive)
        _ = try? await channel.close()
    }

    /// A client cannot keep a half-sent message open: it must be complete in time.
    @Test func aFragmentedMessageMustBeCompleteInTime() async throws {
        var configuration = ServerConfiguration()
        configuration.maxFragmentedMessageTime = .seconds(2)
        configuration.pingInterval = .seconds(60)
        let (channel, _, _, _) = try await open(configuration)
        await send(channel, text(#"{"ty"#, fin: false))
        await channel.testingEventLoop.advanceTime(by: .seconds(1))
        await send(channel, text(#"pe":"#, fin: false, opcode: .continuation))
        #expect(try await outbound(channel).isEmpty)
        await channel.testingEventLoop.advanceTime(by: .seconds(1))
        #expect(closeCode(try await outbound(channel)) == .policyViolation)
        #expect(!channel.isActive)
    }

    /// Whole messages never start the fragment deadline: a WebSocket that has sent them (and a
    /// fragmented one, completed) stays open, idle, long past it. (Every text frame once started
    /// it, so every WebSocket was closed 1008 ten seconds after its first message.)
    @Test(arguments: [WebSocketOpcode.text, .binary])
    func wholeMessagesDoNotStartTheFragmentDeadline(_ opcode: WebSocketOpcode) async throws {
        var configuration = ServerConfiguration()
        configuration.maxFragmentedMessageTime = .seconds(2)
        configuration.pingInterval = .seconds(3600)
        let (channel, _, _, _) = try await open(configuration)
        await send(channel, text(#"{"type":"play","move":"4","v":3}"#, opcode: opcode))
        _ = try await outbound(channel)
        await channel.testingEventLoop.advanceTime(by: .seconds(30))
        #expect(try await outbound(channel).isEmpty, "nothing written, no close")
        #expect(channel.isActive)
        // A fragmented message completed in time cancels its deadline too.
        await send(channel, text(#"{"type":"#, fin: false, opcode: opcode))
        await send(channel, text(#""play","move":"4","v":3}"#, opcode: .continuation))
        _ = try await outbound(channel)
        await channel.testingEventLoop.advanceTime(by: .seconds(30))
        #expect(closeCode(try await outbound(channel)) == nil)
        #expect(channel.isActive)
        _ = try? await channel.close()
    }

    @Test func anUnmaskedFrameIsAProtocolError() async throws {
        let (channel, _, _, _) = try await open()
        await send(channel, WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: "{}")))
        #expect(closeCode(try await outbound(channel)) == .protocolError)
        #expect(!channel.isActive)
    }

    @Test func aPeerThatDoesNotAnswerPingsIsClosed() async throws {
        var configuration = ServerConfiguration()
        configuration.pingInterval = .seconds(1)
        let (channel, _, _, _) = try await open(configuration)
        await channel.testingEventLoop.advanceTime(by: .seconds(1))
        #expect(try await outbound(channel).map(\.opcode) == [.ping])
        await send(channel, WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: ByteBuffer()))
        await channel.testingEventLoop.advanceTime(by: .seconds(1))
        #expect(try await outbound(channel).map(\.opcode) == [.ping], "answered: pinged again")
        await channel.testingEventLoop.advanceTime(by: .seconds(1))
        let frames = try await outbound(channel)
        #expect(closeCode(frames) == .goingAway)
        #expect(!channel.isActive)
    }

    /// A closed WebSocket leaves nothing behind: its handler (and with it the channel) is freed,
    /// however it closed. (Its pinger once held it: every WebSocket ever opened stayed in memory.)
    @Test(arguments: [false, true]) func aClosedWebSocketIsFreed(byTheClient: Bool) async throws {
        /// Looked at only on the test's event loop, or once the channel is gone.
        final class Weak: @unchecked Sendable { weak var handler: WebSocketConnection? }
        let weak = Weak()
        do {
            let (channel, _, _, _) = try await open()
            try await channel.testingEventLoop.executeInContext {
                weak.handler = try channel.pipeline.syncOperations.handler(type: WebSocketConnection.self)
            }
            #expect(weak.handler != nil)
            if byTheClient {
                var code = ByteBuffer()
                code.write(webSocketErrorCode: .normalClosure)
                await send(channel, WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: code))
            }
            _ = try? await channel.close()
            await channel.testingEventLoop.run()
            #expect(!channel.isActive)
        }
        #expect(weak.handler == nil, "the handler outlived its channel")
    }

    /// A client that stops reading: once the socket is blocked, more than the limit of messages
    /// queued behind it drops the connection (no close frame could reach the client).
    @Test func aClientThatStopsReadingIsDroppedPastTheLimit() async throws {
        var configuration = ServerConfiguration()
        configuration.maxOutboundMessages = 3
        let (channel, match, ann, _) = try await open(configuration)
        channel.isWritable = false
        var seat = ann.seat
        for column in ["1", "2", "1"] {
            _ = try await match.execute(Command(.play(column), version: match.version), by: seat)
            seat = seat.opponent
        }
        await channel.testingEventLoop.run()
        #expect(channel.isActive, "three messages queued: at the limit")
        _ = try await match.execute(Command(.play("2"), version: match.version), by: seat)
        await channel.testingEventLoop.run()
        #expect(!channel.isActive)
    }

    /// A ping flood: pings read together get one pong (the last one's payload), and pings past
    /// the connection's budget get none; the connection still serves messages.
    @Test func aPingFloodCostsAtMostOnePongPerReadAndNoneOverBudget() async throws {
        var configuration = ServerConfiguration()
        configuration.commandBurst = 5
        configuration.commandsPerSecond = 0.001
        let (channel, _, _, _) = try await open(configuration)
        try await channel.testingEventLoop.executeInContext {
            for index in 0..<3 { channel.pipeline.fireChannelRead(self.text("p\(index)", opcode: .ping)) }
            channel.pipeline.fireChannelReadComplete()
        }
        let batch = try await outbound(channel)
        #expect(batch.map(\.opcode) == [.pong])
        #expect(batch.first.map { String(buffer: $0.data) } == "p2")
        for index in 0..<1000 { await send(channel, text("q\(index)", opcode: .ping)) }
        #expect(try await outbound(channel).count == 2, "five pings in the budget, three spent together")
        await send(channel, text(#"{"type":"play","move":"4","v":3}"#))
        #expect(try await outbound(channel).first.map { String(buffer: $0.data) }?.contains("auth/missing_token") == true)
        #expect(channel.isActive)
        _ = try? await channel.close()
    }
}
