import NIOCore
import PlyAuthority
import PlyEngine
import PlyWire

/// One Server-Sent Events stream, on its connection's event loop, once its response head is
/// written: it writes `retry:`, then every event after its cursor as it is published (the bytes
/// the authority encoded for its viewer), a heartbeat comment while there is nothing to send,
/// and ends the response after the match's last event. A match that closes (shutdown, expiry)
/// gets its error as a last message, as a WebSocket does; a rollback (servers sharing a
/// database) a `rolled_back` message with `id:` set back. It writes through its connection,
/// which bounds what may queue behind a reader that stops reading.
final class EventStream {
    let match: MatchAuthority
    let seat: Seat?
    private(set) var cursor: Int
    private weak var connection: HTTPConnection?
    private let eventLoop: any EventLoop
    private let allocator: ByteBufferAllocator
    private var subscriber: LoopSubscriber<EventStream>?
    /// The sweep that writes its heartbeats, while it is in one.
    private var heartbeats: LoopSweeps?
    var sweepSlot: Int?
    private var stopped = false

    init(_ admission: Admission, connection: HTTPConnection, eventLoop: any EventLoop, allocator: ByteBufferAllocator) {
        match = admission.match
        seat = admission.seat
        cursor = admission.after
        self.connection = connection
        self.eventLoop = eventLoop
        self.allocator = allocator
    }

    /// Subscribed before the backlog is read, so that no event can slip between the two.
    func start(retry: Duration, heartbeats: LoopSweeps) {
        connection?.writeStream(EventStreamTransport.retry(retry, allocator: allocator))
        let subscriber = LoopSubscriber(self, eventLoop: eventLoop)
        self.subscriber = subscriber
        let (version, closure) = match.subscribe(subscriber)
        deliver(upTo: version)
        if let closure { return closed(closure) }
        self.heartbeats = heartbeats
        heartbeats.join(self, on: eventLoop)
    }

    /// Writes every published event after the cursor; ends the stream after the last one.
    func deliver(upTo version: Int) {
        guard !stopped, version > cursor else { return }
        let events = match.events(after: cursor, for: seat)
        for event in events {
            cursor += 1
            connection?.writeStream(OutboundJSON.streamEvent(event, id: cursor, allocator: allocator), flush: false)
        }
        connection?.flushStream()
        if match.status == .finished, cursor >= match.version { finish(close: false) }
    }

    func closed(_ closure: MatchClosure) {
        guard !stopped else { return }
        let error = closure.error(match: match.id).with(version: match.version)
        if let json = try? JSONBuffer.encode(error) { connection?.writeStream(OutboundJSON.streamEvent(json, id: cursor, allocator: allocator)) }
        finish(close: closure == .shuttingDown)
    }

    func rolledBack(to version: Int) {
        guard !stopped, cursor > version else { return }
        cursor = version
        if let json = try? JSONBuffer.encode(RolledBack(version: version)) {
            connection?.writeStream(OutboundJSON.streamEvent(json, id: version, allocator: allocator))
        }
    }

    private func beat() {
        guard !stopped else { return }
        connection?.writeStream(EventStreamTransport.heartbeat(allocator: allocator))
    }

    /// Ends the response: the connection goes on with its next request, or closes.
    private func finish(close: Bool) {
        stop()
        connection?.endStream(close: close)
    }

    /// No more writes: unsubscribed, the heartbeat cancelled (also when the connection goes).
    func stop() {
        guard !stopped else { return }
        stopped = true
        heartbeats?.leave(self, on: eventLoop)
        heartbeats = nil
        if let subscriber { match.unsubscribe(subscriber) }
        subscriber = nil
    }
}

/// A stream's heartbeats come from its loop's sweep, every interval while it is open.
extension EventStream: SweepMember {
    func sweptInterval() { beat() }
}

/// A stream hears of its match on its event loop, through a `LoopSubscriber`.
extension EventStream: MatchListener {
    func matchPublished(upTo version: Int) { deliver(upTo: version) }
    func matchClosed(_ closure: MatchClosure) { closed(closure) }
    func matchRolledBack(to version: Int) { rolledBack(to: version) }
}
