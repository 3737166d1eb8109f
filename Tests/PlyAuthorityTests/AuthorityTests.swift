import Foundation
import Logging
import NIOCore
import PlyAuthority
import PlyEngine
import PlyStore
import PlyWire
import Synchronization
import Testing

/// The authority on its own: no socket, no event loop, no transport.
struct AuthorityTests {
    func authority(store: any MatchStore = MemoryStore(), clock: ManualClock = ManualClock(),
                   configuration: Authority.Configuration = Authority.Configuration(), ids: ScriptedIDs = ScriptedIDs([])) -> Authority {
        Authority(store: store, configuration: configuration, clock: clock.serviceClock, logger: .quiet, makeID: { ids.next() })
    }

    /// A started Connect Four match: its authority and both seats' grants.
    func started(_ authority: Authority, limit: Int? = nil) async throws -> (MatchAuthority, SeatGrant, SeatGrant) {
        let snapshot = try await authority.create(CreateMatchRequest(game: .connect4, moveTimeLimit: limit))
        let match = try await authority.match(snapshot.id)
        return (match, try await match.join(name: "ann"), try await match.join(name: "bob"))
    }

    @Test func aGameIsPublishedInOrderAndEachMoveAcknowledgedAfterItsEvents() async throws {
        let authority = authority()
        let (match, ann, bob) = try await started(authority)
        let watcher = RecordingSubscriber(after: match.version)
        #expect(match.subscribe(watcher).closure == nil)
        // Columns 1 and 2 alternately: ann lines up four in column 1.
        var seen: [Int] = []
        for (index, column) in ["1", "2", "1", "2", "1", "2", "1"].enumerated() {
            let seat = index % 2 == 0 ? ann.seat : bob.seat
            let ack = try await match.play(column, by: seat).get()
            // Every subscriber was told before the acknowledgement was given.
            #expect(watcher.cursor == ack.version)
            seen.append(ack.version)
        }
        #expect(seen == [4, 5, 6, 7, 8, 9, 11])
        #expect(watcher.events.map(\.version) == Array(4...11))
        #expect(watcher.events.last?.change == .ended(GameResult(winner: .first, reason: .fourInARow)))
        #expect(match.status == .finished)
        // The bytes a subscriber reads are the events exactly as stored.
        let stored = try #require(try await authority.store.match(match.id))
        #expect(Array(match.storedEvents(after: 0)) == stored.events)
    }

    /// A new match on a store that holds writes: its creation is let through.
    func created(_ game: GameID, on store: HeldStore) async throws -> (Authority, MatchAuthority) {
        let authority = authority(store: store)
        let create = Task { try await authority.create(CreateMatchRequest(game: game)) }
        while store.waiting.isEmpty { await Task.yield() }
        store.completeOne()
        return (authority, try await authority.match(try await create.value.id))
    }

    @Test func aRefusedCommandChangesNothingAndIsAnsweredAtOnce() async throws {
        let store = HeldStore()
        let (_, match) = try await created(.connect4, on: store)
        let refused = Mutex<WireError?>(nil)
        match.execute(Command(.play("4"), version: 1), by: .first) { result in
            if case .failure(let error) = result { refused.withLock { $0 = error } }
        }
        #expect(refused.withLock { $0 }?.code == .notStarted, "answered before execute returned, with nothing written")
        #expect(store.waiting.isEmpty)
        #expect(match.version == 1)
    }

