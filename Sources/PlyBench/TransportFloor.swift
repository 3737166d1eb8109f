import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import PlyWire
import Synchronization

/// The transports' floors: one bare server, on one port, carrying ply's per-move pattern over
/// WebSocket, long-polling and Server-Sent Events with none of ply (no game, no JSON, no
/// store, no limits, no authority), so that a run can say what each transport costs apart
/// from what ply adds.
///
/// It is built from the parts `ply serve` is built from: swift-nio's HTTP/1.1 server pipeline
/// (request decoder, response encoder, pipelining handler), its WebSocket upgrader, frame
/// codec and aggregator with ply's message limits, the same small receive buffers and
/// `TCP_NODELAY`. Each game is a *pair*, named in the path; whatever a seat sends as a move is
/// the event (the bytes ply would send, made by the seat from its own copy of the game): the
/// pair numbers it (its version) and keeps it, so that any late or reconnected reader reads
/// what it missed, and it goes out to every reader of the pair, the mover's echo included.
///
/// - WebSocket, `GET /floor/PAIR/ws?after=V` upgraded: each text message is a move; every
///   socket of the pair gets it as a text message, and the mover then gets
///   `{"id":N,"type":"ack","v":V}` (N counting the socket's moves): one message in, three out,
///   as with ply.
/// - Long-polling, `GET /floor/PAIR/events?after=V`: answered at once with the events after V
///   as a JSON array, or held until there is one. `POST /floor/PAIR/moves` with the event as
///   its body is answered `{"type":"ack","v":V}`.
/// - Server-Sent Events, `GET /floor/PAIR/stream?after=V`: a chunked `text/event-stream` that
///   starts with `retry: 2000` and the events after V, then each as it comes (`id: V`, one
///   `data:` line); moves are POSTs as for long-polling.
///
/// A pair that nothing has touched for ten seconds is let go.
public enum TransportFloorServer {
    /// Listens on `host:port` until the channel closes; returns the bound channel.
    public static func start(host: String, port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> any Channel {
        let pairs = FloorPairs()
        let sweeper = group.next().scheduleRepeatedTask(initialDelay: .seconds(5), delay: .seconds(5)) { _ in
            pairs.sweep(idleFor: .seconds(10))
        }
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 4096)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.syncOptions?.setOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65_536))
                    let http = FloorHTTPHandler(pairs: pairs)
                    let upgrader = NIOWebSocketServerUpgrader(
                        maxFrameSize: FloorLimits.maxMessageBytes,
                        automaticErrorHandling: true,
                        shouldUpgrade: { channel, head in
                            let route = FloorRoute(head.uri)
                            return channel.eventLoop.makeSucceededFuture(route?.resource == "ws" ? HTTPHeaders() : nil)
                        },
                        upgradePipelineHandler: { channel, head in
                            channel.eventLoop.makeCompletedFuture {
                                guard let route = FloorRoute(head.uri) else { throw ChannelError.inappropriateOperationForState }
                                try channel.pipeline.syncOperations.addHandlers([
                                    NIOWebSocketFrameAggregator(minNonFinalFragmentSize: 1, maxAccumulatedFrameCount: FloorLimits.maxMessageFragments,
                                                                maxAccumulatedFrameSize: FloorLimits.maxMessageBytes),
                                    FloorWebSocketHandler(pair: pairs.pair(route.pair), after: route.after),
                                ])
                            }
                        }
                    )
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withServerUpgrade: (upgraders: [upgrader], completionHandler: { context in
                            context.pipeline.syncOperations.removeHandler(http, promise: nil)
                        })
                    )
                    try channel.pipeline.syncOperations.addHandler(http)
                }
            }
            .bind(host: host, port: port)
            .get()
        channel.closeFuture.whenComplete { _ in sweeper.cancel() }
        return channel
    }
}

/// ply serve's defaults for WebSocket messages (`ServerConfiguration`), which the floor keeps.
enum FloorLimits {
    static let maxMessageBytes = 4096
    static let maxMessageFragments = 16
}

