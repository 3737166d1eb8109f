import NIOCore
import NIOEmbedded
import NIOHTTP1
import NIOPosix
import Synchronization

/// A TCP relay between clients and a server, for tests and benchmarks: it can add a one-way
/// delay with jitter to everything it forwards (keeping each direction in order), count the
/// bytes it forwards each way (and keep every byte sent to clients, when asked to), and cut
/// every connection at once, as a network failure would. It also plays the middleboxes that
/// break real-time transports in the field: a proxy that buffers responses, one that kills
/// WebSockets soon after they open, one that strips `Upgrade` from requests, and a NAT that
/// forgets connections left idle.
public final class TCPRelay: Sendable {
    /// Delay added to each chunk, each way.
    public struct Latency: Sendable, Hashable {
        public var oneWay: Duration
        public var jitter: Duration

        public init(oneWay: Duration, jitter: Duration = .zero) {
            self.oneWay = oneWay
            self.jitter = jitter
        }
    }

    /// How a buffering proxy holds responses back.
    public struct ResponseBuffering: Sendable {
        /// Which connections it buffers, judged by the first bytes the client sends.
        public var picks: @Sendable (ByteBuffer) -> Bool
        /// How many bytes of a response it holds before it passes them on (its buffer's size).
        public var bufferSize: Int

        /// Every connection but a WebSocket upgrade's (nginx passes those through), with a buffer
        /// of `bufferSize` bytes per response.
        public init(bufferSize: Int = 4096, picks: @escaping @Sendable (ByteBuffer) -> Bool = ResponseBuffering.notUpgrades) {
            self.picks = picks
            self.bufferSize = bufferSize
        }

        /// Connections whose first request does not ask for a WebSocket.
        public static let notUpgrades: @Sendable (ByteBuffer) -> Bool = { first in
            !String(buffer: first).lowercased().contains("upgrade: websocket")
        }
    }

    /// Bytes forwarded so far.
    public struct Counts: Sendable, Hashable {
        /// From clients to the server.
        public var upstream = 0
        /// From the server to clients.
        public var downstream = 0
    }

    public let port: Int
    let latency: Latency?
    /// Whether every byte forwarded to clients is kept (`received`).
    let recording: Bool
    /// Responses held back until they end or fill a buffer: a proxy that buffers, as nginx does
    /// by default; nil for none.
    let buffering: ResponseBuffering?
    /// How long after the server's `101 Switching Protocols` each upgraded connection is cut
    /// (a proxy that lets WebSockets open, then kills them); nil for never. Changed with
    /// `cutUpgrades(after:)` (the proxy mended, or put back).
    var cutsUpgradesAfter: Duration? { state.withLock { $0.cutsUpgradesAfter } }
    /// Whether `Upgrade` and `Connection: upgrade` are taken out of every request (a proxy
    /// that does not know WebSockets: the server never sees an upgrade asked for).
    let stripsUpgrade: Bool
    /// How long a connection may carry nothing either way before the relay forgets it: from
    /// then on it carries nothing and stays open, no FIN, no reset (a NAT's idle timeout).
    let cutsIdleAfter: Duration?
    private let listener: any Channel
    private let state = Mutex(State())

    private struct State {
        var counts = Counts()
        var received: [UInt8] = []
        var connections: [ObjectIdentifier: any Channel] = [:]
        var silenced: Set<ObjectIdentifier> = []
        var cutsUpgradesAfter: Duration?
    }

    private init(port: Int, latency: Latency?, recording: Bool, buffering: ResponseBuffering?,
                 cutsUpgradesAfter: Duration?, stripsUpgrade: Bool, cutsIdleAfter: Duration?, listener: any Channel) {
        self.port = port
        self.latency = latency
        self.recording = recording
        self.buffering = buffering
        self.stripsUpgrade = stripsUpgrade
        self.cutsIdleAfter = cutsIdleAfter
        self.listener = listener
        state.withLock { $0.cutsUpgradesAfter = cutsUpgradesAfter }
    }

