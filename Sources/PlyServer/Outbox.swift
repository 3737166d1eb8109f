import NIOCore
import NIOWebSocket
import Synchronization

/// What one WebSocket connection still has to send, drained by that connection's single
/// writer task: a "new events" flag (the events themselves stay in the match's log, so a
/// slow reader costs no copies), replies to its commands in order, and an optional close.
///
/// Other tasks only flip flags and append here; they never wait on this connection's socket.
///
/// The queue is bounded: when events not yet written plus replies waiting pass `limit` (the
/// client stopped reading, so the writer is stuck behind a full socket), `onOverflow` runs
/// once, and the session drops the connection.
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
        /// The newest published version, and the newest the writer has written.
        var published = 0
        var written = 0
        var overflowed = false
        var hasWork: Bool { pending.newEvents || !pending.replies.isEmpty || pending.close != nil || pending.finished }
    }

    private let state: Mutex<State>
    private let limit: Int
    private let onOverflow: @Sendable () -> Void

    /// - Parameter after: the version the writer starts from.
    init(after: Int, limit: Int, onOverflow: @escaping @Sendable () -> Void) {
        state = Mutex(State(published: after, written: after))
        self.limit = limit
        self.onOverflow = onOverflow
    }

    /// The match has published events up to `version`.
    func wake(_ version: Int) {
        update { state in
            state.pending.newEvents = true
            state.published = max(state.published, version)
        }
    }

    /// Queues a reply (an acknowledgement or an error) after any events already signalled.
    func send(_ reply: ByteBuffer) { update { $0.pending.replies.append(reply) } }

    /// The writer has written every event up to `version`.
    func written(_ version: Int) { state.withLock { $0.written = version } }

    /// Asks the writer to close the connection with a code.
    func close(_ code: WebSocketErrorCode) { update { $0.pending.close = $0.pending.close ?? code } }

    /// Tells the writer that the connection is gone.
    func finish() { update { $0.pending.finished = true } }

    private func update(_ body: (inout State) -> Void) {
        let (waiting, overflow) = state.withLock { state -> (CheckedContinuation<Void, Never>?, Bool) in
            body(&state)
            let backlog = state.published - state.written + state.pending.replies.count
            let overflow = backlog > limit && !state.overflowed
            if overflow { state.overflowed = true }
            defer { state.waiting = nil }
            return (state.waiting, overflow)
        }
        waiting?.resume()
        if overflow { onOverflow() }
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
