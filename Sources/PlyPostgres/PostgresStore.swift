import Foundation
import Logging
import NIOCore
import PlyStore
import PostgresNIO
import Synchronization

/// Match logs in PostgreSQL, shared by every `ply serve` pointed at the same database.
///
/// The database is the arbiter of order: `ply_events` has the key (match, version), and one
/// server function, `ply_write`, writes a whole batch in one round trip and one transaction.
/// An event goes in only if it is the next version of its match (the one before it is there);
/// if another server wrote that version first, the batch's records of that match are left out
/// and the receipt names the match as a conflict (the server then reads what it missed and
/// decides the command again). Each event written is announced with `NOTIFY ply` at commit;
/// every server listens, and `changes` hands the news on. A listener that lost its connection
/// announces `.resync` once it listens again, so news lost meanwhile is recovered by reading.
///
/// Records of a batch are written in match order (each match's own in their order), so two
/// servers' batches take their row locks in the same order and never deadlock.
public final class PostgresStore: SharedMatchStore {
    /// 1: matches, tokens, events and `ply_write`. 2: `ply_write` checks the event a batch
    /// expects (an `expect` record), so no server appends to a history the database does not have.
    public static let schemaVersion = 2
    /// The channel every server listens on.
    static let channel = "ply"
    /// How long one write, or one read of a match's tail, may take before it is reported failed
    /// (the pool may be waiting for a database that is down); a write that still commits later
    /// is found by the next writer of that match as a conflict, so nothing is applied twice.
    static let writeTimeout: Duration = .seconds(5)

    public let location: String
    private let configuration: PostgresClient.Configuration
    /// The driver's pool, and the task that runs it. Replaced when writes and reads keep
    /// failing, so that a pool wedged in the driver cannot keep this server degraded for good.
    private let pool: Mutex<(client: PostgresClient, runner: Task<Void, Never>)>
    /// Writes and reads in a row that failed, and when the pool was last replaced.
    private let failures = Mutex<(count: Int, renewed: ContinuousClock.Instant)>((0, .now))
    private let logger: Logger
    private let available = Atomic<Bool>(true)
    private let listening = Atomic<Bool>(false)
    public let changes: AsyncStream<StoreChange>
    private let continuation: AsyncStream<StoreChange>.Continuation
    private let listener = Mutex<Task<Void, Never>?>(nil)
    /// Events this server wrote whose notification has not come back yet (`MATCH VERSION`): a
    /// notification is news only when another server wrote it.
    private let ownWrites = Mutex<Set<String>>([])

    private init(configuration: PostgresClient.Configuration, location: String, logger: Logger, started: @escaping @Sendable () -> Void) {
        self.configuration = configuration
        self.location = location
        self.logger = logger
        pool = Mutex(Self.makePool(configuration, logger: logger, started: started))
        (changes, continuation) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
    }

    /// Connects to the database at a `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` URL
    /// (`?sslmode=disable` or `require`; TLS is tried by default), creates or migrates the schema,
    /// and starts listening for what other servers write.
    public static func open(url: String, maxConnections: Int = 8, logger: Logger = Logger(label: "ply.store")) async throws -> PostgresStore {
        let (configuration, location) = try configuration(from: url, maxConnections: maxConnections)
        // The pool runs in a task of its own; it is asked for nothing before that task starts.
        let (started, signal) = AsyncStream<Void>.makeStream()
        let store = PostgresStore(configuration: configuration, location: location, logger: logger) {
            signal.yield()
            signal.finish()
        }
        for await _ in started { break }
        await Task.yield()
        do {
            try await withTimeout(.seconds(15)) { try await store.migrate() }
        } catch {
            await store.close()
            throw StoreError("cannot use the PostgreSQL store at \(location): \(String(reflecting: error))")
        }
        store.startListening()
        return store
    }

