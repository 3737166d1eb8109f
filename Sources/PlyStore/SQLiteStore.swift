import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLiteNIO

/// Match logs in one SQLite file in WAL mode.
///
/// Every write runs on a single thread of its own, in the order it was asked for, so a batch
/// written by one caller never interleaves with another's. Reads (a match asked for after it
/// left the server's memory, the matches rebuilt at start) go through a second connection on a
/// thread of their own: in WAL mode they see the last committed state and never wait for, or
/// hold up, a write. With `synchronous=NORMAL`
/// (the default) a committed batch survives the process being killed; with `FULL` it also
/// survives the machine losing power, at the cost of an fsync per batch.
public final class SQLiteStore: MatchStore {
    public enum Sync: String, Sendable, CaseIterable {
        case normal = "NORMAL"
        case full = "FULL"
    }

    public let path: String
    private let connection: SQLiteConnection
    private let threadPool: NIOThreadPool
    /// The connection reads go through (`query_only`), and its thread.
    private let reader: SQLiteConnection
    private let readerPool: NIOThreadPool
    /// The lock file held while this store may write, so that a second server refuses to start.
    private let lock: FileLock?

    /// The most rows one INSERT carries (three parameters each, well under SQLite's limit).
    private static let rowsPerStatement = 500
    /// 1: tokens in clear; 2: tokens as their hashes; 3: matches marked finished (older files
    /// are migrated on open; their finished matches are marked when a server first loads them).
    static let schemaVersion = 3

    private init(path: String, writer: (SQLiteConnection, NIOThreadPool), reader: (SQLiteConnection, NIOThreadPool), lock: FileLock?) {
        self.path = path
        (connection, threadPool) = writer
        (self.reader, readerPool) = reader
        self.lock = lock
    }

    /// Opens (creating if needed) the store at `path`, readable and writable by its owner only.
    /// - Parameter exclusive: take the file for this process alone (a server does, so that a
    ///   second one on the same file refuses to start); `ply replay`, which only reads, does not.
    public static func open(path: String, sync: Sync = .normal, exclusive: Bool = true,
                            logger: Logger = Logger(label: "ply.store")) async throws -> SQLiteStore {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent()
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: path) {
            FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        let lock = exclusive ? try FileLock(path: path + ".lock") : nil
        let writer: (SQLiteConnection, NIOThreadPool), reader: (SQLiteConnection, NIOThreadPool)
        do {
            writer = try await connect(path, logger: logger)
        } catch {
            lock?.release()
            throw error
        }
        do {
            reader = try await connect(path, logger: logger)
        } catch {
            try? await writer.0.close()
            try? await writer.1.shutdownGracefully()
            lock?.release()
            throw error
        }
        let store = SQLiteStore(path: path, writer: writer, reader: reader, lock: lock)
        do {
            try await store.prepare(sync: sync)
        } catch {
            await store.close()
            throw StoreError("cannot use the match store at \(path): \(error)")
        }
        return store
    }

    /// A connection to the file on a thread of its own.
    private static func connect(_ path: String, logger: Logger) async throws -> (SQLiteConnection, NIOThreadPool) {
        let threadPool = NIOThreadPool(numberOfThreads: 1)
        threadPool.start()
        do {
            let connection = try await SQLiteConnection.open(storage: .file(path: path), threadPool: threadPool, logger: logger,
                                                             on: MultiThreadedEventLoopGroup.singleton.any())
            return (connection, threadPool)
        } catch {
            try? await threadPool.shutdownGracefully()
            throw StoreError("cannot open the match store at \(path): \(error)")
        }
    }

