import Logging
import NIOCore
import PlyEngine
import PlyStore
import PlyWire
import Synchronization

/// The authority over one match: it takes commands, checks them against the rules, makes the
/// resulting events durable through the journal, and then publishes them: each event encoded
/// once per audience, as the JSON bytes every transport sends, and every subscriber told.
/// An event most often reads the same to everyone (one buffer, shared); one that shows a
/// seat's secret (Battleship: its fleet placed) is encoded twice, whole for that seat and the
/// store, and without the secret for the other seat and spectators. It knows nothing
/// of HTTP, WebSocket or sockets; a transport is a `MatchSubscriber`.
///
/// All state sits behind one lock, held only for in-memory work. A change is applied to the
/// match and handed to the journal under the lock (so a match's records are written in version
/// order), and published (acknowledged, told to subscribers, shown in snapshots) only once it
/// is durable. If its write fails, the match is rolled back to what was published.
///
/// On a store shared by several servers (`SharedMatchStore`) a match takes one change at a time
/// (others wait their turn, in order): the database decides whether the change's events are the
/// next versions. If another server wrote them first, the change is rolled back, the events it
/// missed are read and published, and the change is decided again against them (a move sent
/// against the old version is then refused as stale). Events other servers append are read
/// when the store says so (`follow(to:)`).
public final class MatchAuthority: Sendable {
    public let id: String
    /// Creation order, for listing.
    public let serial: Int
    private let journal: Journal
    /// The store when several servers share it; nil when this server is its only writer.
    private let shared: (any SharedMatchStore)?
    private let metrics: AuthorityMetrics
    private let clock: ServiceClock
    private let logger: Logger
    /// Told when the published status changes (the authority over all matches keeps its index).
    private let statusChanged: @Sendable (MatchAuthority, _ from: MatchStatus, _ to: MatchStatus) -> Void
    private let state: Mutex<State>

    private struct State {
        /// The match with every accepted change, durable or not yet.
        var match: Match
        /// The match as far as it is published: durable, and visible to clients.
        var visible: Match
        /// `encoded[i]` is the JSON of the event with version `i + 1`, whole (as stored); only
        /// those up to `visible.version` are handed out.
        var encoded: [ByteBuffer]
        /// The events that not everyone may see whole, by index in `encoded`.
        var redacted: [Int: Redaction] = [:]
        /// The hash of each seat's token (`TokenHash`): the tokens themselves are not kept.
        var tokens: [String?]
        var subscribers: [any MatchSubscriber] = []
        var closure: MatchClosure?
        /// When the seat to move loses on time, for the accepted version.
        var turnClock: TurnClock?
        /// When the last event was published, for idle expiry.
        var lastActivity: ContinuousClock.Instant
        /// Shared store only: a change is being written, or missed events read; others wait.
        var busy = false
        /// Shared store only: changes waiting for the one in flight, in arrival order.
        var queued: [@Sendable () -> Void] = []
        /// Shared store only: the highest version the store announced, and whether anything
        /// may have been missed (read the tail whatever the announced version).
        var announced = 0
        var resync = false
        /// Shared store only: callers waiting for the next read of the store (`reach`).
        var readers: [CheckedContinuation<Void, Never>] = []
        /// Shared store only: the lowest version a rollback kept (nil: none happened). What a
        /// client saw after it may be of the history the database lost.
        var lowestKept: Int?
    }

    /// An event only one seat may see whole, and what everyone else sees of it.
    private struct Redaction {
        let audience: Seat
        let others: ByteBuffer
    }

    /// The per-move time limit running for one version of the match.
    private struct TurnClock {
        let deadline: ContinuousClock.Instant
        let version: Int
        let seat: Seat
    }

