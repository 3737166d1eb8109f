import Foundation
import NIOCore
import NIOFoundationCompat
import PlyClient
import PlyEngine
import PlyWire

/// What every slot of a level shares.
struct SlotContext: Sendable {
    let plan: BenchPlan
    /// Where clients connect: the server, or the relay that simulates a network in front of it.
    let host: String
    let port: Int
    let ledger: Ledger
    /// Every ply connection of the level counts its bytes here.
    let stats: WireStats
    let api: PlyAPI?
    /// Whether ply's clients ask for compression.
    var compression = false

    var endpoint: Endpoint { Endpoint(host: host, port: port) }

    /// A game's seed: the same for a slot's n-th game on every transport, so each transport
    /// plays the very same games.
    func seed(slot: Int, game: Int) -> UInt64 {
        var random = SeededRandom(seed: plan.seed &+ UInt64(slot) &* 0x9E37_79B9 &+ UInt64(game) &* 0x85EB_CA6B)
        return random.next()
    }

    /// The think time before a move, drawn from the seat's generator (none when saturating).
    func think(_ random: inout SeededRandom) -> Duration {
        plan.thinkMilliseconds.map { .milliseconds(Int.random(in: $0, using: &random)) } ?? .zero
    }

    /// Plays games 0, 1, 2... back to back until the task is cancelled, counting failures.
    func playGames(_ play: (Int) async throws -> Void) async {
        var game = 0
        while !Task.isCancelled {
            do {
                try await play(game)
            } catch {
                guard !Task.isCancelled else { return }
                ledger.failed(error)
                // A transport that cannot open (a middlebox that breaks it) fails at once: a
                // pause, rather than a loop that only hammers the server.
                try? await Task.sleep(for: .milliseconds(100))
            }
            game += 1
        }
    }

    /// Waits until a move is due. One already due (no think time, or a late turn) costs no
    /// sleep: a sleep until an instant past still hands the task to the timer and back, which
    /// perf showed at 2% of the load generator when saturating. Alike for ply's seats and the
    /// floors'.
    static func wait(until due: ContinuousClock.Instant) async throws {
        if due > .now {
            try await Task.sleep(until: due, tolerance: .zero, clock: .continuous)
        } else {
            try Task.checkCancellation()
        }
    }

    /// A key for a match in the ledger, unique across slots and games.
    static func key(slot: Int, game: Int) -> Int { slot << 24 | (game & 0xFF_FFFF) }
}

/// One concurrent match of a level over a ply transport: it plays seeded random games back to
/// back until cancelled, each in a new match with two seats (and any spectators).
struct PlySlot: Sendable {
    let index: Int
    let kind: TransportChoice
    let context: SlotContext

    func run() async {
        await context.playGames(play)
    }

    /// Plays the slot's game number `game` to its end.
    func play(_ game: Int) async throws {
        guard let api = context.api else { return }
        let key = SlotContext.key(slot: index, game: game)
        let seed = context.seed(slot: index, game: game)
        var fitted = context.plan.fitted(ConnectionOptions(pingInterval: nil))
        fitted.compression = context.compression
        let (context, kind, options) = (self.context, self.kind, fitted)
        defer { context.ledger.forget(match: key) }
        let setup = try await api.setUpMatch(context.plan.game, names: ["a", "b"]) { match, grant in
            try await MatchConnection.open(to: context.endpoint, match: match, seat: (grant.seat, grant.token),
                                           transport: kind, options: options, stats: context.stats)
        }
        let seats = setup.connections.compactMap { $0 }
        var spectators: [MatchConnection] = []
        defer {
            for connection in seats + spectators { connection.close() }
        }
        for _ in 0..<context.plan.spectators {
            spectators.append(try await SetupError.during("connect a spectator") {
                try await MatchConnection.open(to: context.endpoint, match: setup.match, transport: kind, options: options, stats: context.stats)
            })
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (offset, connection) in seats.enumerated() {
                group.addTask {
                    var hooks = TimedSeat(context: context, key: key, seat: connection.seat, random: SeededRandom(seed: seed &+ UInt64(offset)))
                    _ = try await connection.play(with: &hooks)
                }
            }
            for spectator in spectators {
                group.addTask { for await _ in spectator.updates {} }
            }
            // The game is over when both seats have seen `ended`; spectators are then closed.
            var finished = 0
            while finished < 2, try await group.next() != nil { finished += 1 }
            context.ledger.finished(on: seats.map(\.transport))
            for spectator in spectators { spectator.close() }
            try await group.waitForAll()
        }
    }
}

