import NIOCore
import NIOHTTP1
import NIOPosix
import PlyCompression

/// Why an HTTP link failed.
public enum LinkError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The TCP connection closed (or failed) before the answer arrived.
    case connectionClosed
    /// No answer within the time allowed; the connection was closed.
    case timedOut
    /// The server answered the WebSocket upgrade with something other than 101.
    case upgradeRefused(status: Int, body: String)
    /// A request was sent while another was still waiting for its answer on the same connection.
    case busy
    /// The server's `Sec-WebSocket-Extensions` answer could not be taken (RFC 7692 5.1).
    case badExtensions(String)
    /// A compressed body that does not inflate, or inflates past the limit.
    case badBody(String)

    public var description: String {
        switch self {
        case .connectionClosed: "the connection closed"
        case .timedOut: "no answer in time"
        case .upgradeRefused(let status, let body): "the WebSocket upgrade was refused (\(status)) \(body)"
        case .busy: "a request is already waiting for its answer on this connection"
        case .badExtensions(let why): "the WebSocket upgrade's extensions were refused: \(why)"
        case .badBody(let why): "the response's body could not be read: \(why)"
        }
    }
}

extension LinkError {
    /// What makes `auto` move on to the next transport: a refused upgrade (a proxy that strips
    /// `Upgrade`), or one that stalls (a proxy that holds it).
    var movesOn: Bool {
        switch self {
        case .upgradeRefused, .timedOut, .badExtensions: true
        default: false
        }
    }
}

/// One kept-alive HTTP/1.1 connection, carrying one request at a time. The HTTP coding is
/// swift-nio's; a `WireCounter` at the socket end counts every byte.
public final class HTTPLink: Sendable {
    public struct Response: Sendable {
        public var status: HTTPResponseStatus
        public var headers: HTTPHeaders
        public var body: ByteBuffer
    }

    private let channel: any Channel
    private let endpoint: Endpoint

    private init(channel: any Channel, endpoint: Endpoint) {
        self.channel = channel
        self.endpoint = endpoint
    }

    public static func connect(
        to endpoint: Endpoint,
        stats: WireStats,
        compression: Bool = false,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        connectTimeout: TimeAmount = .seconds(5)
    ) async throws -> HTTPLink {
        let channel = try await connectHTTP(to: endpoint, stats: stats, group: group, connectTimeout: connectTimeout) { counter in
            [HTTPExchangeHandler(counter: counter, stats: stats, compression: compression)]
        }
        return HTTPLink(channel: channel, endpoint: endpoint)
    }

    /// A TCP connection with a `WireCounter` at the socket end, swift-nio's HTTP/1.1 client
    /// coding, and `last` (given the counter) to read the responses: how every HTTP link of
    /// ply's clients is made.
    static func connectHTTP(
        to endpoint: Endpoint,
        stats: WireStats,
        group: any EventLoopGroup,
        connectTimeout: TimeAmount,
        last: @escaping @Sendable (WireCounter) -> [any ChannelHandler]
    ) async throws -> any Channel {
        try await ClientBootstrap(group: group)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let counter = WireCounter(stats: stats)
                    try channel.pipeline.syncOperations.addHandlers([
                        counter,
                        HTTPRequestEncoder(),
                        ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes)),
                    ] + last(counter))
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .get()
    }

    /// Whether the TCP connection is still open.
    public var isActive: Bool { channel.isActive }

    /// The connection's event loop, where its answers complete.
    public var eventLoop: any EventLoop { channel.eventLoop }

    /// Sends one request and waits for the whole response; closes the connection if it takes
    /// longer than `timeout`.
    public func send(
        _ method: HTTPMethod,
        _ path: String,
        headers: [(String, String)] = [],
        body: ByteBuffer? = nil,
        timeout: TimeAmount = .seconds(30)
    ) async throws -> Response {
        try await send(method, path, headers: headers, body: body, timeout: timeout).get()
    }

    /// Sends one request; the future completes on the connection's event loop, so a caller
    /// can act on the answer (and send the next request) without a hop to another task.
    public func send(
        _ method: HTTPMethod,
        _ path: String,
        headers: [(String, String)] = [],
        body: ByteBuffer? = nil,
        timeout: TimeAmount = .seconds(30)
    ) -> EventLoopFuture<Response> {
        var head = HTTPRequestHead(version: .http1_1, method: method, uri: path)
        head.headers.add(name: "Host", value: endpoint.hostHeader)
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        if let body {
            head.headers.add(name: "Content-Type", value: "application/json")
            head.headers.add(name: "Content-Length", value: String(body.readableBytes))
        }
        let promise = channel.eventLoop.makePromise(of: Response.self)
        let exchange = HTTPExchangeHandler.Exchange(head: head, body: body, promise: promise)
        let timer = channel.eventLoop.scheduleTask(in: timeout) { [channel] in
            promise.fail(LinkError.timedOut)
            channel.close(promise: nil)
        }
        // A connection closed just before this write never reaches the exchange handler: fail now.
        channel.writeAndFlush(exchange).whenFailure { _ in promise.fail(LinkError.connectionClosed) }
        promise.futureResult.whenComplete { _ in timer.cancel() }
        return promise.futureResult
    }

    public func close() {
        channel.close(promise: nil)
    }

    public func closed() async {
        try? await channel.closeFuture.get()
    }
}

