import Foundation
import NIOCore
import NIOFoundationCompat
import NIOPosix
import PlyClient
import PlyEngine
import PlyWire
import Synchronization

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
        // Each seat is played where its events are read (`SeatDriver`): no task per seat and move.
        let drivers = Mutex<[Seat: SeatDriver<TimedSeat>]>([:])
        let setup = try await api.setUpMatch(context.plan.game, names: ["a", "b"]) { match, grant in
            let driver = SeatDriver(seat: grant.seat, hooks: TimedSeat(context: context, key: key, seat: grant.seat,
                                                                      random: SeededRandom(seed: seed &+ UInt64(grant.seat.rawValue))))
            drivers.withLock { $0[grant.seat] = driver }
            let connection = try await MatchConnection.open(to: context.endpoint, match: match, seat: (grant.seat, grant.token),
                                                            transport: kind, options: options, stats: context.stats, onUpdate: driver.onUpdate)
            driver.attach(connection)
            return connection
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
        let driven = drivers.withLock { Array($0.values) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for driver in driven {
                group.addTask { _ = try await driver.play() }
            }
            for spectator in spectators {
                group.addTask { for await _ in spectator.updates {} }
            }
            // The game is over when both seats have seen `ended`; spectators are then closed.
            var finished = 0
            while finished < driven.count, try await group.next() != nil { finished += 1 }
            context.ledger.finished(on: seats.map(\.transport))
            for spectator in spectators { spectator.close() }
            try await group.waitForAll()
        }
    }
}

/// The benchmark's part of the seat loop: seeded random moves and setups, and the clocks. On
/// its turn the seat draws its think time (the move is *due* then, and sent then) and records
/// the acknowledgement; on the opponent's move it records the latency from when that move was due
/// to when this client has it.
struct TimedSeat: ScheduledSeatHooks {
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

    mutating func scheduledMove(in match: Match, turnBegan: ContinuousClock.Instant) -> (move: String, due: ContinuousClock.Instant)? {
        let due = turnBegan + context.think(&random)
        context.ledger.due(match: key, version: match.version + 1, at: due)
        guard let move = match.position.legalMoves.randomElement(using: &random) else { return nil }
        return (move, due)
    }

    func sending(due: ContinuousClock.Instant, at now: ContinuousClock.Instant) { context.ledger.lagged(now - due) }

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
                    let driver = try FloorSeatDriver(context: context, key: key, seat: seat, seed: seed &+ UInt64(seat.rawValue))
                    let connection = try await SetupError.during("connect a seat") { try await connect(pair: pair, receive: driver.receive) }
                    defer { connection.close() }
                    driver.attach(connection)
                    try await driver.play()
                }
            }
            try await group.waitForAll()
        }
    }

    private func connect(pair: String, receive: @escaping FloorReceiver) async throws -> any FloorSeat {
        switch transport {
        case nil: try await TCPFloorSeat.connect(host: context.host, port: context.port, pair: pair, receive: receive)
        case .webSocket?: try await WebSocketFloorSeat.connect(to: context.endpoint, pair: pair, stats: context.stats, receive: receive)
        case .longPoll?: try await LongPollFloorSeat.connect(to: context.endpoint, pair: pair, stats: context.stats, receive: receive)
        case .serverSentEvents?: try await EventStreamFloorSeat.connect(to: context.endpoint, pair: pair, stats: context.stats, receive: receive)
        }
    }
}

/// One seat of a floor's pair, driven where its connection is read, as ply's seats are
/// (`SeatDriver`): on its turn it draws its think time, and when the move is due (at once, or
/// on a timer of the event loop) plays a seeded random move and sends its event, timing the
/// acknowledgement where the floor gives one; each of the opponent's moves it records when it
/// has it, its own moves' echoes skipped.
final class FloorSeatDriver: Sendable {
    private struct State: Sendable {
        var match: Match
        var random: SeededRandom
        var connection: (any FloorSeat)?
        /// When the seat's turn began, if it began before its connection was attached or while
        /// its last move's acknowledgement was awaited (one move at a time, as ply's seats send
        /// one command at a time).
        var turnBegan: ContinuousClock.Instant?
        var awaitingAcknowledgement = false
        var done = false
    }

    private let context: SlotContext
    private let key: Int
    private let seat: Seat
    private let state: Mutex<State>
    private let finished: EventLoopPromise<Void>

