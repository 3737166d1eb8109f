import Logging
import NIOCore
import NIOPosix
import PlyEngine
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
    private let nextSerial = Atomic<Int>(0)
    private let shuttingDown = Atomic<Bool>(false)
    /// Open WebSocket sessions and HTTP connections, for /health and for shutdown.
    let webSockets = Atomic<Int>(0)
    let httpConnections = Atomic<Int>(0)

    public init(
        configuration: ServerConfiguration = ServerConfiguration(),
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "ply.server")
    ) {
        self.configuration = configuration
        self.eventLoopGroup = eventLoopGroup
        self.logger = logger
    }

    public var isShuttingDown: Bool { shuttingDown.load(ordering: .relaxed) }

    // MARK: Matches

    /// Opens a new match.
    public func createMatch(_ request: CreateMatchRequest) throws(WireError) -> MatchSnapshot {
        try checkRunning()
        let match: Match
        do {
            match = try Match(game: request.game, options: MatchOptions(moveTimeLimit: request.moveTimeLimit))
        } catch {
            throw WireError(error)
        }
        let serial = nextSerial.add(1, ordering: .relaxed).newValue
        let id = Self.makeMatchID()
        let room: MatchRoom
        do {
            room = try MatchRoom(id: id, serial: serial, match: match, eventLoop: eventLoopGroup.next(), logger: logger)
        } catch {
            throw WireError(.internalError, "the match could not be created")
        }
        rooms.withLock { $0[id] = room }
        logger.info("match created", metadata: ["match": "\(id)", "game": "\(request.game.rawValue)"])
        return room.snapshot()
    }

    /// The match with an id, or `match/not_found`.
    func room(_ id: String?) throws(WireError) -> MatchRoom {
        guard let id, let room = rooms.withLock({ $0[id] }) else {
            throw WireError(.unknownMatch, "no match has the id '\(id ?? "")'")
        }
        return room
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

    public func health() -> Health {
        Health(
            status: isShuttingDown ? "shutting_down" : "ok",
            matches: rooms.withLock { $0.count },
            connections: webSockets.load(ordering: .relaxed) + httpConnections.load(ordering: .relaxed)
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

    // MARK: Lifecycle

    public func run() async throws {
        // Park until the service group asks for a graceful shutdown (SIGINT, SIGTERM).
        try? await gracefulShutdown()
        shutDown()
        let deadline = ContinuousClock.now + configuration.shutdownGrace
        while webSockets.load(ordering: .relaxed) > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        logger.info("game service stopped", metadata: ["websockets.left": "\(webSockets.load(ordering: .relaxed))"])
    }

    /// Refuses new work, answers waiting polls and closes WebSockets with 1001.
    public func shutDown() {
        guard !shuttingDown.exchange(true, ordering: .relaxed) else { return }
        let all = rooms.withLock { Array($0.values) }
        logger.info("shutting down", metadata: ["matches": "\(all.count)", "websockets": "\(webSockets.load(ordering: .relaxed))"])
        for room in all { room.close() }
    }
}
