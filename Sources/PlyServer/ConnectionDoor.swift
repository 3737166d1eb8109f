import Logging
import NIOCore

/// The first handler of every accepted TCP connection, HTTP or WebSocket alike: it counts the
/// connection from the moment it is accepted until it closes, and closes one beyond
/// `maxConnections` at once. It sees raw bytes and passes them on.
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
        connections.closed()
        logger.debug("connection closed", metadata: ["peer": "\(context.remoteAddress?.description ?? "?")"])
    }
}