    init(context: SlotContext, key: Int, seat: Seat, seed: UInt64) throws {
        self.context = context
        self.key = key
        self.seat = seat
        var match = try Match(game: context.plan.game)
        try match.join(name: "a")
        try match.join(name: "b")
        // Setups (Battleship's fleets) are made alike on both sides, from the pair's seed,
        // and cost no message: the floor measures moves.
        var setups = SeededRandom(seed: seed &- UInt64(seat.rawValue))
        for each in Seat.allCases {
            if let setup = match.position.randomSetup(using: &setups) { try match.place(setup, by: each) }
        }
        state = Mutex(State(match: match, random: SeededRandom(seed: seed)))
        finished = MultiThreadedEventLoopGroup.singleton.any().makePromise(of: Void.self)
    }

    var receive: FloorReceiver { { [self] event in received(event) } }

    /// The seat's connection: if the seat is to move (the game's first move, or an opponent's
    /// move read before it), its turn is taken now.
    func attach(_ connection: any FloorSeat) {
        let turnBegan = state.withLock { state -> ContinuousClock.Instant? in
            guard !state.done else { return nil }
            state.connection = connection
            defer { state.turnBegan = nil }
            return state.match.status == .playing && state.match.turn == seat ? state.turnBegan ?? .now : nil
        }
        if let turnBegan { turn(began: turnBegan) }
    }

    /// Waits for the seat's game to end; cancelled (its partner failed), it ends it.
    func play() async throws {
        try await finished.futureResult.awaitEnding { [self] in end(.failure(CancellationError())) }
    }

    private func received(_ event: MatchEvent?) {
        let now = ContinuousClock.now
        let outcome = state.withLock { state -> Result<Bool, any Error>? in
            guard !state.done else { return nil }
            guard let event else { return .failure(SeatError.connectionEnded(.closed)) }
            guard event.version > state.match.version else { return nil }
            context.ledger.received(match: key, version: event.version, at: now)
            guard case .moved(let mover, let move, _) = event.change else { return nil }
            do {
                try state.match.play(move, by: mover, against: state.match.version)
            } catch {
                return .failure(error)
            }
            guard state.match.status == .playing else { return .success(false) }
            guard state.match.turn == seat else { return nil }
            guard state.connection != nil, !state.awaitingAcknowledgement else {
                state.turnBegan = now
                return nil
            }
            return .success(true)
        }
        switch outcome {
        case nil: break
        case .success(true): turn(began: now)
        case .success(false): end(.success(()))
        case .failure(let error): end(.failure(error))
        }
    }

    private func turn(began: ContinuousClock.Instant) {
        let due = state.withLock { state in
            let due = began + context.think(&state.random)
            context.ledger.due(match: key, version: state.match.version + 1, at: due)
            return due
        }
        Due.run(at: due) { [self] in move(due: due) }
    }

    private func move(due: ContinuousClock.Instant) {
        let sent = ContinuousClock.now
        let made = state.withLock { state -> Result<(event: MatchEvent, connection: any FloorSeat, over: Bool)?, any Error> in
            guard !state.done, let connection = state.connection else { return .success(nil) }
            context.ledger.lagged(sent - due)
            do {
                guard let move = state.match.position.legalMoves.randomElement(using: &state.random),
                      let event = try state.match.play(move, by: seat, against: state.match.version).first else { return .success(nil) }
                state.awaitingAcknowledgement = connection.acknowledges
                return .success((event, connection, state.match.status != .playing))
            } catch {
                return .failure(error)
            }
        }
        let move: (event: MatchEvent, connection: any FloorSeat, over: Bool)
        switch made {
        case .success(let made?): move = made
        case .success(nil): return end(.success(()))
        case .failure(let error): return end(.failure(error))
        }
        guard let acknowledged = move.connection.move(OutboundJSON.encode(move.event, allocator: ByteBufferAllocator())) else {
            context.ledger.sent()
            if move.over { end(.success(())) }
            return
        }
        acknowledged.whenComplete { [self] result in
            switch result {
            case .success:
                context.ledger.acknowledged(after: .now - sent)
                if move.over { return end(.success(())) }
                // The opponent's move may have come before the acknowledgement: its turn now.
                let turnBegan = state.withLock { state -> ContinuousClock.Instant? in
                    state.awaitingAcknowledgement = false
                    defer { state.turnBegan = nil }
                    return state.done ? nil : state.turnBegan
                }
                if let turnBegan { turn(began: turnBegan) }
            case .failure(let error):
                end(.failure(error))
            }
        }
    }

    private func end(_ result: Result<Void, any Error>) {
        let first = state.withLock { state -> Bool in
            guard !state.done else { return false }
            state.done = true
            state.connection = nil
            return true
        }
        if first { finished.completeWith(result) }
    }
}