    /// The client configuration for a URL, and the URL without its password (for logs).
    static func configuration(from url: String, maxConnections: Int) throws -> (PostgresClient.Configuration, String) {
        guard let parts = URLComponents(string: url), ["postgres", "postgresql"].contains(parts.scheme ?? ""),
              let host = parts.host, !host.isEmpty, let user = parts.user, !user.isEmpty else {
            throw StoreError("a PostgreSQL store is named postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE, not '\(url)'")
        }
        let database = parts.path.hasPrefix("/") ? String(parts.path.dropFirst()) : parts.path
        let tls: PostgresClient.Configuration.TLS
        switch parts.queryItems?.first(where: { $0.name == "sslmode" })?.value {
        case "disable": tls = .disable
        case "require": tls = .require(.makeClientConfiguration())
        case nil, "prefer": tls = .prefer(.makeClientConfiguration())
        case let other?: throw StoreError("sslmode must be disable, prefer or require, not '\(other)'")
        }
        var configuration = PostgresClient.Configuration(host: host, port: parts.port ?? 5432, username: user, password: parts.password,
                                                         database: database.isEmpty ? user : database, tls: tls)
        configuration.options.maximumConnections = maxConnections
        return (configuration, "postgres://\(user)@\(host):\(parts.port ?? 5432)/\(database.isEmpty ? user : database)")
    }

    private static func makePool(_ configuration: PostgresClient.Configuration, logger: Logger,
                                 started: (@Sendable () -> Void)? = nil) -> (client: PostgresClient, runner: Task<Void, Never>) {
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        return (client, Task {
            started?()
            await client.run()
        })
    }

    /// The pool in use.
    private var client: PostgresClient { pool.withLock { $0.client } }

    /// Runs a write or read with the time limit, and counts failures: after three in a row (no
    /// answer in time, or none at all), the pool is replaced by a new one, at most every 10 s.
    /// The driver's pool waits out a database it cannot reach behind a circuit breaker, and
    /// was once seen to stay wedged after one; a new pool starts from nothing.
    private func answered<Value: Sendable>(_ operation: @escaping @Sendable () async throws -> Value) async throws -> Value {
        do {
            let value = try await Self.withTimeout(Self.writeTimeout, operation)
            failures.withLock { $0.count = 0 }
            return value
        } catch {
            let renew = failures.withLock { failures -> Bool in
                failures.count += 1
                guard failures.count >= 3, ContinuousClock.now - failures.renewed >= .seconds(10) else { return false }
                failures = (0, .now)
                return true
            }
            if renew {
                logger.error("PostgreSQL failed three times running; starting a new connection pool", metadata: ["error": "\(String(reflecting: error))"])
                let old = pool.withLock { pool in
                    defer { pool = Self.makePool(configuration, logger: logger) }
                    return pool.runner
                }
                old.cancel()
            }
            throw error
        }
    }

    /// What `withTimeout` throws when the time has passed.
    struct TimedOut: Error, CustomStringConvertible {
        let limit: Duration
        var description: String { "no answer from PostgreSQL within \(limit)" }
    }

    public var isAvailable: Bool { available.load(ordering: .relaxed) && listening.load(ordering: .relaxed) }

    // MARK: Schema

