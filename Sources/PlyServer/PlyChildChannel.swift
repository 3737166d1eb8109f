import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket

/// How ply sets up each accepted connection, as a Hummingbird server child channel:
///
/// 1. `ConnectionDoor` first, so every TCP connection is counted (and refused beyond the
///    limit) from the moment it is accepted, whatever it becomes, and timed out when a request
///    head takes too long or a kept-alive connection stays idle;
/// 2. swift-nio's HTTP/1.1 server pipeline with a WebSocket upgrader, and `HTTPConnection`
///    after it: long polls and commands are served there, on the event loop; any other request
///    goes on to Hummingbird's router;
/// 3. an upgrade replaces `HTTPConnection` with a `WebSocketConnection`, on the event loop too.
struct PlyChildChannel: ServerChildChannel, HTTPChannelHandler {
    typealias HTTPChannel = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    enum Upgrade: Sendable {
        /// A WebSocket, served by its channel handler from now on.
        case webSocket
        /// Plain HTTP: served by `HTTPConnection`, which starts the router's side of the
        /// connection (and its task) when a request for the router arrives; a connection that
        /// only polls and sends commands costs no task.
        case http
    }

    struct Value: ServerChildChannelValue {
        let channel: any Channel
        let upgrade: EventLoopFuture<Upgrade>
    }

    let responder: HTTPChannelHandler.Responder
    let webSocket: WebSocketTransport?
    let longPoll: LongPollTransport
    let connections: Connections
    let configuration: ServerConfiguration
    let http1 = HTTP1Channel.Configuration()

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ConnectionDoor(connections: connections, configuration: configuration, logger: logger))
            // Most requests and messages are a few hundred bytes: start each connection's receive
            // buffer (which it keeps between reads) small; it grows for larger reads.
            try channel.syncOptions?.setOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65_536))
            let http = HTTPConnection(transport: longPoll) {
                // The first request for the router: build its side of the pipeline now, and the
                // task that serves it. (A task of its own rather than a child of the server's
                // group: the group's children are short-lived, and a long-lived child makes every
                // other child's removal cost more.)
                let routerSide = try Self.addRouterSide(to: channel, logger: logger)
                Task { await self.handleHTTP(asyncChannel: routerSide, logger: logger) }
            }
            let connection = NIOLoopBound(http, eventLoop: channel.eventLoop)
            // The judgement of an upgrade request, made once and read when the pipeline is built.
            let admission = NIOLoopBoundBox<WebSocketTransport.Admission?>(nil, eventLoop: channel.eventLoop)
            let upgrader = NIOTypedWebSocketServerUpgrader<Upgrade>(
                maxFrameSize: configuration.maxMessageBytes,
                shouldUpgrade: { channel, head in
                    let judged = webSocket?.admit(head, client: connections.client(channel.remoteAddress, forwardedFor: head.headers[HTTPConnection.forwardedFor]),
                                                     on: channel.eventLoop)
                        ?? channel.eventLoop.makeSucceededFuture(nil)
                    return judged.map { judged in
                        admission.value = judged
                        // Not a WebSocket endpoint: the request is answered as a refused upgrade.
                        if judged == nil { connection.value.refuseUpgrade = true }
                        return judged == nil ? nil : HTTPHeaders()
                    }
                },
                upgradePipelineHandler: { channel, head in
                    channel.eventLoop.makeCompletedFuture {
                        guard let judged = admission.value else { throw NIOWebSocketUpgradeError.unsupportedWebSocketTarget }
                        channel.pipeline.syncOperations.removeHandler(connection.value, promise: nil)
                        try channel.pipeline.syncOperations.addHandlers([
                            WebSocketFrameGuard(fragmentTime: TimeAmount(configuration.maxFragmentedMessageTime)),
                            NIOWebSocketFrameAggregator(
                                minNonFinalFragmentSize: 1,
                                maxAccumulatedFrameCount: configuration.maxMessageFragments,
                                maxAccumulatedFrameSize: configuration.maxMessageBytes
                            ),
                            WebSocketConnection(admission: judged, client: connections.client(channel.remoteAddress, forwardedFor: head.headers[HTTPConnection.forwardedFor]),
                                                connections: connections, configuration: configuration, logger: logger),
                        ])
                        return Upgrade.webSocket
                    }
                }
            )
            let plainHTTP = NIOTypedHTTPServerUpgradeConfiguration<Upgrade>(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in channel.eventLoop.makeSucceededFuture(.http) }
            )
            var pipeline = NIOUpgradableHTTPServerPipelineConfiguration(upgradeConfiguration: plainHTTP)
            pipeline.enablePipelining = false  // HTTPConnection keeps requests and responses in order
            pipeline.enableErrorHandling = false  // HTTPConnection answers what cannot be read
            pipeline.enableResponseHeaderValidation = false  // Swift HTTP Types validate them
            pipeline.decoderConfiguration.maxHeaderFieldSize = http1.httpDecoder.maxHeaderFieldSize
            pipeline.decoderConfiguration.maxHeaderListSize = http1.httpDecoder.maxHeaderListSize
            pipeline.decoderConfiguration.maxHeaderFieldCount = http1.httpDecoder.maxHeaderFieldCount
            let upgrade = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: pipeline)
            try channel.pipeline.syncOperations.addHandler(http)
            return Value(channel: channel, upgrade: upgrade)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgrade.get() {
            case .webSocket, .http:
                return  // their handlers run them on the event loop
            }
        } catch {
            logger.debug("connection ended before its first request", metadata: ["error": "\(error)"])
            value.channel.close(promise: nil)
        }
    }

    /// Hummingbird's side of an HTTP connection, at the end of its pipeline.
    private static func addRouterSide(to channel: any Channel, logger: Logger) throws -> HTTPChannel {
        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
        try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(idleTimeout: nil, logger: logger))
        return try HTTPChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
    }
}
