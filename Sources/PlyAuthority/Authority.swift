import Logging
import NIOCore
import PlyEngine
import PlyStore
import PlyWire
import Synchronization

/// The authority over every match of a server: it opens matches, finds them, lists them, keeps
/// their turn clocks and lets idle ones go. Like each `MatchAuthority`, it knows no transport:
/// the server's transports call it, and time reaches it through `sweep(now:)`.
public final class Authority: Sendable {
    public struct Configuration: Sendable {
        /// The per-move time limit of a match whose creator did not choose one; nil for none.
        public var defaultMoveTimeLimit: Int?
        /// A match with no new event for this long is let go (`match/expired`); nil keeps matches forever.
        public var matchIdleTimeout: Duration?
        /// The most unfinished matches at once; a new one beyond is refused (`server/at_capacity`).
        public var maxLiveMatches: Int

        public init(defaultMoveTimeLimit: Int? = 300, matchIdleTimeout: Duration? = .seconds(3600), maxLiveMatches: Int = 100_000) {
            self.defaultMoveTimeLimit = defaultMoveTimeLimit
            self.matchIdleTimeout = matchIdleTimeout
            self.maxLiveMatches = maxLiveMatches
        }
    }

    public let configuration: Configuration
    public let store: any MatchStore
    public let journal: Journal
    public let clock: ServiceClock
    private let logger: Logger
    private let makeID: @Sendable () -> String
    private let registry = Mutex(Registry())
    private let nextSerial = Atomic<Int>(0)
    private let closing = Atomic<Bool>(false)

    private struct Registry {
        var live: [String: MatchAuthority] = [:]
        /// The same matches by status, newest last.
        var index = MatchIndex()
        /// Matches let go for idleness: asked for, they answer `match/expired` rather than not found.
        var expired: Set<String> = []
        /// Matches being let go (their expiry is being written).
        var expiring: Set<String> = []
        /// Matches whose stored log could not be rebuilt, and why: set aside, every other loads.
        var setAside: [String: String] = [:]
    }

    /// - Parameter makeID: new match ids (tests pass their own to force collisions).
    public init(store: any MatchStore, configuration: Configuration = Configuration(), clock: ServiceClock = .system,
                logger: Logger = Logger(label: "ply.authority"), makeID: @escaping @Sendable () -> String = Authority.randomMatchID) {
        self.store = store
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        self.makeID = makeID
        journal = Journal(store: store, logger: logger)
    }

