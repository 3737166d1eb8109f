import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOWebSocket
import PlyAuthority
import PlyCompression
import PlyEngine
import PlyWire

/// One WebSocket, handled on its channel's event loop with no task of its own: messages are
/// decided as they arrive (a command goes straight to the match's authority), and events are
/// written as the pre-encoded bytes the authority holds, the same buffers for every
/// subscriber. Below it, swift-nio's frame decoder, encoder and aggregator do the framing and
/// bound each message (its size, and how many fragments it may arrive in), and
/// `WebSocketFrameGuard` checks each frame as it arrives.
final class WebSocketConnection: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let admission: WebSocketTransport.Admission
    /// The server's transport, shared by every connection: its authority, connection table and
    /// configuration are reached through it rather than copied into each connection (an idle
    /// WebSocket is mostly this object and its pipeline).
    private let transport: WebSocketTransport
    private var authority: Authority { transport.authority }
    private var connections: Connections { transport.connections }
    private var configuration: ServerConfiguration { transport.configuration }
    private let logger: Logger

    private var context: ChannelHandlerContext?
    private var match: MatchAuthority?
    private var seat: Seat?
    /// The version of the last event written.
    private var cursor = 0
    private var subscriber: LoopSubscriber<WebSocketConnection>?
    private var limiter: RateLimiter
    /// Pings answered: as many as messages (`--commands-per-second`, `--command-burst`), in a
    /// budget of their own. Pings beyond it get no pong.
    private var pingLimiter: RateLimiter
    /// The payload of the last ping read in this batch of reads: only it is answered (RFC 6455
    /// 5.5.3), once the batch is read.
    private var pendingPong: ByteBuffer?
    /// The client the connection belongs to (named by a trusted proxy, or its peer).
    private let client: String
    /// Where the connection stands in its loop's ping sweep (`WebSocketTransport.pings`).
    var sweepSlot: Int?
    private var awaitingPong = false
    /// The server has sent its close frame: only the client's close is awaited now.
    private var closeSent = false
    private var closeTimer: Scheduled<Void>?
    /// Between `channelRead` and `channelReadComplete`, which flushes what the reads wrote.
    private var reading = false
    private var needsFlush = false
    /// Messages queued while the channel was not writable (the client is not reading).
    private var blockedMessages = 0
    private var dropped = false
    /// The deflater of a connection that agreed to `permessage-deflate`: every text message
    /// goes out compressed (RSV1), control frames never (RFC 7692 6.1).
    private let deflater: MessageDeflater?

    init(admission: WebSocketTransport.Admission, client: String, transport: WebSocketTransport, deflater: MessageDeflater? = nil, logger: Logger) {
        self.admission = admission
        self.deflater = deflater
        self.transport = transport
        self.client = client
        self.logger = logger
        limiter = transport.connections.makeRateLimiter()
        pingLimiter = transport.connections.makeRateLimiter()
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        context.triggerUserOutboundEvent(ConnectionActivity.webSocket, promise: nil)
        connections.openedWebSocket(context.channel)
        if let size = configuration.webSocketSendBuffer {
            try? context.channel.syncOptions?.setOption(.socketOption(.so_sndbuf), value: SocketOptionValue(size))
        }
        switch admission {
        case .refused(let error):
            logger.debug("websocket refused", metadata: ["code": "\(error.code)"])
            send(error)
            close(code: error.code.upgradeRefusalCloseCode ?? .unexpectedServerError, reason: error.code.rawValue)
        case .admitted(let match, let seat, let after):
            self.match = match
            self.seat = seat
            cursor = after
            log(.debug, "websocket opened", ["seat": "\(seat.map { "\($0.rawValue)" } ?? "spectator")", "after": "\(after)"])
            let subscriber = LoopSubscriber(self, eventLoop: context.eventLoop)
            self.subscriber = subscriber
            // Subscribed before the backlog is read, so that no event can slip between the two.
            let (version, closure) = match.subscribe(subscriber)
            // Admitted: say so first, so a client knows before any event that it is in, and as whom.
            send(Welcome(seat: seat, version: version))
            deliverEvents(upTo: version)
            if let closure { return matchClosed(closure) }
            transport.pings.join(self, on: context.eventLoop)
        }
        flushIfNeeded()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // The loop's ping sweep holds this handler: kept, it would keep the handler, its context
        // and with them the whole closed channel alive.
        transport.pings.leave(self, on: context.eventLoop)
        closeTimer?.cancel()
        closeTimer = nil
        if let subscriber { match?.unsubscribe(subscriber) }
        subscriber = nil
        connections.closedWebSocket(context.channel)
        log(.debug, "websocket closed")
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        transport.pings.leave(self, on: context.eventLoop)
        closeTimer?.cancel()
        closeTimer = nil
        self.context = nil
    }

    // MARK: Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        reading = true
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary:
            if !closeSent { receive(frame) }
        case .ping:
            // A ping flood costs one pong per batch of reads at most, and none past the budget.
            if !closeSent, pingLimiter.allow() { pendingPong = frame.unmaskedData }
        case .pong:
            awaitingPong = false
        case .connectionClose:
            receivedClose(frame)
        default:
            protocolError("a reserved opcode")
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        reading = false
        if let pong = pendingPong {
            pendingPong = nil
            if !closeSent { write(WebSocketFrame(fin: true, opcode: .pong, data: pong)) }
        }
        flushIfNeeded()
        context.fireChannelReadComplete()
    }

    /// One whole text or binary message.
    private func receive(_ frame: WebSocketFrame) {
        guard frame.opcode == .text else {
            guard limiter.allow() else { return refuse(connections.rateLimited) }
            return refuse(WireError(.binaryMessage, "ply speaks JSON in text messages; binary messages are ignored"))
        }
        // Unmasked, and checked as UTF-8 fragment by fragment, by the frame guard.
        let data = Data(buffer: frame.unmaskedData, byteTransferStrategy: .noCopy)
        guard limiter.allow() else {
            // Refused with the message's id, when it has one, so that its sender can tell which.
            let id = try? WireCoding.decodeMessage(ClientMessage.self, fromUTF8: data).id
            return refuse(connections.rateLimited.with(id: id))
        }
        guard let match else { return }
        var id: Int?
        do throws(WireError) {
            switch try WireCoding.decodeMessage(ClientMessage.self, fromUTF8: data) {
            case .hello(let hello):
                id = hello.id
                guard seat == nil else { throw WireError(.alreadyAuthenticated, "this connection already acts for a seat") }
                // The authority's admission step, as for a token sent with the upgrade: on a
                // shared store a seat taken on another server a moment ago is read first.
                if let now = authority.admission(to: match.id, as: .token(hello.token)) { return greet(now, id: id) }
                guard let subscriber else { return }
                let authority = authority, token = hello.token, helloID = hello.id
                Task {
                    let later = await authority.admit(to: match.id, as: .token(token))
                    subscriber.run { $0.greet(later, id: helloID) }
                }
            case .command(let command):
                id = command.id
                guard let seat, let subscriber else {
                    throw WireError(.missingToken, "send a hello with the seat token, or connect with 'Authorization: Bearer TOKEN'")
                }
                try connections.spendCommand(by: client, match: match.id, seat: seat)
                let metrics = connections.metrics
                match.execute(command, by: seat) { result in
                    metrics.counted(command, over: .webSocket, result)
                    subscriber.run { $0.reply(result) }
                }
            }
        } catch {
            refuse(error.with(id: error.id ?? id))
        }
    }

    /// A hello's answer: the seat its token acts for, or why not.
    fileprivate func greet(_ admitted: Result<Admission, WireError>, id: Int?) {
        switch admitted {
        case .success(let admission):
            seat = admission.seat
            send(Welcome(seat: admission.seat, id: id))
        case .failure(let error):
            refuse(error.with(id: id))
        }
        flushUnlessReading()
    }

    /// An error in answer to a message: it says the match's version, as every error about a match does.
    private func refuse(_ error: WireError) {
        send(match.map { error.with(version: $0.version) } ?? error)
    }

    /// A command's answer: its events first (they are published before it is acknowledged),
    /// then the acknowledgement; or the error.
    fileprivate func reply(_ result: Result<Acknowledgement, WireError>) {
        switch result {
        case .success(let acknowledgement):
            deliverEvents(upTo: acknowledgement.version)
            send(acknowledgement)
        case .failure(let error):
            refuse(error)
        }
        flushUnlessReading()
    }

    // MARK: Events

    /// Writes every published event after the cursor.
    fileprivate func deliverEvents(upTo version: Int) {
        guard let match, version > cursor, !closeSent, !dropped else { return }
        let events = match.events(after: cursor, for: seat)
        for event in events { write(WebSocketFrame(fin: true, opcode: .text, data: event)) }
        cursor += events.count
        flushUnlessReading()
    }

    /// What was sent after `version` never became durable: the client is told to drop it, and
    /// the match's own events after `version` follow.
    fileprivate func rolledBack(to version: Int) {
        guard cursor > version, !closeSent, !dropped else { return }
        send(RolledBack(version: version))
        cursor = version
        flushUnlessReading()
    }

    func matchClosed(_ closure: MatchClosure) {
        close(code: closure.closeCode, reason: closure == .shuttingDown ? "server shutting down" : nil)
        flushUnlessReading()
    }

    // MARK: Writing

    /// The message every move sends, written without Foundation (`OutboundJSON`).
    private func send(_ acknowledgement: Acknowledgement) {
        write(WebSocketFrame(fin: true, opcode: .text, data: JSONBuffer.encode(acknowledgement)))
    }

    private func send(_ message: some Encodable) {
        let json = (try? JSONBuffer.encode(message)) ?? ByteBuffer(string: #"{"code":"server/internal","type":"error"}"#)
        write(WebSocketFrame(fin: true, opcode: .text, data: json))
    }

    private func write(_ frame: WebSocketFrame) {
        guard let context, !dropped else { return }
        var frame = frame
        if let deflater, frame.opcode == .text {
            do {
                frame.data = try deflater.deflate(frame.data, allocator: context.channel.allocator)
                frame.rsv1 = true
            } catch {
                // zlib out of memory: nothing more can be sent in order on this connection.
                log(.error, "websocket dropped: its messages could not be compressed", ["error": "\(error)"])
                dropped = true
                context.close(promise: nil)
                return
            }
        }
        if !context.channel.isWritable {
            blockedMessages += 1
            if blockedMessages > configuration.maxOutboundMessages {
                // No close frame could reach a client that does not read: drop the connection.
                // It can resume with `after` later.
                dropped = true
                connections.metrics.outboundDrops.increment()
                log(.warning, "websocket dropped: the client is not reading", ["limit": "\(configuration.maxOutboundMessages)"])
                context.close(promise: nil)
                return
            }
        }
        context.write(wrapOutboundOut(frame), promise: nil)
        needsFlush = true
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { blockedMessages = 0 }
        context.fireChannelWritabilityChanged()
    }

    /// Writes made while reading are flushed once, when the reads are done; others at once.
    private func flushUnlessReading() {
        if !reading { flushIfNeeded() }
    }

    private func flushIfNeeded() {
        guard needsFlush else { return }
        needsFlush = false
        context?.flush()
    }

    /// Logs with the match named. (The match is not kept in the logger's metadata: setting it
    /// copied the logger's storage, its metadata and their printed form into every connection,
    /// about 450 bytes an idle WebSocket.)
    private func log(_ level: Logger.Level, _ message: @autoclosure () -> Logger.Message, _ metadata: @autoclosure () -> Logger.Metadata = [:]) {
        logger.log(level: level, message(), metadata: {
            var metadata = metadata()
            if let match { metadata["match"] = "\(match.id)" }
            return metadata
        }())
    }

    // MARK: Closing

    /// Starts the closing handshake: the close frame, then the client's answer or, after the
    /// grace period, the end of the connection.
    private func close(code: WebSocketErrorCode, reason: String?) {
        guard !closeSent, let context else { return }
        closeSent = true
        transport.pings.leave(self, on: context.eventLoop)
        var data = context.channel.allocator.buffer(capacity: 2 + (reason?.utf8.count ?? 0))
        data.write(webSocketErrorCode: code)
        if let reason { data.writeString(reason) }
        write(WebSocketFrame(fin: true, opcode: .connectionClose, data: data))
        flushUnlessReading()
        let channel = context.channel
        closeTimer = context.eventLoop.scheduleTask(in: TimeAmount(configuration.shutdownGrace)) { channel.close(promise: nil) }
    }

    /// The client's close frame: the answer to ours, or its own, which is answered as RFC 6455
    /// 5.5.1 and 7.4 ask: its code echoed when it is one a close frame may carry (1000-1003,
    /// 1007-1014, 3000-4999), 1002 when it is not (1005 and 1006 among them: they mean "no code"
    /// and "no close frame" and never travel) or a lone byte, 1007 when its reason is not
    /// UTF-8, and 1000 to a close with no code.
    private func receivedClose(_ frame: WebSocketFrame) {
        guard let context else { return }
        guard !closeSent else {
            context.close(promise: nil)
            return
        }
        closeSent = true
        transport.pings.leave(self, on: context.eventLoop)
        var payload = frame.unmaskedData
        let reply: (code: WebSocketErrorCode, reason: String?)
        if payload.readableBytes == 0 {
            reply = (.normalClosure, nil)
        } else if let number = payload.readInteger(as: UInt16.self) {
            if !Self.isValidCloseCode(number) {
                reply = (.protocolError, "close code \(number) may not be sent")
            } else if !UTF8Validator.isValid(payload) {
                reply = (.dataInconsistentWithMessage, "a close reason that is not UTF-8")
            } else {
                reply = (WebSocketErrorCode(codeNumber: Int(number)), nil)
            }
        } else {
            reply = (.protocolError, "a close frame of one byte")
        }
        var data = context.channel.allocator.buffer(capacity: 2 + (reply.reason?.utf8.count ?? 0))
        data.write(webSocketErrorCode: reply.code)
        if let reason = reply.reason { data.writeString(reason) }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    /// The codes a close frame may carry (RFC 6455 7.4.1 and IANA's registry: 1012-1014 were
    /// added after it); 4000-4999 are private, ply's own among them.
    static func isValidCloseCode(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: true
        default: false
        }
    }

    private func protocolError(_ what: String) {
        log(.debug, "websocket protocol error", ["error": "\(what)"])
        close(code: .protocolError, reason: nil)
        flushIfNeeded()
        context?.close(promise: nil)
    }

    private func pingTick() {
        guard !closeSent, let context else { return }
        if awaitingPong {
            close(code: .goingAway, reason: "Ping timeout")
            context.close(promise: nil)
            return
        }
        awaitingPong = true
        write(WebSocketFrame(fin: true, opcode: .ping, data: context.channel.allocator.buffer(capacity: 0)))
        flushIfNeeded()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            // The client closed its side without a close frame (1006, abnormal closure): it can
            // answer nothing more, so there is no handshake to wait for.
            log(.debug, "websocket input closed")
            context.close(promise: nil)
        }
        if event is ChannelShouldQuiesceEvent {
            close(code: .goingAway, reason: "server shutting down")
            flushIfNeeded()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case WebSocketFrameGuard.Violation.malformedFrame:
            protocolError("an unmasked frame or reserved bits")
        case WebSocketFrameGuard.Violation.invalidUTF8:
            close(code: .dataInconsistentWithMessage, reason: "a text message that is not UTF-8")
            flushIfNeeded()
            context.close(promise: nil)
        case WebSocketFrameGuard.Violation.inflatesTooLarge:
            close(code: .messageTooLarge, reason: "a compressed message inflates past the size limit")
            flushIfNeeded()
            context.close(promise: nil)
        case WebSocketFrameGuard.Violation.invalidCompressedData:
            close(code: .dataInconsistentWithMessage, reason: "a compressed message that is not deflate data")
            flushIfNeeded()
            context.close(promise: nil)
        case WebSocketFrameGuard.Violation.messageTooSlow:
            close(code: .policyViolation, reason: "a fragmented message took too long")
            flushIfNeeded()
            context.close(promise: nil)
        case is NIOWebSocketError:
            // swift-nio's protocol error handler has sent the close frame (1002, or 1009 for a
            // frame over the size limit) and closes the connection.
            closeSent = true
        case let error as NIOWebSocketFrameAggregator.Error:
            switch error {
            case .tooManyFragments, .accumulatedFrameSizeIsTooLarge, .nonFinalFragmentSizeIsTooSmall:
                close(code: .messageTooLarge, reason: nil)
            default:
                close(code: .protocolError, reason: nil)
            }
            flushIfNeeded()
            context.close(promise: nil)
        default:
            log(.debug, "websocket failed", ["error": "\(error)"])
            context.close(promise: nil)
        }
    }
}

/// A WebSocket is pinged by its loop's sweep: every interval, unless it has closed.
extension WebSocketConnection: SweepMember {
    func sweptInterval() { pingTick() }
}

/// A WebSocket hears of its match on its event loop, through a `LoopSubscriber`.
extension WebSocketConnection: MatchListener {
    func matchPublished(upTo version: Int) { deliverEvents(upTo: version) }
    func matchRolledBack(to version: Int) { rolledBack(to: version) }
}
