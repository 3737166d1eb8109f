import Foundation
import NIOCore
import NIOFoundationCompat
import PlyEngine
import PlyWire
import Synchronization

/// A session over Server-Sent Events: one long response (`GET …/stream?after=V`) on a
/// connection of its own delivers events as they come, in version order; commands are POSTs
/// on a second connection, as in long-polling (`CommandPoster`). A seat's stream carries its
/// token in `Authorization` (a browser, which cannot, uses a stream ticket).
final class EventStreamSession: PostingSession {
    let kind = Transport.serverSentEvents
    let ended: EventLoopFuture<SessionEnd>
    private let endPromise: EventLoopPromise<SessionEnd>
    /// Completes once the stream has begun (its first bytes, `retry:`, have come: a proxy that
    /// holds streamed bodies never gets this far), or fails with the server's refusal.
    private let admitted: EventLoopPromise<Void>
    let commands: CommandPoster
    private let link = Mutex<EventStreamLink?>(nil)
    private let state = Mutex<(isOver: Bool, lastWasEnd: Bool, streamOver: Bool)>((false, false, false))

    private init(eventLoop: any EventLoop, commands: CommandPoster) {
        endPromise = eventLoop.makePromise()
        ended = endPromise.futureResult
        admitted = eventLoop.makePromise()
        self.commands = commands
    }

    static func open(_ request: SessionRequest) async throws -> EventStreamSession {
        let (endpoint, match, token, after, options, stats, sink) = request.parts
        let authorization = bearer(token)
        let session = EventStreamSession(eventLoop: options.group.any(),
                                         commands: CommandPoster(endpoint: endpoint, match: match, authorization: authorization, options: options, stats: stats))
        do {
            let link = try await EventStreamLink.open(to: endpoint, path: "/matches/\(match)/stream?after=\(after)", headers: authorization,
                                                      stats: stats, group: options.group,
                                                      silence: options.streamSilence.map(TimeAmount.init),
                                                      compression: options.compression) { [weak session] update in
                session?.receive(update, sink: sink)
            }
            session.link.withLock { $0 = link }
            // Over before the link was kept (a 204, a refusal): it goes now.
            if session.state.withLock({ $0.isOver || $0.streamOver }) { link.close() }
        } catch {
            session.finish(.lost("\(error)"))
            throw error
        }
        try await session.awaitAdmission(session.admitted, within: options.upgradeTimeout)
        return session
    }

    private func receive(_ update: EventStreamLink.Update, sink: EventSink) {
        switch update {
        case .opened(let status, _):
            // 204: the match has ended and nothing follows the version asked after. Commands
            // still go (one resent after a cut is answered as after the end).
            if status == .noContent {
                admitted.succeed()
                streamOver()
            }
        case .refused(let status, let body):
            let error = (try? WireCoding.decoder.decode(WireError.self, from: body)) ?? WireError(.badRequest, "HTTP \(status.code)")
            // A server error (503 while the store is out of reach, or shutting down): come back later.
            let end: SessionEnd = (500..<600).contains(Int(status.code)) ? .lost(error.message) : .refused(error)
            if case .refused = end { admitted.fail(error) } else { admitted.fail(LinkError.connectionClosed) }
            finish(end)
        case .item(.retry), .item(.comment):
            admitted.succeed()
        case .item(.event(let event)):
            admitted.succeed()
            let message: ServerMessage
            do {
                message = try WireCoding.decoder.decode(ServerMessage.self, from: Data(event.data.utf8))
            } catch {
                return finish(.lost("the server sent an event that is not ply JSON"))
            }
            switch message {
            case .event(let matchEvent):
                state.withLock { $0.lastWasEnd = if case .ended = matchEvent.change { true } else { false } }
                sink(.events([matchEvent]))
            case .rolledBack(let rolledBack):
                sink(.rolledBack(to: rolledBack.version))
            case .error(let error):
                // The match closed: the server is stopping (come back), or it expired (for good).
                finish(error.code == .shuttingDown ? .lost(error.message) : .refused(error))
            case .ack, .welcome:
                break
            }
        case .ended:
            // After the match's last event the stream ends: nothing more will come, but the
            // session stays for commands (a winning move resent after a cut gets its answer).
            if state.withLock({ $0.lastWasEnd }) { streamOver() } else { finish(.lost("the stream ended")) }
        case .closed:
            admitted.fail(LinkError.connectionClosed)
            if !state.withLock({ $0.streamOver }) { finish(.lost("the connection dropped")) }
        }
    }

    /// The match has ended and its stream with it: the stream's connection goes, the session
    /// (and its connection for commands) stays until closed.
    private func streamOver() {
        state.withLock { $0.streamOver = true }
        link.withLock { $0 }?.close()
    }

    /// Ends the session once, closing both connections.
    func finish(_ end: SessionEnd) {
        let first = state.withLock { state -> Bool in
            guard !state.isOver else { return false }
            state.isOver = true
            return true
        }
        guard first else { return }
        link.withLock { $0 }?.close()
        commands.close()
        // A session that ends before its stream began was never admitted (completing it again
        // does nothing).
        admitted.fail(LinkError.connectionClosed)
        endPromise.succeed(end)
    }

    func close() {
        finish(.closed)
    }
}
