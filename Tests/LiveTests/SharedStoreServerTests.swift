import Foundation
import PlyBots
import PlyClient
import PlyEngine
import PlyServer
import PlyStore
import PlyWire
import Testing

/// Two servers in one process over one in-memory shared store, as two instances share
/// PostgreSQL: the transports and the admission step on the shared-store path, with no database
/// or proxy (the cluster tests run the same on PostgreSQL behind nginx).
@Suite(.timeLimit(.minutes(1)))
struct SharedStoreServerTests {
    /// Each seat on its own server and its own transport: a whole drawn game, both seats and
    /// both servers ending with the same log.
    @Test(arguments: TransportGameTests.pairs)
    func aGameWithEachSeatOnAnotherServer(first: Transport, second: Transport) async throws {
        let database = SharedMemoryStore()
        try await LiveServer.run(store: database.connect()) { a in
            try await LiveServer.run(store: database.connect()) { b in
                let id = try await a.createMatch()
                let ann = try await a.join(id, "ann")
                // Joined through the other server: its token is one the first has not seen.
                let bob = try await b.join(id, "bob")
                async let annSaw = SeatDriver.play(first, on: a, match: id, grant: ann, choose: drawnGame)
                async let bobSaw = SeatDriver.play(second, on: b, match: id, grant: bob, choose: drawnGame)
                let (annEvents, bobEvents) = try await (annSaw, bobSaw)
                #expect(annEvents.count == 46 && annEvents == bobEvents)
                #expect(try await a.log(id) == annEvents)
                #expect(try await b.log(id) == annEvents)
            }
        }
    }

    /// A bot that stopped, with what its connection had seen last.
    struct BotFailure: Error, CustomStringConvertible {
        let seat: Int
        let error: String
        let log: [String]
        var description: String { "seat \(seat)'s bot stopped: \(error); its last events: \(log.joined(separator: ", "))" }
    }

    /// A server's counters of commands, conflicts and rollbacks, for a stalled test's report.
    static func counters(_ server: LiveServer) async -> String {
        let text = (try? await server.request(.get, "/metrics").body) ?? ""
        return text.split(separator: "\n").filter { $0.hasPrefix("ply_store_conflicts_total") || $0.hasPrefix("ply_rollbacks_total")
            || ($0.hasPrefix("ply_commands_total") && !$0.hasSuffix(" 0.0")) }.joined(separator: ", ")
    }

