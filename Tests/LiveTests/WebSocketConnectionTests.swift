import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOWebSocket
import PlyAuthority
import PlyCompression
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
    /// With `compression`, the guard inflates and the connection deflates as agreed; `seated`
    /// admits seat 0 rather than a spectator.
    func open(_ configuration: ServerConfiguration = ServerConfiguration(), compression: PerMessageDeflate? = nil, seated: Bool = false)
        async throws -> (NIOAsyncTestingChannel, MatchAuthority, SeatGrant, [WebSocketFrame]) {
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
                WebSocketFrameGuard(fragmentTime: TimeAmount(configuration.maxFragmentedMessageTime),
                                    inflater: compression.map { MessageInflater($0, limit: configuration.maxMessageBytes) }),
                NIOWebSocketFrameAggregator(minNonFinalFragmentSize: 1, maxAccumulatedFrameCount: configuration.maxMessageFragments,
                                            maxAccumulatedFrameSize: configuration.maxMessageBytes),
                WebSocketConnection(admission: .admitted(match, seated ? ann.seat : nil, after: 3), client: "local",
                                    transport: WebSocketTransport(authority: authority, connections: connections, configuration: configuration),
                                    deflater: compression.map(MessageDeflater.init), logger: quiet),
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

    /// A client's close frame with a code, then a reason.
    func closeFrame(_ code: UInt16?, reason: [UInt8] = [], raw: [UInt8]? = nil) -> WebSocketFrame {
        var data = ByteBuffer()
        if let raw { data.writeBytes(raw) } else if let code { data.writeInteger(code) }
        data.writeBytes(reason)
        let key = WebSocketMaskingKey.random()
        data.webSocketMask(key)
        return WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: key, data: data)
    }

    /// RFC 6455 7.4: a close frame's code is echoed when a close frame may carry it, answered
    /// 1002 when it may not (1005 and 1006 included: they never travel) or is a lone byte, and
    /// 1007 when its reason is not UTF-8; a close with no code is answered 1000.
    typealias CloseCase = (sent: UInt16?, reason: [UInt8], raw: [UInt8]?, answer: UInt16)
    static let invalidCodes: [UInt16] = [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535]
    static let validCodes: [UInt16] = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4000, 4999]
    static let otherCloses: [CloseCase] = [
        (1000, [0xC3, 0x28], nil, 1007), (1000, [0xED, 0xA0, 0x80], nil, 1007), (1000, [0xE2, 0x82], nil, 1007),
        (nil, [], [0x03], 1002), (nil, [], [], 1000),
    ]
    static var closeFrames: [CloseCase] {
        let invalid: [CloseCase] = invalidCodes.map { code in (code, [], nil, 1002) }
        let valid: [CloseCase] = validCodes.map { code in (code, Array("bye".utf8), nil, code) }
        return invalid + valid + otherCloses
    }

    @Test(arguments: closeFrames.indices)
    func aCloseFrameIsAnsweredAsRFC6455Asks(_ index: Int) async throws {
        let (sent, reason, raw, answer) = Self.closeFrames[index]
        let (channel, _, _, _) = try await open()
        await send(channel, closeFrame(sent, reason: reason, raw: raw))
        let frames = try await outbound(channel)
        #expect(closeCode(frames) == WebSocketErrorCode(codeNumber: Int(answer)), "sent \(sent.map(String.init) ?? "no code") \(reason)")
        #expect(!channel.isActive)
    }

    /// RFC 6455 8.1: a text message sent in fragments fails at the first fragment that cannot
    /// be UTF-8, before the rest arrives; a character split between fragments is fine; a last
    /// fragment that ends inside a character fails.
    @Test func textIsCheckedAsUTF8FragmentByFragment() async throws {
        func fragment(_ bytes: [UInt8], fin: Bool, opcode: WebSocketOpcode) -> WebSocketFrame {
            let key = WebSocketMaskingKey.random()
            var data = ByteBuffer(bytes: bytes)
            data.webSocketMask(key)
            return WebSocketFrame(fin: fin, opcode: opcode, maskKey: key, data: data)
        }
        let early = try await open()
        await send(early.0, fragment(Array(#"{"type":"play","move":""#.utf8) + [0xFF], fin: false, opcode: .text))
        #expect(closeCode(try await outbound(early.0)) == .dataInconsistentWithMessage, "failed at the first fragment")
        #expect(!early.0.isActive)

        let split = try await open()
        // "é" (C3 A9) split between two fragments, in a move: a well-formed message.
        await send(split.0, fragment(Array(#"{"type":"play","move":""#.utf8) + [0xC3], fin: false, opcode: .text))
        await send(split.0, fragment([0xA9] + Array(#"","v":3}"#.utf8), fin: true, opcode: .continuation))
        let replies = try await outbound(split.0).map { String(buffer: $0.data) }
        #expect(replies.count == 1 && replies[0].contains("auth/missing_token"), "answered as a command: \(replies)")
        #expect(split.0.isActive)
        _ = try? await split.0.close()

        let unfinished = try await open()
        await send(unfinished.0, fragment(Array("{".utf8), fin: false, opcode: .text))
        await send(unfinished.0, fragment([0xE2, 0x82], fin: true, opcode: .continuation))
        #expect(closeCode(try await outbound(unfinished.0)) == .dataInconsistentWithMessage)
    }

    /// The validator against every class of byte sequence RFC 3629 rules out, and some it allows.
    @Test func theUTF8ValidatorAgreesWithTheStandardLibrary() {
        var generator = SeededRandom(seed: 7)
        let pieces: [[UInt8]] = [[0x41], [0xC3, 0xA9], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80], [0xC0, 0x80], [0xE0, 0x80, 0x80],
                                 [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xF5], [0x80], [0xFE], [0xEF, 0xBF, 0xBF], [0xF4, 0x8F, 0xBF, 0xBF]]
        for _ in 0..<2000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int.random(in: 0...6, using: &generator) { bytes += pieces[Int.random(in: 0..<pieces.count, using: &generator)] }
            // Sometimes cut inside a character.
            if !bytes.isEmpty, Bool.random(using: &generator) { bytes.removeLast(Int.random(in: 0...min(2, bytes.count), using: &generator)) }
            let expected = String(validating: bytes, as: UTF8.self) != nil
            #expect(UTF8Validator.isValid(ByteBuffer(bytes: bytes)) == expected, "\(bytes)")
            // Fed in two pieces, cut anywhere: the same verdict.
            let cut = Int.random(in: 0...bytes.count, using: &generator)
            var validator = UTF8Validator()
            let whole = validator.feed(ByteBuffer(bytes: bytes[..<cut])) && validator.feed(ByteBuffer(bytes: bytes[cut...])) && validator.isComplete
            #expect(whole == expected, "\(bytes) cut at \(cut)")
        }
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
