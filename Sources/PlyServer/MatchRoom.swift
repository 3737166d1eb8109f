import Logging
import NIOCore
import PlyEngine
import PlyWire
import Synchronization

/// One match and everything attached to it: its log (each event JSON-encoded once, then sent
/// as the same bytes by both transports), the seat tokens, the long polls waiting for its
/// next event and the WebSockets watching it.
///
/// All state sits behind one lock per match, held only for in-memory work; waking the
/// waiters happens after the lock is released, so a slow client never holds up a move.
final class MatchRoom: Sendable {
    let id: String
    /// Creation order, for listing.
    let serial: Int
    private let eventLoop: any EventLoop
    private let logger: Logger
    private let state: Mutex<State>

    private struct State {
        var match: Match
        /// `encoded[i]` is the JSON of the event with version `i + 1`.
        var encoded: [ByteBuffer]
        var tokens: [String?] = [nil, nil]
        var waiters: [Int: Waiter] = [:]
        var nextWaiterID = 0
        var outboxes: [ObjectIdentifier: Outbox] = [:]
        var closed = false
        var turnTimer: Scheduled<Void>?
    }

    /// A long poll parked until the next event, its timeout, or shutdown.
    private struct Waiter {
        let continuation: CheckedContinuation<Void, Never>
        var timeout: Scheduled<Void>?
    }

    /// What to wake once the lock is released.
    private struct Wakeups {
        var waiters: [Waiter] = []
        var outboxes: [Outbox] = []

        func deliver() {
            for waiter in waiters {
                waiter.timeout?.cancel()
                waiter.continuation.resume()
            }
            for outbox in outboxes { outbox.wake() }
        }
    }

    init(id: String, serial: Int, match: Match, eventLoop: any EventLoop, logger: Logger) throws {
        self.id = id
        self.serial = serial
        self.eventLoop = eventLoop
        var logger = logger
        logger[metadataKey: "match"] = "\(id)"
        self.logger = logger
        let encoded = try match.events.map(JSONBuffer.encode)
        state = Mutex(State(match: match, encoded: encoded))
    }

    // MARK: Reading

    func snapshot() -> MatchSnapshot {
        state.withLock { MatchSnapshot(id: id, match: $0.match) }
    }

    var version: Int { state.withLock { $0.match.version } }

    /// The encoded events after a version, in order.
    func encodedEvents(after version: Int) -> ArraySlice<ByteBuffer> {
        state.withLock { state in state.encoded[min(max(version, 0), state.encoded.count)...] }
    }

    /// The seat a token acts for. Both seats are compared in constant time, whichever matches.
    func seat(forToken token: String?) throws(WireError) -> Seat {
        guard let token else { throw WireError(.missingToken, "send the seat token as 'Authorization: Bearer TOKEN'") }
        let tokens = state.withLock { $0.tokens }
        var found: Seat?
        for seat in Seat.allCases {
            if let actual = tokens[seat.rawValue], SeatToken.matches(token, actual) { found = seat }
        }
        guard let found else { throw WireError(.wrongToken, "the token is not a seat token of match \(id)") }
        return found
    }

    // MARK: Commands

    /// Takes the first free seat and returns its new secret token.
    func join(name: String) throws(WireError) -> SeatGrant {
        let token = SeatToken.generate()
        let ((grant, started), wakeups, _) = try change { state throws(MatchError) in
            let (seat, _) = try state.match.join(name: name)
            state.tokens[seat.rawValue] = token
            return (SeatGrant(match: id, seat: seat, token: token, version: state.match.version), state.match.status == .playing)
        }
        wakeups.deliver()
        logger.info("seat taken", metadata: ["seat": "\(grant.seat.rawValue)", "name": "\(name)"])
        if started { logger.info("match started") }
        return grant
    }

    /// Runs a seat's command and acknowledges it with the match's new version.
    func execute(_ command: Command, by seat: Seat) throws(WireError) -> Acknowledgement {
        let (version, wakeups, result) = try change(id: command.id) { state throws(MatchError) in
            switch command.action {
            case .play(let move): try state.match.play(move, by: seat, against: command.version)
            case .resign: try state.match.resign(seat, against: command.version)
            }
            return state.match.version
        }
        wakeups.deliver()
        if let result { logEnd(result) }
        return Acknowledgement(version: version, id: command.id)
    }

