import Logging
import NIOCore
import NIOWebSocket
import PlyEngine
import PlyStore
import PlyWire
import Synchronization

/// One match and everything attached to it: its log (each event JSON-encoded once, then sent
/// as the same bytes by both transports), the seat tokens, the long polls waiting for its
/// next event and the WebSockets watching it.
///
/// All state sits behind one lock per match, held only for in-memory work; waking the
/// waiters happens after the lock is released, so a slow client never holds up a move.
///
/// With a store, a change is applied in memory, handed to the journal under the lock (so a
/// match's records are written in version order), and published (acknowledged, sent to
/// polls and WebSockets, shown in snapshots) only once it is durable.
final class MatchRoom: Sendable {
    let id: String
    /// Creation order, for listing.
    let serial: Int
    private let eventLoop: any EventLoop
    private let logger: Logger
    /// Where changes become durable before anyone sees them; nil keeps matches in memory only.
    private let journal: Journal?
    private let state: Mutex<State>

    private struct State {
        /// The match with every accepted change, durable or not yet.
        var match: Match
        /// The match as far as it is published: durable, and visible to clients.
        var visible: Match
        /// `encoded[i]` is the JSON of the event with version `i + 1`; only those up to
        /// `visible.version` are sent.
        var encoded: [ByteBuffer]
        var tokens: [String?]
        var waiters: [Int: Waiter] = [:]
        var nextWaiterID = 0
        /// The poll each seat has waiting, so that a newer one ends it.
        var seatPolls: [Seat: Int] = [:]
        var outboxes: [ObjectIdentifier: Outbox] = [:]
        var closed: WireError?
        var turnTimer: Scheduled<Void>?
        /// When the last event was published, for idle expiry.
        var lastActivity = ContinuousClock.now
    }

    /// A long poll parked until the next event, its timeout, or shutdown.
    private struct Waiter {
        let continuation: CheckedContinuation<Bool, Never>
        var timeout: Scheduled<Void>?
    }

    /// What to wake once the lock is released.
    private struct Wakeups {
        var waiters: [Waiter] = []
        var outboxes: [Outbox] = []
        /// The published version they wake to.
        var version = 0

        func deliver() {
            for waiter in waiters {
                waiter.timeout?.cancel()
                waiter.continuation.resume(returning: true)
            }
            for outbox in outboxes { outbox.wake(version) }
        }
    }

    /// A match whose whole log is already durable (new and stored, or loaded from the store).
    /// - Parameter encoded: the events' JSON when it is at hand (from the store); else encoded here.
    init(id: String, serial: Int, match: Match, encoded: [ByteBuffer]? = nil, tokens: [String?] = [nil, nil],
         eventLoop: any EventLoop, logger: Logger, journal: Journal?) throws {
        self.id = id
        self.serial = serial
        self.eventLoop = eventLoop
        var logger = logger
        logger[metadataKey: "match"] = "\(id)"
        self.logger = logger
        self.journal = journal
        let encoded = try encoded ?? match.events.map(JSONBuffer.encode)
        state = Mutex(State(match: match, visible: match, encoded: encoded, tokens: tokens))
        state.withLock { armTurnTimer(&$0) }
    }

    // MARK: Reading

    func snapshot() -> MatchSnapshot {
        state.withLock { MatchSnapshot(id: id, match: $0.visible) }
    }

    /// The published version.
    var version: Int { state.withLock { $0.visible.version } }

    var idleSince: ContinuousClock.Instant { state.withLock { $0.lastActivity } }

    /// The encoded events after a version, in order, as far as they are published.
    func encodedEvents(after version: Int) -> ArraySlice<ByteBuffer> {
        state.withLock { state in Self.published(state, after: version) }
    }

