import Foundation
import NIOCore
import PlyBench
import PlyBots
import PlyClient
import PlyEngine
import PlyWire
import Testing

/// Several `ply serve` on one PostgreSQL behind nginx, all real: a throwaway cluster, two
/// instances started as children, nginx with the shipped site file. Any instance serves any
/// match; the database decides every version; notifications carry the news between instances.
@Suite(.serialized, .timeLimit(.minutes(3)), .enabled(if: ClusterTools.available, "PostgreSQL (initdb, pg_ctl) or nginx is not installed here; .ci/run installs both from Debian's packages"))
struct ClusterTests {
    static let options = ConnectionOptions(commandTimeout: .seconds(20), backoff: Backoff(initial: .milliseconds(50), maximum: .milliseconds(300)))
    static let think: ClosedRange<Duration> = .milliseconds(2) ... .milliseconds(8)

    /// Whole games with the two seats on different instances, over each transport and mixed,
    /// a spectator through nginx: every log, from every client, instance and the database, is
    /// the same gap-free log.
    @Test func gamesWithTheSeatsOnDifferentInstances() async throws {
        try await Deployment.run { deployment in
            let pairs: [(Transport, Transport)] = [(.webSocket, .webSocket), (.longPoll, .longPoll), (.webSocket, .longPoll),
                                                   (.serverSentEvents, .serverSentEvents), (.serverSentEvents, .webSocket)]
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, pair) in pairs.enumerated() {
                    group.addTask {
                        try await Self.playAcross(deployment, game: index == 1 ? .reversi : .connect4, transports: pair, seed: UInt64(index + 1))
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    private static func playAcross(_ deployment: Deployment, game: GameID, transports: (Transport, Transport), seed: UInt64) async throws {
        let watching = Transport.allCases[Int(seed) % Transport.allCases.count]
        let creator = PlyAPI(endpoint: deployment.instance(0))
        let match = try await creator.createMatch(game).id
        let first = try await creator.join(match, name: "ann")
        await creator.close()
        // The second seat joins on the other instance, which has never seen the match.
        let other = PlyAPI(endpoint: deployment.instance(1))
        let second = try await other.join(match, name: "bob")
        await other.close()
        let spectator = try await MatchConnection.open(to: deployment.proxy, match: match, transport: .over(watching), options: options)
        let seats = [
            try await MatchConnection.open(to: deployment.instance(0), match: match, seat: (first.seat, first.token), transport: .over(transports.0), options: options),
            try await MatchConnection.open(to: deployment.instance(1), match: match, seat: (second.seat, second.token), transport: .over(transports.1), options: options),
        ]
        async let zero = BotPlayer(strategy: .greedy, seed: seed, thinkTime: think).play(seats[0])
        async let one = BotPlayer(strategy: .random, seed: seed + 10, thinkTime: think).play(seats[1])
        let games = try await [zero, one]
        let watched = try await watch(spectator, until: games[0].log.count)
        let log = try await agreedLog(deployment, match: match)
        #expect(log.map(\.version) == Array(1...log.count), "gap-free")
        #expect(log.last.map { if case .ended = $0.change { true } else { false } } == true, "the game ended")
        #expect(games[0].log == log && games[1].log == log, "both seats saw the whole log")
        #expect(watched == log, "the spectator through nginx saw the whole log")
    }

    /// nginx with the shipped site file (one upstream, `keepalive` for every route): requests,
    /// then WebSockets, then requests again, all through nginx and its pooled upstream
    /// connections. Every WebSocket is upgraded (some on a connection nginx had kept alive from
    /// earlier requests) and plays; nothing is refused, and no request after them gets a 502.
    @Test func webSocketsThroughNginxsKeptAliveUpstreamConnections() async throws {
        try await Deployment.run { deployment in
            let api = PlyAPI(endpoint: deployment.proxy)
            var seats: [(match: String, grant: SeatGrant)] = []
            for _ in 0..<6 {
                let match = try await api.createMatch(.connect4).id
                let ann = try await api.join(match, name: "ann")
                _ = try await api.join(match, name: "bob")
                seats.append((match, ann))
            }
            for (match, ann) in seats {
                let socket = TestSocket(try await WebSocketLink.connect(to: deployment.proxy, path: "/matches/\(match)/ws?after=3",
                                                                        headers: [("Authorization", "Bearer \(ann.token)")], stats: WireStats()))
                guard case .welcome(let welcome) = try await socket.next() else { Issue.record("no welcome through nginx"); continue }
                #expect(welcome.seat == ann.seat)
                socket.send(#"{"type":"play","move":"4","v":3,"id":1}"#)
                var acknowledged = false
                while let message = try await socket.next() {
                    if case .ack(let ack) = message { acknowledged = ack.version == 4; break }
                }
                #expect(acknowledged, "the move over a WebSocket through nginx")
                socket.link.close()
            }
            for _ in 0..<6 { _ = try await api.createMatch(.reversi) }
            await api.close()
            var later = 0.0
            for index in 0..<2 { later += try await Self.metric(#"ply_websocket_upgrades_total{request="later"}"#, of: deployment.instance(index)) }
            #expect(later > 0, "nginx upgraded some WebSockets on upstream connections it had kept alive")
        }
    }

    /// An instance killed with SIGKILL mid-game: the clients on it reconnect through nginx to
    /// the other and finish; no acknowledged move is lost, and the log has no gap. With SSE
    /// seats, the streams are on both instances in turn.
    @Test(arguments: [(Transport.webSocket, Transport.longPoll), (.serverSentEvents, .serverSentEvents)])
    func anInstanceKilledMidGame(first: Transport, second: Transport) async throws {
        try await Deployment.run { deployment in
            let (match, connections) = try await Self.reversiThroughNginx(deployment, seats: (first, second))
            let spectator = try await MatchConnection.open(to: deployment.proxy, match: match, transport: .over(first), options: Self.options)
            async let zero = BotPlayer(strategy: .greedy, seed: 3, thinkTime: .milliseconds(5) ... .milliseconds(15)).play(connections[0])
            async let one = BotPlayer(strategy: .random, seed: 4, thinkTime: .milliseconds(5) ... .milliseconds(15)).play(connections[1])
            while connections[0].lastVersion < 14 { try await Task.sleep(for: .milliseconds(5)) }
            // Kill an instance a WebSocket (or stream) is on (its `/metrics` says so): that client must move.
            let gauge = first == .webSocket ? "ply_websockets_open" : "ply_streams_open"
            var victim = 0
            var carrying = 0
            for index in 0..<2 where try await Self.metric(gauge, of: deployment.instance(index)) > 0 {
                victim = index
                carrying += 1
            }
            #expect(carrying >= 1, "a \(first) was open on an instance")
            await deployment.children[victim].kill(SIGKILL)
            let versionAtKill = connections[0].lastVersion
            let games = try await [zero, one]
            let watched = try await Self.watch(spectator, until: games[0].log.count)
            let survivor = PlyAPI(endpoint: deployment.instance(1 - victim))
            let log = try await survivor.events(match, after: 0)
            await survivor.close()
            #expect(log.map(\.version) == Array(1...log.count), "gap-free")
            #expect(log.count > versionAtKill, "the game went on after the kill")
            #expect(games[0].log == log && games[1].log == log && watched == log)
            Self.expectAcknowledgedMovesKept(games, in: log)
            #expect(try await deployment.database.sql("SELECT count(*) FROM ply_events WHERE match_id = '\(match)'") == "\(log.count)\n")
            let reconnects = (connections + [spectator]).map { $0.stats.totals.reconnects }.reduce(0, +)
            #expect(reconnects >= 1, "the \(first) on the killed instance reconnected through nginx, to the other")
        }
    }

    /// Two instances racing commands for the same version of one match: exactly one wins each
    /// version, the other is refused as stale; and a turn clock that runs out on both instances
    /// ends the match once.
    @Test func instancesRacingForEachVersion() async throws {
        try await Deployment.run { deployment in
            let api = PlyAPI(endpoint: deployment.instance(0))
            let match = try await api.createMatch(.connect4).id
            let grants = [try await api.join(match, name: "ann"), try await api.join(match, name: "bob")]
            await api.close()
            // Each seat has a connection to each instance.
            var links: [[MatchConnection]] = []
            for grant in grants {
                var pair: [MatchConnection] = []
                for instance in 0..<2 {
                    pair.append(try await MatchConnection.open(to: deployment.instance(instance), match: match, seat: (grant.seat, grant.token),
                                                               transport: .over(instance == 0 ? .webSocket : .longPoll), options: Self.options))
                }
                links.append(pair)
            }
            let seats = links
            var version = 3
            var columns = ["1", "2", "3", "5", "6", "7", "1", "2", "3", "5", "6", "7"].makeIterator()
            for round in 0..<10 {
                let seat = round % 2
                guard let a = columns.next(), let b = columns.next() else { break }
                let against = version
                // The same seat sends two different moves against the same version, one to each instance.
                async let viaZero = Self.outcome { try await seats[seat][0].send(Command(.play(a), version: against)) }
                async let viaOne = Self.outcome { try await seats[seat][1].send(Command(.play(b), version: against)) }
                let outcomes = await [viaZero, viaOne]
                let wins = outcomes.compactMap { if case .success(let ack) = $0 { ack } else { nil } }
                #expect(wins.count == 1, "round \(round): exactly one instance accepted version \(against + 1): \(outcomes)")
                for case .failure(let error) in outcomes {
                    #expect(error == "match/stale_version", "the loser is refused as stale, not lost: \(error)")
                }
                version = wins.first?.version ?? version + 1
            }
            for pair in seats { for connection in pair { connection.close() } }
            let log = try await Self.agreedLog(deployment, match: match)
            #expect(log.map(\.version) == Array(1...log.count))
            #expect(log.count == version, "one event per version won")
            #expect(try await deployment.database.sql("SELECT count(*), max(version) FROM ply_events WHERE match_id = '\(match)'") == "\(version)|\(version)\n")

            // A one-second turn clock, held by both instances: it ends the match exactly once.
            let timed = PlyAPI(endpoint: deployment.instance(1))
            let clocked = try await timed.createMatch(.connect4, moveTimeLimit: 1).id
            _ = try await timed.join(clocked, name: "ann")
            let elsewhere = PlyAPI(endpoint: deployment.instance(0))
            _ = try await elsewhere.join(clocked, name: "bob")
            await elsewhere.close()
            await timed.close()
            // Both instances hold it and run its clock: the other learns of it through a notification.
            try await Task.sleep(for: .seconds(2.5))
            let ended = try await Self.agreedLog(deployment, match: clocked)
            // Created, two joins, then the clock: one timed_out and one ended, written once.
            #expect(ended.map(\.version) == [1, 2, 3, 4, 5])
            #expect(ended.filter { if case .timedOut = $0.change { true } else { false } }.count == 1)
            if case .ended(let result, _) = ended.last?.change {
                #expect(result.reason == .timeout)
            } else {
                Issue.record("the clock did not end the match: \(ended)")
            }
        }
    }

    /// PostgreSQL restarted under a game: both instances say they are degraded while it is
    /// down, recover without a restart of their own, and the game finishes with nothing
    /// acknowledged lost.
    @Test func aRestartOfPostgreSQL() async throws {
        try await Deployment.run { deployment in
            let (match, connections) = try await Self.reversiThroughNginx(deployment, seats: (.longPoll, .webSocket))
            async let zero = BotPlayer(strategy: .greedy, seed: 5, thinkTime: .milliseconds(10) ... .milliseconds(20)).play(connections[0])
            async let one = BotPlayer(strategy: .random, seed: 6, thinkTime: .milliseconds(10) ... .milliseconds(20)).play(connections[1])
            while connections[0].lastVersion < 10 { try await Task.sleep(for: .milliseconds(5)) }

            try await deployment.database.stopServer()
            for instance in 0..<2 {
                #expect(try await Self.health(of: deployment.instance(instance), becomes: "degraded"), "instance \(instance) says it is degraded")
            }
            try await Task.sleep(for: .seconds(1))
            try await deployment.database.startServer()
            for instance in 0..<2 {
                #expect(try await Self.health(of: deployment.instance(instance), becomes: "ok"), "instance \(instance) recovered")
            }

            let games = try await [zero, one]
            let log = try await Self.agreedLog(deployment, match: match)
            #expect(log.map(\.version) == Array(1...log.count), "gap-free")
            #expect(games[0].log == log && games[1].log == log)
            Self.expectAcknowledgedMovesKept(games, in: log)
        }
    }

    /// PostgreSQL restarted again and again (`pg_ctl stop -m fast`, then start: every connection
    /// cut) while six matches play, each seat on its own instance, over all three transports. At the
    /// end every instance serves each match's log byte for byte as the database holds it, gap-free,
    /// with every move any bot had acknowledged.
    @Test func repeatedRestartsOfPostgreSQLUnderSixMatches() async throws {
        try await Deployment.run { deployment in
            let kinds: [(Transport, Transport)] = [(.webSocket, .longPoll), (.longPoll, .serverSentEvents), (.webSocket, .webSocket),
                                                   (.serverSentEvents, .serverSentEvents), (.serverSentEvents, .longPoll), (.longPoll, .webSocket)]
            var matches: [(id: String, seats: [MatchConnection])] = []
            for (index, pair) in kinds.enumerated() {
                let api = PlyAPI(endpoint: deployment.instance(index % 2))
                let id = try await api.createMatch(index % 2 == 0 ? .connect4 : .reversi).id
                let first = try await api.join(id, name: "ann")
                let second = try await api.join(id, name: "bob")
                await api.close()
                matches.append((id, [
                    try await MatchConnection.open(to: deployment.instance(0), match: id, seat: (first.seat, first.token), transport: .over(pair.0), options: Self.options),
                    try await MatchConnection.open(to: deployment.instance(1), match: id, seat: (second.seat, second.token), transport: .over(pair.1), options: Self.options),
                ]))
            }
            let restarts = Task {
                for _ in 0..<3 {
                    try await Task.sleep(for: .milliseconds(700))
                    try await deployment.database.stopServer()
                    try await Task.sleep(for: .milliseconds(300))
                    try await deployment.database.startServer()
                }
            }
            let games = try await withThrowingTaskGroup(of: (Int, [BotGame]).self) { group in
                for (index, match) in matches.enumerated() {
                    group.addTask {
                        async let zero = BotPlayer(strategy: .random, seed: UInt64(index * 2 + 1), thinkTime: .milliseconds(5) ... .milliseconds(15)).play(match.seats[0])
                        async let one = BotPlayer(strategy: .random, seed: UInt64(index * 2 + 2), thinkTime: .milliseconds(5) ... .milliseconds(15)).play(match.seats[1])
                        return (index, try await [zero, one])
                    }
                }
                var games: [Int: [BotGame]] = [:]
                for try await (index, pair) in group { games[index] = pair }
                return games
            }
            try await restarts.value
            var acknowledged = 0
            for (index, match) in matches.enumerated() {
                let log = try await Self.agreedLog(deployment, match: match.id)
                #expect(log.map(\.version) == Array(1...log.count), "gap-free")
                #expect(log.last.map { if case .ended = $0.change { true } else { false } } == true, "match \(index) ended")
                let pair = try #require(games[index])
                #expect(pair[0].log == log && pair[1].log == log, "both seats ended with the database's log")
                Self.expectAcknowledgedMovesKept(pair, in: log)
                acknowledged += pair[0].moves + pair[1].moves
                // Byte for byte, from each instance: the database's bytes.
                var bodies: Set<String> = []
                for endpoint in deployment.ports.indices.map(deployment.instance) {
                    let link = try await HTTPLink.connect(to: endpoint, stats: WireStats())
                    bodies.insert(String(buffer: try await link.send(.GET, "/matches/\(match.id)/events?after=0&wait=0").body))
                    link.close()
                }
                let stored = try await deployment.database.sql("SELECT string_agg(body, ',' ORDER BY version) FROM ply_events WHERE match_id = '\(match.id)'")
                #expect(bodies == ["[" + stored.trimmingCharacters(in: .newlines) + "]"], "match \(index): every instance serves the database's bytes")
            }
            #expect(acknowledged > 60, "the bots played through the restarts")
        }
    }

    // MARK: Helpers

    /// A Reversi match created and joined through nginx, each seat on a connection through it.
    static func reversiThroughNginx(_ deployment: Deployment, seats transports: (Transport, Transport)) async throws -> (String, [MatchConnection]) {
        let api = PlyAPI(endpoint: deployment.proxy)
        let match = try await api.createMatch(.reversi).id
        var seats: [MatchConnection] = []
        for (name, transport) in [("ann", transports.0), ("bob", transports.1)] {
            let grant = try await api.join(match, name: name)
            seats.append(try await MatchConnection.open(to: deployment.proxy, match: match, seat: (grant.seat, grant.token), transport: .over(transport), options: options))
        }
        await api.close()
        return (match, seats)
    }

    /// Every move a bot had acknowledged is in the log (a move whose answer was lost may be
    /// there too, uncounted by the bot).
    static func expectAcknowledgedMovesKept(_ games: [BotGame], in log: [MatchEvent]) {
        for game in games {
            let moves = log.filter { if case .moved(let seat, _, _) = $0.change { seat == game.seat } else { false } }.count
            #expect(moves >= game.moves, "every move acknowledged to seat \(game.seat.rawValue) is in the log")
        }
    }

    /// The log as each instance, nginx and the database have it, once they agree (an instance
    /// learns of the last event a moment after the other wrote it); fails if they never do.
    static func agreedLog(_ deployment: Deployment, match: String) async throws -> [MatchEvent] {
        var logs: [[MatchEvent]] = []
        for _ in 0..<50 {
            logs = []
            for endpoint in deployment.ports.indices.map(deployment.instance) + [deployment.proxy] {
                let api = PlyAPI(endpoint: endpoint)
                if let log = try? await api.events(match, after: 0) { logs.append(log) }
                await api.close()
            }
            let stored = try await deployment.database.sql("SELECT count(*) FROM ply_events WHERE match_id = '\(match)'")
            if let first = logs.first, logs.allSatisfy({ $0 == first }), stored == "\(first.count)\n" { return first }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("the instances never agreed on the log: \(logs.map(\.count))")
        return logs.first ?? []
    }

    /// Every event a connection delivers until it has `count`.
    static func watch(_ connection: MatchConnection, until count: Int) async throws -> [MatchEvent] {
        var seen: [MatchEvent] = []
        for await case .event(let event) in connection.updates {
            seen.append(event)
            if seen.count >= count { break }
        }
        if seen.count < count { Issue.record("the watcher ended at \(seen.count) of \(count): \(connection.state)") }
        connection.close()
        return seen
    }

    /// A command's acknowledgement, or the code it was refused with.
    static func outcome(_ send: () async throws -> Acknowledgement) async -> Result<Acknowledgement, Refusal> {
        do {
            return .success(try await send())
        } catch CommandError.refused(let error) {
            return .failure(Refusal(error.code.rawValue))
        } catch {
            return .failure(Refusal("\(error)"))
        }
    }

    struct Refusal: Error, Equatable, CustomStringConvertible, ExpressibleByStringLiteral {
        let code: String
        init(_ code: String) { self.code = code }
        init(stringLiteral value: String) { code = value }
        var description: String { code }
    }

    /// A metric's value in an instance's `GET /metrics` (0 when absent).
    static func metric(_ name: String, of endpoint: Endpoint) async throws -> Double {
        let link = try await HTTPLink.connect(to: endpoint, stats: WireStats())
        defer { link.close() }
        let response = try await link.send(.GET, "/metrics")
        let line = String(buffer: response.body).split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) } ?? 0
    }

    /// Whether an instance's `/health` reaches a status within 15 s.
    static func health(of endpoint: Endpoint, becomes status: String) async throws -> Bool {
        for _ in 0..<150 {
            let api = PlyAPI(endpoint: endpoint)
            let health = try? await api.health()
            await api.close()
            if health?.status == status { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }
}