    /// Applies a change to the match under the lock, encodes the events it appended, re-arms the
    /// turn timer and collects whom to wake. Nothing changes when the match refuses.
    private func change<Value>(
        id commandID: Int? = nil,
        _ body: (inout State) throws(MatchError) -> Value
    ) throws(WireError) -> (Value, Wakeups, GameResult?) {
        try state.withLock { state throws(WireError) in
            guard !state.closed else { throw WireError(.shuttingDown, "the server is shutting down", id: commandID) }
            let before = state.match.version
            let value: Value
            do throws(MatchError) {
                value = try body(&state)
            } catch {
                throw WireError(error, version: state.match.version, id: commandID)
            }
            for event in state.match.events(after: before) {
                do {
                    state.encoded.append(try JSONBuffer.encode(event))
                } catch {
                    preconditionFailure("a match event failed to encode: \(error)")
                }
            }
            armTurnTimer(&state)
            let finished = state.match.version > before ? state.match.result : nil
            return (value, takeWakeups(&state), finished)
        }
    }

    private func takeWakeups(_ state: inout State) -> Wakeups {
        let wakeups = Wakeups(waiters: Array(state.waiters.values), outboxes: Array(state.outboxes.values))
        state.waiters.removeAll(keepingCapacity: true)
        return wakeups
    }

    /// With a per-move time limit, ends the match if the seat to move lets it pass. The version
    /// makes a timer that fires after the move it waited for do nothing.
    private func armTurnTimer(_ state: inout State) {
        state.turnTimer?.cancel()
        state.turnTimer = nil
        guard let limit = state.match.options.moveTimeLimit, let seat = state.match.turn else { return }
        let version = state.match.version
        state.turnTimer = eventLoop.scheduleTask(in: .seconds(Int64(limit))) { [weak self] in
            guard let self else { return }
            self.expireTurn(of: seat, against: version)
        }
    }

    private func expireTurn(of seat: Seat, against version: Int) {
        guard let (_, wakeups, result) = try? change({ state throws(MatchError) in
            try state.match.expireTurn(of: seat, against: version)
        }) else { return }
        wakeups.deliver()
        logger.info("turn time ran out", metadata: ["seat": "\(seat.rawValue)"])
        if let result { logEnd(result) }
    }

    private func logEnd(_ result: GameResult) {
        let winner = result.winner.map { "seat \($0.rawValue)" } ?? "draw"
        logger.info("match ended", metadata: ["result": "\(winner)", "reason": "\(result.reason.rawValue)"])
    }

    // MARK: Long polling

    /// The encoded events after `version`: at once if there are any, else when the next event
    /// arrives, the timeout passes (empty), or the server shuts down (empty).
    func waitForEvents(after version: Int, timeout: Duration) async -> ArraySlice<ByteBuffer> {
        let ready = encodedEvents(after: version)
        if !ready.isEmpty || timeout <= .zero { return ready }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let waiterID: Int? = state.withLock { state in
                guard state.match.version <= version, !state.closed else { return nil }
                let id = state.nextWaiterID
                state.nextWaiterID += 1
                state.waiters[id] = Waiter(continuation: continuation)
                return id
            }
            guard let waiterID else { return continuation.resume() }
            let timer = eventLoop.scheduleTask(in: TimeAmount(timeout)) { [weak self] in
                guard let self else { return }
                self.expireWaiter(waiterID)
            }
            let stillWaiting = state.withLock { state in
                guard state.waiters[waiterID] != nil else { return false }
                state.waiters[waiterID]?.timeout = timer
                return true
            }
            if !stillWaiting { timer.cancel() }
        }
        return encodedEvents(after: version)
    }

    private func expireWaiter(_ id: Int) {
        state.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume()
    }

    // MARK: WebSockets

    /// Starts delivering events to a WebSocket's outbox. Subscribe before reading the
    /// connection's first message, so no event can slip between the two.
    func subscribe(_ outbox: Outbox) {
        let closed = state.withLock { state in
            state.outboxes[ObjectIdentifier(outbox)] = outbox
            return state.closed
        }
        if closed { outbox.close(.goingAway) }
    }

    func unsubscribe(_ outbox: Outbox) {
        _ = state.withLock { $0.outboxes.removeValue(forKey: ObjectIdentifier(outbox)) }
    }

    // MARK: Shutdown

    /// Answers every waiting poll (with no events), closes every WebSocket with 1001 and
    /// refuses further commands.
    func close() {
        let (wakeups, timer) = state.withLock { state in
            state.closed = true
            defer { state.turnTimer = nil }
            return (takeWakeups(&state), state.turnTimer)
        }
        timer?.cancel()
        for waiter in wakeups.waiters {
            waiter.timeout?.cancel()
            waiter.continuation.resume()
        }
        for outbox in wakeups.outboxes { outbox.close(.goingAway) }
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
