import Foundation
import Logging
@testable import PlyAuthority
import PlyEngine
import PlyStore
import PlyWire
import Synchronization
import Testing

/// Several authorities in one process over one `SharedMemoryStore`, as several servers share
/// PostgreSQL: the shared-store path of the authority with no database (the cluster tests run
/// it end to end on PostgreSQL behind nginx).
@Suite(.timeLimit(.minutes(1)))
struct SharedStoreTests {
    /// Authorities over one shared store, each following what the others write.
    final class Cluster: Sendable {
        let database: SharedMemoryStore
        let connections: [SharedMemoryStore.Connection]
        let authorities: [Authority]
        private let followers: [Task<Void, Never>]

        init(_ count: Int) {
            let database = SharedMemoryStore()
            self.database = database
            connections = (0..<count).map { _ in database.connect() }
            authorities = connections.map { Authority(store: $0, clock: .system, logger: .quiet) }
            followers = authorities.map { authority in Task { await authority.follow() } }
        }

        subscript(index: Int) -> Authority { authorities[index] }

        func close() async {
            for connection in connections { await connection.close() }
            for follower in followers { await follower.value }
        }
    }

    /// Waits, within a bound no loaded machine reaches, for a condition.
    func eventually(_ what: String, _ condition: () async -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while await !condition() {
            guard ContinuousClock.now < deadline else { throw Timeout(what: what) }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    struct Timeout: Error { let what: String }

    /// A Connect Four match created on the first authority with both seats taken there.
    func started(_ cluster: Cluster) async throws -> (id: String, ann: SeatGrant, bob: SeatGrant) {
        let id = try await cluster[0].create(CreateMatchRequest(game: .connect4)).id
        let match = try await cluster[0].match(id)
        return (id, try await match.join(name: "ann"), try await match.join(name: "bob"))
    }

    /// A match as authority `index` holds it, once it holds what the store holds: it may have
    /// read the match when the news of its creation came, a moment before the joins, and a
    /// spectator is let in on what it holds (a token or version it has not seen makes it read
    /// the store), so it reads the store's tail first.
    func follower(_ cluster: Cluster, _ index: Int, _ id: String) async throws -> MatchAuthority {
        let match = try await cluster[index].admit(to: id, as: .none).get().match
        await match.refresh()
        return match
    }

    func log(_ match: MatchAuthority) -> [String] {
        match.storedEvents(after: 0).map { String(buffer: $0) }
    }

    @Test func anotherAuthorityFollowsWhatOneWrites() async throws {
        let cluster = Cluster(2)
        let (id, ann, _) = try await started(cluster)
        let onB = try await follower(cluster, 1, id)
        let watcher = RecordingSubscriber(after: 3)
        _ = onB.subscribe(watcher)
        _ = try await cluster[0].match(id).play("4", by: ann.seat).get()
        try await eventually("B publishes A's move") { watcher.cursor == 4 }
        #expect(watcher.events.last?.change == .moved(seat: .first, move: "4"))
        #expect(log(onB) == log(try await cluster[0].match(id)))
        await cluster.close()
    }

    /// One seat's two commands against the same version, on two authorities at once: the store
    /// takes one; the other is decided again against it and refused as stale. Both authorities
    /// end with the same log, the one the store holds.
    @Test func commandsRacingForOneVersionOnTwoAuthoritiesAreDecidedOnce() async throws {
        let cluster = Cluster(2)
        let (id, ann, _) = try await started(cluster)
        let onA = try await cluster[0].match(id)
        let onB = try await follower(cluster, 1, id)
        for round in 0..<20 {
            let version = onA.version
            guard onA.status == .playing else { break }
            let seat = onA.snapshot().turn ?? ann.seat
            async let first = onA.submit(Command(.play(String(round % 7 + 1)), version: version), by: seat)
            async let second = onB.submit(Command(.play(String((round + 3) % 7 + 1)), version: version), by: seat)
            let results = [await first, await second]
            let acknowledged = results.filter { if case .success = $0 { true } else { false } }
            #expect(acknowledged.count == 1, "\(results) at \(version)")
            for case .failure(let error) in results { #expect(error.code == .staleVersion || error.code == .finished, "\(error)") }
            try await eventually("both at the same version") { onA.version == onB.version }
        }
        #expect(log(onA) == log(onB))
        let stored = try #require(try await cluster.connections[0].match(id))
        #expect(stored.events.map { String(buffer: $0) } == log(onA))
        await cluster.close()
    }

    /// An authority that lost a notification learns of what it missed when a client names a
    /// version it has not seen (admission reads the store), when a command comes against such a
    /// version, and when its listener reconnects (`resync`).
    @Test func aLostNotificationIsMadeUpForByReading() async throws {
        let cluster = Cluster(2)
        let (id, ann, bob) = try await started(cluster)
        let onA = try await cluster[0].match(id)
        let onB = try await follower(cluster, 1, id)
        // The read a match starts when it is loaded, done before B goes deaf.
        await onB.refresh()
        cluster.connections[1].deafen()
        _ = try await onA.play("4", by: ann.seat).get()
        try await Task.sleep(for: .milliseconds(50))
        #expect(onB.version == 3, "deaf: it did not hear of version 4")
        // A client saw version 4 through A and polls B after it.
        #expect(cluster[1].admission(to: id, as: .none, after: "4") == nil, "the store must be read first")
        let admitted = try await cluster[1].admit(to: id, as: .none, after: "4").get()
        #expect(admitted.after == 4 && onB.version == 4)
        // A command against a version B has not seen.
        _ = try await onA.play("4", by: bob.seat).get()
        let ack = try await onB.execute(Command(.play("5"), version: 5), by: ann.seat)
        #expect(ack.version == 6)
        try await eventually("A hears of B's move") { onA.version == 6 }
        // The listener reconnects: every held match reads its tail.
        _ = try await onA.play("5", by: bob.seat).get()
        #expect(onB.version == 6)
        cluster.connections[1].resync()
        try await eventually("B reads what it missed") { onB.version == 7 }
        #expect(log(onA) == log(onB))
        await cluster.close()
    }

    /// News that comes while the store is being read, of a version the read did not find (it
    /// was written after the read took the tail), is read next: it is not spent by the read
    /// that missed it. (The storm through nginx caught a client waiting 30 s for a join another
    /// instance wrote while this one was reading the match it had just loaded.)
    @Test func newsThatComesDuringAReadIsReadAfterIt() async throws {
        let cluster = Cluster(2)
        let (id, ann, _) = try await started(cluster)
        let onA = try await cluster[0].match(id)
        let onB = try await follower(cluster, 1, id)
        await onB.refresh()
        let watcher = RecordingSubscriber(after: 3)
        _ = onB.subscribe(watcher)
        cluster.connections[1].holdNextTail()
        onB.follow(to: nil)
        try await eventually("B's read has taken the tail") { cluster.connections[1].isHoldingTail }
        _ = try await onA.play("4", by: ann.seat).get()
        try await Task.sleep(for: .milliseconds(50))
        #expect(onB.version == 3, "the read in flight holds the match")
        cluster.connections[1].answerHeldTail()
        try await eventually("B reads the move it heard of during its read") { watcher.cursor == 4 }
        #expect(log(onA) == log(onB))
        await cluster.close()
    }

    /// A client names each version the moment one authority acknowledges it, on another that
    /// may not have published it yet (its notification is on the way): it is always admitted,
    /// read from the store when it must be. (The cluster test of games across instances caught
    /// the version read twice in one judgement, once before and once after a publication.)
    @Test func aVersionNamedAsItIsPublishedIsAdmitted() async throws {
        let cluster = Cluster(2)
        let (id, ann, bob) = try await started(cluster)
        let onA = try await cluster[0].match(id)
        _ = try await cluster[1].admit(to: id, as: .none).get()
        var seat = ann.seat
        for round in 0..<30 {
            guard onA.status == .playing else { break }
            let ack = try await onA.play(String(round % 7 + 1), by: seat).get()
            seat = seat == ann.seat ? bob.seat : ann.seat
            let admitted = await cluster[1].admit(to: id, as: .none, after: String(ack.version))
            guard case .success(let admission) = admitted else { Issue.record("refused at \(ack.version): \(admitted)"); break }
            #expect(admission.after == ack.version)
        }
        await cluster.close()
    }

    /// A seat taken on one authority a moment ago is admitted on another that had not heard of
    /// it: the token is judged again once the store is read. A token of no seat is still refused,
    /// after the read, with the match's version.
    @Test func aTokenGrantedElsewhereIsJudgedAgainAfterReading() async throws {
        let cluster = Cluster(2)
        let id = try await cluster[0].create(CreateMatchRequest(game: .connect4)).id
        let onA = try await cluster[0].match(id)
        _ = try await onA.join(name: "ann")
        let onB = try await follower(cluster, 1, id)
        await onB.refresh()
        cluster.connections[1].deafen()
        let bob = try await onA.join(name: "bob")
        #expect(cluster[1].admission(to: id, as: .authorization("Bearer \(bob.token)")) == nil, "read the store before refusing")
        let admitted = try await cluster[1].admit(to: id, as: .authorization("Bearer \(bob.token)")).get()
        #expect(admitted.seat == bob.seat && admitted.match === onB)
        let refused = await cluster[1].admit(to: id, as: .token("not-a-token"))
        guard case .failure(let error) = refused else { Issue.record("a wrong token was admitted"); return }
        #expect(error.code == .wrongToken && error.version == 3)
        await cluster.close()
    }

    /// A whole game, each move sent to the next of three authorities: all three and the store
    /// end with the same log, the match finished everywhere.
    @Test func aGamePlayedThroughThreeAuthoritiesEndsTheSameOnAll() async throws {
        let cluster = Cluster(3)
        let (id, ann, bob) = try await started(cluster)
        var matches: [MatchAuthority] = []
        for index in cluster.authorities.indices { matches.append(try await follower(cluster, index, id)) }
        var version = 3
        for (index, column) in ["1", "2", "1", "2", "1", "2", "1"].enumerated() {
            let ack = try await matches[index % 3].execute(Command(.play(column), version: version), by: index % 2 == 0 ? ann.seat : bob.seat)
            version = ack.version
        }
        #expect(version == 11)
        for match in matches {
            try await eventually("every authority reaches the end") { match.version == 11 }
            #expect(match.status == .finished)
            #expect(log(match) == log(matches[0]))
        }
        await cluster.close()
    }

    /// Every authority holds the store's log of a match, byte for byte.
    func agree(_ cluster: Cluster, _ id: String, _ matches: [MatchAuthority]) async throws {
        let stored = cluster.database.events(of: id).map { String(buffer: $0) }
        for match in matches {
            try await eventually("every authority holds the store's log") { log(match) == stored }
        }
    }

    /// A write whose answer is lost after the store applied it: the writer is told it failed, so
    /// it acknowledges and publishes nothing; it hears of the write as of another's and ends
    /// where the store is, with the other authority; the command sent again is refused as stale.
    @Test func aWriteWhoseAnswerIsLostAfterItWasAppliedEndsWithEveryoneAgreeing() async throws {
        let cluster = Cluster(2)
        let (id, ann, _) = try await started(cluster)
        let onA = try await cluster[0].match(id)
        let onB = try await follower(cluster, 1, id)
        cluster.connections[0].loseNextAnswer(afterApplying: true)
        let first = await onA.submit(Command(.play("4"), version: 3), by: ann.seat)
        guard case .failure(let error) = first else { Issue.record("acknowledged a write whose answer was lost"); return }
        #expect(error.code == .storeUnavailable)
        try await agree(cluster, id, [onA, onB])
        #expect(onA.version == 4)
        let again = await onA.submit(Command(.play("4"), version: 3), by: ann.seat)
        guard case .failure(let stale) = again else { Issue.record("applied twice"); return }
        #expect(stale.code == .staleVersion)
        await cluster.close()
    }

    /// A write whose answer is lost before the store saw it: nothing is made anywhere, and the
    /// command sent again is played.
    @Test func aWriteWhoseAnswerIsLostBeforeItWasAppliedChangesNothing() async throws {
        let cluster = Cluster(2)
        let (id, ann, _) = try await started(cluster)
        let onA = try await cluster[0].match(id)
        let onB = try await follower(cluster, 1, id)
        cluster.connections[0].loseNextAnswer(afterApplying: false)
        guard case .failure = await onA.submit(Command(.play("4"), version: 3), by: ann.seat) else { Issue.record("acknowledged"); return }
        #expect(onA.version == 3 && onB.version == 3 && cluster.database.events(of: id).count == 3)
        #expect(try await onA.play("4", by: ann.seat).get().version == 4)
        try await agree(cluster, id, [onA, onB])
        await cluster.close()
    }

    /// The database loses the end of a match (a restore from an older backup) and tells no one:
    /// the authorities that published it are ahead. When their listeners reconnect they find it
    /// out, take the database's history, and tell their subscribers to go back; play goes on
    /// from there, and every authority and the store agree.
    @Test func authoritiesAheadOfTheDatabaseTakeItsHistoryWhenTheirListenersReconnect() async throws {
        let cluster = Cluster(2)
        let (id, ann, bob) = try await started(cluster)
        let onA = try await cluster[0].match(id)
        let onB = try await follower(cluster, 1, id)
        let watchers = [RecordingSubscriber(after: 3), RecordingSubscriber(after: 3)]
        _ = onA.subscribe(watchers[0])
        _ = onB.subscribe(watchers[1])
        _ = try await onA.play("4", by: ann.seat).get()
        _ = try await onA.play("4", by: bob.seat).get()
        _ = try await onA.play("5", by: ann.seat).get()
        try await eventually("B follows to 6") { onB.version == 6 }
        cluster.database.forget(id, after: 4)
        for connection in cluster.connections { connection.resync() }
        try await agree(cluster, id, [onA, onB])
        #expect(onA.version == 4 && onB.version == 4)
        for watcher in watchers {
            try await eventually("told to go back") { watcher.rollbacks == [4] }
            #expect(watcher.events.map(\.version) == [4] && watcher.cursor == 4)
        }
        // A client that saw version 6 is told what became of it.
        guard case .failure(let error) = await cluster[1].admit(to: id, as: .none, after: "6") else { Issue.record("admitted after 6"); return }
        #expect(error.code == .rolledBack && error.version == 4)
        // Play goes on from the database's version, on either authority.
        #expect(try await onB.play("1", by: bob.seat).get().version == 5)
        try await agree(cluster, id, [onA, onB])
        await cluster.close()
    }

    /// News of a version the database no longer has (its events were lost after they were
    /// announced, as when a listener hears of a write just before a restore) is spent by one
    /// read: it once had the authority read the store again and again, for good, while the
    /// commands queued behind the reads were never decided.
    @Test func newsOfAVersionTheDatabaseNoLongerHasIsReadOnce() async throws {
        let cluster = Cluster(2)
        let (id, ann, bob) = try await started(cluster)
        let onA = try await cluster[0].match(id)
        let onB = try await follower(cluster, 1, id)
        _ = try await onA.play("4", by: ann.seat).get()
        try await eventually("B follows to 4") { onB.version == 4 }
        let writesBefore = cluster.connections[1].writeCount
        onB.follow(to: 9)
        let played = Task { try await onB.play("5", by: bob.seat).get().version }
        try await eventually("the move queued behind the read is decided") { onB.version == 5 }
        #expect(try await played.value == 5)
        #expect(cluster.connections[1].writeCount == writesBefore + 1)
        try await agree(cluster, id, [onA, onB])
        await cluster.close()
    }

    /// A client that names a version beyond the match after a rollback saw events of the lost
    /// history, and not only beyond today's version: once the new history has grown past where
    /// the old one forked, it is sent back to the version the rollback kept, so that it drops
    /// every event it may hold of the lost history (it once went back only to today's version,
    /// kept an event of the lost history below it, and its bot played into a full column).
    @Test func aClientBeyondTheMatchAfterARollbackGoesBackToWhereItForked() async throws {
        let cluster = Cluster(2)
        let (id, ann, bob) = try await started(cluster)
        let onA = try await cluster[0].match(id)
        let onB = try await follower(cluster, 1, id)
        for (move, seat) in [("4", ann.seat), ("4", bob.seat), ("5", ann.seat), ("5", bob.seat)] { _ = try await onA.play(move, by: seat).get() }
        try await eventually("B follows to 7") { onB.version == 7 }
        cluster.database.forget(id, after: 4)
        for connection in cluster.connections { connection.resync() }
        try await agree(cluster, id, [onA, onB])
        #expect(onA.version == 4)
        // The new history: two moves, so the match is at 6 again, with other events at 5 and 6.
        _ = try await onA.play("1", by: bob.seat).get()
        _ = try await onA.play("2", by: ann.seat).get()
        try await eventually("B follows to 6") { onB.version == 6 }
        // A client of the lost history, at 7: told to go back to 4, not to 6.
        guard case .failure(let error) = await cluster[1].admit(to: id, as: .none, after: "7") else { Issue.record("admitted after 7"); return }
        #expect(error.code == .rolledBack && error.version == 4, "\(error)")
        let refused = await onB.submit(Command(.play("3"), version: 7), by: bob.seat)
        guard case .failure(let commandError) = refused else { Issue.record("a command after 7 was acknowledged"); return }
        #expect(commandError.code == .rolledBack && commandError.version == 4, "\(commandError)")
        // A client that has today's history resumes as ever.
        #expect(try await cluster[1].admit(to: id, as: .none, after: "6").get().after == 6)
        await cluster.close()
    }

    /// An authority ahead of the database finds out from a conflict: its next change names the
    /// event it was decided after, which the database does not have. It takes the database's
    /// history; the command, decided again, is refused as stale; nothing it acknowledged before
    /// the loss was the database's to keep (the test's database lost it).
    @Test func anAuthorityAheadOfTheDatabaseFindsOutFromAConflict() async throws {
        let cluster = Cluster(2)
        let (id, ann, bob) = try await started(cluster)
        let onA = try await cluster[0].match(id)
        _ = try await onA.play("4", by: ann.seat).get()
        _ = try await onA.play("4", by: bob.seat).get()
        cluster.database.forget(id, after: 4)
        let watcher = RecordingSubscriber(after: 5)
        _ = onA.subscribe(watcher)
        let refused = await onA.submit(Command(.play("5"), version: 5), by: ann.seat)
        guard case .failure(let error) = refused else { Issue.record("a change built on a lost event was acknowledged"); return }
        #expect(error.code == .staleVersion, "\(error)")
        #expect(onA.version == 4 && watcher.rollbacks == [4])
        try await agree(cluster, id, [onA])
        // Bob's move, lost with the database, is his to play again.
        #expect(try await onA.play("6", by: bob.seat).get().version == 5)
        await cluster.close()
    }

    /// An authority ahead of the database finds out from another's notification: a third one,
    /// which loaded the match after the loss, plays the version the other two had; they hear
    /// of a version they have published already, read, and take the database's history. Never
    /// two histories of one match.
    @Test func anAuthorityAheadOfTheDatabaseFindsOutFromAnothersNotification() async throws {
        let cluster = Cluster(3)
        // The third hears of nothing: it holds the match only once it loads it, after the loss.
        cluster.connections[2].deafen()
        let (id, ann, bob) = try await started(cluster)
        let onA = try await cluster[0].match(id)
        let onB = try await follower(cluster, 1, id)
        _ = try await onA.play("4", by: ann.seat).get()
        _ = try await onA.play("4", by: bob.seat).get()
        try await eventually("B follows to 5") { onB.version == 5 }
        cluster.database.forget(id, after: 4)
        let onC = try await follower(cluster, 2, id)
        #expect(onC.version == 4)
        #expect(try await onC.play("7", by: bob.seat).get().version == 5)
        try await agree(cluster, id, [onA, onB, onC])
        #expect(log(onA).last?.contains(#""move":"7""#) == true)
        await cluster.close()
    }

    /// A write the store cannot take fails alone: the change is made nowhere, the authority that
    /// tried goes on serving, and the same command succeeds once the store is back.
    @Test func aWriteTheStoreCannotTakeFailsAlone() async throws {
        let cluster = Cluster(2)
        let (id, ann, _) = try await started(cluster)
        let onB = try await follower(cluster, 1, id)
        cluster.connections[1].failWrites(true)
        let failed = await onB.play("4", by: ann.seat)
        guard case .failure(let error) = failed else { Issue.record("a failed write was acknowledged"); return }
        #expect(error.code == .storeUnavailable)
        #expect(onB.version == 3)
        #expect(try await cluster[0].match(id).version == 3)
        cluster.connections[1].failWrites(false)
        #expect(try await onB.play("4", by: ann.seat).get().version == 4)
        await cluster.close()
    }
}
