import Logging
import NIOCore
import NIOPosix
import PlyEngine
import PlyStore
import PlyWire
import ServiceLifecycle
import Synchronization

/// The one authority over every match. Both transports are thin adapters over this service:
/// they parse a request, call one method here and send back the bytes it returns.
///
/// As a `Service` it takes part in graceful shutdown: it answers every waiting poll, closes
/// every WebSocket with 1001 and waits (up to the configured grace) for them to finish,
/// before the HTTP server itself stops.
public final class GameService: Service, Sendable {
    public let configuration: ServerConfiguration
    let logger: Logger
    private let eventLoopGroup: any EventLoopGroup
    private let rooms = Mutex<[String: MatchRoom]>([:])
    /// Matches let go for idleness: asked for, they answer `match/expired` rather than not found.
    private let expired = Mutex<Set<String>>([])
    /// Where matches are made durable; nil with `--store memory`.
    let store: (any MatchStore)?
    private let journal: Journal?
    private let nextSerial = Atomic<Int>(0)
    private let shuttingDown = Atomic<Bool>(false)
    /// Open HTTP connections, for /health and the connection limit.
    let httpConnections = Atomic<Int>(0)
    /// The channels of open WebSockets: counted for /health and the connection limit, and
    /// dropped if still open when shutdown's grace ends.
    private let webSocketChannels = Mutex<[ObjectIdentifier: any Channel]>([:])

    var webSockets: Int { webSocketChannels.withLock { $0.count } }

