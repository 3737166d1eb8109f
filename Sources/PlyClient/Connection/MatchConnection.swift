import NIOCore
import PlyEngine
import PlyWire
import Synchronization

/// Where a match connection stands.
public enum ConnectionState: Sendable, Hashable {
    case connected
    /// Lost; the next attempt starts at `retryAt`.
    case reconnecting(attempt: Int, retryAt: ContinuousClock.Instant)
    /// Refused by the server for good (the match is gone, the token is wrong).
    case failed(WireError)
    case closed
}

/// Why a command did not get an acknowledgement.
public enum CommandError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server refused it; nothing was applied.
    case refused(WireError)
    /// No connection came back before the command's deadline. It was not applied, or its
    /// events will show that it was.
    case timedOut
    /// The connection was closed or failed for good.
    case closed
    /// Another command is still on its way on this connection; this one was not sent.
    case busy

    public var description: String {
        switch self {
        case .refused(let error): "\(error)"
        case .timedOut: "no connection to the server in time"
        case .closed: "the connection is closed"
        case .busy: "a command is still on its way; wait for its answer"
        }
    }
}

/// What a match connection delivers: the next event, or word from servers sharing a database
/// that what was delivered after a version never became durable (drop it: the events after the
/// version that follow are the match's).
public enum MatchUpdate: Sendable, Hashable {
    case event(MatchEvent)
    case rolledBack(to: Int)
}

/// One client's connection to one match, as a seat or a spectator, over any transport.
///
/// Events arrive in `updates` in version order, each exactly once, however often the
/// connection is lost and re-established (with capped, jittered exponential backoff, resuming
/// from the last version seen). A command is acknowledged once or fails with a clear error:
/// when its connection drops before the answer, it is sent again after reconnecting with the
/// same version, and a `match/stale_version` answer then counts as success if the match's log
/// shows the command applied.
public final class MatchConnection: Sendable {
    public let endpoint: Endpoint
    public let match: String
    /// The seat this connection acts for, or nil for a spectator.
    public let seat: Seat?
    public let stats: WireStats
    /// Every event of the match after the version the connection started from, in order; and,
    /// from servers sharing a database, word that events after a version never became durable
    /// (they are dropped from `log`; the events after that version that follow are the match's).
    /// (With an update handler, `updates` carries nothing: the handler has them.)
    public let updates: AsyncStream<MatchUpdate>
    /// What is handed each update as it is delivered, on the session's event loop, in order,
    /// and nil once the connection has ended: the updates' other way, for a reader that acts
    /// where they are read (`SeatDriver`) rather than in a task of its own.
    public typealias UpdateHandler = @Sendable (MatchUpdate?) -> Void
    private let handler: UpdateHandler?
    /// Each change of `state`, newest kept when the reader is slow.
    public let states: AsyncStream<ConnectionState>

    private let token: String?
    private let options: ConnectionOptions
    private let eventContinuation: AsyncStream<MatchUpdate>.Continuation
    private let stateContinuation: AsyncStream<ConnectionState>.Continuation
    private let core: Mutex<Core>

    private struct Core {
        var log: [MatchEvent] = []
        var lastVersion: Int
        var state = ConnectionState.connected
        var session: (any TransportSession)?
        /// The transports still to try, in order: one, or for `auto` those it has not given up
        /// on; the first is the one in use.
        var candidates: [Transport]
        /// Every transport the choice allows, in order (for `auto`, all of them).
        var all: [Transport]
        /// For `auto`: the transports given up on before the one in use, and why.
        var passedOver: [(transport: Transport, reason: String)] = []
        /// For `auto`: said once it went back to a transport it had given up on.
        var returned: String?
        /// Commands waiting for a session to send on, by ticket.
        var waitingForSession: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextTicket = 0
        var isClosed = false
        var commandInFlight = false
    }

