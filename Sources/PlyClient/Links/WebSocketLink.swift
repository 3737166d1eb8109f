import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import PlyCompression

/// One WebSocket connection (RFC 6455), built from swift-nio's own parts: the HTTP request
/// encoder and response decoder for the upgrade, `NIOWebSocketClientUpgrader` for the
/// handshake, and its frame encoder, decoder and aggregator. A `WireCounter` at the socket
/// end counts every byte, so frame headers and masks show in the stats.
///
/// Frames that arrive together with the `101` response are kept even when the server closes
/// straight after them (as it does when it refuses a connection with a close code): NIO's
/// HTTP decoder drops bytes left over after an upgrade once it has seen end-of-input, so an
/// `EndOfInputGate` holds end-of-input back until the frame decoder is in place.
public final class WebSocketLink: Sendable {
    /// What arrives on the connection.
    public enum Event: Sendable, Equatable {
        case text(ByteBuffer)
        case binary(ByteBuffer)
        /// The connection ended: the server's close code and reason, if it sent a close frame.
        case closed(code: WebSocketErrorCode?, reason: String?)
    }

    /// What arrives, as a sequence (empty when the link was opened with an `onEvent` handler).
    public let events: AsyncStream<Event>
    private let channel: any Channel
    private let stats: WireStats

    private init(channel: any Channel, events: AsyncStream<Event>, stats: WireStats) {
        self.channel = channel
        self.events = events
        self.stats = stats
    }

    /// Opens a TCP connection, upgrades it and returns once the server has answered `101`;
    /// what arrives is read from `events`. Throws `LinkError.upgradeRefused` with the
    /// server's status and body if it does not upgrade.
    public static func connect(
        to endpoint: Endpoint,
        path: String,
        headers: [(String, String)] = [],
        maxFrameSize: Int = 1 << 16,
        pingInterval: TimeAmount? = nil,
        compression: Bool = false,
        stats: WireStats,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        timeout: TimeAmount = .seconds(5)
    ) async throws -> WebSocketLink {
        let (events, continuation) = AsyncStream<Event>.makeStream()
        return try await connect(
            to: endpoint, path: path, headers: headers, maxFrameSize: maxFrameSize, pingInterval: pingInterval, compression: compression,
            stats: stats, group: group, timeout: timeout, events: events,
            onEvent: { event in
                continuation.yield(event)
                if case .closed = event { continuation.finish() }
            }
        )
    }

    /// As above, but each event is handed to `onEvent` on the connection's event loop, as it
    /// arrives: no hop to another task before the caller sees it.
    public static func connect(
        to endpoint: Endpoint,
        path: String,
        headers: [(String, String)] = [],
        maxFrameSize: Int = 1 << 16,
        pingInterval: TimeAmount? = nil,
        compression: Bool = false,
        stats: WireStats,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        timeout: TimeAmount = .seconds(5),
        onEvent: @escaping @Sendable (Event) -> Void
    ) async throws -> WebSocketLink {
        try await connect(
            to: endpoint, path: path, headers: headers, maxFrameSize: maxFrameSize, pingInterval: pingInterval, compression: compression,
            stats: stats, group: group, timeout: timeout, events: AsyncStream { $0.finish() }, onEvent: onEvent
        )
    }