    /// A match whose whole log is already durable (new and stored, or loaded from the store).
    /// - Parameter encoded: the events' JSON when it is at hand (from the store); else encoded here.
    /// - Parameter tokens: the hashes of the seats' tokens (`TokenHash`).
    public init(id: String, serial: Int, match: Match, encoded: [ByteBuffer]? = nil, tokens: [String?] = [nil, nil],
                journal: Journal, shared: (any SharedMatchStore)? = nil, metrics: AuthorityMetrics = AuthorityMetrics(),
                clock: ServiceClock, logger: Logger,
                statusChanged: @escaping @Sendable (MatchAuthority, MatchStatus, MatchStatus) -> Void = { _, _, _ in }) throws {
        self.id = id
        self.serial = serial
        self.journal = journal
        self.shared = shared
        self.metrics = metrics
        self.clock = clock
        self.statusChanged = statusChanged
        var logger = logger
        logger[metadataKey: "match"] = "\(id)"
        self.logger = logger
        let encoded = encoded ?? match.events.map { JSONBuffer.encode($0) }
        let now = clock.now
        var state = State(match: match, visible: match, encoded: encoded, tokens: tokens, lastActivity: now)
        for event in match.events { Self.redact(event, into: &state) }
        Self.startTurnClock(&state, now: now)
        self.state = Mutex(state)
    }

    // MARK: Reading

    /// The match as published and as a viewer may see it (nil: a spectator), with the time the
    /// seat to move has left while its clock runs.
    public func snapshot(for viewer: Seat? = nil) -> MatchSnapshot {
        let now = clock.now
        return state.withLock { state in
            let clock = state.turnClock.flatMap { $0.version == state.visible.version ? $0 : nil }
            return MatchSnapshot(id: id, match: state.visible.view(for: viewer), turnTimeLeft: clock.map { $0.deadline - now })
        }
    }

    /// The published version.
    public var version: Int { state.withLock { $0.visible.version } }

    /// The status as published.
    public var status: MatchStatus { state.withLock { $0.visible.status } }

    /// When the last event was published.
    public var lastActivity: ContinuousClock.Instant { state.withLock { $0.lastActivity } }

    /// The encoded events after a version, in order, as far as they are published, as a seat
    /// (or, for nil, a spectator) may see them: what transports send.
    public func events(after version: Int, for viewer: Seat?) -> ArraySlice<ByteBuffer> {
        state.withLock { state in
            let range = Self.published(after: version, in: state)
            guard !state.redacted.isEmpty else { return state.encoded[range] }
            var events = Array(state.encoded[range])
            for (index, redaction) in state.redacted where range.contains(index) && redaction.audience != viewer {
                events[index - range.lowerBound] = redaction.others
            }
            return events[...]
        }
    }

    /// The encoded events after a version, whole, as the store holds them: never for clients.
    public func storedEvents(after version: Int) -> ArraySlice<ByteBuffer> {
        state.withLock { state in state.encoded[Self.published(after: version, in: state)] }
    }

    /// The indexes in `encoded` of the published events after a version.
    private static func published(after version: Int, in state: State) -> Range<Int> {
        let end = state.visible.version
        return min(max(version, 0), end)..<end
    }

    /// Encodes what everyone but its audience sees of an event that not everyone may see whole.
    private static func redact(_ event: MatchEvent, into state: inout State) {
        guard let audience = event.audience else { return }
        state.redacted[event.version - 1] = Redaction(audience: audience, others: JSONBuffer.encode(event.view(for: nil)))
    }

    /// The seat a token acts for. Both seats are compared in constant time, whichever matches.
    public func seat(forToken token: String?) throws(WireError) -> Seat {
        guard let token else { throw WireError(.missingToken, "send the seat token as 'Authorization: Bearer TOKEN'") }
        let hashes = state.withLock { $0.tokens }
        let presented = TokenHash.of(token)
        var found: Seat?
        for seat in Seat.allCases {
            if let hash = hashes[seat.rawValue], SeatToken.matches(presented, hash) { found = seat }
        }
        guard let found else { throw WireError(.wrongToken, "the token is not a seat token of match \(id)") }
        return found
    }

