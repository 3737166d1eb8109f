import NIOCore
import NIOPosix
import PlyEngine
import PlyWire
import Synchronization

/// Seat hooks whose move is chosen at once, with the instant it is due (a think time drawn,
/// not spent): what `SeatDriver` needs to play a seat from its connection's event loop. Their
/// `move` for `play(with:)` waits until the move is due, so both drive the same seat alike.
public protocol ScheduledSeatHooks: SeatHooks {
    /// The seat's move in notation and when it is due, when it is to move in `match` since
    /// `turnBegan`; nil plays nothing.
    mutating func scheduledMove(in match: Match, turnBegan: ContinuousClock.Instant) -> (move: String, due: ContinuousClock.Instant)?
    /// The move due at `due` goes out now.
    mutating func sending(due: ContinuousClock.Instant, at now: ContinuousClock.Instant)
}

extension ScheduledSeatHooks {
    public mutating func sending(due: ContinuousClock.Instant, at now: ContinuousClock.Instant) {}

    public mutating func move(in match: Match, turnBegan: ContinuousClock.Instant) async throws -> String? {
        guard let (move, due) = scheduledMove(in: match, turnBegan: turnBegan) else { return nil }
        try await Due.sleep(until: due)
        sending(due: due, at: .now)
        return move
    }
}

/// Waiting until a move is due, in a task or on an event loop. A move already due costs no
/// wait at all: a sleep until an instant past still hands the task to the timer and back (2%
/// of the load generator when saturating), and a timer the same to the loop.
public enum Due {
    public static func sleep(until due: ContinuousClock.Instant) async throws {
        if due > .now {
            try await Task.sleep(until: due, tolerance: .zero, clock: .continuous)
        } else {
            try Task.checkCancellation()
        }
    }

    /// Runs `body` once `due` has come: at once if it has, else on a timer of the event loop
    /// the caller is on (or of `group`'s next, off any loop).
    public static func run(at due: ContinuousClock.Instant, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                           _ body: @escaping @Sendable () -> Void) {
        let wait = due - .now
        guard wait > .zero else { return body() }
        let loop = MultiThreadedEventLoopGroup.currentEventLoop ?? group.next()
        loop.scheduleTask(in: TimeAmount(wait), body)
    }
}

/// A seat played by the seat loop's rules (`SeatState`, as `play(with:)` plays them) where its
/// connection's updates are read, on the connection's event loop: no task and no stream per
/// seat. A move due later waits on a timer of that loop; commands go out at once on the
/// connection's session (`MatchConnection.sendNow`), one at a time; only when that cannot be
/// (a command connection still to open, a rate limit to wait out, a connection lost with a
/// command on its way) does a task send the command as `play(with:)` does.
///
/// Give `onUpdate` to `MatchConnection.open`, `attach` the connection it returns, then
/// await `play()`.
public final class SeatDriver<Hooks: ScheduledSeatHooks>: Sendable {
    private struct Outgoing: Sendable {
        let command: Command
        let letting: Set<ErrorCode>
        /// For a move: when it was sent, for the hooks' `acknowledged`.
        var sentAt: ContinuousClock.Instant?
    }

    private struct State: Sendable {
        var loop: SeatState
        var hooks: Hooks
        var connection: MatchConnection?
        /// The last step taken before the connection was attached, and when: done once it is.
        var deferred: (step: SeatState.Step, at: ContinuousClock.Instant)?
        /// The version the last move was chosen on.
        var movedAt = -1
        /// A command is on its way; the next waits for its answer.
        var sending = false
        var queued: Outgoing?
        var done = false
    }

    private let state: Mutex<State>
    private let finished: EventLoopPromise<Match>
    private let group: any EventLoopGroup

    public init(seat: Seat, hooks: Hooks, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        state = Mutex(State(loop: SeatState(seat: seat), hooks: hooks))
        self.group = group
        finished = group.any().makePromise(of: Match.self)
    }

    /// What the connection hands its updates to.
    public var onUpdate: MatchConnection.UpdateHandler {
        { [self] update in take(update) }
    }

    /// The seat's connection, opened with `onUpdate`: what came before it is acted on now.
    public func attach(_ connection: MatchConnection) {
        let deferred = state.withLock { state -> (step: SeatState.Step, at: ContinuousClock.Instant)? in
            guard !state.done else { return nil }
            state.connection = connection
            defer { state.deferred = nil }
            return state.deferred
        }
        if let deferred { act(on: deferred.step, at: deferred.at) }
    }

    /// The hooks as they are now.
    public var hooks: Hooks { state.withLock { $0.hooks } }

    /// Waits for the game's end and returns the match as it finished; throws as `play(with:)`
    /// does, or `CancellationError` when the task is cancelled.
    public func play() async throws -> Match {
        // Cancelled (the other seat's task failed), the seat stops: nothing else would end it.
        try await finished.futureResult.awaitEnding { [self] in end(.failure(CancellationError())) }
    }

