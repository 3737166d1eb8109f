import Logging
import PlyEngine
import PlyStore
import PlyWire
import Synchronization

/// The server's one writer to the match store, with group commit: records appended while a
/// write is in flight go out together in the next one, so under load a single write (and, with
/// `synchronous=FULL`, a single fsync) covers many commands. Completions run in append order,
/// so a match's events become durable, and are published, in version order.
///
/// No task is involved: `flush()` starts a write on the caller's thread, and the store's
/// completion starts the next one. A store that completes at once (`MemoryStore`) therefore
/// publishes on the thread that made the change, with no hop at all.
///
/// If a write fails the journal stops for good (fail-stop): that batch and every later append
/// fail with `server/storage_failed` until the server is restarted and rebuilt from what the
/// store holds. Retrying a failed write could leave a gap in a log. A store shared by several
/// servers (`SharedMatchStore`) is different: the database itself refuses an event that is not
/// the next of its match, so a failed batch fails alone (`server/store_unavailable`) and the
/// next may succeed.
public final class Journal: Sendable {
    public typealias Completion = @Sendable (Result<StoreReceipt, WireError>) -> Void

    public let store: any MatchStore
    private let failStop: Bool
    private let metrics: AuthorityMetrics
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var records: [StoreRecord] = []
        var completions: [Completion] = []
        var writing = false
        var failure: WireError?
        var idleWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private struct Batch {
        var records: [StoreRecord]
        var completions: [Completion]
    }

    public init(store: any MatchStore, metrics: AuthorityMetrics = AuthorityMetrics(), logger: Logger) {
        self.store = store
        failStop = !(store is any SharedMatchStore)
        self.metrics = metrics
        self.logger = logger
    }

    /// Whether a write has failed (then every change is refused).
    public var hasFailed: Bool { state.withLock { $0.failure != nil } }

    /// Queues records. Cheap, and safe to call under a match's lock (which is what keeps each
    /// match's records in version order); it never runs a completion itself. Call `flush()`
    /// once the lock is released.
    public func append(_ records: [StoreRecord], completion: @escaping Completion) {
        state.withLock { state in
            state.records += records
            state.completions.append(completion)
        }
    }

    /// Writes what is queued, unless a write is already in flight (its completion writes the
    /// rest). Completions may run here, before `flush` returns.
    public func flush() {
        guard let batch = takeBatch(starting: true) else { return }
        write(batch)
    }

    /// Appends records, writes them and waits until they are durable.
    @discardableResult
    public func write(_ records: [StoreRecord]) async throws(WireError) -> StoreReceipt {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<StoreReceipt, WireError>, Never>) in
            append(records) { continuation.resume(returning: $0) }
            flush()
        }
        return try result.get()
    }

    /// Waits until nothing is queued or being written (at shutdown, before the store closes).
    public func idle() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let idle = state.withLock { state in
                if !state.writing && state.completions.isEmpty { return true }
                state.idleWaiters.append(continuation)
                return false
            }
            if idle { continuation.resume() }
        }
    }

    /// Takes everything queued. With `starting`, only when no write is in flight (and then marks
    /// one as in flight); without, for the writer that just finished a batch. Returns nil, and
    /// marks the journal idle, when there is nothing to write.
    private func takeBatch(starting: Bool) -> Batch? {
        let (batch, idleWaiters) = state.withLock { state -> (Batch?, [CheckedContinuation<Void, Never>]) in
            if starting && state.writing { return (nil, []) }
            guard !state.completions.isEmpty else {
                state.writing = false
                defer { state.idleWaiters.removeAll() }
                return (nil, state.idleWaiters)
            }
            state.writing = true
            defer {
                state.records.removeAll(keepingCapacity: true)
                state.completions.removeAll(keepingCapacity: true)
            }
            return (Batch(records: state.records, completions: state.completions), [])
        }
        for waiter in idleWaiters { waiter.resume() }
        return batch
    }

    /// Writes batches until none is left. A store that completes inside `write` would otherwise
    /// recurse once per batch; the flag turns that into this loop.
    private func write(_ first: Batch) {
        var batch = first
        while true {
            if let failure = state.withLock({ $0.failure }) {
                for completion in batch.completions { completion(.failure(failure)) }
            } else {
                // 0: in flight; 1: completed before `write` returned; 2: `write` returned first.
                let progress = Atomic<UInt8>(0)
                let current = batch
                let started = ContinuousClock.now
                store.write(current.records) { [self] result in
                    metrics.storeWrite.record(duration: ContinuousClock.now - started)
                    finish(current, result)
                    if progress.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing).exchanged { return }
                    if let next = takeBatch(starting: false) { write(next) }
                }
                if progress.compareExchange(expected: 0, desired: 2, ordering: .acquiringAndReleasing).exchanged { return }
            }
            guard let next = takeBatch(starting: false) else { return }
            batch = next
        }
    }

    private func finish(_ batch: Batch, _ result: Result<StoreReceipt, any Error>) {
        switch result {
        case .success(let receipt):
            for completion in batch.completions { completion(.success(receipt)) }
        case .failure(let error) where !failStop:
            logger.error("a write to the shared match store failed; its changes were not made", metadata: ["error": "\(error)"])
            let failure = WireError(.storeUnavailable, "the server could not reach its database, so the change was not made; send it again (if it was made after all, the match's events show it)")
            for completion in batch.completions { completion(.failure(failure)) }
        case .failure(let error):
            logger.critical("the match store failed; refusing changes until restart", metadata: ["error": "\(error)"])
            let failure = WireError(.storageFailed, "the server could not store the change, so it made none; it refuses changes until it is restarted")
            state.withLock { $0.failure = failure }
            for completion in batch.completions { completion(.failure(failure)) }
        }
    }
}
