import NIOHTTPTypes
import Logging
import NIOCore

/// Logs one line when an HTTP connection opens and one when it closes, with the number of
/// requests it carried, keeps the server's count of open connections and closes a connection
/// beyond `maxConnections` at once. Long polls are logged per connection, not per poll. One
/// instance per connection, on its event loop; it leaves the pipeline when a WebSocket upgrade
/// succeeds, and the WebSocket session counts the connection from then on.
final class ConnectionLogger: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart

    private let service: GameService
    private let logger: Logger
    private var requests = 0

    init(service: GameService, logger: Logger) {
        self.service = service
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let open = service.httpConnections.add(1, ordering: .relaxed).newValue + service.webSockets
        if open > service.configuration.maxConnections {
            logger.warning("connection refused: at the connection limit", metadata: ["limit": "\(service.configuration.maxConnections)"])
            context.close(promise: nil)
            return
        }
        logger.info("connection opened", metadata: ["peer": "\(context.remoteAddress?.description ?? "?")"])
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) { requests += 1 }
        context.fireChannelRead(data)
    }

    /// A client that closes its side while its poll waits is gone: end the poll now, rather than
    /// when its wait runs out (the server allows half-closure, so no `channelInactive` comes yet).
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { service.endPoll(on: context.channel) }
        context.fireUserInboundEventTriggered(event)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        service.httpConnections.subtract(1, ordering: .relaxed)
        service.forgetConnection(context.channel)
        logger.info("connection closed", metadata: ["peer": "\(context.remoteAddress?.description ?? "?")", "requests": "\(requests)"])
    }
}