    /// Nothing is published before it is durable, and writes made while one is in flight go
    /// out together (group commit), their answers in order.
    @Test func changesArePublishedOnlyOnceDurableAndGroupedWhileAWriteIsInFlight() async throws {
        let store = HeldStore()
        let (_, match) = try await created(.reversi, on: store)
        let watcher = RecordingSubscriber(after: 1)
        _ = match.subscribe(watcher)
        let first = Task { try await match.join(name: "ann") }
        while store.waiting.isEmpty { await Task.yield() }
        let second = Task { try await match.join(name: "bob") }
        // The second join waits behind the first write: not yet written, not yet published.
        try await Task.sleep(for: .milliseconds(50))
        #expect(store.waiting.count == 1)
        #expect(watcher.events.isEmpty)
        #expect(match.version == 1)
        store.completeOne()
        #expect(try await first.value.seat == .first)
        while store.waiting.isEmpty { await Task.yield() }
        #expect(watcher.events.map(\.version) == [2])
        store.completeOne()
        #expect(try await second.value.seat == .second)
        #expect(watcher.events.map(\.version) == [2, 3])
    }

    /// When the store fails, the change is refused with `server/storage_failed`, the match is
    /// rolled back to what was published, nothing is published, and every later change is
    /// refused without touching the match.
    @Test func aStorageFailureRefusesTheChangeAndRollsTheMatchBack() async throws {
        let store = FailingStore()
        let authority = authority(store: store)
        let (match, ann, bob) = try await started(authority)
        let watcher = RecordingSubscriber(after: 3)
        _ = match.subscribe(watcher)
        let before = match.snapshot()
        store.failFromNow()
        let failed = await match.play("4", by: ann.seat)
        #expect(failed.error?.code == .storageFailed)
        #expect(failed.error?.message.contains("disk") == false, "storage internals stay out of client messages")
        #expect(match.snapshot() == before)
        #expect(watcher.events.isEmpty)
        let writes = store.writeCount
        let again = await match.play("4", by: ann.seat)
        #expect(again.error?.code == .storageFailed)
        #expect(store.writeCount == writes, "refused before reaching the store")
        // The other seat's view is the same: it is still ann's turn at version 3.
        let wrongTurn = await match.play("4", by: bob.seat)
        #expect(wrongTurn.error?.code == .storageFailed)
        #expect(match.version == 3)
        await #expect(throws: WireError.self) { _ = try await authority.create(CreateMatchRequest(game: .connect4)) }
    }

    @Test func aTurnClockThatRunsOutEndsTheMatchOnce() async throws {
        let clock = ManualClock()
        let authority = authority(clock: clock)
        let (match, _, _) = try await started(authority, limit: 30)
        let watcher = RecordingSubscriber(after: 3)
        _ = match.subscribe(watcher)
        clock.advance(by: .seconds(29))
        authority.sweep(now: clock.now)
        await authority.drain()
        #expect(match.version == 3)
        clock.advance(by: .seconds(2))
        authority.sweep(now: clock.now)
        authority.sweep(now: clock.now)
        await authority.drain()
        #expect(watcher.events.map(\.change) == [.timedOut(seat: .first), .ended(GameResult(winner: .second, reason: .timeout))])
        #expect(match.turnDeadline == nil)
    }

    @Test func aMoveRestartsTheClockOfTheSeatToMove() async throws {
        let clock = ManualClock()
        let authority = authority(clock: clock)
        let (match, ann, _) = try await started(authority, limit: 30)
        clock.advance(by: .seconds(20))
        _ = try await match.play("4", by: ann.seat).get()
        clock.advance(by: .seconds(20))
        authority.sweep(now: clock.now)
        await authority.drain()
        #expect(match.version == 4, "bob still has 10 s")
        clock.advance(by: .seconds(11))
        authority.sweep(now: clock.now)
        await authority.drain()
        #expect(match.version == 6)
        #expect(match.snapshot().result == GameResult(winner: .first, reason: .timeout))
    }