    /// Listens on a free loopback port and relays each connection to `host:targetPort`.
    /// - Parameters:
    ///   - recording: keep every byte forwarded to clients, in the order forwarded.
    ///   - buffering: for the connections whose first bytes from the client it picks, hold each
    ///     response until it ends or fills the buffer (a buffering proxy).
    ///   - cutsUpgradesAfter: cut each connection this long after the server upgraded it.
    ///   - stripsUpgrade: take `Upgrade` and `Connection: upgrade` out of every request.
    ///   - cutsIdleAfter: silence each connection, both ways, once it has carried nothing for
    ///     this long (a NAT that forgot it).
    public static func start(
        to host: String,
        port targetPort: Int,
        latency: Latency? = nil,
        recording: Bool = false,
        buffering: ResponseBuffering? = nil,
        cutsUpgradesAfter: Duration? = nil,
        stripsUpgrade: Bool = false,
        cutsIdleAfter: Duration? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> TCPRelay {
        let relay = Box<TCPRelay>()
        let listener = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 4096)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { inbound in
                guard let relay = relay.value else { return inbound.close() }
                return ClientBootstrap(group: inbound.eventLoop)
                    .channelOption(.socketOption(.tcp_nodelay), value: 1)
                    .connect(host: host, port: targetPort)
                    .flatMap { outbound in relay.glue(inbound, outbound) }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        let started = TCPRelay(port: listener.localAddress?.port ?? 0, latency: latency, recording: recording,
                               buffering: buffering, cutsUpgradesAfter: cutsUpgradesAfter,
                               stripsUpgrade: stripsUpgrade, cutsIdleAfter: cutsIdleAfter, listener: listener)
        relay.value = started
        return started
    }

    /// Joins a client's connection and the server's into one relayed pair.
    private func glue(_ inbound: any Channel, _ outbound: any Channel) -> EventLoopFuture<Void> {
        inbound.eventLoop.makeCompletedFuture {
            let idle = cutsIdleAfter.map { IdleWatch(after: $0, channels: [inbound, outbound], relay: self) }
            let up = RelayHandler(relay: self, upstream: true, idle: idle)
            let down = RelayHandler(relay: self, upstream: false, idle: idle)
            up.partner = down
            down.partner = up
            if stripsUpgrade {
                // NIO's own decoder and encoder read each request and write it again, without them.
                try inbound.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes)))
                try inbound.pipeline.syncOperations.addHandler(UpgradeStripper())
            }
            try inbound.pipeline.syncOperations.addHandler(up)
            try outbound.pipeline.syncOperations.addHandler(down)
            state.withLock { state in
                state.connections[ObjectIdentifier(inbound)] = inbound
                state.connections[ObjectIdentifier(outbound)] = outbound
            }
            for channel in [inbound, outbound] {
                channel.closeFuture.whenComplete { [weak self] _ in
                    self?.state.withLock { state in
                        state.connections.removeValue(forKey: ObjectIdentifier(channel))
                        state.silenced.remove(ObjectIdentifier(channel))
                    }
                }
            }
            idle?.start(on: inbound.eventLoop)
            inbound.setOption(.autoRead, value: true).whenComplete { _ in }
        }
    }

    func count(_ buffer: ByteBuffer, upstream: Bool) {
        state.withLock { state in
            if upstream { state.counts.upstream += buffer.readableBytes } else { state.counts.downstream += buffer.readableBytes }
            if recording, !upstream { state.received += buffer.readableBytesView }
        }
    }

    public var counts: Counts { state.withLock { $0.counts } }

    /// Every byte forwarded to clients so far, across all connections, in the order forwarded
    /// (empty unless the relay was started `recording`).
    public var received: [UInt8] { state.withLock { $0.received } }

    /// How many connections (client side and server side) are open through the relay.
    public var openConnections: Int { state.withLock { $0.connections.count } }

    /// From now on, the connections open at this moment carry nothing either way, and stay
    /// open: as a NAT that forgot them would leave them (no FIN, no reset). New ones work.
    /// From now on, cut each connection upgraded after this long; nil to stop (connections
    /// upgraded before keep their fate).
    public func cutUpgrades(after delay: Duration?) {
        state.withLock { $0.cutsUpgradesAfter = delay }
    }

    public func silenceAll() {
        state.withLock { $0.silenced.formUnion($0.connections.keys) }
    }

    /// From now on, these connections carry nothing either way, and stay open.
    func silence(_ channels: [any Channel]) {
        state.withLock { state in
            for channel in channels where state.connections[ObjectIdentifier(channel)] != nil {
                state.silenced.insert(ObjectIdentifier(channel))
            }
        }
    }

    /// How many connections the relay has forgotten, as a NAT would after their idle timeout,
    /// and not yet seen closed.
    public var silencedConnections: Int { state.withLock { $0.silenced.count } }

    func isSilenced(_ channel: any Channel) -> Bool {
        state.withLock { $0.silenced.contains(ObjectIdentifier(channel)) }
    }

    /// Drops every relayed connection at once, both sides.
    public func cutAll() {
        for channel in state.withLock({ Array($0.connections.values) }) { channel.close(promise: nil) }
    }

    public func stop() async {
        cutAll()
        try? await listener.close()
    }
}

