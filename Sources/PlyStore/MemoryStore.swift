import NIOCore
import Synchronization

/// Match logs kept in memory for as long as the process runs (`ply serve --store memory`,
/// tests, the embedded server of `ply play`). It checks what SQLite's keys check (an event
/// is the next version of a known match), and completes every write before returning.
public final class MemoryStore: MatchStore {
    private struct State {
        var matches: [String: StoredMatch] = [:]
        /// Match ids in creation order.
        var order: [String] = []
    }

    private let state = Mutex(State())

    public init() {}

    public func write(_ batch: [StoreRecord], completion: @escaping @Sendable (Result<StoreReceipt, any Error>) -> Void) {
        let result = state.withLock { state -> Result<StoreReceipt, any Error> in
            // Checked in full first, then applied in place: nothing of a failing batch is kept,
            // and a good one costs no copy of the store.
            let receipt: StoreReceipt
            do {
                receipt = try Self.check(batch, against: state)
            } catch {
                return .failure(error)
            }
            for record in batch where !receipt.takenMatchIDs.contains(record.matchID) {
                switch record {
                case .match(let id, let serial):
                    state.matches[id] = StoredMatch(id: id, serial: serial)
                    state.order.append(id)
                case .token(let id, let seat, let hash):
                    state.matches[id]?.tokens[seat] = hash
                case .event(let id, _, let json):
                    state.matches[id]?.events.append(json)
                case .expired(let id):
                    state.matches[id]?.expired = true
                case .finished(let id):
                    state.matches[id]?.finished = true
                case .expects:
                    continue
                }
            }
            return .success(receipt)
        }
        completion(result)
    }

    /// What SQLite's keys would check: new ids are free (else they are reported taken), and
    /// every token and event belongs to a known match, each event the next version of its log.
    private static func check(_ batch: [StoreRecord], against state: State) throws -> StoreReceipt {
        var receipt = StoreReceipt()
        var versions: [String: Int] = [:]
        for record in batch {
            switch record {
            case .match(let id, _):
                if state.matches[id] != nil || versions[id] != nil {
                    receipt.takenMatchIDs.insert(id)
                } else {
                    versions[id] = 0
                }
            case .token(let id, let seat, _):
                guard !receipt.takenMatchIDs.contains(id) else { continue }
                guard versions[id] != nil || state.matches[id] != nil, (0..<2).contains(seat) else {
                    throw StoreError("a token for an unknown match \(id)")
                }
            case .event(let id, let version, _):
                guard !receipt.takenMatchIDs.contains(id) else { continue }
                guard let count = versions[id] ?? state.matches[id]?.events.count else {
                    throw StoreError("an event for an unknown match \(id)")
                }
                guard version == count + 1 else { throw StoreError("event \(version) of match \(id) does not follow version \(count)") }
                versions[id] = version
            case .expired, .finished, .expects:
                continue
            }
        }
        return receipt
    }

    public func liveMatches() async throws -> [StoredMatch] {
        state.withLock { state in state.order.compactMap { state.matches[$0] }.filter { !$0.expired && !$0.finished } }
    }

    public func finishedMatches(limit: Int) async throws -> [StoredMatch] {
        state.withLock { state in
            var newest: [StoredMatch] = []
            for id in state.order.reversed() where newest.count < limit {
                if let match = state.matches[id], match.finished, !match.expired { newest.append(match) }
            }
            return newest
        }
    }

    public func match(_ id: String) async throws -> StoredMatch? {
        state.withLock { $0.matches[id] }
    }

    public func matchIDs(limit: Int) async throws -> [String] {
        state.withLock { Array($0.order.suffix(limit).reversed()) }
    }

    public func highestSerial() async throws -> Int {
        state.withLock { state in state.matches.values.map(\.serial).max() ?? 0 }
    }

    public func close() async {}
}