    /// The snapshot says how long the seat to move has left, while a clock runs, and nothing
    /// once the match is over.
    @Test func theSnapshotTellsTheTimeLeftToMove() async throws {
        let clock = ManualClock()
        let authority = authority(clock: clock)
        let (match, ann, _) = try await started(authority, limit: 30)
        clock.advance(by: .milliseconds(12_250))
        #expect(match.snapshot().turnTimeLeft == 17.75)
        _ = try await match.play("4", by: ann.seat).get()
        #expect(match.snapshot().turnTimeLeft == 30, "bob's clock starts full")
        clock.advance(by: .seconds(31))
        authority.sweep(now: clock.now)
        await authority.drain()
        #expect(match.snapshot().status == .finished)
        #expect(match.snapshot().turnTimeLeft == nil)
    }

    @Test func anIdleMatchIsLetGoAndItsSubscribersAreTold() async throws {
        let clock = ManualClock()
        let authority = authority(clock: clock, configuration: .init(defaultMoveTimeLimit: nil, matchIdleTimeout: .seconds(60)))
        let (match, _, _) = try await started(authority)
        let watcher = RecordingSubscriber(after: 3)
        _ = match.subscribe(watcher)
        clock.advance(by: .seconds(59))
        #expect(await authority.expireIdleMatches(now: clock.now).isEmpty)
        clock.advance(by: .seconds(2))
        #expect(await authority.expireIdleMatches(now: clock.now) == [match.id])
        #expect(watcher.closure == .expired)
        await #expect(throws: WireError(.expiredMatch, "match '\(match.id)' was idle too long and has expired")) { try await authority.match(match.id) }
        #expect(try await authority.store.liveMatches().isEmpty)
    }

    /// A match whose turn clock runs is never let go for idleness: its clock ends it first,
    /// with a result, and only then may it be let go.
    @Test func aMatchWithARunningClockIsNotLetGo() async throws {
        let clock = ManualClock()
        let authority = authority(clock: clock, configuration: .init(defaultMoveTimeLimit: nil, matchIdleTimeout: .seconds(3600)))
        let (match, _, _) = try await started(authority, limit: 7200)
        clock.advance(by: .seconds(3601))
        #expect(await authority.expireIdleMatches(now: clock.now).isEmpty)
        clock.advance(by: .seconds(3600))
        #expect(await authority.expireIdleMatches(now: clock.now).isEmpty, "the clock ran out: timed out, not expired")
        #expect(match.snapshot().result == GameResult(winner: .second, reason: .timeout))
        clock.advance(by: .seconds(3601))
        #expect(await authority.expireIdleMatches(now: clock.now).isEmpty, "a finished match is not live: it never expires")
        #expect(try await authority.match(match.id).snapshot().result == GameResult(winner: .second, reason: .timeout))
    }

    /// After a restart, a match let go before still answers `match/expired`, and new matches
    /// come after every stored one.
    @Test func expiredMatchesAndTheOrderOfMatchesSurviveARestart() async throws {
        let store = MemoryStore()
        let clock = ManualClock()
        let first = authority(store: store, clock: clock, configuration: .init(defaultMoveTimeLimit: nil, matchIdleTimeout: .seconds(60)))
        let old = try await first.create(CreateMatchRequest(game: .connect4)).id
        clock.advance(by: .seconds(61))
        #expect(await first.expireIdleMatches(now: clock.now) == [old])
        let second = authority(store: store)
        try await second.restore()
        await #expect(throws: WireError(.expiredMatch, "match '\(old)' was idle too long and has expired")) { try await second.match(old) }
        let newer = try await second.create(CreateMatchRequest(game: .connect4))
        #expect(try await second.match(newer.id).serial > 1)
        #expect(try await store.matchIDs(limit: 5) == [newer.id, old])
    }

    /// A new match never takes an id already in use, whether the match is held in memory or
    /// only in the store (an old, expired one).
    @Test func aNewMatchDrawsAnotherIdWhenItsIdIsTaken() async throws {
        let store = MemoryStore()
        try await store.write([.match(id: "oldmatch01", serial: 1)])
        let ids = ScriptedIDs(["first00001", "first00001", "oldmatch01", "third00003"])
        let authority = authority(store: store, ids: ids)
        #expect(try await authority.create(CreateMatchRequest(game: .connect4)).id == "first00001")
        #expect(try await authority.create(CreateMatchRequest(game: .connect4)).id == "third00003")
        #expect(try await store.matchIDs(limit: 10) == ["third00003", "first00001", "oldmatch01"])
        #expect(try await store.match("oldmatch01")?.events.isEmpty == true, "the old match's log is untouched")
    }

