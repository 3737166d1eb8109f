import Logging
import NIOCore

/// The first handler of every accepted TCP connection, HTTP or WebSocket alike: it counts the
/// connection from the moment it is accepted until it closes, closes one beyond
/// `maxConnections` at once, and tells the connection layer when the client goes away (so a
/// waiting poll ends then, not when its wait runs out). It sees raw bytes and passes them on.
final class ConnectionDoor: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let connections: Connections
    private let logger: Logger
    private var admitted = false

    init(connections: Connections, logger: Logger) {
        self.connections = connections
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        admitted = connections.admit()
        guard admitted else {
            logger.warning("connection refused: at the connection limit", metadata: ["limit": "\(connections.maxConnections)"])
            context.close(promise: nil)
            return
        }
        logger.debug("connection opened", metadata: ["peer": "\(context.remoteAddress?.description ?? "?")"])
    }

    /// A client that closes its side while its poll waits is gone: end the poll now (the server
    /// allows half-closure, so no `channelInactive` comes yet).
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { connections.clientLeft(context.channel) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        release(context)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        release(context)
    }

    private func release(_ context: ChannelHandlerContext) {
        guard admitted else { return }
        admitted = false
        connections.closed(context.channel)
        logger.debug("connection closed", metadata: ["peer": "\(context.remoteAddress?.description ?? "?")"])
    }
}