    private static func connect(
        to endpoint: Endpoint,
        path: String,
        headers: [(String, String)],
        maxFrameSize: Int,
        pingInterval: TimeAmount?,
        compression: Bool,
        stats: WireStats,
        group: any EventLoopGroup,
        timeout: TimeAmount,
        events: AsyncStream<Event>,
        onEvent: @escaping @Sendable (Event) -> Void
    ) async throws -> WebSocketLink {
        let upgraded = group.any().makePromise(of: Void.self)
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelOption(.allowRemoteHalfClosure, value: true)
                .connectTimeout(timeout)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let gate = EndOfInputGate()
                        let refusal = UpgradeRefusalHandler(promise: upgraded, gate: gate)
                        let encoder = HTTPRequestEncoder()
                        let decoder = ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes))
                        let upgrader = NIOWebSocketClientUpgrader(maxFrameSize: maxFrameSize, automaticErrorHandling: true) { channel, response in
                            channel.eventLoop.makeCompletedFuture {
                                // RFC 7692 5.1: an answer the client cannot take fails the connection.
                                let agreed: PerMessageDeflate?
                                do throws(PerMessageDeflate.Refusal) {
                                    let values = response.headers[canonicalForm: "sec-websocket-extensions"].map(String.init)
                                    agreed = compression ? try PerMessageDeflate.accept(values) : nil
                                    if !compression, let value = values.first { throw .notOffered(value) }
                                } catch {
                                    upgraded.fail(LinkError.badExtensions(error.description))
                                    throw error
                                }
                                let inflater = agreed.map { MessageInflaterHandler(MessageInflater($0, limit: maxFrameSize)) }
                                try channel.pipeline.syncOperations.addHandlers((inflater.map { [$0] } ?? []) + [
                                    NIOWebSocketFrameAggregator(
                                        minNonFinalFragmentSize: 1,
                                        maxAccumulatedFrameCount: 64,
                                        maxAccumulatedFrameSize: maxFrameSize
                                    ),
                                    WebSocketFrameHandler(onEvent: onEvent, stats: stats, pingInterval: pingInterval,
                                                          deflater: agreed.map(MessageDeflater.init), inflater: inflater),
                                ])
                                stats.update { $0.handshakes += 1 }
                                upgraded.succeed()
                                // Let end-of-input through once the frames that came with the 101 are replayed.
                                channel.eventLoop.execute { gate.open() }
                            }
                        }
                        let upgradeHandler = NIOHTTPClientUpgradeHandler(
                            upgraders: [upgrader],
                            httpHandlers: [encoder, decoder],
                            upgradeCompletionHandler: { context in
                                context.pipeline.syncOperations.removeHandler(refusal, promise: nil)
                            }
                        )
                        try channel.pipeline.syncOperations.addHandlers([
                            WireCounter(stats: stats), gate, encoder, decoder, upgradeHandler, refusal,
                        ])
                    }
                }
                .connect(host: endpoint.host, port: endpoint.port)
                .get()
        } catch {
            upgraded.fail(error)
            onEvent(.closed(code: nil, reason: nil))
            throw error
        }
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
        head.headers.add(name: "Host", value: endpoint.hostHeader)
        head.headers.add(name: "Content-Length", value: "0")
        if compression { head.headers.add(name: "Sec-WebSocket-Extensions", value: PerMessageDeflate.clientOffer) }
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        let timer = channel.eventLoop.scheduleTask(in: timeout) {
            upgraded.fail(LinkError.timedOut)
            channel.close(promise: nil)
        }
        channel.closeFuture.whenComplete { _ in upgraded.fail(LinkError.connectionClosed) }
        do {
            try await upgraded.futureResult.get()
            timer.cancel()
        } catch {
            timer.cancel()
            channel.close(promise: nil)
            throw error
        }
        return WebSocketLink(channel: channel, events: events, stats: stats)
    }

    /// The event loop the connection runs on.
    public var eventLoop: any EventLoop { channel.eventLoop }

    /// Sends one text message (masked, as a client must).
    public func send(text: ByteBuffer) {
        send(WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: text))
    }

    /// Sends any frame, e.g. a binary one or a text frame with bytes that are not UTF-8.
    public func send(_ frame: WebSocketFrame) {
        if frame.opcode == .text || frame.opcode == .binary { stats.update { $0.messagesSent += 1 } }
        channel.writeAndFlush(frame, promise: nil)
    }

    /// Sends frames as they are, flushed together, and returns once the socket has taken the
    /// last: a sender that waits for it never has more queued than it sent at once.
    public func send(_ frames: [WebSocketFrame]) async throws {
        guard let last = frames.last else { return }
        for frame in frames.dropLast() { channel.write(frame, promise: nil) }
        try await channel.writeAndFlush(last).get()
    }

    /// Starts the closing handshake; the events end when the server answers or the link drops.
    public func close(code: WebSocketErrorCode = .normalClosure) {
        var data = channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: code)
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: data), promise: nil)
        channel.eventLoop.scheduleTask(in: .seconds(2)) { [channel] in channel.close(promise: nil) }
    }

    /// Stops reading from the socket, as a client that has stopped reading would: the server's
    /// messages pile up in the network's buffers, whose receiving end is also shrunk (Linux
    /// would otherwise let it grow to tens of megabytes) so that the server soon sees it.
    public func stopReading() {
        _ = channel.setOption(ChannelOptions.socketOption(.so_rcvbuf), value: 4096)
            .flatMap { [channel] in channel.setOption(ChannelOptions.autoRead, value: false) }
    }

    /// Drops the TCP connection at once, without a closing handshake (as a network failure would).
    public func drop() {
        channel.close(promise: nil)
    }
}