    @Test func shutdownClosesEveryMatchAndRefusesChanges() async throws {
        let authority = authority()
        let (match, ann, _) = try await started(authority)
        let watcher = RecordingSubscriber(after: 3)
        _ = match.subscribe(watcher)
        authority.shutDown()
        #expect(watcher.closure == .shuttingDown)
        #expect(await match.play("4", by: ann.seat).error?.code == .shuttingDown)
        #expect(match.subscribe(RecordingSubscriber()).closure == .shuttingDown)
        await #expect(throws: WireError.self) { _ = try await authority.create(CreateMatchRequest(game: .connect4)) }
    }

    /// Seat tokens are kept as hashes only: the store holds no token that acts for a seat.
    @Test func seatTokensAreStoredOnlyAsHashes() async throws {
        let store = MemoryStore()
        let (match, ann, bob) = try await started(authority(store: store))
        let stored = try #require(try await store.match(match.id))
        #expect(stored.tokens == [TokenHash.of(ann.token), TokenHash.of(bob.token)])
        #expect(!stored.tokens.contains(ann.token) && !stored.tokens.contains(bob.token))
    }

    /// A restarted authority rebuilds every live match from the store, tokens included.
    @Test func aRestoredAuthorityHasEveryMatchAndToken() async throws {
        let store = MemoryStore()
        let first = authority(store: store)
        let (match, ann, bob) = try await started(first)
        _ = try await match.play("3", by: ann.seat).get()
        let second = authority(store: store)
        try await second.restore()
        let restored = try await second.match(match.id)
        #expect(restored.snapshot() == match.snapshot())
        #expect(try restored.seat(forToken: bob.token) == .second)
        #expect(try await restored.play("3", by: bob.seat).get().version == 5)
        #expect(throws: WireError.self) { try restored.seat(forToken: "not-a-token") }
    }

    /// Plays Connect Four to a win for the first seat (column 1 four times).
    func playToTheEnd(_ match: MatchAuthority, _ ann: SeatGrant, _ bob: SeatGrant) async throws {
        for (index, column) in ["1", "2", "1", "2", "1", "2", "1"].enumerated() {
            _ = try await match.play(column, by: index % 2 == 0 ? ann.seat : bob.seat).get()
        }
        #expect(match.status == .finished)
    }

    /// Memory follows live play: a finished match leaves memory once its result is durable,
    /// and is read back from the store, whole, when asked for; the listing keeps it.
    @Test func aFinishedMatchLeavesMemoryAndIsStillServedFromTheStore() async throws {
        let store = MemoryStore()
        let authority = authority(store: store, configuration: .init(finishedMatchesHeld: 0))
        let (match, ann, bob) = try await started(authority)
        let (other, _, _) = try await started(authority)
        #expect(authority.residentMatchCount == 2)
        try await playToTheEnd(match, ann, bob)
        #expect(authority.residentMatchCount == 1, "the finished match left; the other is still playing")
        #expect(authority.liveMatchCount == 1)
        #expect(try authority.resident(match.id) == nil)
        #expect(try authority.resident(other.id) === other)
        #expect(try await store.match(match.id)?.finished == true, "marked finished with its last event")
        #expect(try await store.liveMatches().map(\.id) == [other.id])
        // Read back: the same snapshot, the same bytes, the same tokens; it refuses moves as before.
        let loaded = try await authority.match(match.id)
        #expect(loaded !== match)
        #expect(loaded.snapshot() == match.snapshot())
        #expect(Array(loaded.storedEvents(after: 0)) == Array(match.storedEvents(after: 0)))
        #expect(try loaded.seat(forToken: bob.token) == .second)
        #expect(await loaded.play("3", by: bob.seat).error?.code == .finished)
        #expect(authority.residentMatchCount == 1, "held no longer than it is used")
        // Listed still, by its last snapshot, newest first.
        #expect(authority.matches().map(\.id) == [other.id, match.id])
        #expect(authority.matches(status: .finished) == [match.snapshot()])
        await #expect(throws: WireError(.unknownMatch, "no match has the id 'nosuchmatch'")) { try await authority.match("nosuchmatch") }
    }

