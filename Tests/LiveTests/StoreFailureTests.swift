import Foundation
import Logging
import NIOCore
import NIOPosix
import PlyBench
import PlyEngine
import PlyServer
import PlyStore
import PlyWire
import SQLiteNIO
import Synchronization
import Testing

/// A store that fails every write from a moment on, as a full disk would.
final class BreakableStore: StoreWrapper {
    let wrapped: any MatchStore
    private let broken = Atomic<Bool>(false)

    init(_ inner: any MatchStore) { wrapped = inner }

    func breakNow() { broken.store(true, ordering: .relaxed) }

    func write(_ batch: [StoreRecord], completion: @escaping @Sendable (Result<StoreReceipt, any Error>) -> Void) {
        if broken.load(ordering: .relaxed) { return completion(.failure(StoreError("SQLITE_FULL: database or disk is full"))) }
        wrapped.write(batch, completion: completion)
    }
}

/// What the server does when its store misbehaves.
@Suite(.timeLimit(.minutes(2)))
struct StoreFailureTests {
    /// Once a write fails: the change is refused and made nowhere (no later answer names a
    /// version that never became visible), every change after it too, storage internals stay
    /// out of the message, /health says degraded with 503, and reading goes on.
    @Test func aFailedWriteDegradesTheServerAndChangesNothing() async throws {
        let store = BreakableStore(MemoryStore())
        try await LiveServer.run(store: store) { server in
            let (id, ann, _) = try await server.startedMatch()
            store.breakNow()
            let failed = try await server.request(.post, "/matches/\(id)/commands", body: #"{"type":"play","move":"4","v":3}"#, token: ann.token)
            #expect(failed.status == 503)
            #expect(failed.errorCode == "server/storage_failed")
            #expect(!failed.body.contains("SQLITE"), "storage internals stay out of client messages: \(failed.body)")
            #expect(try await server.snapshot(id).version == 3)
            let again = try await server.request(.post, "/matches/\(id)/commands", body: #"{"type":"play","move":"4","v":3}"#, token: ann.token)
            #expect(again.errorCode == "server/storage_failed", "not stale: version 4 never became visible")
            let health = try await server.request(.get, "/health")
            #expect(health.status == 503)
            #expect(try health.decode(Health.self).status == "degraded")
            #expect(try await server.log(id).count == 3)
        }
    }

    /// Sends seat 0's first move of a started match while another connection holds SQLite's
    /// write lock on the file; after `hold`, runs `meanwhile` (the lock still held), then lets
    /// the lock go and returns the move's answer.
    func firstMoveWithTheLockHeldElsewhere(_ server: LiveServer, data: String, match: String, token: String, hold: Duration,
                                           meanwhile: () async throws -> Void = {}) async throws -> LiveServer.Reply {
        let other = try await SQLiteConnection.open(storage: .file(path: data))
        _ = try await other.query("BEGIN IMMEDIATE")
        let command = Task {
            try await server.request(.post, "/matches/\(match)/commands", body: #"{"type":"play","move":"4","v":3}"#, token: token)
        }
        try await Task.sleep(for: hold)
        try await meanwhile()
        _ = try await other.query("COMMIT")
        try await other.close()
        return try await command.value
    }

    /// Another process holding SQLite's lock makes a write wait (the busy timeout), not fail.
    @Test func aLockHeldElsewhereMakesWritesWaitNotFail() async throws {
        let data = DurabilityTests.temporaryStorePath()
        defer { DurabilityTests.removeStore(data) }
        let store = try await SQLiteStore.open(path: data)
        try await LiveServer.run(store: store) { server in
            let (id, ann, _) = try await server.startedMatch()
            let reply = try await firstMoveWithTheLockHeldElsewhere(server, data: data, match: id, token: ann.token, hold: .milliseconds(800))
            #expect(reply.status == 200, "\(reply.body)")
            #expect(try await server.request(.get, "/health").decode(Health.self).status == "ok")
        }
    }

    /// Reads go through a connection of their own: a finished match is read from the file and
    /// served while a write waits for a lock held elsewhere (on one connection, the read would
    /// queue behind the write until the lock's timeout failed the write).
    @Test func aFinishedMatchIsReadWhileAWriteWaits() async throws {
        let data = DurabilityTests.temporaryStorePath()
        defer { DurabilityTests.removeStore(data) }
        var configuration = ServerConfiguration()
        configuration.finishedMatchesHeld = 0
        try await LiveServer.run(configuration, store: try await SQLiteStore.open(path: data)) { server in
            let (finished, ann, bob) = try await server.startedMatch()
            let version = try await server.playToAWin(finished, ann, bob)
            let (playing, first, _) = try await server.startedMatch()
            let reply = try await firstMoveWithTheLockHeldElsewhere(server, data: data, match: playing, token: first.token,
                                                                     hold: .milliseconds(200)) {
                let snapshot = try await server.snapshot(finished)
                #expect(snapshot.version == version && snapshot.status == .finished)
            }
            #expect(reply.status == 200, "the write waited for the lock, and was made: \(reply.body)")
        }
    }

    /// A second server on the same file refuses to start, saying why.
    @Test func aSecondServerOnTheSameFileRefusesToStart() async throws {
        let data = DurabilityTests.temporaryStorePath()
        defer {
            DurabilityTests.removeStore(data)
            try? FileManager.default.removeItem(atPath: data + ".lock")
        }
        let children = Children()
        let first = try await children.start(DurabilityTests.ply, ["serve", "--port", "0", "--log-level", "warning", "--data", data])
        let second = try await ChildProcess.run(DurabilityTests.ply, ["serve", "--port", "0", "--data", data], timeout: .seconds(30))
        #expect(second.status != 0)
        #expect(second.output.contains("another ply serve is using this match store"), "\(second.output)")
        #expect(first.isRunning)
        await first.stop()
        // Once the first has stopped, the file is free.
        let third = try await children.start(DurabilityTests.ply, ["serve", "--port", "0", "--log-level", "warning", "--data", data])
        await third.stop()
    }

    /// A match whose stored log has a gap is set aside with a clear error; every other loads.
    @Test func aDamagedLogIsSetAsideAndTheOthersLoad() async throws {
        let data = DurabilityTests.temporaryStorePath()
        defer { DurabilityTests.removeStore(data) }
        let good = try await LiveServer.run(store: try await SQLiteStore.open(path: data)) { server in
            try await server.startedMatch().id
        }
        let store = try await SQLiteStore.open(path: data)
        try await store.write([
            .match(id: "damaged001", serial: 99),
            .event(match: "damaged001", version: 1, json: ByteBuffer(string: #"{"game":"connect4","type":"created","v":1}"#)),
            .event(match: "damaged001", version: 3, json: ByteBuffer(string: #"{"name":"bob","seat":1,"type":"joined","v":3}"#)),
        ])
        await store.close()
        try await LiveServer.run(store: try await SQLiteStore.open(path: data)) { server in
            #expect(try await server.snapshot(good).version == 3)
            let damaged = try await server.request(.get, "/matches/damaged001")
            #expect(damaged.errorCode == "match/corrupt_log", "\(damaged.body)")
            #expect(try await server.request(.get, "/health").decode(Health.self).status == "ok")
            #expect(try await server.request(.get, "/matches").decode([MatchSnapshot].self).map(\.id) == [good])
        }
    }

    /// Every seat token in a data file, as stored.
    func storedTokens(_ data: String) async throws -> [String] {
        let connection = try await SQLiteConnection.open(storage: .file(path: data))
        let rows = try await connection.query("SELECT token FROM seats ORDER BY match, seat")
        try await connection.close()
        return rows.compactMap { $0.column("token")?.string }
    }

    /// Seat tokens are never in the file in clear; a file from before that (schema 1, tokens in
    /// clear, no finished mark) is migrated when it is opened, and its tokens still act for their seats.
    @Test func tokensAreStoredHashedAndOldFilesAreMigrated() async throws {
        let data = DurabilityTests.temporaryStorePath()
        defer { DurabilityTests.removeStore(data) }
        let (id, ann, bob) = try await LiveServer.run(store: try await SQLiteStore.open(path: data)) { server in
            try await server.startedMatch()
        }
        let hashed = try await storedTokens(data)
        #expect(hashed == [TokenHash.of(ann.token), TokenHash.of(bob.token)])
        // Make it a file as the first ply wrote it.
        let old = try await SQLiteConnection.open(storage: .file(path: data))
        for (seat, token) in [ann.token, bob.token].enumerated() {
            _ = try await old.query("UPDATE seats SET token = ? WHERE match = ? AND seat = ?", [.text(token), .text(id), .integer(seat)])
        }
        _ = try await old.query("DROP INDEX matches_by_serial")
        _ = try await old.query("ALTER TABLE matches DROP COLUMN finished")
        _ = try await old.query("PRAGMA user_version=1")
        try await old.close()
        #expect(try await storedTokens(data) == [ann.token, bob.token])
        try await LiveServer.run(store: try await SQLiteStore.open(path: data)) { server in
            let reply = try await server.request(.post, "/matches/\(id)/commands", body: #"{"move":"4","type":"play","v":3}"#, token: ann.token)
            #expect(reply.status == 200, "\(reply.body)")
        }
        #expect(try await storedTokens(data) == hashed)
    }
}
