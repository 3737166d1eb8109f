import Logging
import NIOCore
import PlyEngine
import PlyStore
import PlyWire
import Synchronization

/// The authority over every match of a server: it opens matches, finds them, lists them, keeps
/// their turn clocks and lets idle ones go. Like each `MatchAuthority`, it knows no transport:
/// the server's transports call it, and time reaches it through `sweep(now:)`.
///
/// Memory follows live play, not history: unfinished matches are held whole; a match leaves
/// once its result is durable (a few recently finished ones stay, and the newest finished are
/// listed by their last snapshot), and is read back from the store when asked for.
public final class Authority: Sendable {
    public struct Configuration: Sendable {
        /// The per-move time limit of a match whose creator did not choose one; nil for none.
        public var defaultMoveTimeLimit: Int?
        /// A match with no new event for this long is let go (`match/expired`); nil keeps matches forever.
        public var matchIdleTimeout: Duration?
        /// The most unfinished matches at once; a new one beyond is refused (`server/at_capacity`).
        public var maxLiveMatches: Int
        /// How many finished matches stay whole in memory, the most recently finished or asked
        /// for; any other is read from the store when asked for.
        public var finishedMatchesHeld: Int

        /// The most matches a listing returns: as many finished ones are listed.
        public static let listingLimit = 1000

        public init(defaultMoveTimeLimit: Int? = 300, matchIdleTimeout: Duration? = .seconds(3600), maxLiveMatches: Int = 100_000,
                    finishedMatchesHeld: Int = 64) {
            self.defaultMoveTimeLimit = defaultMoveTimeLimit
            self.matchIdleTimeout = matchIdleTimeout
            self.maxLiveMatches = maxLiveMatches
            self.finishedMatchesHeld = finishedMatchesHeld
        }
    }

    public let configuration: Configuration
    public let store: any MatchStore
    /// The store when other servers share it (PostgreSQL): then this server follows what they write.
    public let shared: (any SharedMatchStore)?
    public let metrics: AuthorityMetrics
    public let journal: Journal
    public let clock: ServiceClock
    let logger: Logger
    private let makeID: @Sendable () -> String
    private let registry: Mutex<Registry>
    private let nextSerial = Atomic<Int>(0)
    private let closing = Atomic<Bool>(false)

    private struct Registry {
        /// Every unfinished match.
        var live: [String: MatchAuthority] = [:]
        /// Finished matches held whole for a while.
        var recent: RecentMatches
        /// What `GET /matches` lists: the live matches and the newest finished, by status.
        var index = MatchIndex(finishedKept: Configuration.listingLimit)
        /// Matches being let go (their expiry is being written).
        var expiring: Set<String> = []
        /// Matches whose stored log could not be rebuilt at start, and why: set aside, every other loads.
        var setAside: [String: String] = [:]
    }

    /// - Parameter makeID: new match ids (tests pass their own to force collisions).
    public init(store: any MatchStore, configuration: Configuration = Configuration(), clock: ServiceClock = .system,
                metrics: AuthorityMetrics = AuthorityMetrics(),
                logger: Logger = Logger(label: "ply.authority"), makeID: @escaping @Sendable () -> String = Authority.randomMatchID) {
        self.store = store
        shared = store as? any SharedMatchStore
        self.metrics = metrics
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        self.makeID = makeID
        registry = Mutex(Registry(recent: RecentMatches(capacity: configuration.finishedMatchesHeld)))
        journal = Journal(store: store, metrics: metrics, logger: logger)
    }

    /// Rebuilds every unfinished match from the store, as it was when its last change was made
    /// durable, and lists the newest finished ones. Call once, before serving.
    public func restore() async throws {
        var restored: [MatchAuthority] = []
        var setAside: [String: String] = [:]
        for stored in try await store.liveMatches() {
            do {
                restored.append(try rebuild(stored))
            } catch {
                logger.error("a stored match could not be rebuilt; it is set aside", metadata: ["match": "\(stored.id)", "error": "\(error)"])
                setAside[stored.id] = "\(error)"
            }
        }
        // A file written before matches were marked finished: mark them now, once.
        let unmarked = restored.filter { $0.status == .finished }
        if !unmarked.isEmpty { try await store.write(unmarked.map { .finished(match: $0.id) }) }
        let finished = try await store.finishedMatches(limit: Configuration.listingLimit).compactMap { stored -> FinishedMatch? in
            guard let match = try? rebuild(stored) else { return nil }
            return FinishedMatch(match)
        }
        // New matches are listed after every stored one, expired or not.
        let highest = try await store.highestSerial()
        registry.withLock { registry in
            registry.setAside.merge(setAside) { old, _ in old }
            for listed in finished { registry.index.update(listed, status: .finished) }
            // (Those just marked finished are among `finished`.)
            for match in restored where match.status != .finished && registry.live[match.id] == nil {
                registry.live[match.id] = match
                registry.index.update(match, status: match.status)
            }
        }
        _ = nextSerial.add(highest, ordering: .relaxed)
        logger.info("matches restored", metadata: ["matches": "\(restored.count - unmarked.count)", "set-aside": "\(setAside.count)"])
    }

