import NIOCore
import PlyAuthority

/// What a connection does with a match's news, on its own event loop.
protocol MatchListener: AnyObject {
    /// Events up to `version` are published.
    func matchPublished(upTo version: Int)
    /// The match closed (shutdown, expiry).
    func matchClosed(_ closure: MatchClosure)
    /// What came after `version` never became durable (servers sharing a database).
    func matchRolledBack(to version: Int)
}

/// The bridge from the authority (any thread) to a connection's listener (its event loop): each
/// call runs on the loop, at once when it is already there. One for WebSockets and event streams.
final class LoopSubscriber<Listener: MatchListener>: MatchSubscriber {
    private let eventLoop: any EventLoop
    private let listener: NIOLoopBound<Listener>

    init(_ listener: Listener, eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        self.listener = NIOLoopBound(listener, eventLoop: eventLoop)
    }

    /// Runs `body` with the listener on its loop (for a connection's own hops back, too).
    func run(_ body: @escaping @Sendable (Listener) -> Void) {
        if eventLoop.inEventLoop {
            body(listener.value)
        } else {
            eventLoop.execute { body(self.listener.value) }
        }
    }

    func matchPublished(_ match: MatchAuthority, upTo version: Int) {
        run { $0.matchPublished(upTo: version) }
    }

    func matchClosed(_ match: MatchAuthority, _ closure: MatchClosure) {
        run { $0.matchClosed(closure) }
    }

    func matchRolledBack(_ match: MatchAuthority, to version: Int) {
        run { $0.matchRolledBack(to: version) }
    }
}