/// A floor request's path: `/floor/PAIR/RESOURCE?after=V`.
struct FloorRoute {
    var pair: String
    var resource: String
    var after: Int

    init?(_ uri: String) {
        let parts = uri.split(separator: "?", maxSplits: 1)
        let path = parts[0].split(separator: "/")
        guard path.count == 3, path[0] == "floor" else { return nil }
        pair = String(path[1])
        resource = String(path[2])
        after = 0
        if parts.count == 2 {
            for field in parts[1].split(separator: "&") where field.hasPrefix("after=") {
                guard let value = Int(field.dropFirst(6)), value >= 0 else { return nil }
                after = value
            }
        }
    }
}

/// Every pair the floor knows, by name.
final class FloorPairs: Sendable {
    private let pairs = Mutex<[String: FloorPair]>([:])

    /// The pair with this name, made if it is new.
    func pair(_ name: String) -> FloorPair {
        pairs.withLock { pairs in
            if let pair = pairs[name] { return pair }
            let pair = FloorPair()
            pairs[name] = pair
            return pair
        }
    }

    func sweep(idleFor idle: TimeAmount) {
        let now = NIODeadline.now()
        pairs.withLock { pairs in pairs = pairs.filter { now - $0.value.touched < idle } }
    }
}

/// One game on the floor: its events so far, and who is reading them.
final class FloorPair: Sendable {
    /// Where an event goes: a WebSocket, a held poll (answered once, then forgotten) or a stream.
    enum Reader {
        case socket(any Channel)
        case poll(any Channel)
        case stream(any Channel)

        var channel: any Channel {
            switch self {
            case .socket(let channel), .poll(let channel), .stream(let channel): channel
            }
        }
    }

    private struct State {
        var events: [ByteBuffer] = []
        var readers: [Reader] = []
        var touched = NIODeadline.now()
    }

    private let state = Mutex(State())

    var touched: NIODeadline { state.withLock { $0.touched } }

    /// Adds a reader and returns the events after `after` it has not had (a poll with some is
    /// answered with them and not kept).
    func read(after: Int, as reader: Reader) -> ArraySlice<ByteBuffer> {
        state.withLock { state in
            state.touched = .now()
            let missed = state.events.dropFirst(min(after, state.events.count))
            if case .poll = reader, !missed.isEmpty { return missed }
            state.readers.append(reader)
            return missed
        }
    }

    /// A move's event: its version, and every reader to give it to (polls are spent).
    func publish(_ event: ByteBuffer) -> (version: Int, readers: [Reader]) {
        state.withLock { state in
            state.touched = .now()
            state.events.append(event)
            let readers = state.readers
            state.readers.removeAll { if case .poll = $0 { true } else { false } }
            return (state.events.count, readers)
        }
    }

    /// A reader's connection closed.
    func leave(_ channel: any Channel) {
        state.withLock { state in state.readers.removeAll { $0.channel === channel } }
    }

    /// Gives `event` (version `version`) to each reader, each on its own event loop.
    static func deliver(_ event: ByteBuffer, version: Int, to readers: [Reader]) {
        // Made once, for the first reader that needs each.
        lazy var answer = OutboundJSON.array([event], allocator: ByteBufferAllocator())
        lazy var chunk = OutboundJSON.streamEvent(event, id: version, allocator: ByteBufferAllocator())
        for reader in readers {
            switch reader {
            case .socket(let channel):
                channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .text, data: event), promise: nil)
            case .poll(let channel):
                FloorHTTPHandler.respond(on: channel, body: answer)
            case .stream(let channel):
                channel.writeAndFlush(HTTPServerResponsePart.body(.byteBuffer(chunk)), promise: nil)
            }
        }
    }
}

