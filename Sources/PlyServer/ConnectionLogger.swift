import Logging
import NIOCore
import Synchronization

/// Logs one line when an HTTP connection opens and one when it closes (with the number of
/// requests it carried), and keeps the server's count of open connections. Long polls are
/// logged per connection, not per poll.
final class ConnectionLogger: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = NIOAny

    private let service: GameService
    private let logger: Logger

    init(service: GameService, logger: Logger) {
        self.service = service
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        service.httpConnections.add(1, ordering: .relaxed)
        logger.info("connection opened", metadata: ["peer": "\(context.remoteAddress?.description ?? "?")"])
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        service.httpConnections.subtract(1, ordering: .relaxed)
        logger.info("connection closed", metadata: ["peer": "\(context.remoteAddress?.description ?? "?")"])
    }
}