    private init(endpoint: Endpoint, match: String, seat: Seat?, token: String?, transport: TransportChoice,
                 after: Int, options: ConnectionOptions, stats: WireStats, handler: UpdateHandler?) {
        self.endpoint = endpoint
        self.handler = handler
        self.match = match
        self.seat = seat
        self.token = token
        self.options = options
        self.stats = stats
        (updates, eventContinuation) = AsyncStream.makeStream()
        if handler != nil { eventContinuation.finish() }
        (states, stateContinuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(8))
        // `auto` starts past what the process has learned to avoid on the way to this server
        // (the last transport is always kept).
        var candidates = transport.candidates
        var passedOver: [(transport: Transport, reason: String)] = []
        if candidates.count > 1 {
            let avoided = options.memory.avoided(at: endpoint)
            let kept = candidates.filter { avoided[$0] == nil }
            candidates = kept.isEmpty ? Array(candidates.suffix(1)) : kept
            passedOver = transport.candidates.filter { !candidates.contains($0) }.map { ($0, "\(avoided[$0] ?? "given up on"), lately") }
        }
        var core = Core(lastVersion: after, candidates: candidates, all: transport.candidates)
        core.passedOver = passedOver
        self.core = Mutex(core)
    }

    /// Connects to a match and starts receiving its events after `after`.
    /// - Parameters:
    ///   - seat: the seat and its token, to act for a seat; nil to watch.
    /// - Throws: the server's `WireError` if it refuses (unknown match, wrong token), or the
    ///   network error if it cannot be reached.
    public static func open(
        to endpoint: Endpoint,
        match: String,
        seat: (seat: Seat, token: String)? = nil,
        transport: TransportChoice = .over(.webSocket),
        after: Int = 0,
        options: ConnectionOptions = ConnectionOptions(),
        stats: WireStats = WireStats(),
        onUpdate handler: UpdateHandler? = nil
    ) async throws -> MatchConnection {
        let connection = MatchConnection(endpoint: endpoint, match: match, seat: seat?.seat, token: seat?.token,
                                         transport: transport, after: after, options: options, stats: stats, handler: handler)
        let session: any TransportSession
        do {
            session = try await connection.openSession()
        } catch let error as WireError where error.code == .rolledBack && (error.version ?? 0) < after {
            // Servers sharing a database that has less of the match than the caller saw: the
            // caller is told first (`updates`), then the match goes on after the database's version.
            connection.rollBack(to: error.version ?? 0)
            session = try await connection.openSession()
        }
        connection.core.withLock { $0.session = session }
        connection.stateContinuation.yield(.connected)
        Task { await connection.supervise(session) }
        return connection
    }

    // MARK: Reading

    public var state: ConnectionState { core.withLock { $0.state } }

    /// The transport in use (for `auto`, the one it settled on).
    public var transport: Transport { core.withLock { $0.candidates[0] } }

    /// For `auto`, the transports it gave up on before settling on `transport`, and why (a
    /// refused upgrade, an upgrade or a stream that a proxy held); empty when the first worked.
    public var passedOver: [(transport: Transport, reason: String)] { core.withLock { $0.passedOver } }

    /// Where `auto` settled and why, for a person, short enough for a status line ("On SSE: WS
    /// upgrade refused (400)."): nil when it is on its first choice.
    public var settledReason: String? {
        let (transport, passedOver, returned) = core.withLock { ($0.candidates[0], $0.passedOver, $0.returned) }
        guard !passedOver.isEmpty else { return returned }
        return "On \(transport.abbreviation): " + passedOver.map { "\($0.transport.abbreviation) \($0.reason)" }.joined(separator: "; ") + "."
    }

    /// The version of the last event delivered.
    public var lastVersion: Int { core.withLock { $0.lastVersion } }

    /// Every event delivered so far, in order.
    public var log: [MatchEvent] { core.withLock { $0.log } }

    /// Takes events from a session: only the next version is accepted, so an event repeated
    /// across a reconnection is dropped and order is kept. Called on an event loop.
    private func deliver(_ news: SessionNews) {
        switch news {
        case .events(let batch):
            let accepted = core.withLock { core -> [MatchEvent] in
                var accepted: [MatchEvent] = []
                for event in batch where event.version == core.lastVersion + 1 {
                    core.lastVersion = event.version
                    core.log.append(event)
                    if handler == nil { eventContinuation.yield(.event(event)) } else { accepted.append(event) }
                }
                return accepted
            }
            // Handed on outside the lock: the handler may ask the connection anything.
            if let handler { for event in accepted { handler(.event(event)) } }
        case .rolledBack(let version):
            rollBack(to: version)
        }
    }

