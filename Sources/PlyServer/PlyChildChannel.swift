import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// How ply sets up each accepted connection, as a Hummingbird server child channel:
///
/// 1. `ConnectionDoor` first, so every TCP connection is counted (and refused beyond the
///    limit) from the moment it is accepted, whatever it becomes, and timed out when a request
///    head takes too long or a kept-alive connection stays idle;
/// 2. swift-nio's HTTP/1.1 request decoder, response encoder and pipelining handler;
/// 3. `HTTPConnection`, which dispatches every request by the route table: long polls and
///    commands on the event loop, other resources to Hummingbird's router, and upgrades,
///    which replace steps 2 and 3 with swift-nio's WebSocket frame codec and a
///    `WebSocketConnection`.
///
/// Every connection is served by its handlers on its event loop: the task Hummingbird gives
/// each connection ends at once.
struct PlyChildChannel: ServerChildChannel {
    struct Value: ServerChildChannelValue {
        let channel: any Channel
    }

    let services: HTTPConnection.Services
    let connections: Connections

    init(router: @escaping HTTPConnection.Router, webSocket: WebSocketTransport?, longPoll: LongPollTransport, eventStreams: EventStreamTransport,
         connections: Connections, origins: OriginPolicy) {
        services = HTTPConnection.Services(longPoll: longPoll, eventStreams: eventStreams, webSocket: webSocket, router: router, origins: origins)
        self.connections = connections
    }

    private var configuration: ServerConfiguration { services.longPoll.configuration }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ConnectionDoor(connections: connections, configuration: configuration, logger: logger))
            // Most requests and messages are a few hundred bytes: start each connection's receive
            // buffer (which it keeps between reads) small; it grows for larger reads.
            try channel.syncOptions?.setOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65_536))
            let limits = HTTP1Channel.Configuration().httpDecoder
            var decoderLimits = NIOHTTPDecoderLimitConfiguration()
            decoderLimits.maxHeaderFieldSize = limits.maxHeaderFieldSize
            decoderLimits.maxHeaderListSize = limits.maxHeaderListSize
            decoderLimits.maxHeaderFieldCount = limits.maxHeaderFieldCount
            // The decoder hands on what it holds after an upgrade request (the start of the
            // WebSocket's frames) when an upgrade removes it.
            let pipeline = channel.pipeline.syncOperations
            try pipeline.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes, limitConfiguration: decoderLimits)),
                                name: HTTPConnection.HandlerName.decoder)
            try pipeline.addHandler(HTTPResponseEncoder(), name: HTTPConnection.HandlerName.encoder)
            try pipeline.addHandler(HTTPServerPipelineHandler(), name: HTTPConnection.HandlerName.pipelining)
            try pipeline.addHandler(HTTPConnection(services: services, logger: logger))
            return Value(channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {}
}