/// The benchmark's part of the seat loop: seeded random moves and setups, and the clocks. On
/// its turn the seat waits its think time (the move is *due* then) and records the
/// acknowledgement; on the opponent's move it records the latency from when that move was due
/// to when this client has it.
struct TimedSeat: SeatHooks {
    let context: SlotContext
    let key: Int
    let seat: Seat?
    var random: SeededRandom

    func observe(_ event: MatchEvent, in match: Match, at now: ContinuousClock.Instant) {
        if case .moved(let mover, _, _) = event.change, mover != seat {
            context.ledger.received(match: key, version: event.version, at: now)
        }
    }

    mutating func setup(for match: Match) -> String? { match.position.randomSetup(using: &random) }

    mutating func move(in match: Match, turnBegan: ContinuousClock.Instant) async throws -> String? {
        let due = turnBegan + context.think(&random)
        context.ledger.due(match: key, version: match.version + 1, at: due)
        try await SlotContext.wait(until: due)
        context.ledger.lagged(.now - due)
        return match.position.legalMoves.randomElement(using: &random)
    }

    func acknowledged(sentAt sent: ContinuousClock.Instant) { context.ledger.acknowledged(after: .now - sent) }
}

/// One pair on a floor (the raw TCP floor, or a transport's): the two clients play the same
/// seeded games locally and send each move as the very JSON event ply would send; the floor
/// relays it and nothing else.
struct FloorSlot: Sendable {
    let index: Int
    let level: Int
    /// The transport whose floor this is; nil for the raw TCP floor.
    let transport: Transport?
    let context: SlotContext

    func run() async {
        await context.playGames(play)
    }

    private func play(_ game: Int) async throws {
        let key = SlotContext.key(slot: index, game: game)
        let seed = context.seed(slot: index, game: game)
        let pair = "\(level)-\(index)-\(game)"
        defer { context.ledger.forget(match: key) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for seat in Seat.allCases {
                group.addTask {
                    var connection = try await SetupError.during("connect a seat") { try await connect(pair: pair) }
                    defer { connection.close() }
                    try await playSeat(&connection, seat: seat, key: key, seed: seed &+ UInt64(seat.rawValue))
                }
            }
            try await group.waitForAll()
        }
    }

    private func connect(pair: String) async throws -> any FloorSeat {
        switch transport {
        case nil: TCPFloorSeat(try await FloorLink.connect(host: context.host, port: context.port, pair: pair))
        case .webSocket?: try await WebSocketFloorSeat.connect(to: context.endpoint, pair: pair, stats: context.stats)
        case .longPoll?: try await LongPollFloorSeat.connect(to: context.endpoint, pair: pair, stats: context.stats)
        case .serverSentEvents?: try await EventStreamFloorSeat.connect(to: context.endpoint, pair: pair, stats: context.stats)
        }
    }

    /// One seat: on its turn it waits its think time, plays a seeded random move and sends its
    /// event (timing the acknowledgement where the floor gives one); otherwise it reads events,
    /// its own moves' echoes skipped, and records each of the opponent's when it has it.
    private func playSeat(_ connection: inout any FloorSeat, seat: Seat, key: Int, seed: UInt64) async throws {
        var random = SeededRandom(seed: seed)
        var match = try Match(game: context.plan.game)
        try match.join(name: "a")
        try match.join(name: "b")
        // Setups (Battleship's fleets) are made alike on both sides, from the pair's seed,
        // and cost no message: the floor measures moves.
        var setups = SeededRandom(seed: seed &- UInt64(seat.rawValue))
        for each in Seat.allCases {
            if let setup = match.position.randomSetup(using: &setups) { try match.place(setup, by: each) }
        }
        var now = ContinuousClock.now
        while match.status == .playing {
            if match.turn == seat {
                let due = now + context.think(&random)
                context.ledger.due(match: key, version: match.version + 1, at: due)
                try await SlotContext.wait(until: due)
                let sent = ContinuousClock.now
                context.ledger.lagged(sent - due)
                guard let move = match.position.legalMoves.randomElement(using: &random),
                      let event = try match.play(move, by: seat, against: match.version).first else { return }
                try await connection.move(OutboundJSON.encode(event, allocator: ByteBufferAllocator()))
                if connection.acknowledges { context.ledger.acknowledged(after: .now - sent) } else { context.ledger.sent() }
            } else {
                guard let event = try await connection.next() else { throw SeatError.connectionEnded(.closed) }
                now = .now
                guard event.version > match.version else { continue }
                context.ledger.received(match: key, version: event.version, at: now)
                guard case .moved(let mover, let move, _) = event.change else { continue }
                try match.play(move, by: mover, against: match.version)
            }
        }
    }
}