    /// Whether other servers share the store (then a version or token this server has not
    /// seen yet may be another's news: `refresh()` reads it; `Authority.admit` does).
    var isShared: Bool { shared != nil }

    /// Whether a version a client names is beyond what this server has published while other
    /// servers share the store (the client saw it through another): read the store first.
    func isBehind(_ version: Int?) -> Bool {
        guard shared != nil, let version else { return false }
        return version > self.version
    }

    // MARK: Commands

    /// Takes the first free seat and returns its new secret token, once durable.
    public func join(name: String) async throws(WireError) -> SeatGrant {
        let token = SeatToken.generate()
        let id = id
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<SeatGrant, WireError>, Never>) in
            change(commandID: nil, reply: { continuation.resume(returning: $0) }) { state throws(MatchError) in
                let (seat, _) = try state.match.join(name: name)
                let hash = TokenHash.of(token)
                state.tokens[seat.rawValue] = hash
                return (SeatGrant(match: id, seat: seat, token: token, version: state.match.version),
                        [StoreRecord.token(match: id, seat: seat.rawValue, hash: hash)])
            }
        }
        let grant = try result.get()
        logger.debug("seat taken", metadata: ["seat": "\(grant.seat.rawValue)"])
        return grant
    }

    /// Runs a seat's command. `reply` gets the acknowledgement once the command's events are
    /// durable and published (so every subscriber has been told of them first), or the error;
    /// it may run before `execute` returns, on this thread.
    public func execute(_ command: Command, by seat: Seat, reply: @escaping @Sendable (Result<Acknowledgement, WireError>) -> Void) {
        // A command against a version this server has not seen yet (the client saw it through
        // another server): read the store first rather than refuse it as stale.
        if isBehind(command.version) {
            Task {
                await reach(command.version)
                // Still beyond, once the database is read: the client saw events that never
                // became durable.
                if command.version > version { return reply(.failure(rolledBackForBeyond().with(id: command.id))) }
                decide(command, by: seat, reply: reply)
            }
            return
        }
        decide(command, by: seat, reply: reply)
    }

    private func decide(_ command: Command, by seat: Seat, reply: @escaping @Sendable (Result<Acknowledgement, WireError>) -> Void) {
        change(commandID: command.id, reply: reply) { state throws(MatchError) in
            switch command.action {
            case .play(let move): try state.match.play(move, by: seat, against: command.version)
            case .place(let fleet): try state.match.place(fleet, by: seat)
            case .resign: try state.match.resign(seat, against: command.version)
            }
            return (Acknowledgement(version: state.match.version, id: command.id), [])
        }
    }

    /// Runs a seat's command and returns its acknowledgement once published.
    public func execute(_ command: Command, by seat: Seat) async throws(WireError) -> Acknowledgement {
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Acknowledgement, WireError>, Never>) in
            execute(command, by: seat) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// Applies a change under the lock, encodes the events it appended, and hands them (with any
    /// extra records) to the journal. When they are durable, publishes them and replies; if the
    /// write fails, rolls the match back and replies with the failure. Nothing changes when the
    /// match refuses (the reply then runs at once).
    private func change<Value: Sendable>(
        commandID: Int?,
        reply: @escaping @Sendable (Result<Value, WireError>) -> Void,
        holding: Bool = false,
        attempt: Int = 1,
        _ body: @escaping @Sendable (inout State) throws(MatchError) -> (Value, [StoreRecord])
    ) {
        // Shared store: one change at a time; a later one waits its turn, in order.
        if shared != nil && !holding {
            let waits = state.withLock { state -> Bool in
                guard state.busy else {
                    state.busy = true
                    return false
                }
                state.queued.append { [self] in change(commandID: commandID, reply: reply, holding: true, body) }
                logger.trace("a change waits for the one in flight", metadata: ["queued": "\(state.queued.count)"])
                return true
            }
            if waits { return }
        }
        let refusal = state.withLock { state -> WireError? in
            if let closure = state.closure { return closure.error(match: id).with(id: commandID) }
            if shared == nil && journal.hasFailed {
                return WireError(.storageFailed, "the server cannot store changes; it refuses them until it is restarted", id: commandID)
            }
            let before = state.match.version
            let value: Value, extra: [StoreRecord]
            do throws(MatchError) {
                (value, extra) = try body(&state)
            } catch {
                return WireError(error, version: state.match.version, id: commandID)
            }
            // Events first: a store shared by several servers leaves out the rest of a change
            // whose event lost the race (its seat token among them). On such a store the change
            // says which event it was decided after, so it is never appended to another history.
            var records: [StoreRecord] = []
            if shared != nil, before >= 1, state.match.version > before {
                records.append(.expects(match: id, version: before, json: state.encoded[before - 1]))
            }
            for event in state.match.events(after: before) {
                let json = JSONBuffer.encode(event)
                state.encoded.append(json)
                Self.redact(event, into: &state)
                records.append(.event(match: id, version: event.version, json: json))
            }
            records += extra
            let version = state.match.version
            let result = version > before ? state.match.result : nil
            // Written with the last event: from then on the store says where the match lives.
            if result != nil { records.append(.finished(match: id)) }
            Self.startTurnClock(&state, now: clock.now)
            logger.trace("a change is written", metadata: ["version": "\(version)", "attempt": "\(attempt)"])
            journal.append(records) { [self] written in
                switch written {
                case .success(let receipt) where receipt.conflicts.contains(id):
                    // Another server wrote this version first: read what it wrote, decide again.
                    rollBack()
                    metrics.conflicts.increment()
                    guard attempt < Self.attemptsPerChange else {
                        reply(.failure(WireError(.storeUnavailable, "the change kept meeting changes other servers made first; send it again", id: commandID)))
                        return release()
                    }
                    Task {
                        await readMissed()
                        change(commandID: commandID, reply: reply, holding: true, attempt: attempt + 1, body)
                    }
                case .success:
                    publish(upTo: version)
                    if let result { logEnd(result, at: version) }
                    reply(.success(value))
                    release()
                case .failure(let failure):
                    rollBack()
                    reply(.failure(failure.with(id: commandID)))
                    release()
                }
            }
            return nil
        }
        if let refusal {
            reply(.failure(refusal))
            return release()
        }
        journal.flush()
    }

    /// What a client is told that names a version beyond the match's: it saw events that never
    /// became durable, and since it may have seen them anywhere after the version a rollback
    /// kept (not only beyond today's version: the new history may have grown past where the
    /// old one forked), it is sent back to that version, or to today's if lower.
    func rolledBackForBeyond() -> WireError {
        let (current, kept) = state.withLock { ($0.visible.version, $0.lowestKept) }
        return Self.rolledBack(to: min(current, kept ?? current))
    }

    /// What a client is told that names a version beyond the database's.
    public static func rolledBack(to version: Int) -> WireError {
        WireError(.rolledBack, "the match is at version \(version): events after it that a server showed never became durable; drop them and go on after \(version)",
                  version: version)
    }

    /// How often one change is decided again after losing a race before it is refused.
    private static let attemptsPerChange = 5

    // MARK: Shared store

    /// Shared store: the store announced that this match's log reached a version (nil: news may
    /// have been lost, read whatever there is). Reads the missing events once, unless a change
    /// is in flight: it will find them when it ends.
    public func follow(to version: Int?) {
        guard shared != nil else { return }
        var readers: [CheckedContinuation<Void, Never>] = []
        let start = state.withLock { state -> Bool in
            if let version, version > state.visible.version {
                state.announced = max(state.announced, version)
            } else {
                // Nil: news may have been lost. A version this server has published already: another
                // server wrote it (a server hears only others' writes), so the database's history
                // may not be this one's. Either way, read and compare.
                state.resync = true
            }
            guard state.closure == nil else {
                readers = state.readers
                state.readers.removeAll()
                return false
            }
            guard !state.busy else { return false }
            state.busy = true
            return true
        }
        for reader in readers { reader.resume() }
        logger.trace("news from the store", metadata: ["version": "\(version.map(String.init) ?? "nil")", "reads": "\(start)"])
        guard start else { return }
        Task {
            await readMissed()
            release()
        }
    }

    /// Shared store: when a client names a version beyond the published one (it saw it through
    /// another server), reads the store before answering. Returns once the store has been read
    /// (the version may still be beyond: then the client is wrong).
    func reach(_ version: Int) async {
        guard version > self.version else { return }
        await refresh()
    }

    /// Shared store: reads what other servers appended, and returns once that is published.
    func refresh() async {
        guard shared != nil else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            state.withLock { $0.readers.append(continuation) }
            follow(to: nil)
        }
    }

    /// Ends this server's turn at the match (shared store): reads announced events if any are
    /// missing, else starts the next waiting change, else leaves the match free.
    private func release() {
        guard shared != nil else { return }
        enum Next { case read, run(@Sendable () -> Void), none }
        let next = state.withLock { state -> Next in
            if state.closure == nil && (state.resync || state.announced > state.visible.version) { return .read }
            guard !state.queued.isEmpty else {
                state.busy = false
                return .none
            }
            return .run(state.queued.removeFirst())
        }
        logger.trace("the match is released", metadata: ["next": "\(next)"])
        switch next {
        case .read:
            Task {
                await readMissed()
                release()
            }
        case .run(let change): change()
        case .none: break
        }
    }

    /// Reads the events other servers appended after the published version, applies and
    /// publishes them, with the tokens of seats taken meanwhile. Called holding the match (no
    /// change in flight). If the store cannot be read, what was announced is forgotten: the
    /// listener's reconnection, or the next change's conflict, brings it back.
    private func readMissed() async {
        guard let shared else { return }
        // What was announced when the read starts: news that comes during it may be of events
        // written after the read took the tail, so only this much is spent by it.
        let (after, readers, seatsFree, announcedBefore) = state.withLock { state in
            state.resync = false
            defer { state.readers.removeAll() }
            return (state.visible.version, state.readers, state.tokens.contains(nil), state.announced)
        }
        // Those waiting for a read are answered once it is done (whatever it found).
        defer { for reader in readers { reader.resume() } }
        let stored: StoredTail
        do {
            stored = try await shared.tail(of: id, after: after, tokens: seatsFree)
        } catch {
            logger.warning("the events other servers appended could not be read", metadata: ["error": "\(error)"])
            state.withLock { if $0.announced <= announcedBefore { $0.announced = $0.visible.version } }
            return
        }
        // The store's history must be this server's up to what it has published; if it holds
        // less, or another event there, this server is ahead of the database: the database is
        // the truth.
        let anchored = after == 0 || stored.anchor == storedEvents(after: after - 1).first
        if !anchored || stored.latest < after {
            return await reload(because: stored.latest < after ? "the database holds \(stored.latest) events of it, this server \(after)"
                                                               : "the database's event \(after) is not the one this server published")
        }
        let published = state.withLock { state -> Int? in
            guard state.visible.version == after, state.match.version == after else { return nil }
            for (offset, json) in stored.events.enumerated() {
                do {
                    let event = try WireCoding.decoder.decode(MatchEvent.self, from: json)
                    guard event.version == after + offset + 1 else { throw MatchError.corruptLog("event \(event.version) read after \(after + offset)") }
                    try state.match.apply(event)
                    state.encoded.append(json)
                    Self.redact(event, into: &state)
                } catch {
                    // Not read again until more news comes (no loop of reads over a bad event).
                    logger.error("an event another server appended could not be applied", metadata: ["error": "\(error)"])
                    state.announced = state.match.version
                    break
                }
            }
            if let tokens = stored.tokens {
                for seat in Seat.allCases where state.tokens[seat.rawValue] == nil { state.tokens[seat.rawValue] = tokens[seat.rawValue] }
            }
            // What the store holds now is the news: an announcement of a version it no longer
            // has (its events were lost after they were announced) is spent, not read forever;
            // one that came during the read is not, and is read next.
            if state.announced <= state.match.version || (stored.latest <= state.match.version && state.announced <= announcedBefore) {
                state.announced = state.match.version
            }
            guard state.match.version > after else { return nil }
            Self.startTurnClock(&state, now: clock.now)
            return state.match.version
        }
        if let published {
            metrics.eventsFollowed.increment(by: published - after)
            publish(upTo: published)
        }
    }

    /// The database is the truth: this server published events the database does not have (it
    /// was ahead, or its history went another way). Called holding the match (no change in
    /// flight). Reads the whole match from the database and takes it as it is there, then tells
    /// every subscriber how far what it published still holds (`matchRolledBack`) and what is
    /// published now. Never two servers serving different histories of one match: each one that
    /// finds the database's history is not its own takes the database's.
    private func reload(because reason: String) async {
        guard let shared else { return }
        let stored: StoredMatch
        let match: Match
        do {
            guard let found = try await shared.match(id) else { throw StoreError("the match is not in the database") }
            if let damage = found.damage { throw MatchError.corruptLog(damage) }
            match = try Match(replaying: found.events.map { try WireCoding.decoder.decode(MatchEvent.self, from: $0) })
            stored = found
        } catch {
            logger.error("this server is ahead of the database for a match and could not reload it", metadata: ["reason": "\(reason)", "error": "\(error)"])
            state.withLock { $0.announced = $0.visible.version }
            return
        }
        let reloaded = state.withLock { state -> (kept: Int, subscribers: [any MatchSubscriber], before: MatchStatus)? in
            guard state.visible.version == state.match.version, state.closure == nil else { return nil }
            var kept = 0
            while kept < min(state.visible.version, stored.events.count), state.encoded[kept] == stored.events[kept] { kept += 1 }
            let before = state.visible.status
            state.match = match
            state.visible = match
            state.encoded = stored.events
            state.redacted = [:]
            for event in match.events { Self.redact(event, into: &state) }
            state.tokens = stored.tokens
            // News and requests to read that came while the database was read stand: the read
            // they ask for may have begun before them (`release` reads once more). Clearing them
            // here once left a command that named a version beyond the match waiting for a read
            // that never came, unanswered until its client gave up.
            state.announced = max(state.announced, match.version)
            state.lowestKept = min(state.lowestKept ?? kept, kept)
            state.lastActivity = clock.now
            Self.startTurnClock(&state, now: clock.now)
            return (kept, state.subscribers, before)
        }
        guard let reloaded else { return }
        metrics.rollbacks.increment()
        logger.warning("this server was ahead of the database for a match; it takes the database's history",
                       metadata: ["reason": "\(reason)", "kept": "\(reloaded.kept)", "version": "\(match.version)"])
        if reloaded.before != match.status { statusChanged(self, reloaded.before, match.status) }
        for subscriber in reloaded.subscribers { subscriber.matchRolledBack(self, to: reloaded.kept) }
        for subscriber in reloaded.subscribers { subscriber.matchPublished(self, upTo: match.version) }
    }

    /// Makes events up to a version visible, and tells every subscriber.
    private func publish(upTo version: Int) {
        let (subscribers, before, after) = state.withLock { state -> ([any MatchSubscriber], MatchStatus, MatchStatus) in
            let before = state.visible.status
            guard version > state.visible.version else { return ([], before, before) }
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
            state.lastActivity = clock.now
            return (state.subscribers, before, state.visible.status)
        }
        if before != after { statusChanged(self, before, after) }
        for subscriber in subscribers { subscriber.matchPublished(self, upTo: version) }
    }

    /// After a failed write: forgets every change that was not published.
    private func rollBack() {
        state.withLock { state in
            guard state.match.version > state.visible.version || state.tokens != Self.tokens(of: state) else { return }
            state.match = state.visible
            state.encoded.removeSubrange(state.visible.version...)
            state.redacted = state.redacted.filter { $0.key < state.visible.version }
            state.tokens = Self.tokens(of: state)
            Self.startTurnClock(&state, now: clock.now)
        }
    }

    /// The tokens of the seats taken in the published match.
    private static func tokens(of state: State) -> [String?] {
        Seat.allCases.map { state.visible.names[$0.rawValue] == nil ? nil : state.tokens[$0.rawValue] }
    }

    private func logEnd(_ result: GameResult, at version: Int) {
        let winner = result.winner.map { "seat \($0.rawValue)" } ?? "draw"
        logger.debug("match ended", metadata: ["result": "\(winner)", "reason": "\(result.reason.rawValue)", "v": "\(version)"])
    }

    // MARK: Turn clocks

    /// Starts the clock of the seat to move, when the match has a per-move time limit.
    private static func startTurnClock(_ state: inout State, now: ContinuousClock.Instant) {
        guard state.closure == nil, let limit = state.match.options.moveTimeLimit, let seat = state.match.turn else {
            state.turnClock = nil
            return
        }
        state.turnClock = TurnClock(deadline: now + .seconds(limit), version: state.match.version, seat: seat)
    }

    /// When the seat to move loses on time, if a clock runs.
    public var turnDeadline: ContinuousClock.Instant? { state.withLock { $0.turnClock?.deadline } }

    /// Ends the match on time if the seat to move let its limit pass by `now`. The authority
    /// keeps the deadline; whoever keeps time calls this (the server: one timer for all matches).
    public func expireTurnIfDue(now: ContinuousClock.Instant) {
        guard let clock = state.withLock({ $0.turnClock }), now >= clock.deadline else { return }
        change(commandID: nil, reply: { [logger] (result: Result<Int, WireError>) in
            if case .success = result { logger.debug("turn time ran out", metadata: ["seat": "\(clock.seat.rawValue)"]) }
        }) { state throws(MatchError) in
            try state.match.expireTurn(of: clock.seat, against: clock.version)
            return (state.match.version, [])
        }
    }

    // MARK: Subscribers

    /// Starts telling a subscriber about new events. Returns the published version at that
    /// moment, and the closure if the match is already closed (then the subscriber is not kept).
    public func subscribe(_ subscriber: any MatchSubscriber) -> (version: Int, closure: MatchClosure?) {
        state.withLock { state in
            if state.closure == nil { state.subscribers.append(subscriber) }
            return (state.visible.version, state.closure)
        }
    }

    public func unsubscribe(_ subscriber: any MatchSubscriber) {
        state.withLock { state in
            if let index = state.subscribers.firstIndex(where: { $0 === subscriber }) {
                state.subscribers.remove(at: index)
            }
        }
    }

    /// How many subscribers are attached (for tests).
    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    // MARK: Closing

    /// Refuses further commands and tells every subscriber why; the log stays as it is.
    public func close(_ closure: MatchClosure) {
        let (subscribers, readers) = state.withLock { state -> ([any MatchSubscriber], [CheckedContinuation<Void, Never>]) in
            guard state.closure == nil else { return ([], []) }
            state.closure = closure
            state.turnClock = nil
            // Nothing more is read for a closed match: whoever waits for a read is answered now.
            defer {
                state.subscribers.removeAll()
                state.readers.removeAll()
            }
            return (state.subscribers, state.readers)
        }
        for reader in readers { reader.resume() }
        for subscriber in subscribers { subscriber.matchClosed(self, closure) }
    }
}
