import Logging
import NIOCore
import PlyStore
import PlyWire
import Synchronization

/// The server's one writer to the match store, with group commit: records appended while a
/// write is in flight go out together in the next one, so under load a single write (and, with
/// `synchronous=FULL`, a single fsync) covers many commands. Batches complete in the order
/// they were appended, so a match's events become durable, and are published, in version order.
///
/// If a write fails the journal stops for good (fail-stop): that write and every later append
/// fail, and the server refuses changes with `server/storage_failed` until it is restarted
/// and rebuilt from what the store holds. Retrying a failed write could leave a gap in a log.
final class Journal: Sendable {
    private let store: any MatchStore
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var pending: [StoreRecord] = []
        var promises: [EventLoopPromise<Void>] = []
        var writing = false
        var failure: String?
    }

    init(store: any MatchStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    /// Queues records; the future succeeds once they are durable. Cheap enough to call under
    /// a match's lock, which is what keeps each match's records in version order.
    func append(_ records: [StoreRecord], on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        let (start, failure) = state.withLock { state -> (Bool, String?) in
            if let failure = state.failure { return (false, failure) }
            state.pending += records
            state.promises.append(promise)
            defer { state.writing = true }
            return (!state.writing, nil)
        }
        if let failure {
            promise.fail(Self.error(failure))
        } else if start {
            Task { await drain() }
        }
        return promise.futureResult
    }

    /// Writes batches until nothing is pending.
    private func drain() async {
        while true {
            let next = state.withLock { state -> ([StoreRecord], [EventLoopPromise<Void>])? in
                guard !state.pending.isEmpty else {
                    state.writing = false
                    return nil
                }
                defer {
                    state.pending.removeAll(keepingCapacity: true)
                    state.promises.removeAll(keepingCapacity: true)
                }
                return (state.pending, state.promises)
            }
            guard let (records, promises) = next else { return }
            do {
                try await store.write(records)
                for promise in promises { promise.succeed() }
            } catch {
                logger.critical("the match store failed; refusing changes until restart", metadata: ["error": "\(error)"])
                let waiting = state.withLock { state in
                    state.failure = "the match store failed: \(error)"
                    defer { state.promises.removeAll() }
                    return state.promises
                }
                for promise in promises + waiting { promise.fail(Self.error("\(error)")) }
                return
            }
        }
    }

    /// Waits until an append's records are durable, as the documented error if they cannot be.
    static func durable(_ future: EventLoopFuture<Void>) async throws(WireError) {
        do {
            try await future.get()
        } catch let error as WireError {
            throw error
        } catch {
            throw Self.error("\(error)")
        }
    }

    /// Appends records and waits until they are durable.
    func write(_ records: [StoreRecord], on eventLoop: any EventLoop) async throws(WireError) {
        try await Self.durable(append(records, on: eventLoop))
    }

    /// Waits (up to a second) for writes in flight to finish, before the store is closed.
    func settle() async {
        let deadline = ContinuousClock.now + .seconds(1)
        while state.withLock({ $0.writing }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    private static func error(_ detail: String) -> WireError {
        WireError(.storageFailed, "the server could not store the change, so it made none (\(detail))")
    }
}
