import Foundation
import NIOCore
import PlyStore
import Testing

/// What every store a single server writes promises, checked on each: the memory store and
/// SQLite give the same answers for the same batches, so the server has one code path.
@Suite(.timeLimit(.minutes(1)))
struct StoreContractTests {
    enum Kind: CaseIterable, CustomTestStringConvertible {
        case memory, sqlite
        var testDescription: String { self == .memory ? "memory" : "SQLite" }
    }

    /// Runs `body` on a fresh store of the kind (SQLite in a file of its own, removed after).
    func withStore(_ kind: Kind, _ body: (any MatchStore) async throws -> Void) async throws {
        switch kind {
        case .memory:
            try await body(MemoryStore())
        case .sqlite:
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("ply-contract-\(UUID().uuidString).sqlite").path
            let store = try await SQLiteStore.open(path: path)
            do {
                try await body(store)
            } catch {
                await store.close()
                SQLiteStore.remove(path: path)
                throw error
            }
            await store.close()
            SQLiteStore.remove(path: path)
        }
    }

    func event(_ id: String, _ version: Int) -> StoreRecord {
        .event(match: id, version: version, json: ByteBuffer(string: #"{"match":"\#(id)","version":\#(version)}"#))
    }

    func texts(_ match: StoredMatch?) -> [String] {
        (match?.events ?? []).map { String(buffer: $0) }
    }

    @Test(arguments: Kind.allCases)
    func newMatchesInOneBatchAreEachWrittenOrReportedTaken(_ kind: Kind) async throws {
        try await withStore(kind) { store in
            let first = try await store.write([.match(id: "old", serial: 1), event("old", 1)])
            #expect(first.takenMatchIDs.isEmpty)
            // Three new matches in one batch, one of them on an id already written: that one is
            // reported and its records left out, the other two are written whole.
            let receipt = try await store.write([
                .match(id: "a", serial: 2), .token(match: "a", seat: 0, hash: "ha"), event("a", 1),
                .match(id: "old", serial: 3), .token(match: "old", seat: 1, hash: "stolen"), event("old", 1),
                .match(id: "b", serial: 4), event("b", 1), event("b", 2),
            ])
            #expect(receipt.takenMatchIDs == ["old"])
            let a = try await store.match("a"), b = try await store.match("b"), old = try await store.match("old")
            #expect(a?.tokens == ["ha", nil])
            #expect(texts(a).count == 1)
            #expect(texts(b).count == 2)
            #expect(old?.serial == 1)
            #expect(old?.tokens == [nil, nil])
            #expect(texts(old).count == 1)
            #expect(try await store.highestSerial() == 4)
            #expect(try await store.liveMatches().map(\.id) == ["old", "a", "b"])
            // One batch asking for the same id twice: that id is taken, the other is written.
            let twice = try await store.write([
                .match(id: "c", serial: 5), event("c", 1), .match(id: "d", serial: 6), .match(id: "c", serial: 7),
            ])
            #expect(twice.takenMatchIDs == ["c"])
            #expect(try await store.match("c") == nil)
            #expect(try await store.match("d")?.serial == 6)
        }
    }

    @Test(arguments: Kind.allCases)
    func marksOnSeveralMatchesInOneBatchLandOnEach(_ kind: Kind) async throws {
        try await withStore(kind) { store in
            let ids = (1...6).map { "m\($0)" }
            _ = try await store.write(ids.enumerated().flatMap { index, id in [StoreRecord.match(id: id, serial: index + 1), event(id, 1)] })
            _ = try await store.write([
                event("m1", 2), .finished(match: "m1"), event("m3", 2), .finished(match: "m3"),
                event("m5", 2), .finished(match: "m5"), .expired(match: "m2"), .expired(match: "m6"),
            ])
            #expect(try await store.liveMatches().map(\.id) == ["m4"])
            // Newest first.
            #expect(try await store.finishedMatches(limit: 10).map(\.id) == ["m5", "m3", "m1"])
            for id in ids {
                let match = try #require(try await store.match(id))
                #expect(match.finished == ["m1", "m3", "m5"].contains(id), "\(id)")
                #expect(match.expired == ["m2", "m6"].contains(id), "\(id)")
                #expect(match.events.count == (match.finished ? 2 : 1), "\(id)")
            }
        }
    }

    @Test(arguments: Kind.allCases)
    func aBatchWithAnEventAlreadyStoredFailsWhole(_ kind: Kind) async throws {
        try await withStore(kind) { store in
            _ = try await store.write([.match(id: "x", serial: 1), event("x", 1), event("x", 2)])
            await #expect(throws: (any Error).self) {
                try await store.write([.match(id: "y", serial: 2), event("y", 1), event("x", 2), .finished(match: "x")])
            }
            // Nothing of it was kept: no new match, no mark, the log as it was.
            #expect(try await store.match("y") == nil)
            let x = try #require(try await store.match("x"))
            #expect(!x.finished)
            #expect(texts(x) == [#"{"match":"x","version":1}"#, #"{"match":"x","version":2}"#])
            #expect(try await store.highestSerial() == 1)
        }
    }
}