    /// A match as the store holds it, whole again. A match still playing tells the index of
    /// its changes; a finished one has none to tell.
    private func rebuild(_ stored: StoredMatch) throws -> MatchAuthority {
        if let damage = stored.damage { throw MatchError.corruptLog(damage) }
        let match = try Match(replaying: stored.events.map { try WireCoding.decoder.decode(MatchEvent.self, from: $0) })
        return try MatchAuthority(id: stored.id, serial: stored.serial, match: match, encoded: stored.events, tokens: stored.tokens,
                                  journal: journal, shared: shared, metrics: metrics, clock: clock, logger: logger, statusChanged: indexStatusChange)
    }

    public var isShuttingDown: Bool { closing.load(ordering: .relaxed) }

    public func checkRunning() throws(WireError) {
        if isShuttingDown { throw WireError(.shuttingDown, "the server is shutting down") }
    }

    // MARK: Matches

    /// Opens a new match, once it is durable. An id already taken (in memory or in the store)
    /// is never reused: another is drawn.
    public func create(_ request: CreateMatchRequest) async throws(WireError) -> MatchSnapshot {
        try checkRunning()
        let match: Match
        do {
            let limit = request.moveTimeLimit ?? configuration.defaultMoveTimeLimit
            match = try Match(game: request.game, options: MatchOptions(moveTimeLimit: limit))
        } catch {
            throw WireError(error)
        }
        let unfinished = registry.withLock { $0.index.count(.waiting) + $0.index.count(.playing) }
        guard unfinished < configuration.maxLiveMatches else {
            throw WireError(.atCapacity, "the server holds \(configuration.maxLiveMatches) unfinished matches, its most; try again when some have ended")
        }
        for _ in 0..<8 {
            let id = makeID()
            // An id taken by a match no longer in memory is found when the store claims it.
            guard registry.withLock({ $0.live[id] == nil && $0.recent.find(id) == nil && !$0.expiring.contains(id) }) else { continue }
            let serial = nextSerial.add(1, ordering: .relaxed).newValue
            let authority: MatchAuthority
            do {
                authority = try MatchAuthority(id: id, serial: serial, match: match, journal: journal, shared: shared, metrics: metrics,
                                               clock: clock, logger: logger, statusChanged: indexStatusChange)
            } catch {
                throw WireError(.internalError, "the match could not be created")
            }
            var records: [StoreRecord] = [.match(id: id, serial: serial)]
            for (event, json) in zip(match.events, authority.storedEvents(after: 0)) {
                records.append(.event(match: id, version: event.version, json: json))
            }
            let receipt = try await journal.write(records)
            guard !receipt.takenMatchIDs.contains(id) else {
                logger.warning("a new match id was already taken; drawing another", metadata: ["match": "\(id)"])
                continue
            }
            let added = registry.withLock { registry -> Bool in
                guard registry.live[id] == nil else { return false }
                registry.live[id] = authority
                registry.index.update(authority, status: authority.status)
                return true
            }
            guard added else { continue }
            logger.debug("match created", metadata: ["match": "\(id)", "game": "\(request.game.rawValue)"])
            return authority.snapshot()
        }
        throw WireError(.internalError, "no free match id was found; the request changed nothing")
    }

