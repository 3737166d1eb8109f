import Foundation
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
    @Test(arguments: [(Transport.webSocket, Transport.longPoll), (.longPoll, .webSocket), (.webSocket, .webSocket), (.longPoll, .longPoll)])
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
}