/// Turns one `Exchange` at a time into request parts and the answer's parts into a
/// `Response`, and records both in the stats with their overhead and payload.
final class HTTPExchangeHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = Exchange
    typealias OutboundOut = HTTPClientRequestPart

    struct Exchange {
        var head: HTTPRequestHead
        var body: ByteBuffer?
        var promise: EventLoopPromise<HTTPLink.Response>
    }

    private struct Pending {
        var exchange: Exchange
        var sentBefore: Int
        var receivedBefore: Int
        var response: HTTPResponseHead?
        var body: ByteBuffer?
        var startedAt: ContinuousClock.Instant
    }

    private let counter: WireCounter
    private let stats: WireStats
    /// Whether requests say `Accept-Encoding: gzip` and gzipped answers are inflated.
    private let compression: Bool
    private var pending: Pending?
    /// The most a gzipped answer may inflate to.
    static let inflatedLimit = 1 << 20

    init(counter: WireCounter, stats: WireStats, compression: Bool = false) {
        self.counter = counter
        self.stats = stats
        self.compression = compression
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var exchange = unwrapOutboundIn(data)
        if compression { exchange.head.headers.replaceOrAdd(name: "Accept-Encoding", value: "gzip") }
        guard pending == nil else {
            exchange.promise.fail(LinkError.busy)
            promise?.fail(LinkError.busy)
            return
        }
        guard context.channel.isActive else {
            exchange.promise.fail(LinkError.connectionClosed)
            promise?.fail(LinkError.connectionClosed)
            return
        }
        pending = Pending(exchange: exchange, sentBefore: counter.sent, receivedBefore: counter.received, startedAt: .now)
        context.write(wrapOutboundOut(.head(exchange.head)), promise: nil)
        if let body = exchange.body { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.write(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard var current = pending else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            current.response = head
            pending = current
        case .body(var part):
            if current.body == nil {
                current.body = part
            } else {
                current.body!.writeBuffer(&part)
            }
            pending = current
        case .end:
            pending = nil
            guard let head = current.response else { return current.exchange.promise.fail(LinkError.connectionClosed) }
            let wire = current.body ?? ByteBuffer()
            var body = wire
            let gzipped = compression && head.headers.first(name: "content-encoding")?.lowercased() == "gzip"
            if gzipped {
                do throws(MessageInflater.Failure) {
                    body = try MessageInflater(format: .gzip, limit: Self.inflatedLimit).inflate(wire, fin: true, allocator: context.channel.allocator)
                } catch {
                    current.exchange.promise.fail(LinkError.badBody("gzip that does not inflate (\(error))"))
                    return context.close(promise: nil)
                }
            }
            account(current, head: head, wire: wire, body: gzipped ? body : nil)
            current.exchange.promise.succeed(HTTPLink.Response(status: head.status, headers: head.headers, body: body))
            if !head.isKeepAlive { context.close(promise: nil) }
        }
    }

    /// Splits this exchange's bytes, as counted at the socket, into overhead and payload (the
    /// body as it crossed the wire, `wire`; `inflated`, when it was gzipped).
    private func account(_ exchange: Pending, head: HTTPResponseHead, wire: ByteBuffer, body inflated: ByteBuffer?) {
        let body = inflated ?? wire
        let requestBody = exchange.exchange.body?.readableBytes ?? 0
        let requestBytes = counter.sent - exchange.sentBefore
        let responseBytes = counter.received - exchange.receivedBefore
        let request = exchange.exchange.head
        stats.update { totals in
            totals.httpRequests += 1
            totals.payloadSent += requestBody
            totals.plainPayloadSent += requestBody
            totals.payloadReceived += wire.readableBytes
            totals.plainPayloadReceived += body.readableBytes
        }
        stats.record(WireRecord(.sent, .request("\(request.method) \(request.uri) HTTP/1.1"),
                                overhead: requestBytes - requestBody, payload: requestBody, at: exchange.startedAt,
                                preview: WireRecord.preview(of: exchange.exchange.body)))
        stats.record(WireRecord(.received, .response("HTTP/1.1 \(head.status.code) \(head.status.reasonPhrase)"),
                                overhead: responseBytes - wire.readableBytes, payload: wire.readableBytes,
                                plainPayload: inflated?.readableBytes,
                                preview: WireRecord.preview(of: body)))
    }

    func channelInactive(context: ChannelHandlerContext) {
        pending?.exchange.promise.fail(LinkError.connectionClosed)
        pending = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        pending?.exchange.promise.fail(error)
        pending = nil
        context.close(promise: nil)
    }
}