    /// The match with an id if it is in memory: unfinished, or finished a short while ago. Nil
    /// when it may be in the store (`match(_:)` reads it). Throws `match/not_found` for no id,
    /// and `match/corrupt_log` for a match set aside at start.
    public func resident(_ id: String?) throws(WireError) -> MatchAuthority? {
        guard let id, !id.isEmpty else { throw WireError(.unknownMatch, "no match has the id ''") }
        let (found, damage) = registry.withLock { registry in
            (registry.live[id] ?? registry.recent.find(id), registry.setAside[id])
        }
        if let found { return found }
        if damage != nil {
            throw WireError(.corruptLog, "match '\(id)' cannot be served: its stored log is damaged, so the server set it aside")
        }
        return nil
    }

    /// The match with an id, from memory or read from the store; `match/expired` if it was let
    /// go for idleness, or `match/not_found`.
    public func match(_ id: String?) async throws(WireError) -> MatchAuthority {
        if let found = try resident(id) { return found }
        guard let id else { throw WireError(.unknownMatch, "no match has the id ''") }
        let stored: StoredMatch?
        do {
            stored = try await store.match(id)
        } catch {
            logger.error("a match could not be read from the store", metadata: ["match": "\(id)", "error": "\(error)"])
            throw WireError(.internalError, "match '\(id)' could not be read from the store; try again")
        }
        // A match being created, or let go, is not in memory for a moment: ask again.
        if let found = try resident(id) { return found }
        // A shared store holds live matches other servers created: this one serves them too.
        guard let stored, stored.finished || stored.expired || shared != nil else {
            throw WireError(.unknownMatch, "no match has the id '\(id)'")
        }
        if stored.expired { throw MatchClosure.expired.error(match: id) }
        let loaded: MatchAuthority
        do {
            loaded = try rebuild(stored)
        } catch {
            logger.error("a stored match could not be rebuilt", metadata: ["match": "\(id)", "error": "\(error)"])
            throw WireError(.corruptLog, "match '\(id)' cannot be served: its stored log is damaged")
        }
        return admit(loaded)
    }

    /// Holds a match read from the store, unless one with its id is held already (then that one).
    private func admit(_ loaded: MatchAuthority) -> MatchAuthority {
        let admitted = registry.withLock { registry -> MatchAuthority in
            if let found = registry.live[loaded.id] ?? registry.recent.find(loaded.id) { return found }
            if loaded.status == .finished {
                registry.recent.insert(loaded)
            } else {
                registry.live[loaded.id] = loaded
                registry.index.update(loaded, status: loaded.status)
            }
            return loaded
        }
        // Events appended between the read and now are announced after it: read them too.
        if admitted === loaded && loaded.status != .finished { loaded.follow(to: nil) }
        return admitted
    }

    // MARK: Other servers (shared store)

    /// Follows what every server sharing the store writes, until the store closes: events
    /// appended to a held match are read and published (once per server, whoever waits for
    /// them); a match created elsewhere is read and held; a match expired elsewhere is let go;
    /// and when news may have been lost, every held match reads its tail and new matches are
    /// looked for. The server runs it for as long as it serves.
    public func follow() async {
        guard let shared else { return }
        for await change in shared.changes {
            switch change {
            case .appended(let id, let version, let lag):
                if let lag { metrics.notificationLag.record(duration: lag) }
                let held = registry.withLock { $0.live[id] ?? $0.recent.find(id) }
                if let held {
                    held.follow(to: version)
                } else if !isShuttingDown {
                    Task { _ = try? await match(id) }
                }
            case .expired(let id):
                let gone = registry.withLock { registry -> MatchAuthority? in
                    guard let match = registry.live.removeValue(forKey: id) else { return nil }
                    registry.index.remove(match)
                    return match
                }
                gone?.close(.expired)
            case .resync:
                let held = registry.withLock { Array($0.live.values) }
                for match in held { match.follow(to: nil) }
                // Read aside, so that news goes on being followed meanwhile.
                Task { await adoptUnknownMatches() }
            }
        }
    }

    /// Reads the live matches of the shared store and holds those this server does not know.
    private func adoptUnknownMatches() async {
        do {
            for stored in try await store.liveMatches() where registry.withLock({ $0.live[stored.id] == nil && $0.setAside[stored.id] == nil }) {
                if let loaded = try? rebuild(stored) { _ = admit(loaded) }
            }
        } catch {
            logger.warning("the live matches of the shared store could not be read", metadata: ["error": "\(error)"])
        }
    }

