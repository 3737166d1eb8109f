import NIOCore
import NIOExtras
import NIOPosix
import Synchronization

/// The floor: a raw TCP relay with no HTTP, no WebSocket and no game, only length-prefixed
/// frames (swift-nio-extras' framing) passed from one client of a pair to the other. The
/// benchmark sends the same payloads through it as through ply, so every latency can also be
/// read as a ratio to what this machine does with the least protocol possible.
///
/// A client's first frame names its pair; once both members have named it, each gets a
/// one-byte frame, and every later frame is relayed to the partner.
public enum FloorServer {
    /// Listens on `host:port` until the channel closes; returns the bound channel.
    public static func start(host: String, port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> any Channel {
        let pairs = Pairs()
        return try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 4096)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(LengthFieldBasedFrameDecoder(lengthFieldBitLength: .twoBytes)),
                        LengthFieldPrepender(lengthFieldBitLength: .twoBytes),
                        FloorRelayHandler(pairs: pairs),
                    ])
                }
            }
            .bind(host: host, port: port)
            .get()
    }

    /// Clients waiting for their partner, by pair name.
    final class Pairs: Sendable {
        private let waiting = Mutex<[String: any Channel]>([:])

        /// The partner if it is already waiting; otherwise this channel waits.
        func meet(_ name: String, _ channel: any Channel) -> (any Channel)? {
            waiting.withLock { waiting in
                if let partner = waiting.removeValue(forKey: name) { return partner }
                waiting[name] = channel
                return nil
            }
        }
    }
}

private final class FloorRelayHandler: ChannelInboundHandler, @unchecked Sendable {
    // State is touched on this channel's event loop, except `partner`, which the partner sets
    // once (through its event loop) before either side relays.
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let pairs: FloorServer.Pairs
    private let partner = Mutex<(any Channel)?>(nil)
    private var named = false

    init(pairs: FloorServer.Pairs) {
        self.pairs = pairs
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var frame = unwrapInboundIn(data)
        guard named else {
            named = true
            let name = frame.readString(length: frame.readableBytes) ?? ""
            guard let other = pairs.meet(name, context.channel) else { return }
            let me = context.channel
            partner.withLock { $0 = other }
            _ = other.pipeline.handler(type: FloorRelayHandler.self).map { handler in
                handler.partner.withLock { $0 = me }
                for channel in [me, other] { channel.writeAndFlush(ByteBuffer(bytes: [1]), promise: nil) }
            }
            return
        }
        partner.withLock { $0 }?.writeAndFlush(frame, promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner.withLock { $0 }?.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// A floor client: one member of a pair.
public final class FloorLink: Sendable {
    public let frames: AsyncStream<ByteBuffer>
    private let channel: any Channel

    private init(channel: any Channel, frames: AsyncStream<ByteBuffer>) {
        self.channel = channel
        self.frames = frames
    }

    /// Connects, names the pair and returns once the partner is there too. Frames go to
    /// `frames`, or, given `onFrame`, to it as each is read (on the link's event loop; nil once
    /// the connection ended) and `frames` has none.
    public static func connect(host: String, port: Int, pair: String, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                               onFrame: (@Sendable (ByteBuffer?) -> Void)? = nil) async throws -> FloorLink {
        let (frames, continuation) = AsyncStream<ByteBuffer>.makeStream()
        let deliver: @Sendable (ByteBuffer?) -> Void
        if let onFrame {
            continuation.finish()
            deliver = onFrame
        } else {
            deliver = { frame in if let frame { continuation.yield(frame) } else { continuation.finish() } }
        }
        let ready = group.any().makePromise(of: Void.self)
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(LengthFieldBasedFrameDecoder(lengthFieldBitLength: .twoBytes)),
                        LengthFieldPrepender(lengthFieldBitLength: .twoBytes),
                        FloorClientHandler(ready: ready, deliver: deliver),
                    ])
                }
            }
            .connect(host: host, port: port)
            .get()
        channel.writeAndFlush(ByteBuffer(string: pair), promise: nil)
        channel.closeFuture.whenComplete { _ in ready.fail(ChannelError.ioOnClosedChannel) }
        try await ready.futureResult.get()
        return FloorLink(channel: channel, frames: frames)
    }

    public func send(_ payload: ByteBuffer) {
        channel.writeAndFlush(payload, promise: nil)
    }

    public func close() {
        channel.close(promise: nil)
    }
}

private final class FloorClientHandler: ChannelInboundHandler, @unchecked Sendable {
    // Touched only on the channel's event loop.
    typealias InboundIn = ByteBuffer

    private let ready: EventLoopPromise<Void>
    private let deliver: @Sendable (ByteBuffer?) -> Void
    private var paired = false

    init(ready: EventLoopPromise<Void>, deliver: @escaping @Sendable (ByteBuffer?) -> Void) {
        self.ready = ready
        self.deliver = deliver
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard paired else {
            paired = true
            ready.succeed()
            return
        }
        deliver(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        deliver(nil)
        ready.fail(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }
}
