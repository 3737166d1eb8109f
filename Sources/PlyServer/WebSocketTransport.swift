import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import PlyEngine
import PlyWire

/// The WebSocket transport: `GET /matches/{id}/ws?after=V` upgrades, then the server sends
/// every event after V and each new event as one text message (the same JSON as one element
/// of a long-poll answer), and answers each command message with an ack or an error.
struct WebSocketTransport: Sendable {
    let service: GameService

    func add(to router: Router<PlyRequestContext>) {
        router.ws("/matches/:id/ws") { inbound, outbound, context in
            try await WebSocketSession(service: service, outbound: outbound, context: context).run(inbound)
        }
    }
}

/// Close codes beyond RFC 6455's own, sent after an error message that says why.
enum PlyCloseCode {
    static let badParameter = WebSocketErrorCode(codeNumber: 4400)
    static let missingToken = WebSocketErrorCode(codeNumber: 4401)
    static let wrongToken = WebSocketErrorCode(codeNumber: 4403)
    static let unknownMatch = WebSocketErrorCode(codeNumber: 4404)
    static let expiredMatch = WebSocketErrorCode(codeNumber: 4410)

    static func forRefusal(_ error: WireError) -> WebSocketErrorCode {
        switch error.code {
        case .unknownMatch: unknownMatch
        case .missingToken: missingToken
        case .wrongToken, .forbiddenOrigin: wrongToken
        case .expiredMatch: expiredMatch
        case .badParameter: badParameter
        case .shuttingDown: .goingAway
        default: .unexpectedServerError
        }
    }
}

/// One WebSocket connection: a reader (this task) that runs commands, and a writer (a child
/// task) that alone writes to the socket, draining the connection's outbox.
struct WebSocketSession {
    let service: GameService
    let outbound: WebSocketOutboundWriter
    let context: WebSocketRouterContext<PlyRequestContext>

    /// Throws the protocol errors WSCore raises while reading (invalid UTF-8, a message over the
    /// limit), so that WSCore closes with their codes (1007, 1009).
    func run(_ inbound: WebSocketInboundStream) async throws {
        let channel = context.requestContext.channel
        service.opened(webSocket: channel)
        defer { service.closed(webSocket: channel) }
        if let size = service.configuration.webSocketSendBuffer {
            _ = try? await channel.setOption(.socketOption(.so_sndbuf), value: SocketOptionValue(size)).get()
        }
        var logger = context.logger
        logger[metadataKey: "match"] = "\(context.requestContext.parameters.get("id") ?? "")"

        let room: MatchRoom, seat: Seat?, after: Int
        do {
            (room, seat, after) = try admit()
        } catch {
            logger.info("websocket refused", metadata: ["code": "\(error.code)"])
            try? await write(try JSONBuffer.encode(error))
            try? await outbound.close(PlyCloseCode.forRefusal(error), reason: error.code.rawValue)
            return
        }
        logger.info("websocket opened", metadata: ["seat": "\(seat.map { "\($0.rawValue)" } ?? "spectator")", "after": "\(after)"])
        // Admitted: say so first, so a client knows before any event that it is in, and as whom.
        try await write(try JSONBuffer.encode(Welcome(seat: seat, version: room.version)))

        let outbox = Outbox(after: after, limit: service.configuration.maxOutboundMessages) { [logger] in
            // The client stopped reading: the writer is stuck behind a full socket, so no close
            // frame could reach it. Drop the connection; it can resume with `after` later.
            logger.warning("websocket dropped: the client is not reading", metadata: ["limit": "\(service.configuration.maxOutboundMessages)"])
            channel.close(promise: nil)
        }
        room.subscribe(outbox)
        defer {
            room.unsubscribe(outbox)
            logger.info("websocket closed")
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await writeLoop(room: room, outbox: outbox, after: after) }
            defer { outbox.finish() }
            try await readLoop(inbound, room: room, outbox: outbox, seat: seat)
        }
    }

    /// Checks the request before any message flows: the match, `after`, and a token if one was sent.
    private func admit() throws(WireError) -> (MatchRoom, Seat?, Int) {
        try service.checkRunning()
        if let allowed = service.configuration.allowedOrigins, let origin = context.request.headers[.origin], !allowed.contains(origin) {
            throw WireError(.forbiddenOrigin, "WebSockets from origin '\(origin)' are not allowed")
        }
        let room = try service.room(context.requestContext.parameters.get("id"))
        let version = room.version
        let query = context.request.uri.queryParameters
        guard let after = Int(query.get("after") ?? "0"), (0...version).contains(after) else {
            throw WireError(.badParameter, "after must be an integer from 0 to the match's version, \(version)", version: version)
        }
        guard let header = context.request.headers[.authorization] else { return (room, nil, after) }
        return (room, try room.seat(forToken: SeatToken.bearer(header)), after)
    }

    /// The only writer to the socket: events first (from the match's log, after the cursor),
    /// then replies, so a command's events always arrive before its acknowledgement.
    private func writeLoop(room: MatchRoom, outbox: Outbox, after: Int) async {
        var cursor = after
        do {
            while true {
                let batch = await outbox.next()
                if batch.finished { return }
                if batch.newEvents {
                    let events = room.encodedEvents(after: cursor)
                    for event in events { try await write(event) }
                    cursor += events.count
                    outbox.written(cursor)
                }
                for reply in batch.replies { try await write(reply) }
                if let code = batch.close {
                    try await outbound.close(code, reason: code == .goingAway ? "server shutting down" : nil)
                    return
                }
            }
        } catch {
            // The connection is gone; the reader sees it end too.
        }
    }

    private func readLoop(_ inbound: WebSocketInboundStream, room: MatchRoom, outbox: Outbox, seat: Seat?) async throws {
        var seat = seat
        var limiter = service.makeRateLimiter()
        for try await message in inbound.messages(maxSize: service.configuration.maxMessageBytes) {
            let reply: any Encodable
            switch message {
            case _ where !limiter.allow():
                reply = GameService.rateLimited(service.configuration)
            case .binary:
                reply = WireError(.binaryMessage, "ply speaks JSON in text messages; binary messages are ignored")
            case .text(let text):
                reply = await handle(text, room: room, seat: &seat)
            }
            outbox.send(try JSONBuffer.encode(reply))
        }
    }

    /// Runs one text message and returns the reply: a welcome, an acknowledgement or an error.
    private func handle(_ text: String, room: MatchRoom, seat: inout Seat?) async -> any Encodable {
        var id: Int?
        do throws(WireError) {
            switch try WireCoding.decodeMessage(ClientMessage.self, from: Data(text.utf8)) {
            case .hello(let hello):
                id = hello.id
                guard seat == nil else { throw WireError(.alreadyAuthenticated, "this connection already acts for a seat") }
                let granted = try room.seat(forToken: hello.token)
                seat = granted
                return Welcome(seat: granted, id: id)
            case .command(let command):
                id = command.id
                guard let seat else {
                    throw WireError(.missingToken, "send a hello with the seat token, or connect with 'Authorization: Bearer TOKEN'")
                }
                return try await room.execute(command, by: seat)
            }
        } catch {
            var error = error
            error.id = error.id ?? id
            return error
        }
    }

    private func write(_ message: ByteBuffer) async throws {
        try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: message)))
    }
}