    /// A few finished matches stay whole, the most recently used; the others are read again.
    @Test func recentlyFinishedMatchesAreHeldUpToTheirLimit() async throws {
        let authority = authority(configuration: .init(finishedMatchesHeld: 2))
        var finished: [MatchAuthority] = []
        for _ in 0..<3 {
            let (match, ann, bob) = try await started(authority)
            try await playToTheEnd(match, ann, bob)
            finished.append(match)
        }
        #expect(authority.residentMatchCount == 2)
        #expect(try authority.resident(finished[0].id) == nil, "the least recently finished left first")
        #expect(try authority.resident(finished[2].id) === finished[2])
        let reread = try await authority.match(finished[0].id)
        #expect(reread.snapshot() == finished[0].snapshot())
        #expect(try authority.resident(finished[0].id) === reread, "held again once asked for")
        #expect(try authority.resident(finished[1].id) == nil)
    }

    /// After a restart only unfinished matches are rebuilt; finished ones are listed and read
    /// on demand. A store written before matches were marked finished is marked on restore.
    @Test func aRestartRebuildsOnlyUnfinishedMatches() async throws {
        let store = MemoryStore()
        let first = authority(store: store)
        let (done, ann, bob) = try await started(first)
        try await playToTheEnd(done, ann, bob)
        let (playing, _, _) = try await started(first)
        // An old log with a result but no `finished` mark (as a file of schema 2 has).
        let old = "oldfinish1"
        try await store.write([.match(id: old, serial: 99)] + (try await store.match(done.id)!.events.enumerated().map {
            .event(match: old, version: $0.offset + 1, json: $0.element)
        }))
        let second = authority(store: store)
        try await second.restore()
        #expect(second.liveMatchCount == 1)
        #expect(try second.resident(playing.id) != nil)
        #expect(try await store.match(old)?.finished == true, "marked on restore")
        #expect(second.matches(status: .finished).map(\.id) == [old, done.id])
        #expect(try await second.match(done.id).snapshot() == done.snapshot())
        #expect(second.matches().map(\.id) == [old, playing.id, done.id])
    }
}

extension Result {
    var error: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

struct SeatTokenTests {
    @Test(arguments: [
        ("Bearer abc", "abc"), ("bearer abc", "abc"), ("BEARER  abc  ", "abc"), ("Bearer a b", "a b"),
        ("Bearer ", nil), ("Bearer", nil), ("Basic abc", nil), ("Bearerabc", nil), ("", nil),
    ] as [(String, String?)])
    func theTokenOfABearerHeader(_ header: String, _ token: String?) {
        #expect(SeatToken.bearer(header) == token)
    }

    @Test func tokensAreLongRandomAndURLSafe() {
        let tokens = (0..<100).map { _ in SeatToken.generate() }
        #expect(Set(tokens).count == 100)
        #expect(tokens.allSatisfy { $0.count == 32 && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" } })
        #expect(SeatToken.matches(tokens[0], hash: TokenHash.of(tokens[0])))
        #expect(!SeatToken.matches(tokens[0], hash: TokenHash.of(tokens[1])))
        #expect(TokenHash.isHash(TokenHash.of(tokens[0])) && !TokenHash.isHash(tokens[0]))
    }
}