    /// Drops what was delivered after a version the server says never became durable.
    private func rollBack(to version: Int) {
        let rolledBack = core.withLock { core -> Bool in
            guard core.lastVersion > version else { return false }
            core.lastVersion = max(version, 0)
            core.log.removeAll { $0.version > version }
            if handler == nil { eventContinuation.yield(.rolledBack(to: version)) }
            return true
        }
        if rolledBack { handler?(.rolledBack(to: version)) }
    }

    // MARK: Sessions

    private func openSession() async throws -> any TransportSession {
        let (candidates, after) = core.withLock { ($0.candidates, $0.lastVersion) }
        let sink: EventSink = { [weak self] news in self?.deliver(news) }
        for (index, transport) in candidates.enumerated() {
            do {
                return try await Self.open(transport, endpoint: endpoint, match: match, token: token, after: after,
                                           options: options, stats: stats, sink: sink)
            } catch let error as LinkError where error.movesOn && index < candidates.count - 1 {
                // `auto`: a proxy that strips `Upgrade`, or one that holds the upgrade: the next
                // transport from now on.
                let reason = Self.reason(error, on: transport)
                core.withLock { core in
                    core.candidates = Array(candidates[(index + 1)...])
                    core.passedOver.append((transport, reason))
                }
                options.memory.gaveUp(on: transport, at: endpoint, reason: reason)
            }
        }
        throw LinkError.connectionClosed
    }

    /// Why a transport was given up on, in words.
    private static func reason(_ error: LinkError, on transport: Transport) -> String {
        switch error {
        case .upgradeRefused(let status, _): "upgrade refused (\(status))"
        case .timedOut where transport == .webSocket: "upgrade unanswered (a proxy holds it?)"
        case .timedOut: "stream held back (a proxy buffers it?)"
        default: "\(error)"
        }
    }

    /// One session over one transport.
    private static func open(_ transport: Transport, endpoint: Endpoint, match: String, token: String?, after: Int,
                             options: ConnectionOptions, stats: WireStats, sink: @escaping EventSink) async throws -> any TransportSession {
        let session: any TransportSession.Type = switch transport {
        case .webSocket: WebSocketSession.self
        case .serverSentEvents: EventStreamSession.self
        case .longPoll: LongPollSession.self
        }
        return try await session.open(SessionRequest(endpoint: endpoint, match: match, token: token, after: after,
                                                     options: options, stats: stats, sink: sink))
    }

    /// Watches the current session; when it is lost, reconnects with backoff until it is back,
    /// refused for good, or closed.
    private func supervise(_ first: any TransportSession) async {
        var session = first
        var random = SystemRandomNumberGenerator()
        var opened = ContinuousClock.now
        var quickCuts = 0
        while true {
            let wake = await wait(for: session, openedAt: opened)
            guard case .ended(let end) = wake else {
                // `auto`, on a fallback: the transport given up on may be tried again.
                if case .retry(let transport) = wake, let better = await retry(transport, replacing: session) {
                    session = better
                    opened = .now
                    // Known to fail: one quick cut now gives it up again.
                    quickCuts = options.cutsBeforeMovingOn - 1
                }
                continue
            }
            if case .lost = end { noteCut(lived: .now - opened, of: session.kind, count: &quickCuts) }
            switch end {
            case .closed:
                return
            case .refused(let error) where error.code == .rolledBack:
                // Reconnected after events that never became durable: drop them, resume after.
                rollBack(to: error.version ?? 0)
            case .refused(let error):
                return shutDown(.failed(error))
            case .lost:
                break
            }
            var attempt = 0
            while true {
                attempt += 1
                let delay = options.backoff.delay(attempt: attempt, using: &random)
                guard setState(.reconnecting(attempt: attempt, retryAt: .now + delay)) else { return }
                try? await Task.sleep(for: delay)
                stats.update { $0.reconnectAttempts += 1 }
                do {
                    session = try await openSession()
                    break
                } catch let error as WireError where error.code == .rolledBack {
                    rollBack(to: error.version ?? 0)
                    continue
                } catch let error as WireError {
                    return shutDown(.failed(error))
                } catch {
                    continue
                }
            }
            opened = .now
            stats.update { $0.reconnects += 1 }
            let (waiters, closed) = core.withLock { core in
                core.session = session
                defer { core.waitingForSession.removeAll() }
                return (core.waitingForSession.values, core.isClosed)
            }
            if closed { return session.close() }
            _ = setState(.connected)
            for waiter in waiters { waiter.resume() }
        }
    }

