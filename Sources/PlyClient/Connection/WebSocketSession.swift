import Foundation
import NIOCore
import NIOFoundationCompat
import NIOPosix
import NIOWebSocket
import PlyEngine
import PlyWire
import Synchronization

/// A session over one WebSocket. Messages are decoded on the event loop as they arrive;
/// events go straight to the sink, answers to the command waiting for their `id`.
final class WebSocketSession: TransportSession {
    let kind = Transport.webSocket
    let ended: EventLoopFuture<SessionEnd>
    private let endPromise: EventLoopPromise<SessionEnd>
    /// Completes with the server's welcome, or fails with its refusal.
    private let admitted: EventLoopPromise<Void>
    private let link: Mutex<WebSocketLink?> = Mutex(nil)
    private let state = Mutex(State())

    private struct State {
        var nextID = 1
        var waiting: [Int: EventLoopPromise<CommandReply>] = [:]
        /// An error the server sent without an id: the reason for the close that follows.
        var refusal: WireError?
        var isOver = false
    }

    private init(eventLoop: any EventLoop) {
        endPromise = eventLoop.makePromise()
        ended = endPromise.futureResult
        admitted = eventLoop.makePromise()
    }

    /// Upgrades `GET /matches/{match}/ws?after=V`, acting for a seat when a token is given, and
    /// returns once the server has welcomed the connection; throws its refusal otherwise.
    static func open(_ request: SessionRequest) async throws -> WebSocketSession {
        let (endpoint, match, token, after, options, stats, sink) = request.parts
        let session = WebSocketSession(eventLoop: options.group.any())
        let headers = bearer(token)
        let link: WebSocketLink
        do {
            link = try await WebSocketLink.connect(
            to: endpoint,
            path: "/matches/\(match)/ws?after=\(after)",
            headers: headers,
            pingInterval: options.pingInterval.map(TimeAmount.init),
            compression: options.compression,
            stats: stats,
            group: options.group,
            timeout: TimeAmount(options.upgradeTimeout),
            onEvent: { [weak session] event in session?.receive(event, sink: sink) }
            )
        } catch {
            session.admitted.fail(error)
            session.finish(.closed)
            throw error
        }
        session.link.withLock { $0 = link }
        try await session.awaitAdmission(session.admitted, within: options.upgradeTimeout)
        return session
    }

    private func receive(_ event: WebSocketLink.Event, sink: EventSink) {
        switch event {
        case .text(let buffer):
            let message: ServerMessage
            do {
                message = try WireCoding.decoder.decode(ServerMessage.self, from: buffer)
            } catch {
                return finish(.lost("the server sent a message that is not ply JSON"))
            }
            switch message {
            case .event(let event):
                sink(.events([event]))
            case .rolledBack(let rolledBack):
                sink(.rolledBack(to: rolledBack.version))
            case .ack(let ack):
                answer(ack.id, .ack(ack))
            case .error(let error):
                if error.id == nil {
                    state.withLock { $0.refusal = error }
                } else {
                    answer(error.id, .refused(error))
                }
            case .welcome(let welcome):
                if welcome.id == nil { admitted.succeed() }
            }
        case .binary:
            break
        case .closed(let code, let reason):
            let refusal = state.withLock { $0.refusal }
            if case .unknown(let number) = code, (4400..<4500).contains(number) {
                let error = refusal ?? WireError(.badRequest, reason ?? "closed with code \(number)")
                admitted.fail(error)
                finish(.refused(error))
            } else {
                admitted.fail(refusal ?? LinkError.connectionClosed)
                finish(.lost(code.map { "closed with \($0)" } ?? "the connection dropped"))
            }
        }
    }

    private func answer(_ id: Int?, _ reply: CommandReply) {
        guard let id, let waiter = state.withLock({ $0.waiting.removeValue(forKey: id) }) else { return }
        waiter.succeed(reply)
    }

    /// Ends the session once: fails the commands still waiting and reports how it ended.
    func finish(_ end: SessionEnd) {
        let waiting = state.withLock { state -> [EventLoopPromise<CommandReply>]? in
            guard !state.isOver else { return nil }
            state.isOver = true
            defer { state.waiting.removeAll() }
            return Array(state.waiting.values)
        }
        guard let waiting else { return }
        for waiter in waiting { waiter.fail(SessionLost()) }
        endPromise.succeed(end)
    }

    func send(_ command: Command, before deadline: ContinuousClock.Instant) async throws -> CommandReply {
        guard let answer = sendNow(command, before: deadline) else { throw SessionLost() }
        return try await answer.get()
    }

    func sendNow(_ command: Command, before deadline: ContinuousClock.Instant) -> EventLoopFuture<CommandReply>? {
        guard let link = link.withLock({ $0 }) else { return nil }
        let left = deadline - .now
        guard left > .zero else { return link.eventLoop.makeFailedFuture(CommandError.timedOut) }
        let answer = link.eventLoop.makePromise(of: CommandReply.self)
        let id: Int? = state.withLock { state in
            guard !state.isOver else { return nil }
            let id = state.nextID
            state.nextID += 1
            state.waiting[id] = answer
            return id
        }
        guard let id else {
            answer.fail(SessionLost())
            return answer.futureResult
        }
        // No answer by the deadline: the command may or may not have been applied; its events will tell.
        let timer = link.eventLoop.scheduleTask(in: TimeAmount(left)) { [self] in
            state.withLock { $0.waiting.removeValue(forKey: id) }?.fail(CommandError.timedOut)
        }
        answer.futureResult.whenComplete { _ in timer.cancel() }
        var command = command
        command.id = id
        link.send(text: OutboundJSON.encode(command, allocator: ByteBufferAllocator()))
        return answer.futureResult
    }

    func close() {
        finish(.closed)
        link.withLock { $0 }?.close()
    }
}