    private func take(_ update: MatchUpdate?) {
        let now = ContinuousClock.now
        let step = state.withLock { state -> Result<SeatState.Step, any Error>? in
            guard !state.done else { return nil }
            guard let update else {
                return .failure(SeatError.connectionEnded(state.connection?.state ?? .closed))
            }
            // Before the connection is attached, the update just delivered is the newest (a
            // step taken then is kept for `attach`, each replacing the one before).
            let newest = state.connection?.lastVersion
            // A rollback takes back what the seat moved after it: it may move there again.
            if case .rolledBack(let version) = update { state.movedAt = min(state.movedAt, version - 1) }
            do {
                let step = try state.loop.take(update, hooks: &state.hooks, at: now, newest: newest)
                if state.connection == nil {
                    state.deferred = (step, now)
                    guard case .finished = step else { return nil }
                }
                return .success(step)
            } catch {
                return .failure(error)
            }
        }
        switch step {
        case nil: break
        case .success(let step): act(on: step, at: now)
        case .failure(let error): end(.failure(error))
        }
    }

    private func act(on step: SeatState.Step, at now: ContinuousClock.Instant) {
        switch step {
        case .wait:
            break
        case .finished(let match):
            end(.success(match))
        case .place(let match):
            let command = state.withLock { state -> Outgoing? in
                // Once: a step deferred to `attach` may meet the same step taken since.
                guard !state.loop.setupSent, let setup = state.hooks.setup(for: match) else { return nil }
                state.loop.placed()
                return Outgoing(command: Command(.place(setup), version: match.version), letting: SeatState.placeLetGo)
            }
            if let command { send(command) }
        case .move(let match):
            let chosen = state.withLock { state -> (move: String, due: ContinuousClock.Instant)? in
                // One move a version, for the same reason.
                guard match.version > state.movedAt else { return nil }
                state.movedAt = match.version
                return state.hooks.scheduledMove(in: match, turnBegan: now)
            }
            guard let (move, due) = chosen else { return }
            let command = Command(.play(move), version: match.version)
            Due.run(at: due, group: group) { [self] in sendMove(command, due: due) }
        }
    }

    private func sendMove(_ command: Command, due: ContinuousClock.Instant) {
        let now = ContinuousClock.now
        state.withLock { $0.hooks.sending(due: due, at: now) }
        send(Outgoing(command: command, letting: SeatState.moveLetGo, sentAt: now))
    }

    /// Sends now, or once the command on its way has its answer.
    private func send(_ command: Outgoing) {
        let connection = state.withLock { state -> MatchConnection? in
            guard !state.done, let connection = state.connection else { return nil }
            guard !state.sending else {
                state.queued = command
                return nil
            }
            state.sending = true
            return connection
        }
        guard let connection else { return }
        guard let answer = connection.sendNow(command.command) else { return sendInTask(command, on: connection, lostOnce: false) }
        answer.whenComplete { [self] result in
            switch result {
            case .success:
                answered(command, taken: true)
            case .failure(CommandError.refused(let error)) where command.letting.contains(error.code):
                answered(command, taken: false)
            case .failure(CommandError.refused(let error)) where error.code == .rateLimited || error.code == .storeUnavailable:
                sendInTask(command, on: connection, lostOnce: false)
            case .failure(CommandError.refused(let error)):
                end(.failure(SeatError.refused(error)))
            case .failure(is SessionLost):
                sendInTask(command, on: connection, lostOnce: true)
            case .failure(let error):
                end(.failure(error))
            }
        }
    }

    /// As `play(with:)` sends: politely, the refusals let go let go, in a task.
    private func sendInTask(_ command: Outgoing, on connection: MatchConnection, lostOnce: Bool) {
        Task {
            do {
                let taken = try await connection.settle(command.command, letting: command.letting, lostOnce: lostOnce)
                answered(command, taken: taken)
            } catch {
                end(.failure(error))
            }
        }
    }

    private func answered(_ command: Outgoing, taken: Bool) {
        let next = state.withLock { state -> Outgoing? in
            if taken, let sent = command.sentAt { state.hooks.acknowledged(sentAt: sent) }
            state.sending = false
            defer { state.queued = nil }
            return state.queued
        }
        if let next { send(next) }
    }

    private func end(_ result: Result<Match, any Error>) {
        let first = state.withLock { state -> Bool in
            guard !state.done else { return false }
            state.done = true
            // The connection holds this driver (its handler): let go of it, so neither keeps the other.
            state.connection = nil
            state.queued = nil
            return true
        }
        guard first else { return }
        finished.completeWith(result)
    }
}

extension EventLoopFuture where Value: Sendable {
    /// The future's value; if the task is cancelled first, `end` runs, which must complete the
    /// future (a driven seat's game, which nothing else would end).
    public func awaitEnding(_ end: @escaping @Sendable () -> Void) async throws -> Value {
        try await withTaskCancellationHandler {
            try await get()
        } onCancel: {
            end()
        }
    }
}