/// One side of a relayed pair: what it reads goes out through its partner, after the
/// relay's delay if it has one, in order.
private final class RelayHandler: ChannelInboundHandler, @unchecked Sendable {
    // Both handlers of a pair run on the same event loop; nothing here is touched elsewhere.
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let relay: TCPRelay
    private let upstream: Bool
    var partner: RelayHandler?
    private var context: ChannelHandlerContext?
    private var lastDue = NIODeadline.uptimeNanoseconds(0)
    private var random = SystemRandomNumberGenerator()
    /// Whether the first bytes have been judged (`TCPRelay.buffering`, an upgrade's `101`).
    private var judged = false
    /// The pair's idle timer, when the relay forgets idle connections.
    private let idle: IdleWatch?

    init(relay: TCPRelay, upstream: Bool, idle: IdleWatch?) {
        self.relay = relay
        self.upstream = upstream
        self.idle = idle
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if relay.isSilenced(context.channel) { return }
        idle?.touch()
        relay.count(buffer, upstream: upstream)
        if upstream, !judged {
            judged = true
            if let buffering = relay.buffering, buffering.picks(buffer) { partner?.bufferResponses(upTo: buffering.bufferSize) }
        }
        if !upstream, !judged {
            judged = true
            if let after = relay.cutsUpgradesAfter, buffer.readableBytesView.starts(with: Array("HTTP/1.1 101".utf8)) {
                let channel = context.channel
                context.eventLoop.scheduleTask(in: TimeAmount(after)) { channel.close(promise: nil) }
            }
        }
        partner?.send(buffer)
    }

    /// On the server's side: from now on, responses pass through a buffer.
    func bufferResponses(upTo size: Int) {
        guard let context else { return }
        try? context.pipeline.syncOperations.addHandler(ResponseBuffer(size: size), position: .before(self))
    }

