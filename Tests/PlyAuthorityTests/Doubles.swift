import Foundation
import Logging
import NIOCore
import PlyAuthority
import PlyEngine
import PlyStore
import PlyWire
import Synchronization

/// A store that works like the memory store until it is told to fail: then every write fails,
/// as a full disk would make SQLite's.
final class FailingStore: StoreWrapper {
    let inner = MemoryStore()
    var wrapped: any MatchStore { inner }
    private let failing = Atomic<Bool>(false)
    private let writes = Atomic<Int>(0)

    func failFromNow() { failing.store(true, ordering: .relaxed) }

    /// How many batches were written (or attempted).
    var writeCount: Int { writes.load(ordering: .relaxed) }

    func write(_ batch: [StoreRecord], completion: @escaping @Sendable (Result<StoreReceipt, any Error>) -> Void) {
        writes.add(1, ordering: .relaxed)
        if failing.load(ordering: .relaxed) { return completion(.failure(StoreError("disk full"))) }
        wrapped.write(batch, completion: completion)
    }
}

/// A store whose writes complete only when the test says so, to see what is published before
/// and after a change is durable, and how writes are grouped.
final class HeldStore: StoreWrapper {
    let inner = MemoryStore()
    var wrapped: any MatchStore { inner }
    private let held = Mutex<[(batch: [StoreRecord], completion: @Sendable (Result<StoreReceipt, any Error>) -> Void)]>([])

    func write(_ batch: [StoreRecord], completion: @escaping @Sendable (Result<StoreReceipt, any Error>) -> Void) {
        held.withLock { $0.append((batch, completion)) }
    }

    /// The batches waiting, oldest first.
    var waiting: [[StoreRecord]] { held.withLock { $0.map(\.batch) } }

    /// Completes the oldest waiting write.
    func completeOne() {
        guard let first = held.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else { return }
        inner.write(first.batch, completion: first.completion)
    }

}

/// A subscriber that records what it is told, reading events from its own cursor as a
/// transport does (and setting it back when told of a rollback, as a WebSocket does).
final class RecordingSubscriber: MatchSubscriber {
    private let state = Mutex<(cursor: Int, events: [MatchEvent], closure: MatchClosure?, rollbacks: [Int])>((0, [], nil, []))
    /// Whose view it reads: a seat's, or nil for a spectator's.
    let viewer: Seat?

    init(after: Int = 0, viewer: Seat? = nil) {
        self.viewer = viewer
        state.withLock { $0.cursor = after }
    }

    var events: [MatchEvent] { state.withLock { $0.events } }
    var closure: MatchClosure? { state.withLock { $0.closure } }
    var cursor: Int { state.withLock { $0.cursor } }
    /// The versions it was told the match went back to.
    var rollbacks: [Int] { state.withLock { $0.rollbacks } }

    func matchPublished(_ match: MatchAuthority, upTo version: Int) {
        state.withLock { state in
            for json in match.events(after: state.cursor, for: viewer) {
                if let event = try? WireCoding.decoder.decode(MatchEvent.self, from: json) { state.events.append(event) }
                state.cursor += 1
            }
        }
    }

    func matchClosed(_ match: MatchAuthority, _ closure: MatchClosure) {
        state.withLock { $0.closure = closure }
    }

    func matchRolledBack(_ match: MatchAuthority, to version: Int) {
        state.withLock { state in
            state.rollbacks.append(version)
            guard state.cursor > version else { return }
            state.events.removeAll { $0.version > version }
            state.cursor = version
        }
    }
}

/// Ids from a list, then random ones.
final class ScriptedIDs: Sendable {
    private let ids: Mutex<[String]>
    init(_ ids: [String]) { self.ids = Mutex(ids) }
    func next() -> String { ids.withLock { $0.isEmpty ? Authority.randomMatchID() : $0.removeFirst() } }
}

extension Logger {
    static let quiet: Logger = {
        var logger = Logger(label: "ply.test")
        logger.logLevel = .critical
        return logger
    }()
}

extension MatchAuthority {
    /// Plays a move for a seat against the current version and returns the answer.
    func play(_ move: String, by seat: Seat) async -> Result<Acknowledgement, WireError> {
        await submit(Command(.play(move), version: version), by: seat)
    }

    /// Runs a command and returns the answer, acknowledgement or error.
    func submit(_ command: Command, by seat: Seat) async -> Result<Acknowledgement, WireError> {
        await withCheckedContinuation { continuation in
            execute(command, by: seat) { continuation.resume(returning: $0) }
        }
    }
}