/// Catches the answer to an upgrade request that is not `101`, and fails the connection with
/// its status and body. Removed from the pipeline once the upgrade succeeds.
private final class UpgradeRefusalHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<Void>
    private let gate: EndOfInputGate
    private var status = 0
    private var body = ByteBuffer()

    init(promise: EventLoopPromise<Void>, gate: EndOfInputGate) {
        self.promise = promise
        self.gate = gate
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
            gate.open()
        case .body(var part): body.writeBuffer(&part)
        case .end:
            promise.fail(LinkError.upgradeRefused(status: status, body: String(buffer: body)))
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            promise.fail(LinkError.upgradeRefused(status: status, body: String(buffer: body)))
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// Holds back end-of-input (the peer's FIN) until `open()`, so that bytes that arrived just
/// before it are decoded as WebSocket frames rather than dropped with the HTTP decoder.
/// Needs `allowRemoteHalfClosure`, which turns the FIN into an `inputClosed` event.
private final class EndOfInputGate: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    // Touched only on the channel's event loop.
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private var context: ChannelHandlerContext?
    private var isOpen = false
    private var heldEndOfInput = false

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event, !isOpen {
            heldEndOfInput = true
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func open() {
        guard !isOpen, let context else { return }
        isOpen = true
        if heldEndOfInput { context.fireUserInboundEventTriggered(ChannelEvent.inputClosed) }
    }
}

/// After the upgrade: turns whole messages into events, answers pings, completes the closing
/// handshake, optionally pings the server to find a dead peer, and accounts every frame.
private final class WebSocketFrameHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let onEvent: @Sendable (WebSocketLink.Event) -> Void
    private let stats: WireStats
    private let pingInterval: TimeAmount?
    private var awaitingPong = false
    private var pinger: RepeatedTask?
    private var closeSent = false
    private var closeReceived: (code: WebSocketErrorCode?, reason: String?)?
    /// With `permessage-deflate` agreed: whole messages sent go out deflated, and what each
    /// message received took on the wire is the inflater's to tell.
    private let deflater: MessageDeflater?
    private let inflater: MessageInflaterHandler?

    init(onEvent: @escaping @Sendable (WebSocketLink.Event) -> Void, stats: WireStats, pingInterval: TimeAmount?,
         deflater: MessageDeflater? = nil, inflater: MessageInflaterHandler? = nil) {
        self.onEvent = onEvent
        self.stats = stats
        self.pingInterval = pingInterval
        self.deflater = deflater
        self.inflater = inflater
    }

    static func name(of opcode: WebSocketOpcode) -> String {
        switch opcode {
        case .text: "text"
        case .binary: "binary"
        case .continuation: "continuation"
        case .ping: "ping"
        case .pong: "pong"
        case .connectionClose: "close"
        default: "opcode \(opcode)"
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        stats.record(WireRecord(.received, .connection("WebSocket handshake: 101 Switching Protocols"), overhead: 0, payload: 0))
        guard let pingInterval else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        pinger = context.eventLoop.scheduleRepeatedTask(initialDelay: pingInterval, delay: pingInterval) { _ in
            let (handler, context) = loopBound.value
            handler.ping(context: context)
        }
    }

    private func ping(context: ChannelHandlerContext) {
        guard !awaitingPong else {
            // The last ping went unanswered: the server or the path to it is gone.
            context.close(promise: nil)
            return
        }
        awaitingPong = true
        write(context: context, WebSocketFrame(fin: true, opcode: .ping, maskKey: .random(), data: context.channel.allocator.buffer(capacity: 0)))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        let isMessage = frame.opcode == .text || frame.opcode == .binary
        account(frame, direction: .received, wirePayload: isMessage ? inflater?.takeCompressedBytes() : nil)
        switch frame.opcode {
        case .text:
            stats.update { $0.messagesReceived += 1 }
            onEvent(.text(frame.unmaskedData))
        case .binary:
            stats.update { $0.messagesReceived += 1 }
            onEvent(.binary(frame.unmaskedData))
        case .ping:
            write(context: context, WebSocketFrame(fin: true, opcode: .pong, maskKey: .random(), data: frame.unmaskedData))
        case .pong:
            awaitingPong = false
        case .connectionClose:
            var data = frame.unmaskedData
            let code = data.readWebSocketErrorCode()
            let reason = data.readString(length: data.readableBytes)
            closeReceived = (code, reason)
            if !closeSent {
                closeSent = true
                var echo = context.channel.allocator.buffer(capacity: 2)
                echo.write(webSocketErrorCode: code ?? .normalClosure)
                write(context: context, WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: echo))
            }
            context.close(promise: nil)
        default:
            break
        }
    }

    /// Frames from `WebSocketLink.send` pass here on their way out.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let frame = unwrapOutboundIn(data)
        if frame.opcode == .connectionClose { closeSent = true }
        // Whole messages only: a message sent in fragments (by a test) goes as it is.
        if let deflater, frame.fin, frame.opcode == .text || frame.opcode == .binary {
            do {
                var compressed = frame
                compressed.data = try deflater.deflate(frame.data, allocator: context.channel.allocator)
                compressed.rsv1 = true
                account(frame, direction: .sent, wirePayload: compressed.data.readableBytes)
                return context.write(wrapOutboundOut(compressed), promise: promise)
            } catch {
                promise?.fail(error)
                return context.close(promise: nil)
            }
        }
        account(frame, direction: .sent)
        context.write(data, promise: promise)
    }

    private func write(context: ChannelHandlerContext, _ frame: WebSocketFrame) {
        account(frame, direction: .sent)
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // The server closed its side: every frame it sent has been read.
        if case ChannelEvent.inputClosed = event { context.close(promise: nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        pinger?.cancel()
        onEvent(.closed(code: closeReceived?.code, reason: closeReceived?.reason))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Counts a frame's payload (the totals' overhead is the rest of the socket's bytes) and
    /// records the frame for the wire view: `wirePayload` is what a compressed message took on
    /// the wire, the frame's own payload being the message inflated. A frame's header is 2
    /// bytes, plus 2 or 8 for longer lengths, plus 4 for a mask (RFC 6455, 5.2).
    private func account(_ frame: WebSocketFrame, direction: WireRecord.Direction, wirePayload: Int? = nil) {
        let plain = frame.length
        let payload = wirePayload ?? plain
        let header = 2 + (payload > 65_535 ? 8 : payload > 125 ? 2 : 0) + (frame.maskKey == nil ? 0 : 4)
        stats.update { totals in
            if direction == .sent {
                totals.payloadSent += payload
                totals.plainPayloadSent += plain
            } else {
                totals.payloadReceived += payload
                totals.plainPayloadReceived += plain
            }
        }
        // Sent frames pass here before the encoder masks them; the server's are never masked.
        stats.record(WireRecord(direction, .frame(Self.name(of: frame.opcode)), overhead: header, payload: payload,
                                plainPayload: wirePayload == nil ? nil : plain,
                                preview: frame.opcode == .text ? WireRecord.preview(of: frame.data) : nil))
    }
}

/// Inflates compressed messages from the server (RSV1 on their first frame), frame by frame
/// before swift-nio's aggregator joins them, never past the message size limit; keeps what
/// the last message took on the wire for the frame handler's accounting. A reserved bit where
/// none may be, or bytes that do not inflate, fail the connection (RFC 7692 6 and 8).
final class MessageInflaterHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let inflater: MessageInflater
    private var compressing = false
    private var compressedBytes = 0
    /// What the last whole message took on the wire, if it was compressed.
    private var lastCompressed: Int?
    private var failed = false

    init(_ inflater: MessageInflater) {
        self.inflater = inflater
    }

    func takeCompressedBytes() -> Int? {
        defer { lastCompressed = nil }
        return lastCompressed
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        let frame = unwrapInboundIn(data)
        let startsMessage = frame.opcode == .text || frame.opcode == .binary
        var reserved = frame.reservedBits
        if startsMessage { reserved.remove(.rsv1) }
        guard reserved.isEmpty else { return fail(context, .protocolError) }
        guard startsMessage || frame.opcode == .continuation else { return context.fireChannelRead(data) }
        if startsMessage {
            compressing = frame.rsv1
            compressedBytes = 0
        }
        guard compressing else { return context.fireChannelRead(data) }
        compressedBytes += frame.length
        do throws(MessageInflater.Failure) {
            let payload = try inflater.inflate(frame.unmaskedData, fin: frame.fin, allocator: context.channel.allocator)
            if frame.fin {
                compressing = false
                lastCompressed = compressedBytes
            }
            context.fireChannelRead(wrapInboundOut(WebSocketFrame(fin: frame.fin, opcode: frame.opcode, data: payload)))
        } catch {
            fail(context, error == .tooLarge ? .messageTooLarge : .dataInconsistentWithMessage)
        }
    }

    private func fail(_ context: ChannelHandlerContext, _ code: WebSocketErrorCode) {
        failed = true
        var data = context.channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: code)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, maskKey: .random(), data: data)))
            .whenComplete { _ in channel.close(promise: nil) }
    }
}