    /// Matches, newest first, optionally only those in one status. The cost depends on `limit`
    /// (at most `Configuration.listingLimit`), not on how many matches there are.
    public func matches(status: MatchStatus? = nil, limit: Int = 100) -> [MatchSnapshot] {
        registry.withLock { $0.index.newest(status, limit: min(limit, Configuration.listingLimit)) }.map { $0.snapshot() }
    }

    /// How many unfinished matches there are (all held in memory).
    public var liveMatchCount: Int { registry.withLock { $0.live.count } }

    /// How many matches are held whole in memory: the unfinished, and finished ones held a while.
    public var residentMatchCount: Int { registry.withLock { $0.live.count + $0.recent.count } }

    /// Keeps the index as a match's published status changes; a finished match leaves memory
    /// (its result is durable by the time it is published).
    private var indexStatusChange: @Sendable (MatchAuthority, MatchStatus, MatchStatus) -> Void {
        { [weak self] match, from, _ in
            self?.registry.withLock { registry in
                // Finished no longer (reloaded from a shared database that had less of it): live again.
                if from == .finished, match.status != .finished, let back = registry.recent.remove(match.id) {
                    registry.live[back.id] = back
                    registry.index.update(back, status: back.status)
                    return
                }
                guard registry.live[match.id] === match else { return }
                let status = match.status
                guard status == .finished else { return registry.index.update(match, status: status) }
                registry.live[match.id] = nil
                registry.index.remove(match)
                registry.index.update(FinishedMatch(match), status: .finished)
                registry.recent.insert(match)
            }
        }
    }

    /// Ten characters from a 32-letter alphabet: 50 bits, easy to type; `create` checks them.
    public static func randomMatchID() -> String {
        let alphabet = Array("abcdefghijkmnpqrstuvwxyz23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<10).map { _ in alphabet[Int(generator.next(upperBound: UInt32(alphabet.count)))] })
    }

    // MARK: Time

    /// Runs whatever is due by `now`: turn clocks that ran out, and matches idle for too long.
    /// The server calls it from one repeating timer; tests call it with a manual clock.
    /// Returns the ids of the matches it started letting go.
    @discardableResult
    public func sweep(now: ContinuousClock.Instant) -> [String] {
        let live = registry.withLock { Array($0.live.values) }
        // A match whose turn clock runs is not idle: its clock ends it with a result (and it
        // leaves memory as any finished match does), so idleness is judged before clocks run out.
        let idle = configuration.matchIdleTimeout.map { timeout in
            live.filter { now - $0.lastActivity >= timeout && $0.turnDeadline == nil }
        } ?? []
        for match in live { match.expireTurnIfDue(now: now) }
        guard !idle.isEmpty else { return [] }
        let ids = registry.withLock { registry in
            idle.map(\.id).filter { registry.live[$0] != nil && registry.expiring.insert($0).inserted }
        }
        guard !ids.isEmpty else { return [] }
        journal.append(ids.map { .expired(match: $0) }) { [self] written in
            let letGo = registry.withLock { registry -> [MatchAuthority] in
                registry.expiring.subtract(ids)
                guard case .success = written else { return [] }
                let gone = ids.compactMap { registry.live.removeValue(forKey: $0) }
                for match in gone { registry.index.remove(match) }
                return gone
            }
            if case .failure = written {
                logger.error("idle matches could not be marked expired", metadata: ["matches": "\(ids.count)"])
            }
            for match in letGo { match.close(.expired) }
            if !letGo.isEmpty { logger.info("idle matches expired", metadata: ["matches": "\(letGo.count)"]) }
        }
        journal.flush()
        return ids
    }

    /// Lets go every match with no new event for the idle timeout, as of `now`, and returns
    /// their ids once that is durable.
    @discardableResult
    public func expireIdleMatches(now: ContinuousClock.Instant) async -> [String] {
        let started = sweep(now: now)
        await journal.idle()
        return registry.withLock { registry in started.filter { registry.live[$0] == nil } }
    }

    // MARK: Shutdown

    /// Refuses new work and closes every match: subscribers are told the server is shutting down.
    public func shutDown() {
        guard !closing.exchange(true, ordering: .relaxed) else { return }
        let all = registry.withLock { Array($0.live.values) + $0.recent.all }
        logger.info("shutting down", metadata: ["matches": "\(all.count)"])
        for match in all { match.close(.shuttingDown) }
    }

    /// Waits until every change handed to the store is written.
    public func drain() async {
        await journal.idle()
    }
}
