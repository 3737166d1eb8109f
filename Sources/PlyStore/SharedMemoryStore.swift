import NIOCore
import Synchronization

/// Match logs in memory that several authorities in one process share, as several servers share
/// PostgreSQL: the same arbitration and notifications as `PostgresStore`, with no database. Each
/// authority is given its own `connect()`ion (its own notifications, as each server listens on
/// its own connection). It makes the shared-store path of the authority a unit test: commands
/// racing for one version, following another authority's events, a lost notification, a token
/// granted elsewhere a moment ago; and connections can be told to lose their notifications
/// (`deafen`), to hear that they may have lost some (`resync`), or to fail their writes.
///
/// Arbitration as `ply_write` does it: records are taken in order; an event goes in only as the
/// next version of its match, and only after the event its batch `expects` (the same bytes),
/// else the batch's records of that match are left out and the receipt names it a conflict; a
/// new match whose id is taken is reported taken, its records left out; a token goes in unless
/// the seat has one. Every event written and every expiry is announced, after the write, to
/// every other connection, and to the writer too when it was told its write failed (as
/// `PostgresStore` drops only the notifications of its own writes that succeeded).
///
/// Faults on demand: a connection's next write can lose its answer, after the write was applied
/// or before; the database can lose the end of a match's log (as a restore from a backup
/// would), telling no one.
public final class SharedMemoryStore: Sendable {
    private struct State {
        var matches: [String: StoredMatch] = [:]
        /// Match ids in creation order.
        var order: [String] = []
        var listeners: [ObjectIdentifier: Listener] = [:]
    }

    private struct Listener {
        let continuation: AsyncStream<StoreChange>.Continuation
        var deaf = false
    }

    private let state = Mutex(State())

    public init() {}

    /// A connection for one authority: a `SharedMatchStore` of its own.
    public func connect() -> Connection {
        let connection = Connection(database: self)
        state.withLock { $0.listeners[ObjectIdentifier(connection)] = Listener(continuation: connection.continuation) }
        return connection
    }

    /// One authority's view of the shared logs.
    public final class Connection: SharedMatchStore {
        private let database: SharedMemoryStore
        public let changes: AsyncStream<StoreChange>
        fileprivate let continuation: AsyncStream<StoreChange>.Continuation
        private let failing = Atomic<Bool>(false)
        private let writes = Atomic<Int>(0)
        /// The fault the next write meets: its answer lost after it was applied, or before.
        private let lostAnswer = Mutex<Bool?>(nil)

        fileprivate init(database: SharedMemoryStore) {
            self.database = database
            (changes, continuation) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
        }

        public var isAvailable: Bool { !failing.load(ordering: .relaxed) }

        /// How many batches this connection has written (or tried to).
        public var writeCount: Int { writes.load(ordering: .relaxed) }

        /// From now on, what the others write is not announced here (a listener that lost its
        /// connection without knowing it), until `resync`.
        public func deafen() {
            database.state.withLock { $0.listeners[ObjectIdentifier(self)]?.deaf = true }
        }

        /// The listener is back: news may have been lost, so `.resync` is announced.
        public func resync() {
            database.state.withLock { $0.listeners[ObjectIdentifier(self)]?.deaf = false }
            continuation.yield(.resync)
        }

        /// Every write fails until told otherwise (the database cannot be reached).
        public func failWrites(_ fail: Bool) {
            failing.store(fail, ordering: .relaxed)
        }

        /// The next write's answer is lost: after the database applied it (the writer is told
        /// it failed, yet it is there), or before (it is not).
        public func loseNextAnswer(afterApplying applied: Bool) {
            lostAnswer.withLock { $0 = applied }
        }

        public func write(_ batch: [StoreRecord], completion: @escaping @Sendable (Result<StoreReceipt, any Error>) -> Void) {
            writes.add(1, ordering: .relaxed)
            guard !failing.load(ordering: .relaxed) else { return completion(.failure(StoreError("the shared store cannot be reached"))) }
            let lost = lostAnswer.withLock { $0.take() }
            if lost == false { return completion(.failure(StoreError("the answer was lost; the write never reached the store"))) }
            let me = ObjectIdentifier(self)
            let (receipt, news, listeners) = database.state.withLock { state in
                let (receipt, news) = SharedMemoryStore.apply(batch, to: &state)
                // The writer hears of its own write only when it was told it failed.
                let listeners = state.listeners.filter { !$0.value.deaf && ($0.key != me || lost == true) }.map(\.value.continuation)
                return (receipt, news, listeners)
            }
            if lost == true {
                completion(.failure(StoreError("the answer was lost after the write was applied")))
            } else {
                completion(.success(receipt))
            }
            for change in news {
                for listener in listeners { listener.yield(change) }
            }
        }