    private func prepare(sync: Sync) async throws {
        let mode = try await connection.query("PRAGMA journal_mode=WAL").first?.column("journal_mode")?.string
        guard mode?.lowercased() == "wal" else { throw StoreError("the file cannot use write-ahead logging (journal_mode=\(mode ?? "?"))") }
        _ = try await connection.query("PRAGMA synchronous=\(sync.rawValue)")
        _ = try await connection.query("PRAGMA foreign_keys=ON")
        // Another process holding a lock (a backup, a second reader) makes a write wait, not fail.
        _ = try await connection.query("PRAGMA busy_timeout=5000")
        // A statement's journal (kept while a multi-row statement runs inside a transaction, so
        // that a failing one can be undone alone) in memory, not in a temporary file.
        _ = try await connection.query("PRAGMA temp_store=MEMORY")
        let version = try await connection.query("PRAGMA user_version").first?.column("user_version")?.integer ?? 0
        if version > Self.schemaVersion {
            throw StoreError("the file was written by a newer ply (schema \(version), this ply knows \(Self.schemaVersion))")
        }
        for statement in [
            """
            CREATE TABLE IF NOT EXISTS matches (
                id TEXT PRIMARY KEY,
                serial INTEGER NOT NULL,
                expired INTEGER NOT NULL DEFAULT 0,
                finished INTEGER NOT NULL DEFAULT 0
            )
            """,
            """
            CREATE TABLE IF NOT EXISTS seats (
                match TEXT NOT NULL REFERENCES matches(id),
                seat INTEGER NOT NULL,
                token TEXT NOT NULL,
                PRIMARY KEY (match, seat)
            ) WITHOUT ROWID
            """,
            """
            CREATE TABLE IF NOT EXISTS events (
                match TEXT NOT NULL REFERENCES matches(id),
                version INTEGER NOT NULL,
                event TEXT NOT NULL,
                PRIMARY KEY (match, version)
            ) WITHOUT ROWID
            """,
        ] {
            _ = try await connection.query(statement)
        }
        if version < 2 { try await hashTokensInClear() }
        let marked = "SELECT COUNT(*) AS n FROM pragma_table_info('matches') WHERE name = 'finished'"
        if try await connection.query(marked).first?.column("n")?.integer == 0 {
            _ = try await connection.query("ALTER TABLE matches ADD COLUMN finished INTEGER NOT NULL DEFAULT 0")
        }
        _ = try await connection.query("CREATE INDEX IF NOT EXISTS matches_by_serial ON matches (finished, expired, serial)")
        _ = try await connection.query("PRAGMA user_version=\(Self.schemaVersion)")
        _ = try await reader.query("PRAGMA query_only=1")
        _ = try await reader.query("PRAGMA busy_timeout=5000")
    }

    /// Version 1 kept tokens in clear: keep their hashes instead (a player's token still acts
    /// for its seat; the file no longer gives it away).
    private func hashTokensInClear() async throws {
        _ = try await connection.query("BEGIN IMMEDIATE")
        do {
            for row in try await connection.query("SELECT match, seat, token FROM seats") {
                guard let match = row.column("match")?.string, let seat = row.column("seat")?.integer,
                      let token = row.column("token")?.string, !TokenHash.isHash(token) else { continue }
                _ = try await connection.query("UPDATE seats SET token = ? WHERE match = ? AND seat = ?",
                                               [.text(TokenHash.of(token)), .text(match), .integer(seat)])
            }
            _ = try await connection.query("COMMIT")
        } catch {
            _ = try? await connection.query("ROLLBACK")
            throw error
        }
    }

    // MARK: Writing

    public func write(_ batch: [StoreRecord], completion: @escaping @Sendable (Result<StoreReceipt, any Error>) -> Void) {
        guard !batch.isEmpty else { return completion(.success(StoreReceipt())) }
        let asked = batch.compactMap { record -> (String, Int)? in
            if case .match(let id, let serial) = record { (id, serial) } else { nil }
        }
        // An id a batch asks for twice is taken, as in the memory store (neither is written).
        var seen = Set<String>(), repeated = Set<String>()
        for (id, _) in asked where !seen.insert(id).inserted { repeated.insert(id) }
        let twice = repeated, claims = twice.isEmpty ? asked : asked.filter { !twice.contains($0.0) }
        let written: EventLoopFuture<StoreReceipt>
        if asked.isEmpty {
            // The common case (moves): usually one multi-row INSERT, atomic on its own.
            let statements = Self.statements(for: batch)
            written = (statements.count == 1 ? run(statements) : transaction { self.run(statements) }).map { StoreReceipt() }
        } else {
            // New matches claim their ids first; a taken id leaves that match's records out.
            written = transaction {
                self.claim(claims[...], taken: twice).flatMap { taken in
                    let rest = batch.filter { record in
                        if case .match = record { return false }
                        return !taken.contains(record.matchID)
                    }
                    return self.run(Self.statements(for: rest)).map { StoreReceipt(takenMatchIDs: taken) }
                }
            }
        }
        written.whenComplete { completion($0.mapError { $0 }) }
    }

