import Foundation
import NIOCore
import PlyBench
import PlyClient
import PlyRelay
import PlyServer
import PlyWire
import Testing

/// The benchmark against a live server: short, but every figure it reports must be there.
@Suite(.timeLimit(.minutes(1)))
struct BenchTests {
    @Test func aShortRunMeasuresEveryTransport() async throws {
        // As `ply bench` starts its own servers: one machine's load is not one client's abuse.
        var configuration = ServerConfiguration()
        configuration.clientLimits = .off
        try await LiveServer.run(configuration) { server in
            var plan = BenchPlan()
            plan.server = "http://127.0.0.1:\(server.port)"
            plan.transports = Transport.allCases.map(BenchTransport.ply)
            plan.levels = [3]
            plan.thinkMilliseconds = 1...5
            plan.spectators = 1
            // Long enough for every game to be set up and under way before the window opens,
            // however loaded the machine running the tests is.
            plan.warmup = .seconds(1)
            plan.duration = .seconds(2)
            let results = try await BenchRunner(plan: plan).run(command: "test") { _ in }
            #expect(results.levels.map(\.transport) == Transport.allCases.map(BenchTransport.ply))
            for level in results.levels {
                #expect(level.errors == 0, "\(level.errorSamples)")
                #expect(level.moves > 0)
                #expect(level.clients == 9)
                #expect(level.latency.count > 0)
                #expect(level.latency.p50 > 0 && level.latency.p50 <= level.latency.p99 && level.latency.p99 <= level.latency.max)
                #expect(level.acknowledgement?.count == level.moves)
                #expect((level.bytesUpPerMove ?? 0) > (level.overheadUpPerMove ?? 0))
                #expect((level.bytesDownPerMove ?? 0) > (level.overheadDownPerMove ?? 0))
                #expect(level.serverMicrosPerMove == nil, "a server not started by the bench has no /proc figures")
                // The load generator's own CPU and the machine's idle share are read whatever the server.
                #expect((level.loadMicrosPerMove ?? 0) > 0 && (level.loadCPUShare ?? 0) > 0, "\(String(describing: level.loadMicrosPerMove))")
                #expect(level.machineIdleShare.map { (0...1).contains($0) } == true, "\(String(describing: level.machineIdleShare))")
            }
            let level = { (transport: Transport) in results.levels.first { $0.transport == .ply(transport) } }
            let webSocket = try #require(level(.webSocket)), stream = try #require(level(.serverSentEvents))
            let longPoll = try #require(level(.longPoll))
            #expect(webSocket.requestsPerMove == 0)
            #expect((longPoll.requestsPerMove ?? 0) > 2, "a long-poll move costs a command and the polls that deliver it")
            // SSE: a command POST per move, and the stream's one request per connection.
            #expect((stream.requestsPerMove ?? 0) > 0.4 && (stream.requestsPerMove ?? 0) < (longPoll.requestsPerMove ?? 0))
            #expect((longPoll.overheadUpPerMove ?? 0) > (webSocket.overheadUpPerMove ?? 0))
            #expect((longPoll.overheadDownPerMove ?? 0) > (stream.overheadDownPerMove ?? 0), "a stream's events carry no response heads")
            // A level starved of the machine, or whose load generator outspends the server, says so.
            var starved = results
            starved.levels[0].machineIdleShare = 0.05
            #expect(starved.levels[0].limitedBy == "the machine was 5% idle")
            starved.levels[0].machineIdleShare = 0.5
            (starved.levels[0].serverMicrosPerMove, starved.levels[0].loadMicrosPerMove) = (100, 300)
            #expect(starved.levels[0].limitedBy == "the load generator spent 300 µs of CPU a move, the server 100")
            #expect(Report(starved).terminalText.contains("the load generator spent 300 µs of CPU a move, the server 100; its figures may show that more than the server"))
            #expect(Report(starved).markdown().contains("the load generator spent 300 µs of CPU a move, the server 100; its figures may show that more than the server"))
            starved.levels[0].loadMicrosPerMove = 50
            #expect(starved.levels[0].limitedBy == nil)
            let report = Report(results)
            #expect(report.terminalText.contains("WebSocket"))
            #expect(report.terminalText.contains("Server-Sent Events"))
            #expect(report.csv.split(separator: "\n").count == 1 + Transport.allCases.count)
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ply-bench-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: directory) }
            try report.write(to: directory)
            for file in ["results.json", "results.csv", "report.md", "latency-3.svg", "bytes-per-move.svg"] {
                #expect(FileManager.default.fileExists(atPath: directory.appendingPathComponent(file).path), "\(file)")
            }
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            let decoded = try decoder.decode(BenchResults.self, from: Data(contentsOf: directory.appendingPathComponent("results.json")))
            #expect(decoded.levels.map(\.moves) == results.levels.map(\.moves))
        }
    }

    /// `--middlebox cut-upgrades=200` with `auto` beside WebSocket, and `--compression off,on`,
    /// against a server that compresses: every level plays without error, WebSocket flaps
    /// (reconnects), auto moves on to SSE (HTTP requests), and the compression table compares
    /// each transport off and on.
    @Test func aMiddleboxAndCompressionAreRunAsAsked() async throws {
        var configuration = ServerConfiguration()
        configuration.clientLimits = .off
        configuration.compression = true
        try await LiveServer.run(configuration) { server in
            var plan = BenchPlan()
            plan.server = "http://127.0.0.1:\(server.port)"
            plan.transports = [.ply(.webSocket), .auto]
            plan.levels = [3]
            plan.thinkMilliseconds = 20...40
            plan.warmup = .seconds(1)
            plan.duration = .seconds(2)
            plan.middlebox = .cutsUpgrades(afterMilliseconds: 200)
            plan.compressions = [false, true]
            let results = try await BenchRunner(plan: plan).run(command: "test") { _ in }
            #expect(results.levels.map(\.label) == ["WebSocket", "WebSocket, compressed", "auto", "auto, compressed"])
            for level in results.levels {
                #expect(level.errors == 0, "\(level.label): \(level.errorSamples)")
            }
            // WebSocket alone flaps: cut each time, its backoff growing, it may make no move at
            // all in a short window on a busy machine (what issue 26's settling is for).
            for level in results.levels where level.transport == .ply(.webSocket) {
                #expect((level.reconnects ?? 0) > 0, "cut every 200 ms: \(level.label)")
                #expect((level.requestsPerMove ?? 0) == 0)
            }
            for level in results.levels where level.transport == .auto {
                #expect(level.moves > 0, "\(level.label)")
                // (Each game opens new connections, and each starts on WebSocket again.)
                #expect((level.requestsPerMove ?? 0) > 0.05, "moved on to SSE: \(level.label) \(String(describing: level.requestsPerMove))")
            }
            let report = Report(results)
            #expect(report.terminalText.contains("Compression: each transport off and on, in this run"))
            #expect(report.csv.contains("\nws,sqlite,on,3,") && report.csv.contains("\nauto,sqlite,off,3,"), "\(report.csv)")
            #expect(report.terminalText.contains("Every ply transport ran through a proxy that cuts each WebSocket 200 ms after its 101"))
            // Where each transport's seats ended: two seats a finished game, on WebSocket or, for
            // auto, on what it moved on to. (A game auto finishes before its third cut ends on
            // WebSocket: a loaded machine's CI run saw one such game be the only one in the
            // window, so that auto's seats end on SSE is not asked; that it moved there is, above.)
            #expect(report.middleboxRows.count == 4)
            for level in results.levels {
                let endedOn = level.seatsEndedOn ?? [:]
                #expect(endedOn.values.reduce(0, +) == 2 * (level.games ?? 0), "\(level.label): \(endedOn)")
                let allowed: Set<String> = level.transport == .auto ? ["ws", "sse"] : ["ws"]
                #expect(Set(endedOn.keys).isSubset(of: allowed), "\(level.label): \(endedOn)")
            }
            #expect(Middlebox(argument: "cut-upgrades=200") == .cutsUpgrades(afterMilliseconds: 200))
            #expect(Middlebox(argument: "buffer") == .buffers)
            #expect(Middlebox(argument: "strip-upgrade") == .stripsUpgrade)
            #expect(Middlebox(argument: "idle-cut=30000") == .forgetsIdle(afterMilliseconds: 30000))
            #expect(Middlebox(argument: "cut-upgrades=0") == nil && Middlebox(argument: "nat") == nil && Middlebox(argument: "idle-cut=") == nil)
        }
    }

    /// `--soak`, scaled down, against a real `ply serve` child: bots play game after game, the
    /// server is sampled from /proc and /health, holds no more than its live seats need (a poll
    /// or WebSocket left behind by each finished game would pile up), and once the bots stop its
    /// descriptors, connections and polls go back to what they were idle.
    @Test func aShortSoakSamplesTheServerAndEndsWhereItBegan() async throws {
        var plan = BenchPlan()
        plan.levels = []
        // Long enough that a long-polling seat is seen waiting for its opponent's move, however
        // loaded the machine running the tests is.
        plan.thinkMilliseconds = 20...40
        // Twelve seconds: on a machine running the rest of the suite a game of Connect Four has
        // taken over six (a clean-clone run saw none finish in six).
        var soak = SoakPlan(duration: .seconds(12))
        soak.matches = 4
        soak.warmup = .seconds(2)
        soak.sampleInterval = .seconds(1)
        plan.soak = soak
        let results = try await BenchRunner(plan: plan, executable: DurabilityTests.ply).run(command: "test") { _ in }
        let result = try #require(results.soak)
        #expect(result.errors == 0, "\(result.errorSamples)")
        // Game after game (some 60 in twelve seconds on an idle machine; a loaded one runs the
        // test suite's other servers too).
        #expect(result.gamesFinished >= 2 && result.moves > 0, "\(result.gamesFinished) games, \(result.moves) moves")
        #expect(result.samples.count >= 4)
        #expect(result.samples.allSatisfy { $0.residentBytes != nil && $0.descriptors != nil && $0.liveMatches <= 4 })
        #expect(result.samples.contains { $0.webSockets > 0 } && result.samples.contains { $0.waitingPolls > 0 }, "mixed: both transports")
        let beyond = result.beyondNeed
        #expect(beyond.webSockets < soak.matches && beyond.polls < soak.matches, "\(beyond)")
        #expect(result.secondsToIdle != nil, "idle \(String(describing: result.idle)), after \(String(describing: result.after))")
        #expect(result.growth != nil)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ply-soak-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let report = Report(results)
        try report.write(to: directory)
        #expect(report.terminalText.contains("Soak"))
        #expect(!report.terminalText.contains("Move latency"), "no levels were run")
        let chart = try String(contentsOf: directory.appendingPathComponent("soak.svg"), encoding: .utf8)
        #expect(chart.contains("<polyline") && chart.contains("waiting polls"))
    }

    /// `--hold` with `--attack`, scaled down: every attacker is closed by the server, the held
    /// clients and the game alongside carry on, and nothing is left once everyone has gone.
    @Test func anAttackOnTheDoorIsClosedAndLeavesNothingBehind() async throws {
        var configuration = ServerConfiguration()
        configuration.clientLimits = .off
        configuration.headerTimeout = .seconds(2)
        configuration.maxFragmentedMessageTime = .seconds(2)
        try await LiveServer.run(configuration) { server in
            var plan = BenchPlan()
            plan.server = "http://127.0.0.1:\(server.port)"
            plan.transports = Transport.allCases.map(BenchTransport.ply)
            plan.levels = []
            plan.hold = 20
            plan.attack = .seconds(4)
            var attackers = Attackers()
            attackers.slowloris = 10
            attackers.fragmentBombs = 1
            attackers.slowFragments = 2
            attackers.pingFloods = 1
            // Paced: the attackers share this machine with the rest of the suite.
            attackers.pause = .milliseconds(100)
            plan.attackers = attackers
            let results = try await BenchRunner(plan: plan).run(command: "test") { _ in }
            #expect(results.holds.map(\.transport) == Transport.allCases.map(BenchTransport.ply))
            for hold in results.holds {
                #expect(hold.held == 20, "\(hold.label): \(hold.failures) failed to open (\(hold.failureSamples ?? [])), \(hold.retriedOpens ?? 0) tried again")
                #expect(hold.leftoverPolls == 0)
                #expect(hold.leftoverConnections == 1, "only the bench's own request to /health")
                let attack = try #require(hold.attack)
                #expect(attack.heldAfter == 20)
                // The game alongside carries on. (Whether it met no error at all is the soak's to
                // say, on a release build: here a debug server and its attackers share a process.)
                #expect(attack.moves > 0, "\(attack.errorSamples)")
                #expect(attack.memory == nil, "a server not started by the bench has no /proc figures")
                let figures = attack.figures
                // Closed at the 2 s header timeout; those opened again near the end may still be open.
                #expect(figures.slowlorisClosed > 0)
                #expect(figures.slowlorisOpened - figures.slowlorisClosed <= 10)
                let life = try #require(figures.slowlorisMedianSeconds)
                #expect(life >= 1.9 && life < 3.5, "\(life) s")
                #expect(figures.fragmentBombs >= 3)
                #expect(figures.closedTooMany > 0, "fast bombs: 1009")
                #expect(figures.closedTooSlow > 0, "slow fragments: 1008")
                #expect(figures.notClosed == 0)
                #expect(figures.pingsSent > 0)
            }
            let report = Report(results).terminalText
            #expect(report.contains("Door attack"))
            #expect(!report.contains("Server memory around the attack"))
        }
    }

    /// `--hold` in a run with the transports' floors: each floor holds its idle readers first (a
    /// WebSocket open, a poll waiting, a stream open), then ply its spectators, and the report
    /// reads ply's memory per client against its own floor's.
    @Test func idleClientsAreHeldOnEachTransportsFloorBesidePly() async throws {
        var plan = BenchPlan()
        plan.transports = Transport.allCases.flatMap { [.floorOf($0), .ply($0)] }
        plan.levels = []
        plan.hold = 20
        let results = try await BenchRunner(plan: plan, executable: DurabilityTests.ply).run(command: "test") { _ in }
        #expect(results.holds.map(\.transport) == plan.transports)
        for hold in results.holds {
            #expect(hold.held == 20, "\(hold.label): \(hold.failures) failed to open (\(hold.failureSamples ?? []))")
            #expect(hold.serverBytesPerClient != nil, "\(hold.label): the server's memory was read")
        }
        let report = Report(results)
        for kind in Transport.allCases {
            let ply = try #require(results.holds.first { $0.transport == .ply(kind) })
            #expect(report.floorHold(of: ply)?.transport == .floorOf(kind))
            #expect(ply.leftoverPolls == 0 && ply.leftoverConnections == 1, "\(ply.label)")
        }
        #expect(report.markdown().contains("÷ its floor"))
        #expect(report.holdRows.filter { $0[0].hasSuffix("floor") }.allSatisfy { $0[4] == "-" }, "a floor is not held against itself")
    }

    /// Each transport's floor, run by `ply floor --http` as `ply bench` runs it, carries the
    /// same seeded games with ply's per-move pattern: every move acknowledged, a long-poll move
    /// about three requests (the POST and both seats' polls), an SSE move one, WebSocket none;
    /// and the report reads ply against its own floor and that floor against the TCP floor.
    @Test func eachTransportsFloorCarriesGamesAndIsReadAgainstTheTCPFloor() async throws {
        var plan = BenchPlan()
        plan.transports = [.floor] + Transport.allCases.map(BenchTransport.floorOf)
        plan.levels = [3]
        // Slow enough to leave the machine to the rest of the suite, which runs alongside.
        plan.thinkMilliseconds = 20...40
        plan.warmup = .seconds(1)
        plan.duration = .seconds(2)
        let results = try await BenchRunner(plan: plan, executable: DurabilityTests.ply).run(command: "test") { _ in }
        #expect(results.levels.map(\.transport) == plan.transports)
        for level in results.levels {
            #expect(level.errors == 0, "\(level.transport): \(level.errorSamples)")
            #expect(level.moves > 0 && level.latency.count > 0, "\(level.transport)")
            #expect(level.clients == 6)
            #expect((level.serverMicrosPerMove ?? 0) > 0, "\(level.transport)")
            #expect(level.games == nil && level.reconnects == nil)
            if level.transport == .floor {
                #expect(level.acknowledgement == nil && level.requestsPerMove == nil, "the raw TCP floor has no acknowledgement and no HTTP")
            } else {
                #expect(level.acknowledgement?.count == level.moves, "\(level.transport)")
                #expect((level.bytesDownPerMove ?? 0) > (level.overheadDownPerMove ?? 0), "\(level.transport)")
            }
        }
        let level = { (transport: Transport) in try #require(results.levels.first { $0.transport == .floorOf(transport) }) }
        let webSocket = try level(.webSocket), stream = try level(.serverSentEvents), longPoll = try level(.longPoll)
        #expect(webSocket.requestsPerMove == 0)
        #expect((longPoll.requestsPerMove ?? 0) > 2.5 && (longPoll.requestsPerMove ?? 0) < 3.5, "\(String(describing: longPoll.requestsPerMove))")
        #expect((stream.requestsPerMove ?? 0) > 0.9 && (stream.requestsPerMove ?? 0) < 1.5, "\(String(describing: stream.requestsPerMove))")

        // ply's WebSocket at twice its floor's CPU per move: what ply adds, beside what the transport costs.
        var withPly = results
        var ply = webSocket
        ply.transport = .ply(.webSocket)
        ply.store = .sqlite
        ply.serverMicrosPerMove = (webSocket.serverMicrosPerMove ?? 0) * 2
        ply.loadMicrosPerMove = ply.serverMicrosPerMove.map { $0 / 4 }
        withPly.levels.append(ply)
        let report = Report(withPly)
        let row = try #require(report.ratioRows.first)
        #expect(report.ratioRows.count == 1, "floors have no row of their own")
        let tcp = try #require(results.levels.first?.serverMicrosPerMove), floor = try #require(webSocket.serverMicrosPerMove)
        #expect(row[3] == String(format: "%.1f", floor))
        #expect(row[4] == String(format: "%.2fx", floor / tcp))
        #expect(row[5] == "2.00x" && row[9] == "0.25x", "\(row)")
        #expect(report.terminalText.contains("ply ÷ its floor (what ply adds)"))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ply-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try report.write(to: directory)
        let chart = try String(contentsOf: directory.appendingPathComponent("cpu-per-move.svg"), encoding: .utf8)
        #expect(chart.contains("WebSocket floor") && chart.contains("raw TCP floor"))
        let markdown = try String(contentsOf: directory.appendingPathComponent("report.md"), encoding: .utf8)
        #expect(markdown.contains("](cpu-per-move.svg)"), "the report shows the chart it wrote")
    }

    /// `--rounds`: every level of every run is measured once a round, the rounds one after the
    /// other, and each ratio is read within its round (a level against its floor and the memory
    /// store of the same round, never of another), with the median and spread over the rounds.
    @Test func roundsAreInterleavedAndEachRatioIsReadWithinItsRound() async throws {
        var plan = BenchPlan()
        plan.transports = [.floor, .ply(.webSocket)]
        plan.stores = [.memory, .sqlite]
        plan.levels = [2]
        plan.rounds = 2
        plan.thinkMilliseconds = 20...40
        plan.warmup = .milliseconds(500)
        plan.duration = .seconds(1)
        let results = try await BenchRunner(plan: plan, executable: DurabilityTests.ply).run(command: "test") { _ in }
        #expect(results.levels.map(\.round) == [1, 1, 1, 2, 2, 2])
        #expect(results.levels.map(\.configuration) == ["raw TCP floor", "WebSocket (memory store)", "WebSocket"] + ["raw TCP floor", "WebSocket (memory store)", "WebSocket"],
                "\(results.levels.map(\.configuration))")
        for level in results.levels { #expect(level.moves > 0 && level.errors == 0, "\(level.label): \(level.errorSamples)") }

        // Set figures whose ratios differ by round: read across rounds, they would not be these.
        var set = results
        for (index, cpu) in [10.0, 100, 150, 20, 200, 220].enumerated() {
            set.levels[index].serverMicrosPerMove = cpu
            set.levels[index].loadMicrosPerMove = cpu / 2
        }
        let report = Report(set)
        let rows = report.ratioRows
        #expect(rows.map { $0[0] } == ["WebSocket (memory store) · round 1", "WebSocket · round 1", "WebSocket (memory store) · round 2", "WebSocket · round 2"])
        #expect(rows.map { $0[5] } == ["10.00x (TCP)", "15.00x (TCP)", "10.00x (TCP)", "11.00x (TCP)"])
        #expect(rows.map { $0[8] } == ["-", "1.50x", "-", "1.10x"])
        #expect(report.roundRows == [
            ["WebSocket (memory store)", "2", "2", "10.00x (10.00-10.00)", "-", "0.50x (0.50-0.50)"],
            ["WebSocket", "2", "2", "13.00x (11.00-15.00)", "1.30x (1.10-1.50)", "0.50x (0.50-0.50)"],
        ])
        #expect(report.terminalText.contains("Ratios over the rounds"))
        #expect(report.markdown().contains("### Ratios over the rounds"))
        #expect(report.csv.split(separator: "\n").dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).last ?? "" }
            == ["1", "1", "1", "2", "2", "2"])
        // A run of one round has no round table, and its rows no round.
        var single = results
        single.levels = Array(results.levels.prefix(3)).map { level in var level = level; level.round = nil; return level }
        #expect(Report(single).roundRows.isEmpty)
        #expect(Report(single).ratioRows.map { $0[0] } == ["WebSocket (memory store)", "WebSocket"])
        // The rounds survive results.json.
        let decoded = try JSONDecoder().decode(BenchResults.self, from: try JSONEncoder().encode(results))
        #expect(decoded.levels.map(\.round) == [1, 1, 1, 2, 2, 2] && decoded.plan.rounds == 2)
    }

    /// Clients no one here wrote play on the transports' floors from what `TransportFloorServer`
    /// says of its routes: curl posts a move and polls for it, curl reads it from a stream, and
    /// Python `websockets` gets the echo, the acknowledgement and a late reader's catch-up.
    @Test func independentClientsUseTheTransportFloors() async throws {
        let listener = try await TransportFloorServer.start(host: "127.0.0.1", port: 0)
        defer { listener.close(promise: nil) }
        let base = "http://127.0.0.1:\(try #require(listener.localAddress?.port))/floor"
        let move = #"{"move":"4","seat":0,"type":"moved","v":4}"#
        let (_, posted) = try await ChildProcess.run("/usr/bin/curl", ["-s", "-X", "POST", "--data-binary", move, "\(base)/c/moves"])
        #expect(posted == #"{"type":"ack","v":1}"#)
        let (_, polled) = try await ChildProcess.run("/usr/bin/curl", ["-s", "\(base)/c/events?after=0"])
        #expect(polled == "[\(move)]")
        // A poll with nothing new is held: curl gives up after a second with nothing.
        let (held, nothing) = try await ChildProcess.run("/usr/bin/curl", ["-s", "--max-time", "1", "\(base)/c/events?after=1"])
        #expect(held == 28 && nothing.isEmpty, "curl's timeout, not an answer: \(held) \(nothing)")
        let (_, streamed) = try await ChildProcess.run("/usr/bin/curl", ["-s", "-N", "--max-time", "3", "\(base)/c/stream?after=0"])
        #expect(streamed == "retry: 2000\n\nid: 1\ndata: \(move)\n\n")
        let (_, unknown) = try await ChildProcess.run("/usr/bin/curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "\(base)/c/nothing"])
        #expect(unknown == "404")
        guard IndependentClients.webSockets else {
            Issue.record(Comment(rawValue: IndependentClients.missing))
            return
        }
        let port = try #require(listener.localAddress?.port)
        let played = try await IndependentClients.run("floor_ws.py", ["\(port)"], as: [String: [String]].self)
        #expect(played["mover"] == [move, #"{"id":1,"type":"ack","v":1}"#])
        #expect(played["other"] == [move])
        #expect(played["late"] == [move])
    }

    @Test func theFloorRelaysFramesBetweenAPair() async throws {
        let listener = try await FloorServer.start(host: "127.0.0.1", port: 0)
        let port = try #require(listener.localAddress?.port)
        async let first = FloorLink.connect(host: "127.0.0.1", port: port, pair: "p")
        async let second = FloorLink.connect(host: "127.0.0.1", port: port, pair: "p")
        let (a, b) = try await (first, second)
        a.send(ByteBuffer(string: #"{"move":"4","seat":0,"type":"moved","v":4}"#))
        var frames = b.frames.makeAsyncIterator()
        #expect(await frames.next().map { String(buffer: $0) } == #"{"move":"4","seat":0,"type":"moved","v":4}"#)
        a.close()
        b.close()
        try await listener.close()
    }
}
