import NIOCore
import NIOWebSocket
import Synchronization

/// What one WebSocket connection still has to send, drained by that connection's single
/// writer task: a "new events" flag (the events themselves stay in the match's log, so a
/// slow reader costs no copies), replies to its commands in order, and an optional close.
///
/// Other tasks only flip flags and append here; they never wait on this connection's socket.
final class Outbox: Sendable {
    struct Batch {
        var newEvents = false
        var replies: [ByteBuffer] = []
        var close: WebSocketErrorCode?
        var finished = false
    }

    private struct State {
        var pending = Batch()
        var waiting: CheckedContinuation<Void, Never>?
        var hasWork: Bool { pending.newEvents || !pending.replies.isEmpty || pending.close != nil || pending.finished }
    }

    private let state = Mutex(State())

    /// The match has new events.
    func wake() { update { $0.newEvents = true } }

    /// Queues a reply (an acknowledgement or an error) after any events already signalled.
    func send(_ reply: ByteBuffer) { update { $0.replies.append(reply) } }

    /// Asks the writer to close the connection with a code.
    func close(_ code: WebSocketErrorCode) { update { $0.close = $0.close ?? code } }

    /// Tells the writer that the connection is gone.
    func finish() { update { $0.finished = true } }

    private func update(_ body: (inout Batch) -> Void) {
        let waiting = state.withLock { state -> CheckedContinuation<Void, Never>? in
            body(&state.pending)
            defer { state.waiting = nil }
            return state.waiting
        }
        waiting?.resume()
    }

    /// Waits until there is something to do, then takes all of it.
    func next() async -> Batch {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLock { state in
                if state.hasWork { return true }
                state.waiting = continuation
                return false
            }
            if ready { continuation.resume() }
        }
        return state.withLock { state in
            defer { state.pending = Batch(finished: state.pending.finished) }
            return state.pending
        }
    }
}
