import NIOCore
import PlyEngine

/// One thing to make durable. A batch of records is written atomically, in order.
public enum StoreRecord: Sendable, Equatable {
    /// A new match, with its place in the server's creation order. It is written only if no
    /// match, live or long finished, has this id; otherwise the receipt names the id and the
    /// batch's other records of that match are left out (the rest of the batch is written).
    case match(id: String, serial: Int)
    /// The hash of a seat's secret token (`TokenHash`; it must survive a restart for the player
    /// to reconnect; the token itself is never stored).
    case token(match: String, seat: Int, hash: String)
    /// One event of a match's log, as the JSON the transports send.
    case event(match: String, version: Int, json: ByteBuffer)
    /// The server let an idle match go; its log stays for `ply replay`.
    case expired(match: String)
    /// The match has a result (written with its last event): the server keeps it in memory no
    /// longer, and reads it from the store when it is asked for.
    case finished(match: String)
    /// The batch assumes that this event of the match is exactly these bytes: a store several
    /// servers share leaves the batch's records of the match out otherwise, reporting a
    /// conflict (its writer built on a history the store does not have). A store one server
    /// writes has nothing to check it against and ignores it.
    case expects(match: String, version: Int, json: ByteBuffer)

    /// The match the record belongs to.
    public var matchID: String {
        switch self {
        case .match(let id, _): id
        case .token(let match, _, _), .event(let match, _, _), .expired(let match), .finished(let match), .expects(let match, _, _): match
        }
    }
}

/// What a write did beyond writing: the ids of new matches that were already taken, and (in a
/// store shared by several servers) the matches whose next version another server wrote first.
public struct StoreReceipt: Sendable, Equatable {
    public var takenMatchIDs: Set<String>
    /// Matches whose records in the batch were left out because an event's version was already
    /// taken by another writer: that change lost the race and must be decided again.
    public var conflicts: Set<String>

    public init(takenMatchIDs: Set<String> = [], conflicts: Set<String> = []) {
        self.takenMatchIDs = takenMatchIDs
        self.conflicts = conflicts
    }
}

/// A match as the store holds it: enough to rebuild it exactly.
public struct StoredMatch: Sendable {
    public var id: String
    public var serial: Int
    public var expired: Bool
    /// Whether its last event gave it a result (a `finished` record was written).
    public var finished: Bool
    /// Seat token hashes by seat number; nil where the seat is free.
    public var tokens: [String?]
    /// The JSON of each event, in version order from 1.
    public var events: [ByteBuffer]
    /// What is wrong with the stored log, if anything (a gap): such a match cannot be rebuilt.
    public var damage: String?

    public init(id: String, serial: Int, expired: Bool = false, finished: Bool = false, tokens: [String?] = [nil, nil], events: [ByteBuffer] = [], damage: String? = nil) {
        self.id = id
        self.serial = serial
        self.expired = expired
        self.finished = finished
        self.tokens = tokens
        self.events = events
        self.damage = damage
    }
}

/// Where match logs are kept. The server writes through it before it acknowledges or
/// broadcasts anything, and reads it at start-up and for `ply replay`. `SQLiteStore` keeps
/// them on disk, `MemoryStore` for as long as the process runs; both behave the same, so the
/// server has one code path whichever it is given.
public protocol MatchStore: Sendable {
    /// Writes a batch atomically. `completion` runs once, when the batch survives a crash of the
    /// process or has failed; a store may run it before `write` returns, on the caller's thread.
    /// A record that would overwrite another (an event version already stored) fails the batch.
    func write(_ batch: [StoreRecord], completion: @escaping @Sendable (Result<StoreReceipt, any Error>) -> Void)
    /// Every match that has neither expired nor finished, with its tokens and log, in creation
    /// order: what a server holds in memory.
    func liveMatches() async throws -> [StoredMatch]
    /// The newest finished matches (by creation order), newest first, with their logs.
    func finishedMatches(limit: Int) async throws -> [StoredMatch]
    /// One match, expired, finished or not, or nil.
    func match(_ id: String) async throws -> StoredMatch?
    /// Matches, newest first.
    func matchIDs(limit: Int) async throws -> [String]
    /// The highest serial of any stored match, expired or not (0 for none).
    func highestSerial() async throws -> Int
    func close() async
}

extension MatchStore {
    /// Writes a batch and waits until it is durable.
    @discardableResult
    public func write(_ batch: [StoreRecord]) async throws -> StoreReceipt {
        try await withCheckedThrowingContinuation { continuation in
            write(batch) { continuation.resume(with: $0) }
        }
    }
}

/// What changed in a shared store, as any server sharing it (this one too) wrote it.
public enum StoreChange: Sendable, Equatable {
    /// A match's log reached a version; `lag` is how long the news took to arrive, when known.
    case appended(match: String, version: Int, lag: Duration?)
    /// A match was let go for idleness.
    case expired(match: String)
    /// News may have been lost (the listener reconnected): whoever follows the store re-reads
    /// what it holds rather than wait for the next change.
    case resync
}

/// A store several servers write at once (PostgreSQL). It arbitrates: of two servers writing
/// the same version of a match, one wins and the other's batch reports a conflict for that
/// match (its other records of that match left out). It tells every server what any of them
/// wrote, and a write that fails does not stop it: the next may succeed.
public protocol SharedMatchStore: MatchStore {
    /// What was written, by any server, for as long as the store is open. One reader.
    var changes: AsyncStream<StoreChange> { get }
    /// Whether the last contact with the database went well (writes, and the listener).
    var isAvailable: Bool { get }
    /// The events of a match after a version (none for an unknown match), and its seats'
    /// token hashes when asked for (a server that knows every seat's does not ask).
    func tail(of id: String, after version: Int, tokens: Bool) async throws -> StoredTail
}

/// The end of a match's log, as a server that holds the rest reads it.
public struct StoredTail: Sendable {
    /// The JSON of each event, in version order from the version asked after, plus one.
    public var events: [ByteBuffer]
    /// Seat token hashes by seat number (nil where free), when asked for.
    public var tokens: [String?]?
    /// The stored event at the version asked after (nil for 0, or when the store has no such
    /// event): the reader checks that its history is the store's up to there.
    public var anchor: ByteBuffer?
    /// The highest version the store has of the match (0 for none).
    public var latest: Int

    public init(events: [ByteBuffer] = [], tokens: [String?]? = nil, anchor: ByteBuffer? = nil, latest: Int = 0) {
        self.events = events
        self.tokens = tokens
        self.anchor = anchor
        self.latest = latest
    }
}

/// Why a store could not do what it was asked.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A store that changes how writes go (delays them, fails them: test doubles, drills) and reads
/// through the store it wraps.
public protocol StoreWrapper: MatchStore {
    var wrapped: any MatchStore { get }
}

extension StoreWrapper {
    public func liveMatches() async throws -> [StoredMatch] { try await wrapped.liveMatches() }
    public func finishedMatches(limit: Int) async throws -> [StoredMatch] { try await wrapped.finishedMatches(limit: limit) }
    public func match(_ id: String) async throws -> StoredMatch? { try await wrapped.match(id) }
    public func matchIDs(limit: Int) async throws -> [String] { try await wrapped.matchIDs(limit: limit) }
    public func highestSerial() async throws -> Int { try await wrapped.highestSerial() }
    public func close() async { await wrapped.close() }
}
