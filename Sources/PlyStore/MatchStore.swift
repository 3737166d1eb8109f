import NIOCore
import PlyEngine

/// One thing to make durable. A batch of records is written atomically, in order.
public enum StoreRecord: Sendable, Equatable {
    /// A new match, with its place in the server's creation order.
    case match(id: String, serial: Int)
    /// A seat's secret token (it must survive a restart for the player to reconnect).
    case token(match: String, seat: Int, token: String)
    /// One event of a match's log, as the JSON the transports send.
    case event(match: String, version: Int, json: ByteBuffer)
    /// The server let an idle match go; its log stays for `ply replay`.
    case expired(match: String)
}

/// A match as the store holds it: enough to rebuild it exactly.
public struct StoredMatch: Sendable {
    public var id: String
    public var serial: Int
    public var expired: Bool
    /// Seat tokens by seat number; nil where the seat is free.
    public var tokens: [String?]
    /// The JSON of each event, in version order from 1.
    public var events: [ByteBuffer]

    public init(id: String, serial: Int, expired: Bool = false, tokens: [String?] = [nil, nil], events: [ByteBuffer] = []) {
        self.id = id
        self.serial = serial
        self.expired = expired
        self.tokens = tokens
        self.events = events
    }
}

/// Where match logs are kept. The server writes through it before it acknowledges or
/// broadcasts anything, and reads it once at start-up. SQLite is the one store today; the
/// protocol is small so that another (PostgreSQL) can follow.
public protocol MatchStore: Sendable {
    /// Writes a batch atomically; when this returns, the batch survives a crash of the process.
    func write(_ batch: [StoreRecord]) async throws
    /// Every match that has not expired, with its tokens and log, in creation order.
    func liveMatches() async throws -> [StoredMatch]
    /// One match, expired or not, or nil.
    func match(_ id: String) async throws -> StoredMatch?
    /// Matches, newest first.
    func matchIDs(limit: Int) async throws -> [String]
    func close() async
}

/// Why a store could not do what it was asked.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