    /// Writes bytes read by the partner, now or after the delay (never before earlier ones).
    func send(_ buffer: ByteBuffer) {
        guard let context else { return }
        guard let latency = relay.latency else {
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
            return
        }
        let jitter = latency.jitter > .zero
            ? Int64.random(in: -latency.jitter.nanoseconds...latency.jitter.nanoseconds, using: &random) : 0
        let due = max(lastDue, .now() + .nanoseconds(max(0, latency.oneWay.nanoseconds + jitter)))
        lastDue = due
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        context.eventLoop.scheduleTask(deadline: due) {
            let (handler, context) = loopBound.value
            guard handler.context != nil else { return }
            context.writeAndFlush(handler.wrapOutboundOut(buffer), promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        // One side gone: close the other, once what was already due has been written.
        if let channel = partner?.context?.channel {
            let delay = relay.latency.map { TimeAmount.nanoseconds($0.oneWay.nanoseconds + $0.jitter.nanoseconds) } ?? .zero
            channel.eventLoop.scheduleTask(in: delay) { channel.close(promise: nil) }
        }
        partner = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// A NAT's idle timer for one relayed pair: when neither side has sent anything for the
/// timeout, both are silenced. One timer per pair, moved on only when it fires.
private final class IdleWatch: @unchecked Sendable {
    // Both channels of a pair, and so this, live on one event loop.
    private let after: TimeAmount
    private let channels: [any Channel]
    private unowned let relay: TCPRelay
    private var lastActivity = NIODeadline.now()

    init(after: Duration, channels: [any Channel], relay: TCPRelay) {
        self.after = TimeAmount(after)
        self.channels = channels
        self.relay = relay
    }

    func touch() { lastActivity = .now() }

    func start(on loop: any EventLoop) {
        lastActivity = .now()
        schedule(at: lastActivity + after, on: loop)
    }

    private func schedule(at deadline: NIODeadline, on loop: any EventLoop) {
        loop.scheduleTask(deadline: deadline) { [self] in
            guard channels.contains(where: { $0.isActive }) else { return }
            let due = lastActivity + after
            if due > .now() { return schedule(at: due, on: loop) }
            relay.silence(channels)
        }
    }
}

/// A buffering proxy's buffer, on the server's side of a pair: each response is held until it
/// ends (a long poll's answer, whole) or until `size` bytes are held (then they go on, as a full
/// buffer does), so a stream's events come late and in lumps, if at all. Responses are read by
/// NIO's decoder and written again by NIO's encoder, each in a channel of its own.
private final class ResponseBuffer: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let size: Int
    private let decoder = EmbeddedChannel()
    private let encoder = EmbeddedChannel(handler: HTTPResponseEncoder())
    private var held: [ByteBuffer] = []
    private var heldBytes = 0
    /// NIO's response decoder reads a response as the answer to a request it saw written; the
    /// relay reads no requests, and ply's clients send no HEAD: it is told of GETs, this many
    /// ahead (more than any client pipelines), one more after each response.
    private static let requestsAhead = 32
    private static let request = HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/"))

    init(size: Int) {
        self.size = size
        try? decoder.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes)))
        for _ in 0..<Self.requestsAhead { try? decoder.writeOutbound(Self.request) }
        while (try? decoder.readOutbound(as: HTTPClientRequestPart.self)) != nil {}
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        do {
            try decoder.writeInbound(unwrapInboundIn(data))
            while let part = try decoder.readInbound(as: HTTPClientResponsePart.self) {
                let ends: Bool
                switch part {
                case .head(let head):
                    try encoder.writeOutbound(HTTPServerResponsePart.head(head))
                    ends = false
                case .body(let body):
                    try encoder.writeOutbound(HTTPServerResponsePart.body(.byteBuffer(body)))
                    ends = false
                case .end(let trailers):
                    try encoder.writeOutbound(HTTPServerResponsePart.end(trailers))
                    try decoder.writeOutbound(Self.request)
                    _ = try decoder.readOutbound(as: HTTPClientRequestPart.self)
                    ends = true
                }
                while let bytes = try encoder.readOutbound(as: ByteBuffer.self) {
                    heldBytes += bytes.readableBytes
                    held.append(bytes)
                }
                if ends || heldBytes >= size { pass(context) }
            }
        } catch {
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        // The server closed: what is held goes on before the close.
        pass(context)
        context.fireChannelInactive()
    }

    private func pass(_ context: ChannelHandlerContext) {
        for bytes in held { context.fireChannelRead(wrapInboundOut(bytes)) }
        held = []
        heldBytes = 0
    }
}

/// A proxy that does not know WebSockets: it passes each request on without the hop-by-hop
/// `Upgrade` and the `upgrade` token of `Connection`, so the server sees a plain GET. Requests
/// are read by NIO's decoder and written again by NIO's encoder.
private final class UpgradeStripper: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = ByteBuffer

    private let encoder = EmbeddedChannel(handler: HTTPRequestEncoder())

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part: HTTPClientRequestPart = switch unwrapInboundIn(data) {
        case .head(let head):
            .head(Self.stripped(head))
        case .body(let body):
            .body(.byteBuffer(body))
        case .end(let trailers):
            .end(trailers)
        }
        do {
            try encoder.writeOutbound(part)
            while let bytes = try encoder.readOutbound(as: ByteBuffer.self) { context.fireChannelRead(wrapInboundOut(bytes)) }
        } catch {
            context.close(promise: nil)
        }
    }

    private static func stripped(_ head: HTTPRequestHead) -> HTTPRequestHead {
        var head = head
        let kept = head.headers[canonicalForm: "connection"].filter { $0.lowercased() != "upgrade" }
        head.headers.remove(name: "upgrade")
        head.headers.remove(name: "connection")
        if !kept.isEmpty { head.headers.add(name: "connection", value: kept.joined(separator: ", ")) }
        return head
    }
}

private final class Box<Value: Sendable>: @unchecked Sendable {
    // Set once, before the listener accepts its first connection.
    var value: Value?
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
