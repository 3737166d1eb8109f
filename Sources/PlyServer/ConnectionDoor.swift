import Logging
import NIOCore

/// What the handlers further in tell the door about a connection's requests, as outbound
/// user events (they travel towards the socket, and the door is the first handler).
enum ConnectionActivity {
    /// A request head has been read whole.
    case requestHead
    /// A response has been written to its end.
    case responseEnd
    /// The request in flight is held open (a waiting poll, an event stream): nothing is timed
    /// until its response ends.
    case holding
    /// The connection is a WebSocket now: its pings keep time from here on.
    case webSocket
}

/// The first handler of every accepted TCP connection, HTTP or WebSocket alike. It counts the
/// connection from the moment it is accepted until it closes, and closes one beyond
/// `maxConnections` at once. Until the connection becomes a WebSocket it also keeps time:
/// a request head must be whole within the header timeout of its first byte (or of the
/// accept), and a kept-alive connection with no request in flight closes after the
/// keep-alive timeout; a waiting long poll is a request in flight, so it is never idle.
/// It sees raw bytes and passes them on.
final class ConnectionDoor: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer

    private enum Phase {
        /// Accepted, or a response has ended, and no byte of the next request has come.
        case waiting(NIODeadline)
        /// Bytes of a request head have come; it must be whole by the deadline.
        case readingHead(NIODeadline)
        /// A request is being served.
        case busy
        /// A WebSocket: no timer here.
        case webSocket

        var deadline: NIODeadline? {
            switch self {
            case .waiting(let deadline), .readingHead(let deadline): deadline
            case .busy, .webSocket: nil
            }
        }
    }

    private let connections: Connections
    private let headerTimeout: TimeAmount
    private let keepAliveTimeout: TimeAmount
    private let logger: Logger
    private var admitted = false
    /// The client the connection belongs to, once admitted.
    private var client: String?
    private var phase = Phase.busy
    /// The one timer, and when it fires; it is moved only when a deadline comes earlier.
    private var timer: Scheduled<Void>?
    private var timerFires: NIODeadline?

    init(connections: Connections, configuration: ServerConfiguration, logger: Logger) {
        self.connections = connections
        headerTimeout = TimeAmount(configuration.headerTimeout)
        keepAliveTimeout = TimeAmount(configuration.keepAliveTimeout)
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        connections.metrics.connectionsAccepted.increment()
        admitted = connections.admit()
        guard admitted else {
            logger.warning("connection refused: at the connection limit", metadata: ["limit": "\(connections.maxConnections)"])
            context.close(promise: nil)
            return
        }
        // A trusted proxy's connections carry many clients: only the server's limit counts them.
        guard !connections.isTrustedProxy(context.remoteAddress) else {
            enter(.readingHead(.now() + headerTimeout), context: context)
            return
        }
        let key = ClientTable.key(context.remoteAddress)
        guard connections.clients.openConnection(by: key) else {
            logger.info("connection refused: at the client's connection limit", metadata: ["client": "\(key)"])
            release()
            context.close(promise: nil)
            return
        }
        client = key
        logger.debug("connection opened", metadata: ["peer": "\(context.remoteAddress?.description ?? "?")"])
        // The first request head must be whole within the header timeout of the accept.
        enter(.readingHead(.now() + headerTimeout), context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .waiting = phase { enter(.readingHead(.now() + headerTimeout), context: context) }
        context.fireChannelRead(data)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let activity = event as? ConnectionActivity else {
            return context.triggerUserOutboundEvent(event, promise: promise)
        }
        switch activity {
        case .requestHead: enter(.busy, context: context)
        case .responseEnd: enter(.waiting(.now() + keepAliveTimeout), context: context)
        case .holding:
            enter(.busy, context: context)
            disarm()
        case .webSocket:
            enter(.webSocket, context: context)
            disarm()
        }
        promise?.succeed()
    }

    private func enter(_ next: Phase, context: ChannelHandlerContext) {
        phase = next
        guard let deadline = next.deadline else { return }
        if let fires = timerFires, fires <= deadline { return }  // it fires first and looks again
        timer?.cancel()
        arm(at: deadline, context: context)
    }

    private func arm(at deadline: NIODeadline, context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timerFires = deadline
        timer = context.eventLoop.scheduleTask(deadline: deadline) {
            let (door, context) = loopBound.value
            door.timerFired(context: context)
        }
    }

    /// Lets the timer go when nothing will be timed for long: it would only fire to find nothing
    /// to do, and a connection held open would keep it (about 160 bytes) until then.
    private func disarm() {
        timer?.cancel()
        timer = nil
        timerFires = nil
    }

    private func timerFired(context: ChannelHandlerContext) {
        timer = nil
        timerFires = nil
        guard let deadline = phase.deadline else { return }
        guard deadline <= .now() else { return arm(at: deadline, context: context) }
        let reason = if case .readingHead = phase { "header timeout" } else { "keep-alive timeout" }
        logger.debug("connection closed", metadata: ["reason": "\(reason)", "peer": "\(context.remoteAddress?.description ?? "?")"])
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        release()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        release()
    }

    private func release() {
        disarm()
        guard admitted else { return }
        admitted = false
        connections.closed()
        if let client { connections.clients.closeConnection(by: client) }
        client = nil
    }
}