/// The floor's plain HTTP: polls, streams and moves.
final class FloorHTTPHandler: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    // Its state is touched only on the channel's event loop; it is Sendable to be named in
    // the upgrade's completion handler, which removes it.
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private struct Request {
        var head: HTTPRequestHead
        var body: ByteBuffer?
    }

    private let pairs: FloorPairs
    private var current: Request?
    /// The pair this connection reads (a held poll or a stream), to leave when it closes.
    private var reading: FloorPair?

    init(pairs: FloorPairs) {
        self.pairs = pairs
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            current = Request(head: head)
        case .body(var chunk):
            if current?.body == nil { current?.body = chunk } else { current?.body?.writeBuffer(&chunk) }
        case .end:
            guard let request = current else { return }
            current = nil
            serve(request, context: context)
        }
    }

    private func serve(_ request: Request, context: ChannelHandlerContext) {
        guard let route = FloorRoute(request.head.uri) else { return respond(context, status: .notFound) }
        let pair = pairs.pair(route.pair)
        switch (request.head.method, route.resource) {
        case (.POST, "moves"):
            guard let event = request.body, event.readableBytes > 0 else { return respond(context, status: .badRequest) }
            let (version, readers) = pair.publish(event)
            FloorPair.deliver(event, version: version, to: readers)
            respond(context, body: ByteBuffer(string: #"{"type":"ack","v":\#(version)}"#))
        case (.GET, "events"):
            let missed = pair.read(after: route.after, as: .poll(context.channel))
            if missed.isEmpty { reading = pair } else { respond(context, body: OutboundJSON.array(missed, allocator: context.channel.allocator)) }
        case (.GET, "stream"):
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "text/event-stream")
            headers.add(name: "Cache-Control", value: "no-store")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            var start = ByteBuffer(string: "retry: 2000\n\n")
            reading = pair
            for (offset, event) in pair.read(after: route.after, as: .stream(context.channel)).enumerated() {
                var chunk = OutboundJSON.streamEvent(event, id: route.after + offset + 1, allocator: context.channel.allocator)
                start.writeBuffer(&chunk)
            }
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(start))), promise: nil)
        default:
            respond(context, status: .notFound)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        reading?.leave(context.channel)
        context.fireChannelInactive()
    }

    private func respond(_ context: ChannelHandlerContext, status: HTTPResponseStatus = .ok, body: ByteBuffer = ByteBuffer()) {
        for part in Self.response(status: status, body: body) { context.write(wrapOutboundOut(part), promise: nil) }
        context.flush()
    }

    /// Answers a held poll from another connection's event loop.
    static func respond(on channel: any Channel, body: ByteBuffer) {
        channel.eventLoop.execute {
            for part in response(status: .ok, body: body) { channel.write(part, promise: nil) }
            channel.flush()
        }
    }

    static func response(status: HTTPResponseStatus, body: ByteBuffer) -> [HTTPServerResponsePart] {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        return [.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers)), .body(.byteBuffer(body)), .end(nil)]
    }
}

/// A floor WebSocket: sends the pair's events (those after `after` first), takes each text
/// message as a move, and acknowledges it after its echo.
final class FloorWebSocketHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let pair: FloorPair
    private let after: Int
    // Touched only on the channel's event loop.
    private var moves = 0

    init(pair: FloorPair, after: Int) {
        self.pair = pair
        self.after = after
    }

    func handlerAdded(context: ChannelHandlerContext) {
        for event in pair.read(after: after, as: .socket(context.channel)) {
            context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: event)), promise: nil)
        }
        context.flush()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        switch frame.opcode {
        case .text:
            let (version, readers) = pair.publish(frame.unmaskedData)
            FloorPair.deliver(frame.unmaskedData, version: version, to: readers)
            moves += 1
            let ack = ByteBuffer(string: #"{"id":\#(moves),"type":"ack","v":\#(version)}"#)
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: ack)), promise: nil)
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)), promise: nil)
        case .connectionClose:
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: ByteBuffer()))).whenComplete { _ in
                channel.close(promise: nil)
            }
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        pair.leave(context.channel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