    private static func published(_ state: State, after version: Int) -> ArraySlice<ByteBuffer> {
        let end = state.visible.version
        return state.encoded[min(max(version, 0), end)..<end]
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

    /// Takes the first free seat and returns its new secret token, once durable.
    func join(name: String) async throws(WireError) -> SeatGrant {
        let token = SeatToken.generate()
        let (grant, commit) = try change { state throws(MatchError) in
            let (seat, _) = try state.match.join(name: name)
            state.tokens[seat.rawValue] = token
            return (SeatGrant(match: id, seat: seat, token: token, version: state.match.version),
                    [StoreRecord.token(match: id, seat: seat.rawValue, token: token)])
        }
        try await commit.durable()
        logger.info("seat taken", metadata: ["seat": "\(grant.seat.rawValue)", "name": "\(name)"])
        if grant.version == commit.version, commit.started { logger.info("match started") }
        return grant
    }

    /// Runs a seat's command and acknowledges it with the match's new version, once durable.
    func execute(_ command: Command, by seat: Seat) async throws(WireError) -> Acknowledgement {
        let (version, commit) = try change(id: command.id) { state throws(MatchError) in
            switch command.action {
            case .play(let move): try state.match.play(move, by: seat, against: command.version)
            case .resign: try state.match.resign(seat, against: command.version)
            }
            return (state.match.version, [])
        }
        do throws(WireError) {
            try await commit.durable()
        } catch {
            throw WireError(error.code, error.message, id: command.id)
        }
        if let result = commit.result { logEnd(result) }
        return Acknowledgement(version: version, id: command.id)
    }

    /// A change accepted in memory: published at once without a store, or once its records
    /// are durable.
    private struct Commit {
        let version: Int
        let future: EventLoopFuture<Void>?
        let result: GameResult?
        let started: Bool

        func durable() async throws(WireError) {
            if let future { try await Journal.durable(future) }
        }
    }

    /// Applies a change to the match under the lock, encodes the events it appended, hands them
    /// (with any extra records) to the journal in version order, and re-arms the turn timer.
    /// Nothing changes when the match refuses.
    private func change<Value>(
        id commandID: Int? = nil,
        _ body: (inout State) throws(MatchError) -> (Value, [StoreRecord])
    ) throws(WireError) -> (Value, Commit) {
        let (value, commit, wakeups) = try state.withLock { state throws(WireError) in
            if let closed = state.closed { throw WireError(closed.code, closed.message, id: commandID) }
            let before = state.match.version
            let value: Value, extra: [StoreRecord]
            do throws(MatchError) {
                (value, extra) = try body(&state)
            } catch {
                throw WireError(error, version: state.match.version, id: commandID)
            }
            var records = extra
            for event in state.match.events(after: before) {
                do {
                    let json = try JSONBuffer.encode(event)
                    state.encoded.append(json)
                    if journal != nil { records.append(.event(match: id, version: event.version, json: json)) }
                } catch {
                    preconditionFailure("a match event failed to encode: \(error)")
                }
            }
            armTurnTimer(&state)
            let version = state.match.version
            let result = version > before ? state.match.result : nil
            let started = state.match.status == .playing && state.visible.status == .waiting
            guard let journal else {
                return (value, Commit(version: version, future: nil, result: result, started: started), publish(&state, upTo: version))
            }
            let future = journal.append(records, on: eventLoop)
            return (value, Commit(version: version, future: future, result: result, started: started), Wakeups())
        }
        wakeups.deliver()
        commit.future?.whenSuccess { [self] in
            state.withLock { publish(&$0, upTo: commit.version) }.deliver()
        }
        return (value, commit)
    }

    /// Makes events up to a version visible and collects whom to wake.
    private func publish(_ state: inout State, upTo version: Int) -> Wakeups {
        guard version > state.visible.version else { return Wakeups() }
        if version == state.match.version {
            state.visible = state.match
        } else {
            for event in state.match.events(after: state.visible.version) where event.version <= version {
                do {
                    try state.visible.apply(event)
                } catch {
                    preconditionFailure("a match event that applied once failed to apply again: \(error)")
                }
            }
        }
        state.lastActivity = .now
        return takeWakeups(&state)
    }

    private func takeWakeups(_ state: inout State) -> Wakeups {
        let wakeups = Wakeups(waiters: Array(state.waiters.values), outboxes: Array(state.outboxes.values), version: state.visible.version)
        state.waiters.removeAll(keepingCapacity: true)
        state.seatPolls.removeAll(keepingCapacity: true)
        return wakeups
    }

    /// With a per-move time limit, ends the match if the seat to move lets it pass. The version
    /// makes a timer that fires after the move it waited for do nothing.
    private func armTurnTimer(_ state: inout State) {
        state.turnTimer?.cancel()
        state.turnTimer = nil
        guard state.closed == nil, let limit = state.match.options.moveTimeLimit, let seat = state.match.turn else { return }
        let version = state.match.version
        state.turnTimer = eventLoop.scheduleTask(in: .seconds(Int64(limit))) { [weak self] in
            guard let self else { return }
            self.expireTurn(of: seat, against: version)
        }
    }

    private func expireTurn(of seat: Seat, against version: Int) {
        guard let (_, commit) = try? change({ state throws(MatchError) in
            (try state.match.expireTurn(of: seat, against: version), [])
        }) else { return }
        let logger = logger
        let done = { @Sendable in
            logger.info("turn time ran out", metadata: ["seat": "\(seat.rawValue)"])
            if let result = commit.result { self.logEnd(result) }
        }
        if let future = commit.future { future.whenSuccess(done) } else { done() }
    }

    private func logEnd(_ result: GameResult) {
        let winner = result.winner.map { "seat \($0.rawValue)" } ?? "draw"
        logger.info("match ended", metadata: ["result": "\(winner)", "reason": "\(result.reason.rawValue)"])
    }

    // MARK: Long polling

    /// The encoded events after `version`: at once if there are any, else when the next event
    /// arrives, the timeout passes (empty), the server shuts down (empty), or, for a seat's
    /// poll, a newer poll of the same seat arrives (empty).
    /// - Parameter register: given a way to end the wait early, once the poll waits.
    func waitForEvents(after version: Int, timeout: Duration, seat: Seat? = nil,
                       register: (@escaping @Sendable () -> Void) -> Void = { _ in }) async -> ArraySlice<ByteBuffer> {
        let ready = encodedEvents(after: version)
        if !ready.isEmpty || timeout <= .zero { return ready }
        let current = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let (waiterID, superseded): (Int?, Waiter?) = state.withLock { state in
                guard state.visible.version <= version, state.closed == nil else { return (nil, nil) }
                let id = state.nextWaiterID
                state.nextWaiterID += 1
                state.waiters[id] = Waiter(continuation: continuation)
                var superseded: Waiter?
                if let seat {
                    if let older = state.seatPolls[seat] { superseded = state.waiters.removeValue(forKey: older) }
                    state.seatPolls[seat] = id
                }
                return (id, superseded)
            }
            if let superseded {
                superseded.timeout?.cancel()
                superseded.continuation.resume(returning: false)
            }
            guard let waiterID else { return continuation.resume(returning: true) }
            let timer = eventLoop.scheduleTask(in: TimeAmount(timeout)) { [weak self] in
                guard let self else { return }
                self.expireWaiter(waiterID)
            }
            let stillWaiting = state.withLock { state in
                guard state.waiters[waiterID] != nil else { return false }
                state.waiters[waiterID]?.timeout = timer
                return true
            }
            if stillWaiting {
                register { [weak self] in self?.expireWaiter(waiterID) }
            } else {
                timer.cancel()
            }
        }
        return current ? encodedEvents(after: version) : []
    }