    /// Inserts each new match whose id is free, as many to a statement as one may carry;
    /// returns the ids that were taken (asked for and not inserted).
    private func claim(_ claims: ArraySlice<(String, Int)>, taken: Set<String>) -> EventLoopFuture<Set<String>> {
        guard !claims.isEmpty else { return connection.eventLoop.makeSucceededFuture(taken) }
        let chunk = claims.prefix(Self.rowsPerStatement)
        let values = chunk.flatMap { [SQLiteData.text($0.0), .integer($0.1)] }
        let (sql, binds) = Self.inserts("INSERT INTO matches (id, serial) VALUES", columns: 2, values)[0]
        return connection.query(sql + " ON CONFLICT(id) DO NOTHING RETURNING id", binds).flatMap { rows in
            let inserted = Set(rows.compactMap { $0.column("id")?.string })
            let refused = chunk.lazy.map(\.0).filter { !inserted.contains($0) }
            return self.claim(claims.dropFirst(chunk.count), taken: taken.union(refused))
        }
    }

    /// The statements that write a batch's tokens, events and expiries (not its new matches).
    private static func statements(for batch: [StoreRecord]) -> [(String, [SQLiteData])] {
        var tokens: [SQLiteData] = [], events: [SQLiteData] = [], expired: [SQLiteData] = [], finished: [SQLiteData] = []
        for record in batch {
            switch record {
            case .match, .expects: continue
            case .token(let match, let seat, let hash): tokens += [.text(match), .integer(seat), .text(hash)]
            case .event(let match, let version, let json): events += [.text(match), .integer(version), .text(String(buffer: json))]
            case .expired(let match): expired.append(.text(match))
            case .finished(let match): finished.append(.text(match))
            }
        }
        var statements: [(String, [SQLiteData])] = []
        statements += inserts("INSERT INTO seats (match, seat, token) VALUES", columns: 3, tokens)
        statements += inserts("INSERT INTO events (match, version, event) VALUES", columns: 3, events)
        statements += marks("expired", expired)
        statements += marks("finished", finished)
        return statements
    }

    /// UPDATEs setting a mark (`expired`, `finished`) on the listed matches, as many to a
    /// statement as one may carry.
    private static func marks(_ column: String, _ ids: [SQLiteData]) -> [(String, [SQLiteData])] {
        stride(from: 0, to: ids.count, by: rowsPerStatement).map { start in
            let chunk = Array(ids[start..<min(start + rowsPerStatement, ids.count)])
            let list = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
            return ("UPDATE matches SET \(column) = 1 WHERE id IN (\(list))", chunk)
        }
    }

    /// Runs statements one after the other on the store's thread.
    private func run(_ statements: [(String, [SQLiteData])]) -> EventLoopFuture<Void> {
        statements.reduce(connection.eventLoop.makeSucceededVoidFuture()) { previous, statement in
            previous.flatMap { self.connection.query(statement.0, statement.1).map { _ in } }
        }
    }

    /// Runs `body` inside a transaction: committed if it succeeds, rolled back if it fails.
    private func transaction<T: Sendable>(_ body: @escaping @Sendable () -> EventLoopFuture<T>) -> EventLoopFuture<T> {
        connection.query("BEGIN IMMEDIATE").flatMap { _ in
            body().flatMap { value in
                self.connection.query("COMMIT").map { _ in value }
            }.flatMapError { error in
                self.connection.query("ROLLBACK").flatMapThrowing { _ in throw error }
                    .flatMapErrorThrowing { _ in throw error }
            }
        }
    }