    /// `auto`: counts sessions lost soon after they opened, in a row; enough of them (a proxy
    /// that lets the upgrade through and cuts the socket soon after) and the connection moves on
    /// to the next transport, for the rest of its life, rather than flap between opening and
    /// failing. A session that lived longer starts the count again.
    private func noteCut(lived: Duration, of kind: Transport, count quickCuts: inout Int) {
        guard lived < options.quickCut else {
            quickCuts = 0
            return
        }
        quickCuts += 1
        guard quickCuts >= options.cutsBeforeMovingOn else { return }
        quickCuts = 0
        let reason = "cut \(options.cutsBeforeMovingOn) times soon after opening (a proxy?)"
        let gaveUp = core.withLock { core -> Bool in
            guard core.candidates.count > 1, core.candidates[0] == kind else { return false }
            core.candidates.removeFirst()
            core.passedOver.append((kind, reason))
            core.returned = nil
            return true
        }
        if gaveUp { options.memory.gaveUp(on: kind, at: endpoint, reason: reason) }
    }

    /// What ends a wait on a session.
    private enum Wake {
        case ended(SessionEnd)
        /// `auto`: time to try this transport again, given up on before the one in use.
        case retry(Transport)
    }

    /// Waits for the session to end or, for `auto` on a fallback, for the time to try a
    /// transport given up on again; a session that lasts past `quickCut` tells the memory its
    /// transport works.
    private func wait(for session: any TransportSession, openedAt opened: ContinuousClock.Instant) async -> Wake {
        let memory = options.memory, endpoint = endpoint, kind = session.kind, quickCut = options.quickCut
        let (isAuto, retry, retryAt) = core.withLock { core -> (Bool, Transport?, ContinuousClock.Instant?) in
            let earlier = core.all.prefix { $0 != core.candidates[0] }
            let due = earlier.map { ($0, memory.retryAt($0, at: endpoint) ?? .now) }.min { $0.1 < $1.1 }
            return (core.all.count > 1, due?.0, due?.1)
        }
        return await withCheckedContinuation { continuation in
            let resumed = Mutex(false)
            let resume = { @Sendable (wake: Wake) in
                if resumed.withLock({ done in defer { done = true }; return !done }) { continuation.resume(returning: wake) }
            }
            let ended = Mutex(false)
            session.ended.whenComplete { result in
                ended.withLock { $0 = true }
                resume(.ended((try? result.get()) ?? .lost("the session failed")))
            }
            // (Only `auto` has anything to remember: one transport's sessions spend no task on it.)
            if isAuto {
                Task {
                    try? await Task.sleep(until: opened + quickCut)
                    if !ended.withLock({ $0 }) { memory.worked(kind, at: endpoint) }
                }
            }
            if let retry, let retryAt {
                Task {
                    try? await Task.sleep(until: retryAt)
                    resume(.retry(retry))
                }
            }
        }
    }