    /// Rebuilds every live match from the store, as it was when its last change was made
    /// durable. Call once, before serving.
    public func restore() async throws {
        var restored: [String: MatchAuthority] = [:]
        var setAside: [String: String] = [:]
        var highest = 0
        for stored in try await store.liveMatches() {
            highest = max(highest, stored.serial)
            let match: Match
            do {
                if let damage = stored.damage { throw MatchError.corruptLog(damage) }
                match = try Match(replaying: stored.events.map { try WireCoding.decoder.decode(MatchEvent.self, from: $0) })
            } catch {
                logger.error("a stored match could not be rebuilt; it is set aside", metadata: ["match": "\(stored.id)", "error": "\(error)"])
                setAside[stored.id] = "\(error)"
                continue
            }
            restored[stored.id] = try MatchAuthority(id: stored.id, serial: stored.serial, match: match, encoded: stored.events,
                                                     tokens: stored.tokens, journal: journal, clock: clock, logger: logger,
                                                     statusChanged: indexStatusChange)
        }
        // Matches let go before the restart still answer `match/expired`; new matches are listed
        // after every stored one, expired or not.
        let expired = try await store.expiredMatchIDs()
        highest = max(highest, try await store.highestSerial())
        registry.withLock { registry in
            registry.expired.formUnion(expired)
            registry.setAside.merge(setAside) { old, _ in old }
            for (id, match) in restored where registry.live[id] == nil {
                registry.live[id] = match
                registry.index.update(match)
            }
        }
        _ = nextSerial.add(highest, ordering: .relaxed)
        logger.info("matches restored", metadata: ["matches": "\(restored.count)", "set-aside": "\(setAside.count)"])
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
            guard registry.withLock({ $0.live[id] == nil && !$0.expired.contains(id) && !$0.expiring.contains(id) }) else { continue }
            let serial = nextSerial.add(1, ordering: .relaxed).newValue
            let authority: MatchAuthority
            do {
                authority = try MatchAuthority(id: id, serial: serial, match: match, journal: journal, clock: clock, logger: logger,
                                               statusChanged: indexStatusChange)
            } catch {
                throw WireError(.internalError, "the match could not be created")
            }
            var records: [StoreRecord] = [.match(id: id, serial: serial)]
            for (event, json) in zip(match.events, authority.events(after: 0)) {
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
                registry.index.update(authority)
                return true
            }
            guard added else { continue }
            logger.debug("match created", metadata: ["match": "\(id)", "game": "\(request.game.rawValue)"])
            return authority.snapshot()
        }
        throw WireError(.internalError, "no free match id was found; the request changed nothing")
    }

    /// The match with an id, `match/expired` if it was let go, or `match/not_found`.
    public func match(_ id: String?) throws(WireError) -> MatchAuthority {
        let (found, expired, damage) = registry.withLock { registry in
            (id.flatMap { registry.live[$0] }, id.map { registry.expired.contains($0) } ?? false, id.flatMap { registry.setAside[$0] })
        }
        if let found { return found }
        if expired, let id { throw MatchClosure.expired.error(match: id) }
        if damage != nil, let id {
            throw WireError(.corruptLog, "match '\(id)' cannot be served: its stored log is damaged, so the server set it aside")
        }
        throw WireError(.unknownMatch, "no match has the id '\(id ?? "")'")
    }

    /// Matches, newest first, optionally only those in one status. The cost depends on `limit`,
    /// not on how many matches there are.
    public func matches(status: MatchStatus? = nil, limit: Int = 100) -> [MatchSnapshot] {
        registry.withLock { $0.index.newest(status, limit: limit) }.map { $0.snapshot() }
    }

    /// How many matches are held in memory.
    public var liveMatchCount: Int { registry.withLock { $0.live.count } }

    /// How many matches are held in memory in a status.
    public func matchCount(_ status: MatchStatus) -> Int { registry.withLock { $0.index.count(status) } }

    /// Keeps the index as a match's published status changes.
    private var indexStatusChange: @Sendable (MatchAuthority, MatchStatus, MatchStatus) -> Void {
        { [weak self] match, _, _ in
            self?.registry.withLock { registry in
                if registry.live[match.id] === match { registry.index.update(match) }
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
    public func sweep(now: ContinuousClock.Instant) {
        let live = registry.withLock { Array($0.live.values) }
        for match in live { match.expireTurnIfDue(now: now) }
        guard let timeout = configuration.matchIdleTimeout else { return }
        // A match whose turn clock runs is not idle: its clock ends it with a result first.
        let idle = live.filter { now - $0.lastActivity >= timeout && $0.turnDeadline == nil }
        guard !idle.isEmpty else { return }
        let ids = registry.withLock { registry in
            idle.map(\.id).filter { registry.expiring.insert($0).inserted }
        }
        guard !ids.isEmpty else { return }
        journal.append(ids.map { .expired(match: $0) }) { [self] written in
            let letGo = registry.withLock { registry -> [MatchAuthority] in
                registry.expiring.subtract(ids)
                guard case .success = written else { return [] }
                registry.expired.formUnion(ids)
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
    }

    /// Lets go every match with no new event for the idle timeout, as of `now`, and returns
    /// their ids once that is durable.
    @discardableResult
    public func expireIdleMatches(now: ContinuousClock.Instant) async -> [String] {
        let before = registry.withLock { $0.expired }
        sweep(now: now)
        await journal.idle()
        return Array(registry.withLock { $0.expired }.subtracting(before))
    }

    // MARK: Shutdown

    /// Refuses new work and closes every match: subscribers are told the server is shutting down.
    public func shutDown() {
        guard !closing.exchange(true, ordering: .relaxed) else { return }
        let all = registry.withLock { Array($0.live.values) }
        logger.info("shutting down", metadata: ["matches": "\(all.count)"])
        for match in all { match.close(.shuttingDown) }
    }

    /// Waits until every change handed to the store is written.
    public func drain() async {
        await journal.idle()
    }
}