    /// Multi-row INSERTs for a flat list of values, `columns` per row.
    private static func inserts(_ prefix: String, columns: Int, _ values: [SQLiteData]) -> [(String, [SQLiteData])] {
        let rows = values.count / columns
        let row = "(" + Array(repeating: "?", count: columns).joined(separator: ", ") + ")"
        return stride(from: 0, to: rows, by: rowsPerStatement).map { start in
            let count = min(rowsPerStatement, rows - start)
            let sql = prefix + " " + Array(repeating: row, count: count).joined(separator: ", ")
            return (sql, Array(values[start * columns..<(start + count) * columns]))
        }
    }

    // MARK: Reading

    public func liveMatches() async throws -> [StoredMatch] {
        try await read(where: "WHERE m.finished = 0 AND m.expired = 0")
    }

    public func finishedMatches(limit: Int) async throws -> [StoredMatch] {
        let newest = "WHERE m.id IN (SELECT id FROM matches WHERE finished = 1 AND expired = 0 ORDER BY serial DESC LIMIT ?)"
        return try await read(where: newest, [.integer(limit)]).reversed()
    }

    public func match(_ id: String) async throws -> StoredMatch? {
        try await read(where: "WHERE m.id = ?", [.text(id)]).first
    }

    public func matchIDs(limit: Int) async throws -> [String] {
        try await reader.query("SELECT id FROM matches ORDER BY serial DESC LIMIT ?", [.integer(limit)])
            .compactMap { $0.column("id")?.string }
    }

    public func highestSerial() async throws -> Int {
        try await reader.query("SELECT MAX(serial) AS highest FROM matches").first?.column("highest")?.integer ?? 0
    }

    /// Matches with their seats and logs, in three queries (reads may overlap, so no
    /// transaction): what a server reads is settled by then (a finished match's last event and
    /// its mark were written together; an unfinished one is read only at start), and a log read
    /// while a move is written is only one event longer.
    private func read(where filter: String, _ binds: [SQLiteData] = []) async throws -> [StoredMatch] {
        var matches: [String: StoredMatch] = [:]
        for row in try await reader.query("SELECT id, serial, expired, finished FROM matches m \(filter)", binds) {
            guard let id = row.column("id")?.string, let serial = row.column("serial")?.integer else { continue }
            matches[id] = StoredMatch(id: id, serial: serial, expired: row.column("expired")?.integer == 1,
                                      finished: row.column("finished")?.integer == 1)
        }
        let seats = "SELECT s.match, s.seat, s.token FROM seats s JOIN matches m ON m.id = s.match \(filter)"
        for row in try await reader.query(seats, binds) {
            guard let id = row.column("match")?.string, let seat = row.column("seat")?.integer,
                  let token = row.column("token")?.string, (0..<2).contains(seat) else { continue }
            matches[id]?.tokens[seat] = token
        }
        let events = "SELECT e.match, e.version, e.event FROM events e JOIN matches m ON m.id = e.match \(filter) ORDER BY e.match, e.version"
        for row in try await reader.query(events, binds) {
            guard let id = row.column("match")?.string, let version = row.column("version")?.integer,
                  let json = row.column("event")?.string else { continue }
            // A log with a gap is kept up to the gap and marked damaged: that match is set aside,
            // every other one loads.
            guard matches[id]?.damage == nil else { continue }
            guard matches[id]?.events.count == version - 1 else {
                matches[id]?.damage = "a gap before version \(version)"
                continue
            }
            matches[id]?.events.append(ByteBuffer(string: json))
        }
        return matches.values.sorted { $0.serial < $1.serial }
    }

    /// Deletes a store's file and its companions (write-ahead log, shared memory, lock): for
    /// throwaway stores (benchmarks, tests).
    public static func remove(path: String) {
        for suffix in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    public func close() async {
        try? await reader.close()
        try? await readerPool.shutdownGracefully()
        try? await connection.close()
        try? await threadPool.shutdownGracefully()
        lock?.release()
    }
}
