import NIOCore

/// The first handler of every client pipeline: it sees bytes exactly as they go to and come
/// from the socket, before any HTTP or WebSocket coding, and adds them to the stats.
/// It also keeps this channel's own running counts, which the HTTP exchange handler reads
/// (on the same event loop) to split each request and response into overhead and payload.
final class WireCounter: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private let stats: WireStats
    private(set) var sent = 0
    private(set) var received = 0

    init(stats: WireStats) {
        self.stats = stats
    }

    func channelActive(context: ChannelHandlerContext) {
        stats.update { $0.tcpConnections += 1 }
        stats.record(WireRecord(.sent, .connection("TCP connect"), overhead: 0, payload: 0))
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stats.record(WireRecord(.received, .connection("TCP closed"), overhead: 0, payload: 0))
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let count = unwrapInboundIn(data).readableBytes
        received += count
        stats.update { $0.bytesReceived += count }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let count = unwrapOutboundIn(data).readableBytes
        sent += count
        stats.update { $0.bytesSent += count }
        context.write(data, promise: promise)
    }
}
