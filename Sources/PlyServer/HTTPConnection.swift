import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1
import NIOWebSocket
import PlyAuthority
import PlyCompression
import PlyEngine
import PlyWire

/// The front door of one HTTP connection, on its event loop, behind swift-nio's HTTP/1.1
/// decoder, encoder and pipelining handler (which keeps requests and responses in order: the
/// next pipelined request reaches this handler once the answer to the one before is written,
/// and a parse error once the answers before it are). Every request is dispatched by the one
/// route table (`Routes`):
///
/// - an unknown path, a method the resource does not have, `OPTIONS` (with CORS preflights),
///   an origin the server refuses, a body it cannot take: answered here, before any body check;
/// - the long-polling transport's poll and command: served here, with no task;
/// - the other resources: handed to Hummingbird's router (a task per request);
/// - a WebSocket upgrade, on any request of the connection: the handshake checked, the client
///   admitted, then swift-nio's upgrader switches the pipeline to WebSocket.
///
/// This is the one place that writes a response head (`writeHead`). It also tells
/// `ConnectionDoor` when a request head has arrived and when a response has ended, for its
/// header and keep-alive timeouts.
final class HTTPConnection: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// Serves a request with Hummingbird's router (`HTTPRoutes`).
    typealias Router = @Sendable (Request, PlyRequestContext) async -> Response

    /// The names of the HTTP handlers in front of this one, which an upgrade removes (found by
    /// name, not held: three references to them were 120 bytes of every connection).
    enum HandlerName {
        static let decoder = "http-decoder"
        static let encoder = "http-encoder"
        static let pipelining = "http-pipelining"
    }

    /// What every connection of a server shares: its transports, its router and its origin
    /// policy, one object that each connection refers to.
    final class Services: Sendable {
        let longPoll: LongPollTransport
        let eventStreams: EventStreamTransport
        let webSocket: WebSocketTransport?
        let router: Router
        let origins: OriginPolicy

        init(longPoll: LongPollTransport, eventStreams: EventStreamTransport, webSocket: WebSocketTransport?, router: @escaping Router, origins: OriginPolicy) {
            self.longPoll = longPoll
            self.eventStreams = eventStreams
            self.webSocket = webSocket
            self.router = router
            self.origins = origins
        }
    }

    /// What the route table made of a request's head.
    private enum Plan {
        /// An answer decided from the head: given once the request is read.
        case answer(WireError, HTTPHeaders)
        case options(Route?)
        case router(Endpoint)
        case poll(match: Substring)
        case command(match: Substring)
        case stream(match: Substring)
        case webSocket(match: Substring)
    }

    /// One request: its head, its plan, its body so far, and what its origin is to the server.
    private struct Exchange {
        let head: HTTPRequestHead
        let plan: Plan
        let origin: OriginPolicy.Verdict
        /// The head asks to switch protocols: swift-nio's decoder reads nothing after such a
        /// request, so the connection closes after its answer unless it upgrades.
        let asksToUpgrade: Bool
        /// The server compresses and the request accepts gzip (`Accept-Encoding`).
        var acceptsGzip = false
        var body: ByteBuffer?
        var tooLarge = false
    }

    private enum Current {
        case idle
        /// A request whose body is being read.
        case reading(Exchange)
        /// A request read whole, its answer owed.
        case serving(Exchange)
        /// Switching to WebSocket: whatever arrives meanwhile (bytes the HTTP decoder held back)
        /// is kept for the WebSocket handlers.
        case upgrading([NIOAny])
        /// The last answer is written and the connection closing: nothing more is read.
        case closing
    }

    private let services: Services
    private var longPoll: LongPollTransport { services.longPoll }
    private var eventStreams: EventStreamTransport { services.eventStreams }
    private var webSocket: WebSocketTransport? { services.webSocket }
    private var router: Router { services.router }
    private var origins: OriginPolicy { services.origins }
    private let logger: Logger
    private var connections: Connections { longPoll.connections }
    private var configuration: ServerConfiguration { longPoll.configuration }
    private var context: ChannelHandlerContext?
    private var current = Current.idle
    private var waiter: PollWaiter?
    /// The event stream this connection is writing, if its request is one.
    private var stream: EventStream?
    /// The stream's gzip, when its request accepted it: one deflate context for the stream's
    /// life, flushed after each write that is flushed.
    private var streamGzip: BodyCompression.GzipStream?
    /// Stream writes queued while the socket was not writable (the reader is not reading).
    private var blockedWrites = 0
    private var timer: Scheduled<Void>?
    private var limiter: RateLimiter
    /// The client of the request being served (the peer, or whom a trusted proxy names).
    private var client = "local"
    private var peerKey = "local"
    static let forwardedFor = "X-Forwarded-For"
    /// Requests begun on this connection.
    private var requests = 0
    /// The client has closed its side (swift-nio's `inputClosed`: the server allows half-closed
    /// connections): nothing more will come, so close once nothing is owed.
    private var inputEnded = false

    init(services: Services, logger: Logger) {
        self.services = services
        self.logger = logger
        limiter = services.longPoll.connections.makeRateLimiter()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        peerKey = ClientTable.key(context.remoteAddress)
        client = peerKey
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopWaiting()
        stopStream()
        self.context = nil
    }

    // MARK: Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .upgrading(var held) = current {
            held.append(data)
            current = .upgrading(held)
            return
        }
        switch (unwrapInboundIn(data), current) {
        case (.head(let head), .idle):
            begin(head)
        case (.body(var chunk), .reading(var exchange)):
            if !exchange.tooLarge {
                if (exchange.body?.readableBytes ?? 0) + chunk.readableBytes > configuration.maxMessageBytes {
                    exchange.tooLarge = true
                    exchange.body = nil
                } else if exchange.body == nil {
                    exchange.body = chunk
                } else {
                    exchange.body?.writeBuffer(&chunk)
                }
            }
            current = .reading(exchange)
        case (.end, .reading(let exchange)):
            current = .serving(exchange)
            serve(exchange)
        case (_, .closing):
            break
        default:
            // Parts out of order cannot come from swift-nio's decoder and pipelining handler.
            logger.debug("request parts out of order; closing")
            closeNow()
        }
    }

    /// A request head: what the route table, the method and the origin make of it. Whatever is
    /// decided here is answered once the request has been read.
    private func begin(_ head: HTTPRequestHead) {
        requests += 1
        context?.triggerUserOutboundEvent(ConnectionActivity.requestHead, promise: nil)
        // Behind a trusted proxy each request may come from another client.
        if !connections.trustedProxies.isEmpty {
            client = connections.client(context?.remoteAddress, forwardedFor: head.headers[Self.forwardedFor])
        }
        let origin = origins.judge(head)
        let asksToUpgrade = head.method == .CONNECT
            || (head.headers.contains(name: "upgrade") && head.headers[canonicalForm: "connection"].contains { $0.lowercased() == "upgrade" })
        let plan = plan(head, origin: origin)
        var exchange = Exchange(head: head, plan: plan, origin: origin, asksToUpgrade: asksToUpgrade)
        exchange.acceptsGzip = configuration.compression
            && BodyCompression.acceptsGzip(head.headers[canonicalForm: "accept-encoding"].map(String.init))
        // A body declared larger than the limit is refused before it is sent (the client asked
        // whether to send it) or, when it comes anyway, read and dropped.
        let length = head.headers.first(name: "content-length").flatMap { Int($0) }
        if let length, length > configuration.maxMessageBytes {
            exchange.tooLarge = true
            if head.headers.first(name: "expect")?.lowercased() == "100-continue" {
                current = .serving(exchange)
                return respond(WireError(.tooLarge, "the body is larger than the limit (\(configuration.maxMessageBytes) bytes)"), close: true)
            }
        } else if head.headers.first(name: "expect")?.lowercased() == "100-continue", Self.readsBody(plan) {
            writeHead(.continue, [:], for: exchange, informational: true)
            context?.flush()
        }
        current = .reading(exchange)
    }

    /// Whether a plan uses the request's body.
    private static func readsBody(_ plan: Plan) -> Bool {
        switch plan {
        case .router, .command: true
        case .answer, .options, .poll, .stream, .webSocket: false
        }
    }

    private func plan(_ head: HTTPRequestHead, origin: OriginPolicy.Verdict) -> Plan {
        guard let (route, id) = Routes.find(head.uri) else {
            if head.method == .OPTIONS && head.uri == "*" { return .options(nil) }
            return .answer(WireError(.notFound, "no route for \(head.method.rawValue) \(Self.path(head.uri))"), [:])
        }
        if head.method == .OPTIONS { return .options(route) }
        guard let endpoint = route.endpoint(for: head.method) else {
            let allowed = route.methods.map(\.method.rawValue).joined(separator: " or ")
            return .answer(WireError(.methodNotAllowed, "\(head.method.rawValue) is not allowed on \(Self.path(head.uri)); use \(allowed)"),
                           ["Allow": route.allow])
        }
        let changesState = head.method != .GET && head.method != .HEAD
        if changesState, case .refused(let origin) = origin {
            return .answer(WireError(.forbiddenOrigin, "requests from origin '\(origin)' are not allowed (ply serve --allow-origin)"), [:])
        }
        // A web page can send a cross-site request without asking first only with a form's
        // content types, so a body must be declared JSON. A request without a body needs none.
        if changesState, Self.hasBody(head) {
            let type = head.headers.first(name: "content-type")?.split(separator: ";").first?
                .trimmingCharacters(in: .whitespaces).lowercased()
            guard type == "application/json" else {
                return .answer(WireError(.unsupportedMediaType, "send the body as JSON, with 'Content-Type: application/json'"), [:])
            }
        }
        switch endpoint.server {
        case .router: return .router(endpoint)
        case .eventLoop: return endpoint == .poll ? .poll(match: id) : endpoint == .stream ? .stream(match: id) : .command(match: id)
        case .upgrade: return .webSocket(match: id)
        }
    }

    private static func hasBody(_ head: HTTPRequestHead) -> Bool {
        if head.headers.contains(name: "transfer-encoding") { return true }
        return (head.headers.first(name: "content-length").flatMap { Int($0) } ?? 0) > 0
    }

    private static func path(_ uri: String) -> Substring {
        uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    }

    // MARK: Serving

    private func serve(_ exchange: Exchange) {
        if exchange.tooLarge, Self.readsBody(exchange.plan) {
            return respond(WireError(.tooLarge, "the body is larger than the limit (\(configuration.maxMessageBytes) bytes)"))
        }
        switch exchange.plan {
        case .answer(let error, let headers):
            respond(error, headers: headers)
        case .options(let route):
            answerOptions(exchange, route)
        case .router(let endpoint):
            serveWithRouter(exchange, endpoint)
        case .poll(let id):
            let query = URI(exchange.head.uri).queryParameters
            if let now = longPoll.admission(poll: id, exchange.head, query: query) { return poll(now, query: query) }
            later({ [longPoll, head = exchange.head] in await longPoll.admit(poll: id, head, query: query) }) { connection, admitted in
                connection.poll(admitted, query: query)
            }
        case .command(let id):
            if let now = longPoll.admission(command: id, exchange.head) { return command(now, body: exchange.body) }
            later({ [longPoll, head = exchange.head] in await longPoll.admit(command: id, head) }) { connection, admitted in
                connection.command(admitted, body: exchange.body)
            }
        case .stream(let id):
            let query = URI(exchange.head.uri).queryParameters
            let credential: Credential
            do throws(WireError) {
                credential = try eventStreams.credential(exchange.head, query: query, match: id)
            } catch {
                return respond(error)
            }
            let after = eventStreams.after(exchange.head, query: query)
            if let now = eventStreams.admission(id, as: credential, after: after, client: client) { return startStream(now) }
            later({ [eventStreams] in await eventStreams.admit(id, as: credential, after: after) }) { connection, admitted in
                connection.startStream(admitted)
            }
        case .webSocket(let id):
            upgrade(exchange, match: id)
        }
    }

    /// Goes on with what the admission step answers once it has read the store (off the event
    /// loop), back on this connection's loop. (When it can answer at once, the caller goes on
    /// at once, and nothing is allocated for this.)
    private func later<T: Sendable>(_ answer: @escaping @Sendable () async -> T, then: @escaping (HTTPConnection, T) -> Void) {
        guard let eventLoop = context?.eventLoop else { return }
        let connection = NIOLoopBound(self, eventLoop: eventLoop)
        let next = NIOLoopBound(then, eventLoop: eventLoop)
        Task {
            let answered = await answer()
            eventLoop.execute { next.value(connection.value, answered) }
        }
    }

    /// `OPTIONS`: the methods a resource has, and for a page on a granted origin the CORS
    /// preflight's answer (a refused origin's preflight is refused).
    private func answerOptions(_ exchange: Exchange, _ route: Route?) {
        let allow = route?.allow ?? "GET, HEAD, POST, OPTIONS"
        var headers: HTTPHeaders = ["Allow": allow]
        if exchange.head.headers.contains(name: "access-control-request-method") {
            switch exchange.origin {
            case .refused(let origin):
                return respond(WireError(.forbiddenOrigin, "requests from origin '\(origin)' are not allowed (ply serve --allow-origin)"))
            case .granted:
                headers.add(name: "Access-Control-Allow-Methods", value: allow)
                headers.add(name: "Access-Control-Allow-Headers", value: OriginPolicy.allowedHeaders)
                headers.add(name: "Access-Control-Max-Age", value: String(OriginPolicy.preflightMaxAge))
            case .none, .sameOrigin:
                break
            }
        }
        respond(.noContent, headers, body: nil)
    }

    /// Hands a request to Hummingbird's router, in a task, and answers with its response.
    private func serveWithRouter(_ exchange: Exchange, _ endpoint: Endpoint) {
        guard let context else { return }
        var head = exchange.head
        if head.method == .HEAD { head.method = .GET }  // answered as GET, without the body
        let request: Request
        do {
            request = Request(head: try HTTPRequest(head, secure: false, splitCookie: false),
                              body: RequestBody(buffer: exchange.body ?? ByteBuffer()))
        } catch {
            return respond(WireError(.badRequest, "the request could not be read: \(error)"))
        }
        var requestContext = PlyRequestContext(source: ApplicationRequestContextSource(channel: context.channel, logger: logger))
        requestContext.client = client
        let eventLoop = context.eventLoop
        let connection = NIOLoopBound(self, eventLoop: eventLoop)
        let router = router
        Task {
            let response = await router(request, requestContext)
            let collected = ResponseCollector()
            do {
                try await response.body.write(collected)
            } catch {
                collected.failed = true
            }
            eventLoop.execute { connection.value.answer(response, collected) }
        }
    }

    private func answer(_ response: Response, _ collected: ResponseCollector) {
        guard !collected.failed else {
            return respond(WireError(.internalError, "the server failed; the request changed nothing"))
        }
        var headers = HTTPHeaders()
        for field in response.headers where field.name != .contentLength && field.name != .date {
            headers.add(name: field.name.rawName, value: field.value)
        }
        respond(HTTPResponseStatus(statusCode: Int(response.status.code), reasonPhrase: response.status.reasonPhrase), headers,
                body: collected.body)
    }

    // MARK: Long-polling

    private func poll(_ admitted: Result<Admission, WireError>, query: Parameters) {
        guard case .success(let admission) = admitted else { return refuse(admitted) }
        do throws(WireError) {
            switch try longPoll.plan(poll: admission, query: query) {
            case .answer(let events):
                respond(.ok, [:], body: JSONBuffer.array(events))
            case .wait(let match, let after, let seat, let timeout):
                try connections.clients.startPoll(by: client)
                wait(match, after: after, seat: seat, timeout: timeout)
            }
        } catch {
            respond(error.with(version: admission.match.version))
        }
    }

    /// A poll that waits or a stream that stays open keeps of its request only what its answer
    /// still needs (the version, the method, whether the connection is kept alive, the plan,
    /// the origin's verdict, gzip): its header list and URI, most of an idle connection's
    /// request, are let go.
    private func slimExchange() {
        guard case .serving(let exchange) = current else { return }
        let head = exchange.head
        var slim = HTTPRequestHead(version: head.version, method: head.method, uri: "")
        // What `isKeepAlive` reads: HTTP/1.1 is kept alive unless it says `close`, 1.0 only if
        // it says `keep-alive`.
        if head.isKeepAlive != (head.version.major == 1 && head.version.minor >= 1) {
            slim.headers.add(name: "Connection", value: head.isKeepAlive ? "keep-alive" : "close")
        }
        let plan: Plan = switch exchange.plan {
        case .poll(let match): .poll(match: Substring(String(match)))
        case .stream(let match): .stream(match: Substring(String(match)))
        case let other: other
        }
        current = .serving(Exchange(head: slim, plan: plan, origin: exchange.origin, asksToUpgrade: exchange.asksToUpgrade,
                                    acceptsGzip: exchange.acceptsGzip, body: nil, tooLarge: exchange.tooLarge))
    }

    /// Answers a request the admission step refused.
    private func refuse(_ admitted: Result<Admission, WireError>) {
        if case .failure(let error) = admitted { respond(error) }
    }

    private func command(_ admitted: Result<Admission, WireError>, body: ByteBuffer?) {
        guard case .success(let admission) = admitted else { return refuse(admitted) }
        do throws(WireError) {
            guard let seat = admission.seat else { throw WireError(.missingToken, "send the seat token as 'Authorization: Bearer TOKEN'") }
            let command = try longPoll.command(from: body)
            guard limiter.allow() else { throw connections.rateLimited }
            try connections.spendCommand(by: client, match: admission.match.id, seat: seat)
            guard let eventLoop = context?.eventLoop else { return }
            let connection = NIOLoopBound(self, eventLoop: eventLoop)
            let metrics = connections.metrics
            admission.match.execute(command, by: seat) { result in
                metrics.counted(command, over: .http, result)
                if eventLoop.inEventLoop {
                    connection.value.answer(result)
                } else {
                    eventLoop.execute { connection.value.answer(result) }
                }
            }
        } catch {
            respond(error.with(version: admission.match.version))
        }
    }

    private func answer(_ result: Result<Acknowledgement, WireError>) {
        switch result {
        case .success(let acknowledgement):
            respond(.ok, [:], body: JSONBuffer.encode(acknowledgement))
        case .failure(let error):
            respond(error)
        }
    }

    private func wait(_ match: MatchAuthority, after: Int, seat: Seat?, timeout: Duration) {
        guard let context else { return }
        slimExchange()
        context.triggerUserOutboundEvent(ConnectionActivity.holding, promise: nil)
        let waiter = PollWaiter(match: match, after: after, seat: seat, handler: self, eventLoop: context.eventLoop)
        self.waiter = waiter
        connections.pollStarted()
        timer = context.eventLoop.scheduleTask(in: TimeAmount(timeout)) { waiter.end(news: true) }
        let (version, closure) = match.subscribe(waiter)
        if version > after || closure != nil { return waiter.end(news: closure == nil) }
        if let seat, let older = longPoll.seatPolls.replace(match, seat, with: waiter) { older.end(news: false) }
    }

    /// The poll has ended: answer it (unless its connection is gone).
    func pollEnded(_ ended: PollWaiter, _ ending: PollWaiter.Ending) {
        guard waiter === ended else { return }
        stopWaiting()
        switch ending {
        case .news: respond(.ok, [:], body: JSONBuffer.array(ended.match.events(after: ended.after, for: ended.seat)))
        case .nothing: respond(.ok, [:], body: JSONBuffer.array([]))
        case .rolledBack(let version): respond(MatchAuthority.rolledBack(to: version))
        }
    }

    private func stopWaiting() {
        guard let waiter else { return }
        self.waiter = nil
        timer?.cancel()
        timer = nil
        waiter.match.unsubscribe(waiter)
        if let seat = waiter.seat { longPoll.seatPolls.remove(waiter.match, seat, waiter) }
        connections.pollEnded()
        connections.clients.endPoll(by: client)
    }

    // MARK: Server-Sent Events

    /// Starts an admitted stream: its head (no length: the body goes on), then `EventStream`
    /// writes it. Nothing after the version asked for, in a match that has ended: 204, which
    /// tells a browser's EventSource not to reconnect.
    private func startStream(_ admitted: Result<Admission, WireError>) {
        guard case .success(let admission) = admitted else { return refuse(admitted) }
        guard let context, case .serving(let exchange) = current else { return }
        if admission.match.status == .finished, admission.after >= admission.match.version {
            return respond(.noContent, [:], body: nil)
        }
        slimExchange()
        var headers = EventStreamTransport.headers
        if configuration.compression { headers.add(name: "Vary", value: "Accept-Encoding") }
        if exchange.acceptsGzip, let gzip = try? BodyCompression.GzipStream(windowBits: configuration.compressionWindowBits) {
            streamGzip = gzip
            headers.add(name: "Content-Encoding", value: "gzip")
        }
        writeHead(.ok, headers, for: exchange)
        context.triggerUserOutboundEvent(ConnectionActivity.holding, promise: nil)
        connections.streamStarted()
        blockedWrites = 0
        let stream = EventStream(admission, connection: self, eventLoop: context.eventLoop, allocator: context.channel.allocator)
        self.stream = stream
        stream.start(retry: configuration.streamRetry, heartbeats: eventStreams.heartbeats)
    }

    /// A piece of the stream's body. A reader that stops reading is dropped once more than the
    /// outbound limit of writes has queued behind it (it can reconnect with `Last-Event-ID`).
    func writeStream(_ bytes: ByteBuffer, flush: Bool = true) {
        guard let context, stream != nil else { return }
        if !context.channel.isWritable {
            blockedWrites += 1
            if blockedWrites > configuration.maxOutboundMessages {
                connections.metrics.outboundDrops.increment()
                logger.warning("event stream dropped: the client is not reading", metadata: ["limit": "\(configuration.maxOutboundMessages)"])
                stopStream()
                return closeNow()
            }
        }
        var bytes = bytes
        if let streamGzip {
            guard let compressed = try? streamGzip.write(bytes, flush: flush, allocator: context.channel.allocator) else {
                stopStream()
                return closeNow()
            }
            bytes = compressed
        }
        if bytes.readableBytes > 0 { context.write(wrapOutboundOut(.body(.byteBuffer(bytes))), promise: nil) }
        if flush { context.flush() }
    }

    func flushStream() {
        guard let context else { return }
        if let streamGzip, let flushed = try? streamGzip.write(ByteBuffer(), flush: true, allocator: context.channel.allocator),
           flushed.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(flushed))), promise: nil)
        }
        context.flush()
    }

    /// Ends the stream's response: the connection goes on with its next request, or closes.
    func endStream(close: Bool) {
        guard let context, stream != nil, case .serving(let exchange) = current else { return }
        if let trailer = try? streamGzip?.finish(allocator: context.channel.allocator) {
            context.write(wrapOutboundOut(.body(.byteBuffer(trailer))), promise: nil)
        }
        stopStream()
        let keepAlive = !close && exchange.head.isKeepAlive && !inputEnded && !longPoll.authority.isShuttingDown
        current = keepAlive ? .idle : .closing
        if keepAlive {
            context.triggerUserOutboundEvent(ConnectionActivity.responseEnd, promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
        }
    }

    private func stopStream() {
        guard let stream else { return }
        self.stream = nil
        streamGzip = nil
        stream.stop()
        connections.streamEnded()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { blockedWrites = 0 }
        context.fireChannelWritabilityChanged()
    }

    // MARK: WebSocket

    /// An upgrade to WebSocket, on whichever request of the connection it comes: a malformed
    /// handshake is answered over HTTP; a good one is admitted (or refused after the upgrade,
    /// with a close code and reason a page can read), then the pipeline switched.
    private func upgrade(_ exchange: Exchange, match id: Substring) {
        if let (error, headers) = WebSocketTransport.handshakeProblem(exchange.head) {
            return respond(error, headers: headers)
        }
        guard let webSocket else {
            // As a proxy that strips `Upgrade` would leave it (ply serve --no-websocket).
            return respond(WireError(.badRequest, "this server does not accept WebSocket upgrades; use long-polling"), close: true)
        }
        let client = client
        if let now = webSocket.admission(exchange.head, match: id, client: client, origin: exchange.origin) {
            return switchToWebSocket(exchange.head, now, client: client)
        }
        later({ [head = exchange.head] in await webSocket.admit(head, match: id) }) { connection, admission in
            connection.switchToWebSocket(exchange.head, admission, client: client)
        }
    }

    /// What swift-nio's own upgrade handler does, on any request rather than only the first:
    /// stop the HTTP decoding (keeping what it held back), answer 101, take the HTTP encoder
    /// out, let swift-nio's WebSocket upgrader add its frame codec and ply's handlers, give
    /// them what was held, and leave.
    private func switchToWebSocket(_ head: HTTPRequestHead, _ admission: WebSocketTransport.Admission, client: String) {
        guard let context, case .serving(let exchange) = current, let webSocket else { return }
        let upgrader = webSocket.upgrader(for: admission, head: head, client: client, logger: logger)
        let channel = context.channel
        upgrader.buildUpgradeResponse(channel: channel, upgradeRequest: head, initialResponseHeaders: [:])
            .hop(to: context.eventLoop).assumeIsolated().whenComplete { result in
                switch result {
                case .failure(let error):
                    self.respond(WireError(.badRequest, "not a WebSocket opening handshake: \(error)"), headers: ["Sec-WebSocket-Version": "13"])
                case .success(let headers):
                    self.current = .upgrading([])
                    let pipeline = context.pipeline.syncOperations
                    pipeline.removeHandler(name: HandlerName.pipelining).assumeIsolated()
                        .flatMap { pipeline.removeHandler(name: HandlerName.decoder) }
                        .flatMap { () -> EventLoopFuture<Void> in
                            self.writeHead(.switchingProtocols, headers, for: exchange, informational: true)
                            context.flush()
                            return pipeline.removeHandler(name: HandlerName.encoder)
                        }
                        .flatMap { upgrader.upgrade(channel: channel, upgradeRequest: head) }
                        .whenComplete { upgraded in
                            guard case .upgrading(let held) = self.current, case .success = upgraded else {
                                self.logger.debug("the upgrade could not switch the pipeline", metadata: ["result": "\(upgraded)"])
                                return self.closeNow()
                            }
                            self.current = .closing
                            self.connections.metrics.upgraded(onLaterRequest: self.requests > 1)
                            for data in held { context.fireChannelRead(data) }
                            if !held.isEmpty { context.fireChannelReadComplete() }
                            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
                        }
                }
            }
    }

    // MARK: Writing

    /// Answers the request being served with an error, as JSON, with its status.
    private func respond(_ error: WireError, headers extra: HTTPHeaders = [:], close: Bool = false) {
        var headers = extra
        if error.code == .missingToken { headers.add(name: "WWW-Authenticate", value: "Bearer") }
        let body = (try? JSONBuffer.encode(error)) ?? ByteBuffer(string: #"{"code":"server/internal","type":"error"}"#)
        respond(HTTPResponseStatus(statusCode: Int(error.code.httpStatus?.code ?? 400)), headers, body: body, close: close)
    }

    /// Answers the request being served (a JSON body unless its headers say otherwise), then
    /// goes on with the next request or closes.
    private func respond(_ status: HTTPResponseStatus, _ extra: HTTPHeaders, body: ByteBuffer?, close: Bool = false) {
        guard let context, case .serving(let exchange) = current else { return }
        var headers = extra
        var body = body
        if body != nil, !headers.contains(name: "content-type") { headers.add(name: "Content-Type", value: "application/json") }
        // A body under the minimum is the same whatever the request accepts: no `Vary` for it.
        if configuration.compression, let plain = body, status != .noContent, plain.readableBytes >= Self.gzipMinimum {
            headers.add(name: "Vary", value: "Accept-Encoding")
            if exchange.acceptsGzip,
               let gzipped = try? BodyCompression.gzip(plain, windowBits: configuration.compressionWindowBits, allocator: context.channel.allocator),
               gzipped.readableBytes < plain.readableBytes {
                body = gzipped
                headers.add(name: "Content-Encoding", value: "gzip")
            }
        }
        if status != .noContent { headers.add(name: "Content-Length", value: String(body?.readableBytes ?? 0)) }
        let keepAlive = !close && exchange.head.isKeepAlive && !exchange.asksToUpgrade && !inputEnded && !longPoll.authority.isShuttingDown
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        } else if exchange.head.version.minor == 0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        // Idle before the end is written: swift-nio's pipelining handler hands over the next
        // request as the end passes it, and the door keeps time for it from its head on.
        current = keepAlive ? .idle : .closing
        if keepAlive { context.triggerUserOutboundEvent(ConnectionActivity.responseEnd, promise: nil) }
        writeHead(status, headers, for: exchange)
        if let body, exchange.head.method != .HEAD, status != .noContent { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        guard keepAlive else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
            return
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    /// Bodies shorter than this go uncompressed: gzip's header and trailer alone are 18 bytes,
    /// and a long poll's usual answer (one event) is about 50.
    static let gzipMinimum = 128

    /// The one place a response head is written: the status, the headers given, `Date`, and
    /// the grant of a page's origin (CORS).
    private func writeHead(_ status: HTTPResponseStatus, _ extra: HTTPHeaders, for exchange: Exchange, informational: Bool = false) {
        guard let context else { return }
        var headers = extra
        if !informational { headers.add(name: "Date", value: HTTPDate.now) }
        if case .granted(let origin) = exchange.origin, !informational { OriginPolicy.grant(origin, into: &headers) }
        let version: HTTPVersion = exchange.head.version.major == 1 && exchange.head.version.minor == 0 ? .http1_0 : .http1_1
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
    }

    private func closeNow() {
        current = .closing
        context?.close(promise: nil)
    }

    // MARK: Events

    /// A request swift-nio's decoder could not read (a request line of garbage, control bytes in
    /// the path, conflicting lengths, headers over the limit) gets 400 with the documented error,
    /// then the connection closes, since nothing after it can be read. swift-nio's pipelining
    /// handler passes the error on only once every answer before it is written. (ply answers
    /// it here rather than with swift-nio's `HTTPServerProtocolErrorHandler`, whose 400 has an
    /// empty body: every ply error is documented JSON.)
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is HTTPParserError else {
            logger.debug("connection failed", metadata: ["error": "\(error)"])
            return closeNow()
        }
        switch current {
        case .idle, .reading:
            stopWaiting()
            let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/")
            current = .serving(Exchange(head: head, plan: .answer(WireError(.badRequest, ""), [:]), origin: .none, asksToUpgrade: false))
            respond(WireError(.badRequest, "the request could not be read as HTTP (\(error))"), close: true)
        case .serving, .upgrading, .closing:
            closeNow()
        }
    }

    /// A client that closes its side is done: a waiting poll ends now, and the connection closes
    /// once what it sent is answered (left open, it would count against every limit until the
    /// keep-alive timeout).
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            inputEnded = true
            switch current {
            case .idle, .reading: closeNow()
            case .serving where stream != nil: endStream(close: true)
            case .serving: waiter?.end(news: false)
            case .upgrading, .closing: break
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopWaiting()
        stopStream()
        current = .closing
        context.fireChannelInactive()
    }
}

/// Collects a Hummingbird response's body (ply's are a few hundred bytes of JSON).
private final class ResponseCollector: ResponseBodyWriter, @unchecked Sendable {
    // Written by the one task that serves the request, read once it is done.
    var body = ByteBuffer()
    var failed = false

    func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        body.writeBuffer(&buffer)
    }

    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