    private func expireWaiter(_ id: Int) {
        state.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume(returning: true)
    }

    /// How many polls are waiting (for tests and /health).
    var waitingPolls: Int { state.withLock { $0.waiters.count } }

    // MARK: WebSockets

    /// Starts delivering events to a WebSocket's outbox. Subscribe before reading the
    /// connection's first message, so no event can slip between the two.
    func subscribe(_ outbox: Outbox) {
        let (closed, version) = state.withLock { state in
            state.outboxes[ObjectIdentifier(outbox)] = outbox
            return (state.closed, state.visible.version)
        }
        outbox.wake(version)  // the backlog after the client's `after`
        if let closed { outbox.close(Self.closeCode(for: closed)) }
    }

    /// How many WebSockets watch this match.
    var webSocketCount: Int { state.withLock { $0.outboxes.count } }

    func unsubscribe(_ outbox: Outbox) {
        _ = state.withLock { $0.outboxes.removeValue(forKey: ObjectIdentifier(outbox)) }
    }

    // MARK: Shutdown and expiry

    /// Answers every waiting poll (with no events), closes every WebSocket (1001 at shutdown,
    /// 4410 when the match expires) and refuses further commands with `reason`.
    func close(_ reason: WireError = WireError(.shuttingDown, "the server is shutting down")) {
        let (wakeups, timer) = state.withLock { state in
            state.closed = reason
            defer { state.turnTimer = nil }
            return (takeWakeups(&state), state.turnTimer)
        }
        timer?.cancel()
        for waiter in wakeups.waiters {
            waiter.timeout?.cancel()
            waiter.continuation.resume(returning: true)
        }
        for outbox in wakeups.outboxes { outbox.close(Self.closeCode(for: reason)) }
    }

    static func closeCode(for reason: WireError) -> WebSocketErrorCode {
        reason.code == .expiredMatch ? PlyCloseCode.expiredMatch : .goingAway
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
