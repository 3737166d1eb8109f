import NIOCore
import PlyAuthority
import PlyEngine
import Synchronization

/// The poll each seat has waiting, so that a newer one ends it.
final class SeatPolls: Sendable {
    private struct Key: Hashable {
        let match: ObjectIdentifier
        let seat: Seat
    }

    private let waiting = Mutex<[Key: PollWaiter]>([:])

    /// Records a seat's new poll and returns the one it replaces.
    func replace(_ match: MatchAuthority, _ seat: Seat, with waiter: PollWaiter) -> PollWaiter? {
        waiting.withLock { $0.updateValue(waiter, forKey: Key(match: ObjectIdentifier(match), seat: seat)) }
    }

    /// Forgets a seat's poll, if it is still the seat's current one.
    func remove(_ match: MatchAuthority, _ seat: Seat, _ waiter: PollWaiter) {
        waiting.withLock { waiting in
            let key = Key(match: ObjectIdentifier(match), seat: seat)
            if waiting[key] === waiter { waiting.removeValue(forKey: key) }
        }
    }
}

/// One waiting poll as the authority and other connections see it. Whatever ends it first
/// (news, its wait running out, a newer poll of its seat, its client leaving, the match
/// closing) ends it once, and its connection answers on its own event loop.
final class PollWaiter: MatchSubscriber {
    let match: MatchAuthority
    let after: Int
    let seat: Seat?
    private let eventLoop: any EventLoop
    private let handler: NIOLoopBound<HTTPConnection>
    private let ended = Atomic<Bool>(false)

    init(match: MatchAuthority, after: Int, seat: Seat?, handler: HTTPConnection, eventLoop: any EventLoop) {
        self.match = match
        self.after = after
        self.seat = seat
        self.eventLoop = eventLoop
        self.handler = NIOLoopBound(handler, eventLoop: eventLoop)
    }

    /// How a poll ends.
    enum Ending: Sendable {
        /// With the events after its version (none if there are none yet).
        case news
        /// With `[]`.
        case nothing
        /// With `match/rolled_back`: what it had seen after this version never became durable.
        case rolledBack(Int)
    }

    /// Ends the poll: with the events after its version (`news`), or with `[]`.
    func end(news: Bool) {
        end(news ? .news : .nothing)
    }

    func end(_ ending: Ending) {
        guard !ended.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if eventLoop.inEventLoop {
            handler.value.pollEnded(self, ending)
        } else {
            eventLoop.execute { self.handler.value.pollEnded(self, ending) }
        }
    }

    func matchPublished(_ match: MatchAuthority, upTo version: Int) {
        if version > after { end(news: true) }
    }

    func matchClosed(_ match: MatchAuthority, _ closure: MatchClosure) {
        end(news: false)
    }

    func matchRolledBack(_ match: MatchAuthority, to version: Int) {
        if after > version { end(.rolledBack(version)) }
    }
}
