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
/// 3. a plain HTTP request goes to Hummingbird's router (resources and long-polling); an
///    upgrade becomes a `WebSocketConnection` on the connection's event loop.
struct PlyChildChannel: ServerChildChannel, HTTPChannelHandler {
    typealias HTTPChannel = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    enum Upgrade: Sendable {
        /// A WebSocket, served by its channel handler from now on.
        case webSocket
        /// Plain HTTP, for the router.
        case http(HTTPChannel)
        /// An upgrade asked for where there is no WebSocket (or with `--no-websocket`).
        case refused(HTTPChannel)
    }

    struct Value: ServerChildChannelValue {
        let channel: any Channel
        let upgrade: EventLoopFuture<Upgrade>
    }

    let responder: HTTPChannelHandler.Responder
    let webSocket: WebSocketTransport?
    let connections: Connections
    let configuration: ServerConfiguration
    let http1 = HTTP1Channel.Configuration()

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ConnectionDoor(connections: connections, logger: logger))
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
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(idleTimeout: nil, logger: logger))
                        let http = try HTTPChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
                        return attempted.value ? .refused(http) : .http(http)
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
            case .webSocket:
                return  // its handler runs it on the event loop; no task is needed
            case .http(let http):
                await handleHTTP(asyncChannel: http, logger: logger)
            case .refused(let http):
                try await refuse(http)
            }
        } catch {
            logger.debug("connection ended before its first request", metadata: ["error": "\(error)"])
            value.channel.close(promise: nil)
        }
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
