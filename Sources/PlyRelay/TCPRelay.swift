import NIOCore
import NIOPosix
import Synchronization

/// A TCP relay between clients and a server, for tests and benchmarks: it can add a one-way
/// delay with jitter to everything it forwards (keeping each direction in order), count the
/// bytes it forwards each way (and keep every byte sent to clients, when asked to), and cut
/// every connection at once, as a network failure would.
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
    /// Which connections (judged by the first bytes the client sends) get nothing back until the
    /// server closes them: a proxy that buffers whole responses, as one that does not know
    /// streaming does.
    let holdsResponses: (@Sendable (ByteBuffer) -> Bool)?
    /// How long after the server's `101 Switching Protocols` each upgraded connection is cut
    /// (a proxy that lets WebSockets open, then kills them); nil for never. Changed with
    /// `cutUpgrades(after:)` (the proxy mended, or put back).
    var cutsUpgradesAfter: Duration? { state.withLock { $0.cutsUpgradesAfter } }
    private let listener: any Channel
    private let state = Mutex(State())

    private struct State {
        var counts = Counts()
        var received: [UInt8] = []
        var connections: [ObjectIdentifier: any Channel] = [:]
        var silenced: Set<ObjectIdentifier> = []
        var cutsUpgradesAfter: Duration?
    }

    private init(port: Int, latency: Latency?, recording: Bool, holdsResponses: (@Sendable (ByteBuffer) -> Bool)?,
                 cutsUpgradesAfter: Duration?, listener: any Channel) {
        self.port = port
        self.latency = latency
        self.recording = recording
        self.holdsResponses = holdsResponses
        self.listener = listener
        state.withLock { $0.cutsUpgradesAfter = cutsUpgradesAfter }
    }

    /// Listens on a free loopback port and relays each connection to `host:targetPort`.
    /// - Parameters:
    ///   - recording: keep every byte forwarded to clients, in the order forwarded.
    ///   - holdsResponses: for the connections whose first bytes from the client it picks, hold
    ///     every byte from the server until the server closes (a buffering proxy).
    ///   - cutsUpgradesAfter: cut each connection this long after the server upgraded it.
    public static func start(
        to host: String,
        port targetPort: Int,
        latency: Latency? = nil,
        recording: Bool = false,
        holdsResponses: (@Sendable (ByteBuffer) -> Bool)? = nil,
        cutsUpgradesAfter: Duration? = nil,
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
                               holdsResponses: holdsResponses, cutsUpgradesAfter: cutsUpgradesAfter, listener: listener)
        relay.value = started
        return started
    }

    /// Joins a client's connection and the server's into one relayed pair.
    private func glue(_ inbound: any Channel, _ outbound: any Channel) -> EventLoopFuture<Void> {
        inbound.eventLoop.makeCompletedFuture {
            let up = RelayHandler(relay: self, upstream: true)
            let down = RelayHandler(relay: self, upstream: false)
            up.partner = down
            down.partner = up
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
    /// Whether the first bytes have been judged (`TCPRelay.holdsResponses`), on the client's side.
    private var judged = false
    /// Bytes from the server held back until it closes, when this (the client's) side holds them.
    private var held: [ByteBuffer]?

    init(relay: TCPRelay, upstream: Bool) {
        self.relay = relay
        self.upstream = upstream
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        if relay.isSilenced(context.channel) { return }
        relay.count(buffer, upstream: upstream)
        if upstream, !judged {
            judged = true
            if relay.holdsResponses?(buffer) == true { held = [] }
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

    /// Writes bytes read by the partner, now or after the delay (never before earlier ones).
    func send(_ buffer: ByteBuffer) {
        guard let context else { return }
        if held != nil {
            held?.append(buffer)
            return
        }
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

    /// Writes what was held back: the server has closed, so a buffering proxy hands it all on.
    func releaseHeld() {
        guard let bytes = held, let context else { return }
        held = nil
        for buffer in bytes { context.write(wrapOutboundOut(buffer), promise: nil) }
        context.flush()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // One side gone: close the other, once what was already due (or held) has been written.
        partner?.releaseHeld()
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