    /// `auto`: opens a session over a transport given up on before, after the last version; if
    /// it opens, it replaces the one in use (closed once the new one is in place: an event both
    /// deliver counts once). Not while a command waits for its answer (tried again shortly); a
    /// failure gives the transport up again, for twice as long.
    private func retry(_ transport: Transport, replacing old: any TransportSession) async -> (any TransportSession)? {
        let (busy, after) = core.withLock { ($0.commandInFlight, $0.lastVersion) }
        if busy {
            try? await Task.sleep(for: .milliseconds(500))
            return nil
        }
        let sink: EventSink = { [weak self] news in self?.deliver(news) }
        do {
            let new = try await Self.open(transport, endpoint: endpoint, match: match, token: token, after: after,
                                          options: options, stats: stats, sink: sink)
            let kept = core.withLock { core -> Bool in
                guard !core.isClosed, let index = core.all.firstIndex(of: transport) else { return false }
                core.candidates = Array(core.all[index...])
                core.passedOver.removeAll { core.candidates.contains($0.transport) }
                core.returned = "Back on \(transport.abbreviation): tried again, it opened."
                core.session = new
                return true
            }
            guard kept else {
                new.close()
                return nil
            }
            old.close()
            return new
        } catch {
            options.memory.gaveUp(on: transport, at: endpoint, reason: "still failing when tried again (\(error))")
            return nil
        }
    }

    /// Records a state change; false once the connection is closed.
    private func setState(_ state: ConnectionState) -> Bool {
        let open = core.withLock { core in
            if !core.isClosed { core.state = state }
            if case .reconnecting = state { core.session = nil }
            return !core.isClosed
        }
        if open { stateContinuation.yield(state) }
        return open
    }

    /// Ends the connection for good: no more events or states, waiting commands fail.
    private func shutDown(_ final: ConnectionState) {
        let (session, waiters, first) = core.withLock { core in
            let first = !core.isClosed
            core.isClosed = true
            core.state = final
            defer {
                core.session = nil
                core.waitingForSession.removeAll()
            }
            return (core.session, core.waitingForSession.values, first)
        }
        session?.close()
        for waiter in waiters { waiter.resume() }
        stateContinuation.yield(final)
        stateContinuation.finish()
        eventContinuation.finish()
        if first { handler?(nil) }
    }

    /// Closes the connection.
    public func close() {
        shutDown(.closed)
    }

    // MARK: Commands

    /// Plays a move or resigns, against the last version this connection has seen.
    @discardableResult
    public func send(_ action: Command.Action) async throws -> Acknowledgement {
        try await send(Command(action, version: lastVersion))
    }

    /// Sends a command and waits for its acknowledgement. One at a time per connection: a
    /// command sent while another is on its way is not sent, and fails with `CommandError.busy`.
    @discardableResult
    public func send(_ command: Command) async throws -> Acknowledgement {
        try await send(command, lostOnce: false)
    }

    /// `send`; `lostOnce` when the command was sent already and its connection lost before the
    /// answer (`sendNow` failed with `SessionLost`): it may have been applied, which a refusal
    /// as stale will then be checked against.
    func send(_ command: Command, lostOnce: Bool) async throws -> Acknowledgement {
        let busy = core.withLock { core in
            defer { core.commandInFlight = true }
            return core.commandInFlight
        }
        guard !busy else { throw CommandError.busy }
        defer { core.withLock { $0.commandInFlight = false } }

        let deadline = ContinuousClock.now + options.commandTimeout
        var wasLost = lostOnce
        var lost: (any TransportSession)?
        while true {
            let session = try await currentSession(before: deadline, replacing: lost)
            let started = ContinuousClock.now
            do {
                switch try await session.send(command, before: deadline) {
                case .ack(let ack):
                    stats.recordRoundTrip(.now - started)
                    return ack
                case .refused(let error):
                    // Sent again after a lost answer: a command that was applied is refused as
                    // stale, or, when it ended the game, as coming after the end. The log tells.
                    if wasLost, error.code == .staleVersion || error.code == .finished,
                       let version = await appliedVersion(of: command, before: deadline) {
                        return Acknowledgement(version: version, id: command.id)
                    }
                    // The server says what this connection has after the version never became
                    // durable (it may name a version below the session's position: a poll
                    // waiting there would never say so, nor send again what came after it).
                    // Dropped here at once, and the session ended as refused for that reason, so
                    // the supervisor resumes after the version.
                    if error.code == .rolledBack, let version = error.version {
                        rollBack(to: version)
                        session.finish(.refused(error))
                    }
                    throw CommandError.refused(error)
                }
            } catch is SessionLost {
                // Applied or not, we cannot tell yet: send it again once reconnected, on a new
                // session (the lost one stays current until the supervisor notices).
                wasLost = true
                lost = session
            }
        }
    }