    public init(
        configuration: ServerConfiguration = ServerConfiguration(),
        store: (any MatchStore)? = nil,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "ply.server")
    ) {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
        self.store = store
        journal = store.map { Journal(store: $0, logger: logger) }
    }

    /// Rebuilds every live match from the store, as it was when the last change was made
    /// durable. Call once, before serving.
    public func restore() async throws {
        guard let store else { return }
        var restored: [String: MatchRoom] = [:]
        var highest = 0
        for stored in try await store.liveMatches() {
            let match: Match
            do {
                match = try Match(replaying: stored.events.map { try WireCoding.decoder.decode(MatchEvent.self, from: $0) })
            } catch {
                logger.error("a stored match could not be rebuilt; it is left out", metadata: ["match": "\(stored.id)", "error": "\(error)"])
                continue
            }
            restored[stored.id] = try MatchRoom(id: stored.id, serial: stored.serial, match: match, encoded: stored.events, tokens: stored.tokens,
                                                eventLoop: eventLoopGroup.next(), logger: logger, journal: journal)
            highest = max(highest, stored.serial)
        }
        rooms.withLock { $0.merge(restored) { old, _ in old } }
        _ = nextSerial.add(highest, ordering: .relaxed)
        logger.info("matches restored", metadata: ["matches": "\(restored.count)"])
    }

    public var isShuttingDown: Bool { shuttingDown.load(ordering: .relaxed) }

    // MARK: Matches

    /// Opens a new match, once it is durable.
    public func createMatch(_ request: CreateMatchRequest) async throws(WireError) -> MatchSnapshot {
        try checkRunning()
        let match: Match
        do {
            let limit = request.moveTimeLimit ?? configuration.defaultMoveTimeLimit
            match = try Match(game: request.game, options: MatchOptions(moveTimeLimit: limit))
        } catch {
            throw WireError(error)
        }
        let serial = nextSerial.add(1, ordering: .relaxed).newValue
        let id = Self.makeMatchID()
        let eventLoop = eventLoopGroup.next()
        let room: MatchRoom
        do {
            room = try MatchRoom(id: id, serial: serial, match: match, eventLoop: eventLoop, logger: logger, journal: journal)
        } catch {
            throw WireError(.internalError, "the match could not be created")
        }
        if let journal {
            var records: [StoreRecord] = [.match(id: id, serial: serial)]
            for (event, json) in zip(match.events, room.encodedEvents(after: 0)) {
                records.append(.event(match: id, version: event.version, json: json))
            }
            try await journal.write(records, on: eventLoop)
        }
        rooms.withLock { $0[id] = room }
        logger.info("match created", metadata: ["match": "\(id)", "game": "\(request.game.rawValue)"])
        return room.snapshot()
    }

    /// The match with an id, `match/expired` if it was let go, or `match/not_found`.
    func room(_ id: String?) throws(WireError) -> MatchRoom {
        guard let id, let room = rooms.withLock({ $0[id] }) else {
            if let id, expired.withLock({ $0.contains(id) }) {
                throw WireError(.expiredMatch, "match '\(id)' was idle too long and has expired")
            }
            throw WireError(.unknownMatch, "no match has the id '\(id ?? "")'")
        }
        return room
    }

    /// How many WebSockets are open on a match (nil for no such match).
    public func webSocketCount(match id: String) -> Int? {
        rooms.withLock { $0[id] }?.webSocketCount
    }

    /// Matches, newest first, optionally only those in one status.
    public func matches(status: MatchStatus? = nil, limit: Int = 100) -> [MatchSnapshot] {
        let all = rooms.withLock { Array($0.values) }.sorted { $0.serial > $1.serial }
        var result: [MatchSnapshot] = []
        for room in all where result.count < limit {
            let snapshot = room.snapshot()
            if status == nil || snapshot.status == status { result.append(snapshot) }
        }
        return result
    }

    // MARK: Limits

    func opened(webSocket channel: any Channel) {
        webSocketChannels.withLock { $0[ObjectIdentifier(channel)] = channel }
    }

    func closed(webSocket channel: any Channel) {
        webSocketChannels.withLock { _ = $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// Per-connection command budgets of HTTP connections, by channel.
    private let limiters = Mutex<[ObjectIdentifier: RateLimiter]>([:])

    /// Takes one command from a connection's budget, or refuses with `request/rate_limited`.
    func spendCommand(on channel: any Channel) throws(WireError) {
        let key = ObjectIdentifier(channel)
        let allowed = limiters.withLock { limiters in
            limiters[key, default: makeRateLimiter()].allow()
        }
        if !allowed { throw Self.rateLimited(configuration) }
    }

    func makeRateLimiter() -> RateLimiter {
        RateLimiter(rate: configuration.commandsPerSecond, burst: configuration.commandBurst)
    }

    static func rateLimited(_ configuration: ServerConfiguration) -> WireError {
        WireError(.rateLimited, "more than \(configuration.commandBurst) commands at once or \(configuration.commandsPerSecond) a second on one connection; slow down")
    }

    /// The poll each HTTP connection has waiting (HTTP/1.1 runs one request at a time per
    /// connection), so that a client that goes away does not leave its poll behind.
    private let pollsByConnection = Mutex<[ObjectIdentifier: @Sendable () -> Void]>([:])

    /// Waits for a room's events on behalf of an HTTP connection, ending the wait early (with
    /// no events) if the connection closes.
    func poll(_ room: MatchRoom, after version: Int, timeout: Duration, seat: Seat?, on channel: any Channel) async -> ArraySlice<ByteBuffer> {
        let key = ObjectIdentifier(channel)
        defer { _ = pollsByConnection.withLock { $0.removeValue(forKey: key) } }
        return await room.waitForEvents(after: version, timeout: timeout, seat: seat) { cancel in
            pollsByConnection.withLock { $0[key] = cancel }
        }
    }

    /// A connection has closed: forget its command budget and end its waiting poll.
    func forgetConnection(_ channel: any Channel) {
        _ = limiters.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
        endPoll(on: channel)
    }

    /// Ends the poll waiting on a connection, if there is one (its answer is `[]`).
    func endPoll(on channel: any Channel) {
        pollsByConnection.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }?()
    }

    public func health() -> Health {
        let all = rooms.withLock { Array($0.values) }
        let webSockets = webSockets
        return Health(
            status: isShuttingDown ? "shutting_down" : "ok",
            matches: all.count,
            connections: webSockets + httpConnections.load(ordering: .relaxed),
            webSockets: webSockets,
            waitingPolls: all.reduce(0) { $0 + $1.waitingPolls }
        )
    }

    func checkRunning() throws(WireError) {
        if isShuttingDown { throw WireError(.shuttingDown, "the server is shutting down") }
    }

    /// Ten characters from a 32-letter alphabet: 50 bits, unique in practice, easy to type.
    static func makeMatchID() -> String {
        let alphabet = Array("abcdefghijkmnpqrstuvwxyz23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<10).map { _ in alphabet.randomElement(using: &generator)! })
    }

    // MARK: Expiry

    /// Lets go every match with no new event for `matchIdleTimeout`: its polls are answered,
    /// its WebSockets closed with 4410, and later requests get `match/expired`; the store keeps
    /// its log. Returns the ids let go.
    @discardableResult
    public func expireIdleMatches(now: ContinuousClock.Instant = .now) async -> [String] {
        guard let timeout = configuration.matchIdleTimeout else { return [] }
        let idle = rooms.withLock { rooms in rooms.values.filter { now - $0.idleSince >= timeout } }
        guard !idle.isEmpty else { return [] }
        let ids = idle.map(\.id)
        if let journal {
            do {
                try await journal.write(ids.map { .expired(match: $0) }, on: eventLoopGroup.next())
            } catch {
                logger.error("idle matches could not be marked expired", metadata: ["error": "\(error)"])
                return []
            }
        }
        expired.withLock { $0.formUnion(ids) }
        rooms.withLock { rooms in for id in ids { rooms.removeValue(forKey: id) } }
        for room in idle { room.close(WireError(.expiredMatch, "match '\(room.id)' was idle too long and has expired")) }
        logger.info("idle matches expired", metadata: ["matches": "\(ids.count)"])
        return ids
    }

    // MARK: Lifecycle

    public func run() async throws {
        // Sweep idle matches until the service group asks for a graceful shutdown (SIGINT, SIGTERM).
        let sweeper = Task {
            guard let timeout = configuration.matchIdleTimeout else { return }
            let period = min(timeout / 4, .seconds(60))
            while !Task.isCancelled {
                try? await Task.sleep(for: period)
                if !Task.isCancelled { await expireIdleMatches() }
            }
        }
        try? await gracefulShutdown()
        sweeper.cancel()
        shutDown()
        let deadline = ContinuousClock.now + configuration.shutdownGrace
        while webSockets > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        // A client that stopped reading never receives its close frame: drop what is left.
        let lingering = webSocketChannels.withLock { Array($0.values) }
        for channel in lingering { channel.close(promise: nil) }
        await journal?.settle()
        logger.info("game service stopped", metadata: ["websockets.left": "\(webSockets)"])
    }

    /// Refuses new work, answers waiting polls and closes WebSockets with 1001.
    public func shutDown() {
        guard !shuttingDown.exchange(true, ordering: .relaxed) else { return }
        let all = rooms.withLock { Array($0.values) }
        logger.info("shutting down", metadata: ["matches": "\(all.count)", "websockets": "\(webSockets)"])
        for room in all { room.close() }
    }
}
