import Foundation
import NIOCore
import NIOHTTP1
import PlyAuthority
import PlyEngine
import PlyWire

/// One HTTP connection, on its event loop, between swift-nio's HTTP codec and Hummingbird
/// (installed when the connection is accepted; removed if it becomes a WebSocket):
///
/// - serves the long-polling transport's two requests itself, with no task;
/// - passes every other request on to Hummingbird, whose side of the connection it starts
///   when the first such request arrives;
/// - keeps requests and responses in order: while one side has a request in flight, whatever
///   the client sends next (a pipelined request) is held until that response is written;
/// - answers a malformed request with 400 and the documented error, then closes;
/// - tells `ConnectionDoor` when a request head has arrived and when a response has ended, for
///   its header and keep-alive timeouts.
final class HTTPConnection: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum Current {
        case idle
        /// A request for Hummingbird: its parts go on.
        case passing
        /// A request of ours, its body being read.
        case reading(LongPollTransport.Route, HTTPRequestHead, body: ByteBuffer?, tooLarge: Bool)
        /// A request of ours, fully read, its answer not yet written.
        case serving(HTTPRequestHead)
    }

    private let transport: LongPollTransport
    /// Builds Hummingbird's side of the connection, the first time a request needs it.
    private var startRouter: (() throws -> Void)?
    /// The next request asked for a WebSocket where there is none: answer it with an empty 400.
    var refuseUpgrade = false
    private var context: ChannelHandlerContext?
    private var current = Current.idle
    /// Hummingbird owes the client a response (from a head passed on to its response's end).
    private var hummingbirdResponding = false
    /// Parts of requests that arrived while a response was owed, held in order.
    private var held: [HTTPServerRequestPart] = []
    private var heldBytes = 0
    private var waiter: PollWaiter?
    private var timer: Scheduled<Void>?
    private var limiter: RateLimiter
    /// The client of the request being served.
    private var client = "local"
    static let forwardedFor = "X-Forwarded-For"
    /// The server is stopping: close the connection once nothing is owed.
    private var quiescing = false
    /// The client has closed its side (swift-nio's `inputClosed`: the server allows half-closed
    /// connections): nothing more will come, so close once nothing is owed.
    private var inputEnded = false
    /// The rest of the input cannot be read: answer 400 and close once nothing else is owed.
    private var inputBroken = false
    private var brokenBecause = ""

    init(transport: LongPollTransport, startRouter: @escaping () throws -> Void) {
        self.transport = transport
        self.startRouter = startRouter
        limiter = transport.connections.makeRateLimiter()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        client = ClientTable.key(context.remoteAddress)
    }

    /// Removed by a WebSocket upgrade, or when the channel closes: the router's starter holds the
    /// channel, and the upgrader's closures hold this handler, so both let go here.
    func handlerRemoved(context: ChannelHandlerContext) {
        stopWaiting()
        startRouter = nil
        self.context = nil
    }

    private var busy: Bool {
        if case .serving = current { return true }
        if case .idle = current { return hummingbirdResponding }
        return false
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        receive(unwrapInboundIn(data))
    }

    private func receive(_ part: HTTPServerRequestPart) {
        if busy || !held.isEmpty {
            return hold(part)
        }
        process(part)
    }

    /// Serves or passes on one part, in order (none is held before it).
    private func process(_ part: HTTPServerRequestPart) {
        guard let context else { return }
        switch (part, current) {
        case (.head(let head), .idle):
            context.triggerUserOutboundEvent(ConnectionActivity.requestHead, promise: nil)
            // Behind a trusted proxy each request may come from another client (else the peer
            // named in `handlerAdded` it stays, with no work per request).
            if !transport.connections.trustedProxies.isEmpty {
                client = transport.connections.client(context.remoteAddress, forwardedFor: head.headers[Self.forwardedFor])
            }
            if refuseUpgrade {
                refuseUpgrade = false
                current = .serving(head)
                return answerRefusedUpgrade()
            }
            if let refusal = refusal(of: head) {
                current = .reading(.refuse(refusal), head, body: nil, tooLarge: false)
            } else if let route = LongPollTransport.route(head) {
                current = .reading(route, head, body: nil, tooLarge: false)
            } else {
                if let start = startRouter {
                    startRouter = nil
                    do {
                        try start()
                    } catch {
                        return context.close(promise: nil)
                    }
                }
                current = .passing
                hummingbirdResponding = true
                context.fireChannelRead(wrapInboundOut(part))
            }
        case (.body(var chunk), .reading(let route, let head, var body, var tooLarge)):
            if !tooLarge {
                if (body?.readableBytes ?? 0) + chunk.readableBytes > transport.configuration.maxMessageBytes {
                    tooLarge = true
                    body = nil
                } else if body == nil {
                    body = chunk
                } else {
                    body?.writeBuffer(&chunk)
                }
            }
            current = .reading(route, head, body: body, tooLarge: tooLarge)
        case (.end, .reading(let route, let head, let body, let tooLarge)):
            current = .serving(head)
            serve(route, head, body: body, tooLarge: tooLarge)
        case (.end, .passing):
            current = .idle
            context.fireChannelRead(wrapInboundOut(part))
        case (_, .passing):
            context.fireChannelRead(wrapInboundOut(part))
        default:
            // Parts out of order cannot come from swift-nio's decoder; end the connection if they do.
            context.close(promise: nil)
        }
    }

    /// Keeps a pipelined request's part until the response owed is written. A client that sends
    /// more than a request's worth ahead is cut off.
    private func hold(_ part: HTTPServerRequestPart) {
        if case .body(let chunk) = part { heldBytes += chunk.readableBytes }
        held.append(part)
        if held.count > 64 || heldBytes > transport.configuration.maxMessageBytes * 2 {
            context?.close(promise: nil)
        }
    }

    /// Takes up held parts once nothing is owed; then, if the input broke, answers that. Each
    /// part is processed, not received again: the parts behind it are still held, and
    /// receiving would hold it again behind them, round and round for good.
    private func release() {
        var released = false
        while !busy, !held.isEmpty {
            let part = held.removeFirst()
            if case .body(let chunk) = part { heldBytes -= chunk.readableBytes }
            process(part)
            released = true
        }
        // Out of a read (a response has ended): Hummingbird's side takes up what it was given
        // only at the end of a batch of reads.
        if released { context?.fireChannelReadComplete() }
        answerBrokenInputIfIdle()
        closeIfInputEndedAndIdle()
    }

    private func closeIfInputEndedAndIdle() {
        guard inputEnded, !inputBroken, let context, case .idle = current, !hummingbirdResponding, held.isEmpty else { return }
        context.close(promise: nil)
    }

    // MARK: Serving

    /// What refuses a request from its head alone, whatever its route: an origin the server
    /// does not allow (`--allow-origin`), or a body that is not declared JSON. A web page can
    /// send a cross-site request without asking first only with a form's content types, so
    /// requiring `application/json` keeps pages from posting joins and commands.
    private func refusal(of head: HTTPRequestHead) -> WireError? {
        if let allowed = transport.configuration.allowedOrigins, let origin = head.headers["Origin"].first, !allowed.contains(origin) {
            return WireError(.forbiddenOrigin, "requests from origin '\(origin)' are not allowed")
        }
        if head.method == .POST || head.method == .PUT || head.method == .PATCH {
            let type = head.headers["Content-Type"].first?.split(separator: ";").first?
                .trimmingCharacters(in: .whitespaces).lowercased()
            guard type == "application/json" else {
                return WireError(.unsupportedMediaType, "send the body as JSON, with 'Content-Type: application/json'")
            }
        }
        return nil
    }

    private func serve(_ route: LongPollTransport.Route, _ head: HTTPRequestHead, body: ByteBuffer?, tooLarge: Bool) {
        do throws(WireError) {
            switch route {
            case .refuse(let error):
                throw error
            case .poll(let id), .command(let id):
                guard let match = try transport.authority.resident(id), transport.beyond(match, head) == nil else {
                    return load(id, route, head, body: body, tooLarge: tooLarge)
                }
                serve(route, id, match, head, body: body, tooLarge: tooLarge, refreshed: false)
            }
        } catch {
            answer(error)
        }
    }

    /// Serves a request for a match, or answers its error; a token refused on a shared store
    /// is judged again once the store has been read (its seat may have been taken on another
    /// server a moment ago).
    private func serve(_ route: LongPollTransport.Route, _ id: String, _ match: MatchAuthority, _ head: HTTPRequestHead, body: ByteBuffer?,
                       tooLarge: Bool, refreshed: Bool) {
        do throws(WireError) {
            try serve(route, match, head, body: body, tooLarge: tooLarge)
        } catch where error.code == .wrongToken && match.isShared && !refreshed {
            load(id, route, head, body: body, tooLarge: tooLarge, refresh: true)
        } catch {
            answer(error)
        }
    }

    /// A match not in memory (finished a while ago, or held by another server), or one this
    /// server has not yet seen at the version a poll names: read from the store off the event
    /// loop, then the request is served here. Parts the client sends meanwhile are held, as for
    /// any request.
    private func load(_ id: String, _ route: LongPollTransport.Route, _ head: HTTPRequestHead, body: ByteBuffer?, tooLarge: Bool,
                      refresh: Bool = false) {
        guard let eventLoop = context?.eventLoop else { return }
        let handler = NIOLoopBound(self, eventLoop: eventLoop)
        let transport = transport
        Task {
            let loaded: Result<MatchAuthority, WireError>
            do throws(WireError) {
                let match = try await transport.authority.match(id)
                if refresh {
                    await match.refresh()
                } else if let after = transport.beyond(match, head) {
                    await match.reach(after)
                }
                loaded = .success(match)
            } catch {
                loaded = .failure(error)
            }
            eventLoop.execute {
                switch loaded {
                case .success(let match): handler.value.serve(route, id, match, head, body: body, tooLarge: tooLarge, refreshed: refresh)
                case .failure(let error): handler.value.answer(error)
                }
            }
        }
    }

    private func serve(_ route: LongPollTransport.Route, _ match: MatchAuthority, _ head: HTTPRequestHead, body: ByteBuffer?,
                       tooLarge: Bool) throws(WireError) {
        switch route {
        case .refuse(let error):
            throw error
        case .poll:
            switch try transport.plan(poll: match, head) {
            case .answer(let events):
                answer(.ok, JSONBuffer.array(events))
            case .wait(let match, let after, let seat, let timeout):
                try transport.connections.clients.startPoll(by: client)
                wait(match, after: after, seat: seat, timeout: timeout)
            }
        case .command:
            guard !tooLarge else { throw WireError(.tooLarge, "the body is larger than the limit") }
            let (command, seat) = try transport.plan(command: match, head, body: body)
            guard limiter.allow() else { throw transport.connections.rateLimited }
            try transport.connections.spendCommand(by: client, match: match.id, seat: seat)
            guard let eventLoop = context?.eventLoop else { return }
            let handler = NIOLoopBound(self, eventLoop: eventLoop)
            let metrics = transport.connections.metrics
            match.execute(command, by: seat) { result in
                metrics.counted(command, over: .longPoll, result)
                if eventLoop.inEventLoop {
                    handler.value.answer(result)
                } else {
                    eventLoop.execute { handler.value.answer(result) }
                }
            }
        }
    }

    private func answer(_ result: Result<Acknowledgement, WireError>) {
        switch result {
        case .success(let acknowledgement):
            answer(.ok, (try? JSONBuffer.encode(acknowledgement)) ?? ByteBuffer())
        case .failure(let error):
            answer(error)
        }
    }

    private func answer(_ error: WireError) {
        let body = (try? JSONBuffer.encode(error)) ?? ByteBuffer(string: #"{"code":"server/internal","type":"error"}"#)
        let status = HTTPResponseStatus(statusCode: Int(error.code.httpStatus?.code ?? 400))
        answer(status, body, authenticate: error.code == .missingToken)
    }

    /// Writes the response to the request being served (the same headers Hummingbird writes),
    /// then takes up what the client sent meanwhile.
    private func answer(_ status: HTTPResponseStatus, _ body: ByteBuffer, authenticate: Bool = false) {
        guard let context, case .serving(let request) = current else { return }
        var headers = HTTPHeaders()
        headers.reserveCapacity(4)
        headers.add(name: "Content-Type", value: "application/json")
        if authenticate { headers.add(name: "WWW-Authenticate", value: "Bearer") }
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "Date", value: HTTPDate.now)
        let keepAlive = request.isKeepAlive && !quiescing && !transport.authority.isShuttingDown && !(inputEnded && held.isEmpty)
        if !keepAlive { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        guard keepAlive else {
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
            current = .idle
            return
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        current = .idle
        context.triggerUserOutboundEvent(ConnectionActivity.responseEnd, promise: nil)
        release()
    }

    /// An upgrade asked for where there is no WebSocket (another path, or `--no-websocket`): an
    /// empty 400 and a close, as a proxy that strips `Upgrade` would leave it.
    private func answerRefusedUpgrade() {
        guard let context else { return }
        let head = HTTPResponseHead(version: .http1_1, status: .badRequest,
                                    headers: ["Connection": "close", "Content-Length": "0", "Date": HTTPDate.now])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    /// A request swift-nio's decoder could not read (a request line of garbage, control bytes in
    /// the path, conflicting lengths, headers over the limit) gets 400 with the documented error,
    /// then the connection closes, since nothing after it can be read. Requests read before the
    /// bad bytes are answered first: they may still be on their way up the pipeline (swift-nio's
    /// upgrade handler holds a connection's first request while it decides), so look once they are in.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard error is HTTPParserError else { return context.fireErrorCaught(error) }
        guard !inputBroken else { return }
        inputBroken = true
        brokenBecause = "\(error)"
        context.eventLoop.assumeIsolated().execute { [self] in answerBrokenInputIfIdle() }
    }

    private func answerBrokenInputIfIdle() {
        guard inputBroken, let context, case .idle = current, !hummingbirdResponding, held.isEmpty else { return }
        inputBroken = false  // answered once
        let error = WireError(.badRequest, "the request could not be read as HTTP (\(brokenBecause))")
        let body = (try? JSONBuffer.encode(error)) ?? ByteBuffer()
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        headers.add(name: "Date", value: HTTPDate.now)
        headers.add(name: "Connection", value: "close")
        current = .serving(HTTPRequestHead(version: .http1_1, method: .GET, uri: "/"))
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .badRequest, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in channel.close(promise: nil) }
    }

    // MARK: Waiting

    private func wait(_ match: MatchAuthority, after: Int, seat: Seat?, timeout: Duration) {
        guard let context else { return }
        let waiter = PollWaiter(match: match, after: after, seat: seat, handler: self, eventLoop: context.eventLoop)
        self.waiter = waiter
        transport.connections.pollStarted()
        timer = context.eventLoop.scheduleTask(in: TimeAmount(timeout)) { waiter.end(news: true) }
        let (version, closure) = match.subscribe(waiter)
        if version > after || closure != nil { return waiter.end(news: closure == nil) }
        if let seat, let older = transport.seatPolls.replace(match, seat, with: waiter) { older.end(news: false) }
    }

    /// The poll has ended: answer it (unless its connection is gone).
    func pollEnded(_ ended: PollWaiter, news: Bool) {
        guard waiter === ended else { return }
        stopWaiting()
        answer(.ok, JSONBuffer.array(news ? ended.match.events(after: ended.after, for: ended.seat) : []))
    }

    private func stopWaiting() {
        guard let waiter else { return }
        self.waiter = nil
        timer?.cancel()
        timer = nil
        waiter.match.unsubscribe(waiter)
        if let seat = waiter.seat { transport.seatPolls.remove(waiter.match, seat, waiter) }
        transport.connections.pollEnded()
        transport.connections.clients.endPoll(by: client)
    }

    /// A client that closes its side is done: a waiting poll ends now, and the connection closes
    /// once what it sent is answered (left open, it would count against every limit until the
    /// keep-alive timeout). At shutdown (Hummingbird quiesces every connection and waits for it
    /// to close), close once nothing is owed; Hummingbird's side, if the connection has one, does
    /// the same for its part.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            inputEnded = true
            waiter?.end(news: false)
            closeIfInputEndedAndIdle()
        }
        if event is ChannelShouldQuiesceEvent {
            quiescing = true
            if startRouter != nil, case .idle = current { return context.close(promise: nil) }
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopWaiting()
        current = .idle
        held.removeAll()
        context.fireChannelInactive()
    }

    // MARK: Outbound

    /// Hummingbird's responses pass through; the end of one lets held requests go on.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let isEnd = if case .end = unwrapOutboundIn(data) { true } else { false }
        context.write(data, promise: promise)
        if isEnd {
            hummingbirdResponding = false
            context.triggerUserOutboundEvent(ConnectionActivity.responseEnd, promise: nil)
            if !held.isEmpty || inputBroken || inputEnded {
                context.eventLoop.assumeIsolated().execute { [self] in release() }
            }
        }
    }
}
