import Foundation
import PlyBots
import PlyClient
import PlyEngine
import PlyRelay
import PlyWire
import Testing

/// Battleship over the wire: every byte each seat and a spectator receive, recorded at their
/// sockets, holds no square of a fleet they may not see until the game shows it: not in
/// events, not after reconnecting with `after=V`, not in snapshots or logs read midway.
/// (Event streams are checked square by square; snapshots, which list every legal shot, are
/// read on connections of their own and checked for the fleets' ships and grids.)
@Suite(.timeLimit(.minutes(1)))
struct HiddenInformationTests {
    /// Seat 0's fleet in columns a and c, seat 1's in h and j; columns e and f are water on both
    /// grids. Seat 0 fires only into water, seat 1 only at seat 0's ships, so a square of seat
    /// 1's fleet is named by nothing but its placement and the end, and a square of seat 0's
    /// only by its placement, the shot that hits it and the end.
    static let fleets = ["a1-a5 a7-a10 c1-c3 c5-c7 c9-c10", "j1-j5 j7-j10 h1-h3 h5-h7 h9-h10"]
    static let water = (1...10).map { "e\($0)" } + (1...7).map { "f\($0)" }

    static func squares(of fleet: String) throws -> [String] {
        try Battleship.fleet(notation: fleet).flatMap(\.squares).map(\.notation)
    }

    /// Whether a square is named in the bytes: between JSON's or a fleet's delimiters, so that
    /// `a1` is not found in `a10`, nor in base64 or a date.
    static func names(_ bytes: ArraySlice<UInt8>, _ square: String) -> Bool {
        let delimiters: Set<UInt8> = [UInt8(ascii: "\""), UInt8(ascii: " "), UInt8(ascii: "-")]
        let needle = Array(square.utf8)
        guard bytes.count >= needle.count + 2 else { return false }
        var index = bytes.startIndex + 1
        while index + needle.count < bytes.endIndex {
            if delimiters.contains(bytes[index - 1]), delimiters.contains(bytes[index + needle.count]),
               bytes[index..<index + needle.count].elementsEqual(needle) {
                return true
            }
            index += 1
        }
        return false
    }