    /// Two servers ahead of their database (it lost the end of a match, as a restore from an
    /// older backup would, and told no one) while a raw WebSocket watches and a poll waits, and
    /// ply's own clients play: when the servers' listeners reconnect they take the database's
    /// history; the WebSocket is told `rolled_back` and gets the database's events after it, the
    /// waiting poll is answered `match/rolled_back`, a poll after a lost version is told the
    /// same, and the bots (one seat on each server and transport) play on to the end, every log
    /// the database's.
    @Test func clientsOfServersAheadOfTheDatabaseAreToldAndPlayOn() async throws {
        let database = SharedMemoryStore()
        let stores = [database.connect(), database.connect()]
        try await LiveServer.run(store: stores[0]) { a in
            try await LiveServer.run(store: stores[1]) { b in
                let (id, ann, bob) = try await a.startedMatch()
                var version = 3
                for (index, column) in ["1", "2", "3"].enumerated() {
                    let reply = try await a.request(.post, "/matches/\(id)/commands", body: #"{"move":"\#(column)","type":"play","v":\#(version)}"#,
                                                    token: index % 2 == 0 ? ann.token : bob.token)
                    version = try reply.decode(Acknowledgement.self).version
                }
                let watcher = try await a.webSocket("/matches/\(id)/ws?after=0")
                while let message = try await watcher.next() { if case .event(let event) = message, event.version == 6 { break } }
                let waiting = Task { try await b.request(.get, "/matches/\(id)/events?after=6&wait=20") }
                try await waitFor { b.server.health().waitingPolls == 1 }
                database.forget(id, after: 4)
                for store in stores { store.resync() }
                var afterRollback: [ServerMessage] = []
                while let message = try await watcher.next() {
                    afterRollback.append(message)
                    if case .rolledBack = message { break }
                }
                #expect(afterRollback.last == .rolledBack(RolledBack(version: 4)), "\(afterRollback)")
                let answered = try await waiting.value
                #expect(answered.status == 409 && answered.errorCode == "match/rolled_back", "\(answered.body)")
                #expect(try answered.decode(WireError.self).version == 4)
                let late = try await a.request(.get, "/matches/\(id)/events?after=5&wait=0")
                #expect(late.status == 409 && late.errorCode == "match/rolled_back")
                let (logA, logB) = (try await a.log(id), try await b.log(id))
                #expect(logA.count == 4 && logB.count == 4)
                watcher.link.close()

                // ply's clients, one seat on each server, through a second loss mid-game.
                let seats = [
                    try await MatchConnection.open(to: a.endpoint, match: id, seat: (ann.seat, ann.token), transport: .over(.webSocket)),
                    try await MatchConnection.open(to: b.endpoint, match: id, seat: (bob.seat, bob.token), transport: .over(.longPoll)),
                ]
                let loss = Task {
                    try await waitFor { seats[0].lastVersion >= 12 }
                    database.forget(id, after: seats[0].lastVersion - 3)
                    for store in stores { store.resync() }
                }
                // Should the game stall, say where each side stood (a bound no loaded machine reaches).
                let watchdog = Task {
                    try await Task.sleep(for: .seconds(40))
                    let (logA, logB) = (try? await a.log(id).count, try? await b.log(id).count)
                    Issue.record("""
                        the game stalled: seat 0 at v\(seats[0].lastVersion) \(seats[0].state), seat 1 at v\(seats[1].lastVersion) \(seats[1].state); \
                        server a \(logA ?? -1) events, b \(logB ?? -1), the database \(database.events(of: id).count); \
                        seat 0 saw \(seats[0].log.suffix(4).map(\.version)), seat 1 \(seats[1].log.suffix(4).map(\.version)), \
                        the last events: \((try? await a.log(id).suffix(2)).map { "\($0)" } ?? "-"); \
                        metrics a: \(await Self.counters(a)), b: \(await Self.counters(b))
                        """)
                    for seat in seats { seat.close() }
                }
                // Both bots at once: the first to fail says why at once (awaited in turn, one
                // bot's error would leave the test waiting on the other, which waits for its move).
                let games = try await withThrowingTaskGroup(of: (Int, BotGame).self) { group in
                    for (index, seed) in [(0, UInt64(3)), (1, 4)] {
                        group.addTask {
                            do {
                                return (index, try await BotPlayer(strategy: .random, seed: seed, thinkTime: .milliseconds(2) ... .milliseconds(6)).play(seats[index]))
                            } catch {
                                throw BotFailure(seat: index, error: "\(error)", log: seats[index].log.suffix(6).map { "\($0)" })
                            }
                        }
                    }
                    var games: [Int: BotGame] = [:]
                    for try await (index, game) in group { games[index] = game }
                    return [games[0], games[1]].compactMap { $0 }
                }
                watchdog.cancel()
                try await loss.value
                let stored = try database.events(of: id).map { try WireCoding.decoder.decode(MatchEvent.self, from: $0) }
                #expect(games[0].log == stored && games[1].log == stored, "both seats ended with the database's log")
                let (finalA, finalB) = (try await a.log(id), try await b.log(id))
                #expect(finalA == stored && finalB == stored)
                #expect(stored.last.map { if case .ended = $0.change { true } else { false } } == true)
                for server in [a, b] {
                    let line = try await server.request(.get, "/metrics").body.split(separator: "\n").first { $0.hasPrefix("ply_rollbacks_total ") }
                    #expect(line.flatMap { Int($0.split(separator: " ")[1]) } == 2, "each server took the database's history twice: \(line ?? "none")")
                }
            }
        }
    }
}