        /// The next read of a tail takes what the store holds at once, then holds its answer
        /// until `answerHeldTail()`: a read slow to come back while others write (`isHoldingTail`
        /// says when it is held).
        public func holdNextTail() {
            tailGate.withLock { $0 = .armed }
        }

        public var isHoldingTail: Bool {
            tailGate.withLock { if case .holding = $0 { true } else { false } }
        }

        public func answerHeldTail() {
            let waiting = tailGate.withLock { gate -> CheckedContinuation<Void, Never>? in
                defer { gate = .open }
                if case .holding(let continuation) = gate { return continuation }
                return nil
            }
            waiting?.resume()
        }

        private enum TailGate { case open, armed, holding(CheckedContinuation<Void, Never>) }
        private let tailGate = Mutex(TailGate.open)

        public func tail(of id: String, after version: Int, tokens: Bool) async throws -> StoredTail {
            guard !failing.load(ordering: .relaxed) else { throw StoreError("the shared store cannot be reached") }
            let tail = database.state.withLock { state in
                guard let match = state.matches[id] else { return StoredTail() }
                return StoredTail(events: Array(match.events.dropFirst(max(0, version))), tokens: tokens ? match.tokens : nil,
                                  anchor: version >= 1 && version <= match.events.count ? match.events[version - 1] : nil,
                                  latest: match.events.count)
            }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let hold = tailGate.withLock { gate -> Bool in
                    guard case .armed = gate else { return false }
                    gate = .holding(continuation)
                    return true
                }
                if !hold { continuation.resume() }
            }
            return tail
        }

        public func liveMatches() async throws -> [StoredMatch] {
            database.state.withLock { state in state.order.compactMap { state.matches[$0] }.filter { !$0.expired && !$0.finished } }
        }

        public func finishedMatches(limit: Int) async throws -> [StoredMatch] {
            database.state.withLock { state in
                Array(state.order.reversed().compactMap { state.matches[$0] }.filter { $0.finished && !$0.expired }.prefix(limit))
            }
        }

        public func match(_ id: String) async throws -> StoredMatch? {
            guard !failing.load(ordering: .relaxed) else { throw StoreError("the shared store cannot be reached") }
            return database.state.withLock { $0.matches[id] }
        }

        public func matchIDs(limit: Int) async throws -> [String] {
            database.state.withLock { Array($0.order.suffix(limit).reversed()) }
        }

        public func highestSerial() async throws -> Int {
            database.state.withLock { state in state.matches.values.map(\.serial).max() ?? 0 }
        }

        public func close() async {
            _ = database.state.withLock { $0.listeners.removeValue(forKey: ObjectIdentifier(self)) }
            continuation.finish()
        }
    }

    /// The database loses every event of a match after a version (as a restore from an older
    /// backup would), and tells no one.
    public func forget(_ id: String, after version: Int) {
        state.withLock { state in
            guard let events = state.matches[id]?.events, events.count > version else { return }
            state.matches[id]?.events = Array(events.prefix(version))
            state.matches[id]?.finished = false
        }
    }

    /// The events of a match as the database holds them.
    public func events(of id: String) -> [ByteBuffer] {
        state.withLock { $0.matches[id]?.events ?? [] }
    }

    /// Writes a batch as `ply_write` does, and returns what to announce.
    private static func apply(_ batch: [StoreRecord], to state: inout State) -> (StoreReceipt, [StoreChange]) {
        var receipt = StoreReceipt()
        var refused: Set<String> = []
        var news: [StoreChange] = []
        for record in batch where !refused.contains(record.matchID) {
            switch record {
            case .match(let id, let serial):
                guard state.matches[id] == nil else {
                    refused.insert(id)
                    receipt.takenMatchIDs.insert(id)
                    continue
                }
                state.matches[id] = StoredMatch(id: id, serial: serial)
                state.order.append(id)
            case .event(let id, let version, let json):
                guard let count = state.matches[id]?.events.count, version == count + 1 else {
                    refused.insert(id)
                    receipt.conflicts.insert(id)
                    continue
                }
                state.matches[id]?.events.append(json)
                news.append(.appended(match: id, version: version, lag: nil))
            case .token(let id, let seat, let hash):
                if state.matches[id]?.tokens.indices.contains(seat) == true, state.matches[id]?.tokens[seat] == nil {
                    state.matches[id]?.tokens[seat] = hash
                }
            case .expired(let id):
                if state.matches[id]?.expired == false {
                    state.matches[id]?.expired = true
                    news.append(.expired(match: id))
                }
            case .finished(let id):
                state.matches[id]?.finished = true
            case .expects(let id, let version, let json):
                guard let events = state.matches[id]?.events, events.indices.contains(version - 1), events[version - 1] == json else {
                    refused.insert(id)
                    receipt.conflicts.insert(id)
                    continue
                }
            }
        }
        return (receipt, news)
    }
}
