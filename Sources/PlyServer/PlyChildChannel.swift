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
///    limit) from the moment it is accepted, whatever it becomes;
/// 2. swift-nio's HTTP/1.1 server pipeline with a WebSocket upgrader;
/// 3. a long poll or a command goes to a `LongPollHandler` on the connection's event loop, any
///    other plain HTTP request to Hummingbird's router; an upgrade becomes a
///    `WebSocketConnection` on the connection's event loop.
struct PlyChildChannel: ServerChildChannel, HTTPChannelHandler {
    typealias HTTPChannel = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    enum Upgrade: Sendable {
        /// A WebSocket, served by its channel handler from now on.
        case webSocket
        /// Plain HTTP: served by `LongPollHandler`, which starts the router's side of the
        /// connection (and its task) when a request for the router arrives; a connection that
        /// only polls and sends commands costs no task.
        case http
        /// An upgrade asked for where there is no WebSocket (or with `--no-websocket`).
        case refused(HTTPChannel)
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
            try channel.pipeline.syncOperations.addHandler(ConnectionDoor(connections: connections, logger: logger))
            // Most requests and messages are a few hundred bytes: start each connection's receive
            // buffer (which it keeps between reads) small; it grows for larger reads.
            try channel.syncOptions?.setOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65_536))
            // The judgement of an upgrade request, made once and read when the pipeline is built.
            let admission = NIOLoopBoundBox<WebSocketTransport.Admission?>(nil, eventLoop: channel.eventLoop)
            let attempted = NIOLoopBoundBox(false, eventLoop: channel.eventLoop)
            let upgrader = NIOTypedWebSocketServerUpgrader<Upgrade>(
                maxFrameSize: configuration.maxMessageBytes,
                shouldUpgrade: { channel, head in
                    attempted.value = true
                    admission.value = webSocket?.admit(head)
                    return channel.eventLoop.makeSucceededFuture(admission.value == nil ? nil : HTTPHeaders())
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        guard let judged = admission.value else { throw NIOWebSocketUpgradeError.unsupportedWebSocketTarget }
                        try channel.pipeline.syncOperations.addHandlers([
                            WebSocketFrameGuard(fragmentTime: TimeAmount(configuration.maxFragmentedMessageTime)),
                            NIOWebSocketFrameAggregator(
                                minNonFinalFragmentSize: 1,
                                maxAccumulatedFrameCount: configuration.maxMessageFragments,
                                maxAccumulatedFrameSize: configuration.maxMessageBytes
                            ),
                            WebSocketConnection(admission: judged, connections: connections, configuration: configuration, logger: logger),
                        ])
                        return Upgrade.webSocket
                    }
                }
            )
            let plainHTTP = NIOTypedHTTPServerUpgradeConfiguration<Upgrade>(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if attempted.value { return .refused(try Self.addRouterSide(to: channel, logger: logger)) }
                        try channel.pipeline.syncOperations.addHandler(LongPollHandler(transport: longPoll) {
                            // The first request for the router: build its side of the pipeline now,
                            // and the task that serves it. (A task of its own rather than a child of
                            // the server's group: the group's children are short-lived, and a
                            // long-lived child makes every other child's removal cost more.)
                            let http = try Self.addRouterSide(to: channel, logger: logger)
                            Task { await self.handleHTTP(asyncChannel: http, logger: logger) }
                        })
                        return .http
                    }
                }
            )
            var pipeline = NIOUpgradableHTTPServerPipelineConfiguration(upgradeConfiguration: plainHTTP)
            pipeline.enablePipelining = false  // requests are taken one at a time by Hummingbird
            pipeline.enableErrorHandling = false  // Hummingbird answers parse errors
            pipeline.enableResponseHeaderValidation = false  // Swift HTTP Types validate them
            pipeline.decoderConfiguration.maxHeaderFieldSize = http1.httpDecoder.maxHeaderFieldSize
            pipeline.decoderConfiguration.maxHeaderListSize = http1.httpDecoder.maxHeaderListSize
            pipeline.decoderConfiguration.maxHeaderFieldCount = http1.httpDecoder.maxHeaderFieldCount
            let upgrade = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: pipeline)
            return Value(channel: channel, upgrade: upgrade)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgrade.get() {
            case .webSocket, .http:
                return  // their handlers run them on the event loop
            case .refused(let http):
                try await refuse(http)
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

    /// Answers an upgrade that cannot be served with an empty 400, then closes, as a proxy that
    /// strips `Upgrade` would leave it.
    private func refuse(_ http: HTTPChannel) async throws {
        try await http.executeThenClose { _, outbound in
            try await outbound.write(contentsOf: [
                .head(HTTPResponse(status: .badRequest, headerFields: [.connection: "close", .contentLength: "0"])),
                .end(nil),
            ])
        }
    }
}