    /// `send` with no task, when it can be: the command goes out at once on the current session
    /// and the future has its acknowledgement. Nil when it cannot (another command on its way,
    /// no session, a command connection still to open): `send` then. The future fails with
    /// `CommandError.refused` as `send` throws, and with `SessionLost` when the connection went
    /// before the answer came (`send(_:lostOnce:)` then finds out whether it was applied).
    func sendNow(_ command: Command) -> EventLoopFuture<Acknowledgement>? {
        let session = core.withLock { core -> (any TransportSession)? in
            guard !core.isClosed, !core.commandInFlight, let session = core.session else { return nil }
            core.commandInFlight = true
            return session
        }
        guard let session else { return nil }
        let started = ContinuousClock.now
        guard let reply = session.sendNow(command, before: started + options.commandTimeout) else {
            core.withLock { $0.commandInFlight = false }
            return nil
        }
        return reply
            .always { [self] _ in core.withLock { $0.commandInFlight = false } }
            .flatMapThrowing { [self] reply in
                switch reply {
                case .ack(let ack):
                    stats.recordRoundTrip(.now - started)
                    return ack
                case .refused(let error):
                    // As in `send`: a rollback is dropped at once and ends the session.
                    if error.code == .rolledBack, let version = error.version {
                        rollBack(to: version)
                        session.finish(.refused(error))
                    }
                    throw CommandError.refused(error)
                }
            }
    }

    /// The session to send on: the current one unless it is `lost`, else the next one, waiting
    /// (until the deadline, or until the task is cancelled) while the connection is re-established.
    private func currentSession(before deadline: ContinuousClock.Instant,
                                replacing lost: (any TransportSession)?) async throws -> any TransportSession {
        func usable(_ core: Core) -> Bool { core.isClosed || (core.session != nil && core.session !== lost) }
        while true {
            let (session, closed) = core.withLock { ($0.session, $0.isClosed) }
            if closed { throw CommandError.closed }
            if let session, session !== lost { return session }
            try Task.checkCancellation()
            guard ContinuousClock.now < deadline else { throw CommandError.timedOut }
            let ticket = core.withLock { core in
                defer { core.nextTicket += 1 }
                return core.nextTicket
            }
            let timer = Task {
                try? await Task.sleep(until: deadline, clock: .continuous)
                wake(ticket)
            }
            await withTaskCancellationHandler {
                await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                    let ready = core.withLock { core in
                        if usable(core) || Task.isCancelled { return true }
                        core.waitingForSession[ticket] = continuation
                        return false
                    }
                    if ready { continuation.resume() }
                }
            } onCancel: {
                wake(ticket)
            }
            timer.cancel()
        }
    }

    /// Resumes one command waiting for a session, if it still waits.
    private func wake(_ ticket: Int) {
        core.withLock { $0.waitingForSession.removeValue(forKey: ticket) }?.resume()
    }

    /// After a lost answer: whether the log shows this seat's command applied right after the
    /// command's version, and the version it led to. Waits for the log to catch up.
    private func appliedVersion(of command: Command, before deadline: ContinuousClock.Instant) async -> Int? {
        while ContinuousClock.now < deadline {
            let log = core.withLock { $0.log }
            if case .place = command.action {
                // A setup is not made against a version: it is wherever this seat's `placed` is.
                let placed = log.first { if case .placed(let seat, _) = $0.change { seat == self.seat } else { false } }
                if let placed { return placed.version }
            } else if let next = log.first(where: { $0.version == command.version + 1 }) {
                let applied = switch (command.action, next.change) {
                case (.play(let move), .moved(let seat, let played, _)): seat == self.seat && played == move
                case (.resign, .resigned(let seat)): seat == self.seat
                default: false
                }
                guard applied else { return nil }
                // A deciding move is followed by `ended`; the acknowledgement would have named it.
                if let ended = log.first(where: { $0.version == next.version + 1 }), case .ended = ended.change {
                    return ended.version
                }
                return next.version
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }
}