    /// Waits until a connection has every event up to a version.
    func caughtUp(_ connection: MatchConnection, to version: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while connection.lastVersion < version {
            guard ContinuousClock.now < deadline else {
                Issue.record("a connection stayed at version \(connection.lastVersion), short of \(version)")
                return
            }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    @Test(arguments: [SeatTransports.same(.over(.webSocket)), .same(.over(.serverSentEvents)), .same(.over(.longPoll)), .mixed,
                      .each(.serverSentEvents, .longPoll)])
    func noClientReceivesASquareOfAFleetItMayNotSee(_ transports: SeatTransports) async throws {
        try await LiveServer.run { server in
            // Recording relays per client (seat 0, seat 1, the spectator): one for its match
            // connection, one for the snapshots and logs it reads midway.
            var relays: [TCPRelay] = [], readerRelays: [TCPRelay] = []
            for _ in 0..<3 {
                relays.append(try await TCPRelay.start(to: "127.0.0.1", port: server.port, recording: true))
                readerRelays.append(try await TCPRelay.start(to: "127.0.0.1", port: server.port, recording: true))
            }
            let endpoints = relays.map { Endpoint(host: "127.0.0.1", port: $0.port) }
            let api = PlyAPI(endpoint: server.endpoint)
            let match = try await api.createMatch(.battleship).id
            let options = ConnectionOptions(backoff: Backoff(initial: .milliseconds(2), maximum: .milliseconds(20)))
            var seats: [MatchConnection] = []
            var tokens: [String] = []
            for (index, name) in ["ann", "bob"].enumerated() {
                let grant = try await api.join(match, name: name)
                tokens.append(grant.token)
                seats.append(try await MatchConnection.open(to: endpoints[index], match: match, seat: (grant.seat, grant.token),
                                                            transport: transports.choice(for: grant.seat), options: options))
            }
            await api.close()
            // The spectator on the next transport from seat 0's.
            let spectator = try await MatchConnection.open(to: endpoints[2], match: match,
                                                           transport: .over(transports.choice(for: .first).preferred.next), options: options)
            try await caughtUp(seats[1], to: 3)
            // Placed at once by both; a placement does not depend on the version.
            let (first, second) = (seats[0], seats[1])
            async let placedFirst = first.send(Command(.place(Self.fleets[0]), version: 3))
            async let placedSecond = second.send(Command(.place(Self.fleets[1]), version: 3))
            _ = try await (placedFirst, placedSecond)

            let targets = try Self.squares(of: Self.fleets[0])
            var version = 5
            // Bytes each relay had forwarded before seat 1 fired at seat 0's square k.
            var before: [[Int]] = [[], [], []]
            for (shot, target) in targets.enumerated() {
                try await caughtUp(seats[0], to: version)
                version = try await seats[0].send(Command(.play(Self.water[shot]), version: version)).version
                try await caughtUp(seats[1], to: version)
                for (index, relay) in relays.enumerated() { before[index].append(relay.received.count) }
                if shot == 8 {
                    // Midway: every client reads the snapshot and the log as itself, through its relay...
                    for (index, relay) in readerRelays.enumerated() {
                        let reader = PlyAPI(endpoint: Endpoint(host: "127.0.0.1", port: relay.port))
                        let token = tokens.indices.contains(index) ? tokens[index] : nil
                        let snapshot = try await reader.snapshot(match, token: token)
                        #expect(snapshot.fleets == (0..<2).map { $0 == index ? Self.fleets[$0] : nil })
                        // The board: each seat's grid, a space, the other's; ships only where seen.
                        for seat in 0..<2 {
                            let ships = snapshot.board.map { row in row.split(separator: " ")[seat].filter { $0 == "S" }.count }.reduce(0, +)
                            #expect((ships > 0) == (seat == index), "ships on seat \(seat)'s grid for viewer \(index)")
                        }
                        let log = try await reader.events(match, after: 0, token: token)
                        #expect(log.count == version)
                        let placed = log.compactMap { if case .placed(let seat, let fleet) = $0.change { (seat.rawValue, fleet) } else { nil } }
                        #expect(placed.map(\.0).sorted() == [0, 1] && placed.allSatisfy { $0.1 == ($0.0 == index ? Self.fleets[$0.0] : nil) })
                        await reader.close()
                    }
                    // ...and every connection is cut: each resumes with after=V.
                    for relay in relays { relay.cutAll() }
                    for (index, relay) in relays.enumerated() { before[index][shot] = relay.received.count }
                }
                version = try await seats[1].send(Command(.play(target), version: version)).version
            }
            // The last shot sank the fleet: everyone has the end.
            for connection in seats + [spectator] {
                try await caughtUp(connection, to: version)
                #expect(connection.log.last.map { if case .ended = $0.change { true } else { false } } == true)
            }
            #expect(version == 5 + 2 * targets.count + 1)

            let hidden = try Self.squares(of: Self.fleets[1])
            for (index, relay) in relays.enumerated() {
                let bytes = relay.received
                let who = index < 2 ? "seat \(index)" : "the spectator"
                // Before seat 1 fired at one of seat 0's squares, nobody else had been told it.
                for (shot, target) in targets.enumerated() where index != 0 {
                    #expect(!Self.names(bytes[..<before[index][shot]], target), "\(who), before the shot at \(target)")
                }
                // Seat 1's fleet is never hit: only seat 1 is told of it before the end...
                let lastShot = before[index][targets.count - 1]
                for square in hidden where index != 1 {
                    #expect(!Self.names(bytes[..<lastShot], square), "\(who), \(square) before the end")
                }
                // ...which shows both fleets to everyone (the check finds what is there).
                for fleet in Self.fleets {
                    #expect(Self.names(bytes[...], fleet), "\(who), \(fleet) at the end")
                }
                // Each seat was told its own fleet before the end, and no other.
                for (seat, fleet) in Self.fleets.enumerated() {
                    #expect(Self.names(bytes[..<lastShot], fleet) == (seat == index), "\(who), \(fleet) before the end")
                }
                // What each client read midway names no ship of a fleet it may not see.
                let read = readerRelays[index].received
                #expect(!read.isEmpty)
                for (seat, fleet) in Self.fleets.enumerated() {
                    for ship in fleet.split(separator: " ") where seat != index {
                        #expect(!Self.names(read[...], String(ship)), "\(who) read \(ship) midway")
                    }
                    #expect(Self.names(read[...], fleet) == (seat == index), "\(who) read \(fleet) midway")
                }
            }
            for connection in seats + [spectator] { connection.close() }
            for relay in relays + readerRelays { await relay.stop() }
        }
    }
}