    /// Creates the tables at the current version, or migrates older ones, under an advisory lock
    /// so that servers starting together do it once. A database newer than this ply is refused.
    private func migrate() async throws {
        try await client.withConnection { connection in
            try await connection.query("SELECT pg_advisory_lock(\(Self.migrationLock))", logger: logger)
            do {
                try await connection.query("CREATE TABLE IF NOT EXISTS ply_schema (version integer NOT NULL)", logger: logger)
                var found = 0
                for try await version in try await connection.query("SELECT max(version) FROM ply_schema", logger: logger).decode(Int?.self) {
                    found = version ?? 0
                }
                guard found <= Self.schemaVersion else {
                    throw StoreError("the database has schema version \(found), newer than this ply's \(Self.schemaVersion); upgrade ply")
                }
                for version in (found + 1)...max(found + 1, Self.schemaVersion) where version <= Self.schemaVersion {
                    for statement in Self.migrations[version - 1] {
                        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                    }
                    try await connection.query("INSERT INTO ply_schema (version) VALUES (\(version))", logger: logger)
                    logger.info("match store schema created or migrated", metadata: ["version": "\(version)"])
                }
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.migrationLock))", logger: logger)
                throw error
            }
            try await connection.query("SELECT pg_advisory_unlock(\(Self.migrationLock))", logger: logger)
        }
    }

    /// The advisory lock key held while the schema is created or migrated.
    private static let migrationLock = 0x706C79

    /// The statements of each schema version, from 1.
    static let migrations: [[String]] = [[
        """
        CREATE TABLE ply_matches (
            id text PRIMARY KEY,
            serial bigint NOT NULL,
            expired boolean NOT NULL DEFAULT false,
            finished boolean NOT NULL DEFAULT false,
            created timestamptz NOT NULL DEFAULT now())
        """,
        "CREATE INDEX ply_matches_by_serial ON ply_matches (serial)",
        "CREATE INDEX ply_matches_live ON ply_matches (serial) WHERE NOT expired AND NOT finished",
        "CREATE TABLE ply_tokens (match_id text NOT NULL, seat integer NOT NULL, hash text NOT NULL, PRIMARY KEY (match_id, seat))",
        "CREATE TABLE ply_events (match_id text NOT NULL, version integer NOT NULL, body text NOT NULL, PRIMARY KEY (match_id, version))",
        // One batch, one round trip, one transaction. Returns the ids taken and the conflicts.
        """
        CREATE FUNCTION ply_write(kinds text[], ids text[], numbers bigint[], texts text[])
        RETURNS TABLE (outcome text, subject text) LANGUAGE plpgsql AS $$
        DECLARE
            i integer;
            refused text[] := '{}';
            stamp text;
        BEGIN
            FOR i IN 1 .. coalesce(array_length(kinds, 1), 0) LOOP
                CONTINUE WHEN ids[i] = ANY (refused);
                stamp := (extract(epoch FROM clock_timestamp()) * 1000000)::bigint::text;
                IF kinds[i] = 'match' THEN
                    INSERT INTO ply_matches (id, serial) VALUES (ids[i], numbers[i]) ON CONFLICT DO NOTHING;
                    IF NOT FOUND THEN
                        refused := refused || ids[i];
                        outcome := 'taken'; subject := ids[i]; RETURN NEXT;
                    END IF;
                ELSIF kinds[i] = 'event' THEN
                    INSERT INTO ply_events (match_id, version, body)
                        SELECT ids[i], numbers[i], texts[i]
                        WHERE numbers[i] = 1
                           OR EXISTS (SELECT 1 FROM ply_events e WHERE e.match_id = ids[i] AND e.version = numbers[i] - 1)
                        ON CONFLICT DO NOTHING;
                    IF FOUND THEN
                        PERFORM pg_notify('ply', 'e ' || ids[i] || ' ' || numbers[i] || ' ' || stamp);
                    ELSE
                        refused := refused || ids[i];
                        outcome := 'conflict'; subject := ids[i]; RETURN NEXT;
                    END IF;
                ELSIF kinds[i] = 'token' THEN
                    INSERT INTO ply_tokens (match_id, seat, hash) VALUES (ids[i], numbers[i], texts[i]) ON CONFLICT DO NOTHING;
                ELSIF kinds[i] = 'expired' THEN
                    UPDATE ply_matches SET expired = true WHERE id = ids[i] AND NOT expired;
                    IF FOUND THEN PERFORM pg_notify('ply', 'x ' || ids[i] || ' ' || stamp); END IF;
                ELSIF kinds[i] = 'finished' THEN
                    UPDATE ply_matches SET finished = true WHERE id = ids[i];
                ELSE
                    RAISE EXCEPTION 'unknown record kind %', kinds[i];
                END IF;
            END LOOP;
        END
        $$
        """,
    ], [
        """
        CREATE OR REPLACE FUNCTION ply_write(kinds text[], ids text[], numbers bigint[], texts text[])
        RETURNS TABLE (outcome text, subject text) LANGUAGE plpgsql AS $$
        DECLARE
            i integer;
            refused text[] := '{}';
            stamp text;
        BEGIN
            FOR i IN 1 .. coalesce(array_length(kinds, 1), 0) LOOP
                CONTINUE WHEN ids[i] = ANY (refused);
                stamp := (extract(epoch FROM clock_timestamp()) * 1000000)::bigint::text;
                IF kinds[i] = 'match' THEN
                    INSERT INTO ply_matches (id, serial) VALUES (ids[i], numbers[i]) ON CONFLICT DO NOTHING;
                    IF NOT FOUND THEN
                        refused := refused || ids[i];
                        outcome := 'taken'; subject := ids[i]; RETURN NEXT;
                    END IF;
                ELSIF kinds[i] = 'expect' THEN
                    IF NOT EXISTS (SELECT 1 FROM ply_events e WHERE e.match_id = ids[i] AND e.version = numbers[i] AND e.body = texts[i]) THEN
                        refused := refused || ids[i];
                        outcome := 'conflict'; subject := ids[i]; RETURN NEXT;
                    END IF;
                ELSIF kinds[i] = 'event' THEN
                    INSERT INTO ply_events (match_id, version, body)
                        SELECT ids[i], numbers[i], texts[i]
                        WHERE numbers[i] = 1
                           OR EXISTS (SELECT 1 FROM ply_events e WHERE e.match_id = ids[i] AND e.version = numbers[i] - 1)
                        ON CONFLICT DO NOTHING;
                    IF FOUND THEN
                        PERFORM pg_notify('ply', 'e ' || ids[i] || ' ' || numbers[i] || ' ' || stamp);
                    ELSE
                        refused := refused || ids[i];
                        outcome := 'conflict'; subject := ids[i]; RETURN NEXT;
                    END IF;
                ELSIF kinds[i] = 'token' THEN
                    INSERT INTO ply_tokens (match_id, seat, hash) VALUES (ids[i], numbers[i], texts[i]) ON CONFLICT DO NOTHING;
                ELSIF kinds[i] = 'expired' THEN
                    UPDATE ply_matches SET expired = true WHERE id = ids[i] AND NOT expired;
                    IF FOUND THEN PERFORM pg_notify('ply', 'x ' || ids[i] || ' ' || stamp); END IF;
                ELSIF kinds[i] = 'finished' THEN
                    UPDATE ply_matches SET finished = true WHERE id = ids[i];
                ELSE
                    RAISE EXCEPTION 'unknown record kind %', kinds[i];
                END IF;
            END LOOP;
        END
        $$
        """,
    ]]

    // MARK: Writing

    public func write(_ batch: [StoreRecord], completion: @escaping @Sendable (Result<StoreReceipt, any Error>) -> Void) {
        // Each match's records stay in order; matches go in id order (locks in one order).
        let ordered = batch.enumerated().sorted { ($0.element.matchID, $0.offset) < ($1.element.matchID, $1.offset) }.map(\.element)
        var kinds: [String] = [], ids: [String] = [], numbers: [Int] = [], texts: [String] = []
        kinds.reserveCapacity(ordered.count)
        for record in ordered {
            ids.append(record.matchID)
            switch record {
            case .match(_, let serial): kinds.append("match"); numbers.append(serial); texts.append("")
            case .token(_, let seat, let hash): kinds.append("token"); numbers.append(seat); texts.append(hash)
            case .event(_, let version, let json): kinds.append("event"); numbers.append(version); texts.append(String(buffer: json))
            case .expired: kinds.append("expired"); numbers.append(0); texts.append("")
            case .finished: kinds.append("finished"); numbers.append(0); texts.append("")
            case .expects(_, let version, let json): kinds.append("expect"); numbers.append(version); texts.append(String(buffer: json))
            }
        }
        let query: PostgresQuery = "SELECT outcome, subject FROM ply_write(\(kinds), \(ids), \(numbers), \(texts))"
        // What the batch appends, to read back if the commit's answer is lost.
        let appended = ordered.compactMap { record -> (match: String, version: Int, json: ByteBuffer)? in
            if case .event(let match, let version, let json) = record { return (match, version, json) }
            return nil
        }
        Task { [self] in
            let stage = WriteProgress()
            do {
                let receipt = try await self.answered { try await self.transaction(query, appending: appended, stage: stage) }
                self.available.store(true, ordering: .relaxed)
                completion(.success(receipt))
            } catch {
                self.available.store(false, ordering: .relaxed)
                guard case .committing(let receipt) = stage.value.withLock({ $0 }) else {
                    return completion(.failure(StoreError("the PostgreSQL write failed: \(String(reflecting: error))")))
                }
                let own = Self.keys(appended, except: receipt)
                // The COMMIT went out and its answer did not come back: the write may or may not
                // have happened. It is read back; nothing is acknowledged unless it is there.
                let written = appended.filter { !receipt.conflicts.contains($0.match) && !receipt.takenMatchIDs.contains($0.match) }
                switch await self.readBack(written) {
                case true?:
                    self.logger.notice("a write whose commit went unanswered is in the database", metadata: ["events": "\(written.count)"])
                    completion(.success(receipt))
                case false?:
                    self.forgetOwn(own)
                    completion(.failure(StoreError("the PostgreSQL write did not commit: \(String(reflecting: error))")))
                case nil:
                    // Its notification, if it did commit, is then heard like another server's.
                    self.forgetOwn(own)
                    completion(.failure(StoreError("the PostgreSQL write's commit went unanswered and could not be read back; it is taken as not made")))
                }
            }
        }
    }

    /// How far a write got: a write whose COMMIT went out is read back when its answer is lost.
    private enum WriteStage {
        case writing
        case committing(StoreReceipt)
    }

    private final class WriteProgress: Sendable {
        let value = Mutex(WriteStage.writing)
    }

    /// Writes a batch in an explicit transaction and returns once PostgreSQL has answered its
    /// COMMIT: the write is durable only then. (One statement in an implicit transaction would
    /// take one round trip, but postgres-nio ends a statement's rows at its CommandComplete,
    /// before the transaction commits at the protocol's Sync: a backend stopped between the
    /// two rolled back batches ply had already acknowledged and published. PostgreSQL answers
    /// an explicit COMMIT only once the commit is done, flushed to its log with the default
    /// synchronous_commit.) On any failure the connection is closed, so that no transaction
    /// left open can reach the pool; the server rolls it back.
    private func transaction(_ query: PostgresQuery, appending appended: [(match: String, version: Int, json: ByteBuffer)],
                             stage: WriteProgress) async throws -> StoreReceipt {
        try await client.withConnection { connection in
            do {
                try await connection.query("BEGIN", logger: self.logger)
                var receipt = StoreReceipt()
                for try await (outcome, match) in try await connection.query(query, logger: self.logger).decode((String, String).self) {
                    if outcome == "taken" { receipt.takenMatchIDs.insert(match) } else { receipt.conflicts.insert(match) }
                }
                stage.value.withLock { $0 = .committing(receipt) }
                // Its notifications, sent at the commit, are this server's own: not news.
                let own = Self.keys(appended, except: receipt)
                self.ownWrites.withLock { $0.formUnion(own) }
                do {
                    try await connection.query("COMMIT", logger: self.logger)
                } catch let error as PSQLError where error.serverInfo != nil {
                    // PostgreSQL answered: it did not commit.
                    self.forgetOwn(own)
                    stage.value.withLock { $0 = .writing }
                    throw error
                }
                return receipt
            } catch {
                try? await connection.close()
                throw error
            }
        }
    }

    /// The `MATCH VERSION` keys of a write's events, those of conflicting and taken matches aside.
    private static func keys(_ appended: [(match: String, version: Int, json: ByteBuffer)], except receipt: StoreReceipt) -> Set<String> {
        Set(appended.filter { !receipt.conflicts.contains($0.match) && !receipt.takenMatchIDs.contains($0.match) }.map { "\($0.match) \($0.version)" })
    }

    /// A write of this server's that did not commit: its notifications, if any ever come, are news.
    private func forgetOwn(_ keys: Set<String>) {
        ownWrites.withLock { $0.subtract(keys) }
    }

    /// Whether every event of a write is in the database with the bytes written (true), none is
    /// (false: the write did not commit; a transaction is all or nothing), or nil when the
    /// database cannot be read (tried three times). A write that appends nothing (an expiry,
    /// which is written again until it takes) is taken as not made.
    private func readBack(_ written: [(match: String, version: Int, json: ByteBuffer)]) async -> Bool? {
        guard !written.isEmpty else { return false }
        let ids = written.map(\.match), versions = written.map(\.version)
        for attempt in 0..<3 {
            if attempt > 0 { try? await Task.sleep(for: .milliseconds(500)) }
            do {
                let found = try await answered {
                    var found: [String: ByteBuffer] = [:]
                    for try await (match, version, body) in try await self.client.query("""
                        SELECT e.match_id, e.version, e.body FROM ply_events e
                        JOIN unnest(\(ids)::text[], \(versions)::bigint[]) AS w(match_id, version) ON e.match_id = w.match_id AND e.version = w.version
                        """, logger: self.logger).decode((String, Int, ByteBuffer).self) {
                        found["\(match) \(version)"] = body
                    }
                    return found
                }
                return written.allSatisfy { found["\($0.match) \($0.version)"] == $0.json }
            } catch {
                continue
            }
        }
        return nil
    }

    /// Runs an operation, or throws once a duration has passed. The operation is cancelled
    /// then but not waited for: a query stuck in the driver cannot hold its caller.
    static func withTimeout<Value: Sendable>(_ limit: Duration, _ operation: @escaping @Sendable () async throws -> Value) async throws -> Value {
        let answered = Mutex<CheckedContinuation<Value, any Error>?>(nil)
        return try await withCheckedThrowingContinuation { continuation in
            answered.withLock { $0 = continuation }
            let answer = { @Sendable (result: Result<Value, any Error>) in
                answered.withLock { $0.take() }?.resume(with: result)
            }
            let work = Task {
                do {
                    answer(.success(try await operation()))
                } catch {
                    answer(.failure(error))
                }
            }
            let timer = Task {
                try await Task.sleep(for: limit)
                work.cancel()
                answer(.failure(TimedOut(limit: limit)))
            }
            // Whichever ends first, the other is not needed any more.
            Task {
                _ = await work.result
                timer.cancel()
            }
        }
    }

    // MARK: Reading

    public func liveMatches() async throws -> [StoredMatch] {
        try await matches(where: "NOT expired AND NOT finished ORDER BY serial", binds: PostgresBindings())
    }

    public func finishedMatches(limit: Int) async throws -> [StoredMatch] {
        var binds = PostgresBindings()
        binds.append(limit)
        return try await matches(where: "finished AND NOT expired ORDER BY serial DESC LIMIT $1", binds: binds)
    }

    public func match(_ id: String) async throws -> StoredMatch? {
        var binds = PostgresBindings()
        binds.append(id)
        return try await matches(where: "id = $1", binds: binds).first
    }

    /// One query for the events, and one for the tokens only when asked: what every server
    /// holding a match reads for each event another server appends.
    public func tail(of id: String, after version: Int, tokens: Bool) async throws -> StoredTail {
        // A server reads this holding the match (its other commands wait): never for long.
        try await answered {
            var tail = StoredTail()
            var expected = version + 1
            // From the version the reader has (the anchor it checks its history against), and the
            // highest version stored, in one query.
            for try await (number, body, latest) in try await self.client.query(
                "SELECT version, body, max(version) OVER () FROM ply_events WHERE match_id = \(id) AND version >= \(version) ORDER BY version",
                logger: self.logger
            ).decode((Int, ByteBuffer, Int).self) {
                tail.latest = latest
                if number == version {
                    tail.anchor = body
                    continue
                }
                guard number == expected else { break }  // a gap is never read past
                tail.events.append(body)
                expected += 1
            }
            if tail.latest == 0 {
                // Nothing at or after the version: the database holds less of the match than the
                // reader (or nothing of it).
                for try await latest in try await self.client.query(
                    "SELECT coalesce(max(version), 0)::bigint FROM ply_events WHERE match_id = \(id)", logger: self.logger
                ).decode(Int.self) {
                    tail.latest = latest
                }
            }
            if tokens {
                var found: [String?] = [nil, nil]
                for try await (seat, hash) in try await self.client.query("SELECT seat, hash FROM ply_tokens WHERE match_id = \(id)", logger: self.logger)
                    .decode((Int, String).self) where found.indices.contains(seat) {
                    found[seat] = hash
                }
                tail.tokens = found
            }
            return tail
        }
    }

    /// Matches chosen by a condition on `ply_matches`, in its order, with their tokens and logs
    /// (three queries, whatever the number of matches).
    private func matches(where condition: String, binds: PostgresBindings) async throws -> [StoredMatch] {
        var found: [StoredMatch] = []
        var index: [String: Int] = [:]
        for try await (id, serial, expired, finished) in try await client.query(
            PostgresQuery(unsafeSQL: "SELECT id, serial, expired, finished FROM ply_matches WHERE \(condition)", binds: binds), logger: logger
        ).decode((String, Int, Bool, Bool).self) {
            index[id] = found.count
            found.append(StoredMatch(id: id, serial: serial, expired: expired, finished: finished))
        }
        guard !found.isEmpty else { return [] }
        let ids = found.map(\.id)
        for try await (id, seat, hash) in try await client.query(
            "SELECT match_id, seat, hash FROM ply_tokens WHERE match_id = ANY(\(ids))", logger: logger
        ).decode((String, Int, String).self) {
            if let at = index[id], (0..<2).contains(seat) { found[at].tokens[seat] = hash }
        }
        for try await (id, version, body) in try await client.query(
            "SELECT match_id, version, body FROM ply_events WHERE match_id = ANY(\(ids)) ORDER BY match_id, version", logger: logger
        ).decode((String, Int, ByteBuffer).self) {
            if let at = index[id] { Self.append(version, body, to: &found[at]) }
        }
        return found
    }

    /// Adds an event read in version order, noting a gap as damage.
    private static func append(_ version: Int, _ body: ByteBuffer, to match: inout StoredMatch) {
        let expected = match.events.count + 1
        if version != expected, match.damage == nil {
            match.damage = "event \(version) follows version \(expected - 1)"
        }
        match.events.append(body)
    }

    public func matchIDs(limit: Int) async throws -> [String] {
        var ids: [String] = []
        for try await id in try await client.query("SELECT id FROM ply_matches ORDER BY serial DESC LIMIT \(limit)", logger: logger).decode(String.self) {
            ids.append(id)
        }
        return ids
    }

    public func highestSerial() async throws -> Int {
        var highest = 0
        for try await serial in try await client.query("SELECT coalesce(max(serial), 0)::bigint FROM ply_matches", logger: logger).decode(Int.self) {
            highest = serial
        }
        return highest
    }

    // MARK: Listening

    /// Listens on the channel on a connection of its own for as long as the store is open; when
    /// the connection is lost, listens again (every second until the database answers) and
    /// announces `.resync`, since news may have been missed meanwhile.
    private func startListening() {
        let task = Task { [self] in
            var first = true
            while !Task.isCancelled {
                do {
                    try await self.client.withConnection { connection in
                        try await connection.listen(on: Self.channel) { notifications in
                            self.listening.store(true, ordering: .relaxed)
                            if !first {
                                self.logger.notice("listening to the match store again; re-reading what may have been missed")
                                // Whatever was missed is read again: own writes among it too.
                                self.ownWrites.withLock { $0.removeAll() }
                                self.continuation.yield(.resync)
                            }
                            first = false
                            for try await notification in notifications {
                                guard let change = Self.change(from: notification.payload) else { continue }
                                if case .appended(let match, let version, _) = change,
                                   self.ownWrites.withLock({ $0.remove("\(match) \(version)") }) != nil {
                                    continue
                                }
                                self.continuation.yield(change)
                            }
                        }
                    }
                } catch {
                    if Task.isCancelled { break }
                    if self.listening.exchange(false, ordering: .relaxed) {
                        self.logger.error("lost the match store's notifications; reconnecting", metadata: ["error": "\(String(reflecting: error))"])
                    }
                    first = false
                }
                self.listening.store(false, ordering: .relaxed)
                try? await Task.sleep(for: .seconds(1))
            }
            self.continuation.finish()
        }
        listener.withLock { $0 = task }
    }

    /// `e MATCH VERSION MICROS` (an event appended) or `x MATCH MICROS` (a match expired).
    static func change(from payload: String) -> StoreChange? {
        let fields = payload.split(separator: " ")
        let lag = fields.last.flatMap { Int64($0) }.map { sent -> Duration in
            let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
            return .microseconds(max(0, now - sent))
        }
        switch (fields.first, fields.count) {
        case ("e", 4):
            guard let version = Int(fields[2]) else { return nil }
            return .appended(match: String(fields[1]), version: version, lag: lag)
        case ("x", 3):
            return .expired(match: String(fields[1]))
        default:
            return nil
        }
    }

    public func close() async {
        listener.withLock { $0 }?.cancel()
        let runner = pool.withLock { $0.runner }
        runner.cancel()
        _ = await runner.value
        continuation.finish()
    }
}
