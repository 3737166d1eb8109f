import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import PlyAuthority
import PlyStore
import PlyWire
import ServiceLifecycle

/// The ply server: the authority over every match behind HTTP long-polling and WebSocket on
/// one port.
///
/// Its service group runs the HTTP server and the authority's service; on SIGINT or SIGTERM
/// the authority shuts down first (answering polls, closing WebSockets with 1001, finishing
/// its writes), then the HTTP server.
public struct PlyServer: Sendable {
    public let authority: Authority
    public let connections: Connections
    private let group: ServiceGroup

    /// - Parameter store: where matches are made durable (the server closes it when it stops).
    /// - Parameter clock: the time for turn clocks and idle expiry.
    /// - Parameter onRunning: called with the bound port once the server listens (useful with port 0).
    public init(
        configuration: ServerConfiguration,
        store: any MatchStore = MemoryStore(),
        clock: ServiceClock = .system,
        logger: Logger = Logger(label: "ply.server"),
        handleSignals: Bool = true,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        let metrics = ServerMetrics()
        let authority = Authority(store: store, configuration: configuration.authority, clock: clock, metrics: metrics.authority, logger: logger)
        let connections = Connections(configuration: configuration, metrics: metrics)
        self.authority = authority
        self.connections = connections
        let application = Self.buildApplication(authority: authority, connections: connections, configuration: configuration,
                                                logger: logger, onRunning: onRunning)
        let service = AuthorityService(authority: authority, connections: connections, configuration: configuration, logger: logger)
        // Graceful shutdown runs in reverse order: the authority, then the HTTP server.
        group = ServiceGroup(configuration: .init(
            services: [application, service],
            gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [],
            logger: logger
        ))
    }

    /// Rebuilds the stored matches, then runs until a signal (or `shutDown()`) stops the server.
    public func run() async throws {
        do {
            try await authority.restore()
            try await group.run()
        } catch {
            await authority.store.close()
            throw error
        }
        await authority.store.close()
    }

    /// Starts a graceful shutdown, as SIGTERM would.
    public func shutDown() async {
        await group.triggerGracefulShutdown()
    }

    /// What `GET /health` says.
    public func health() -> Health {
        Self.health(authority, connections)
    }

    static func health(_ authority: Authority, _ connections: Connections) -> Health {
        Health(
            status: authority.isShuttingDown ? "shutting_down" : !storeAvailable(authority) ? "degraded" : "ok",
            matches: authority.liveMatchCount,
            connections: connections.openConnections,
            webSockets: connections.webSockets,
            waitingPolls: connections.waitingPolls,
            streams: connections.streams
        )
    }

    /// Whether changes can be stored: a failed store refuses them until restart; a shared one
    /// (PostgreSQL) is degraded while it cannot be reached or its notifications are lost.
    static func storeAvailable(_ authority: Authority) -> Bool {
        if let shared = authority.shared { return shared.isAvailable }
        return !authority.journal.hasFailed
    }

    /// The Hummingbird application: HTTP routes and the WebSocket upgrade on one port.
    static func buildApplication(
        authority: Authority,
        connections: Connections,
        configuration: ServerConfiguration,
        logger: Logger,
        onRunning: @escaping @Sendable (Int) async -> Void
    ) -> some ApplicationProtocol {
        let router = Router(context: PlyRequestContext.self)
        router.middlewares.add(WireErrorMiddleware())
        HTTPRoutes(authority: authority, connections: connections, configuration: configuration,
                   health: { health(authority, connections) }).add(to: router)
        let responder = router.buildResponder()
        let serve: HTTPConnection.Router = { request, context in
            do {
                return try await responder.respond(to: request, context: context)
            } catch {
                // WireErrorMiddleware turns what the routes throw into responses; anything else is a fault.
                return WireError(.internalError, "the server failed; the request changed nothing").response
            }
        }
        let longPoll = LongPollTransport(authority: authority, connections: connections, configuration: configuration)
        let eventStreams = EventStreamTransport(authority: authority, connections: connections, configuration: configuration)
        // Without WebSocket, every upgrade request is refused (400), as a proxy that strips `Upgrade` would.
        let webSocket = configuration.webSocket
            ? WebSocketTransport(authority: authority, connections: connections, configuration: configuration)
            : nil
        let origins = OriginPolicy(allowed: configuration.allowedOrigins)
        return Application(
            responder: responder,
            server: HTTPServerBuilder { _ in
                PlyChildChannel(router: serve, webSocket: webSocket, longPoll: longPoll, eventStreams: eventStreams, connections: connections,
                                origins: origins)
            },
            configuration: .init(address: .hostname(configuration.host, port: configuration.port)),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? configuration.port) },
            eventLoopGroupProvider: configuration.eventLoopThreads.map { .shared(MultiThreadedEventLoopGroup(numberOfThreads: $0)) } ?? .singleton,
            logger: logger
        )
    }
}

/// The authority as a service of the server's group: it keeps time for every match (one
/// repeating timer for all turn clocks and idle expiry) and, on shutdown, closes every match,
/// gives WebSockets the grace period to finish their closing handshake, drops those still open,
/// and waits until every change is written.
struct AuthorityService: Service {
    let authority: Authority
    let connections: Connections
    let configuration: ServerConfiguration
    let logger: Logger

    func run() async throws {
        let clock = authority.clock
        let sweeper = MultiThreadedEventLoopGroup.singleton.next().scheduleRepeatedTask(
            initialDelay: TimeAmount(configuration.sweepInterval), delay: TimeAmount(configuration.sweepInterval)
        ) { [authority, connections] task in
            authority.sweep(now: clock.now)
            connections.prune()
        }
        // A shared store: follow what the other servers write, for as long as this one serves.
        let follower = Task { await authority.follow() }
        try? await gracefulShutdown()
        follower.cancel()
        sweeper.cancel()
        authority.shutDown()
        await connections.webSocketsClosed(within: configuration.shutdownGrace)
        // A client that stopped reading never receives its close frame: drop what is left.
        for channel in connections.openWebSockets() { channel.close(promise: nil) }
        await authority.drain()
        logger.info("game service stopped", metadata: ["websockets.left": "\(connections.webSockets)"])
    }
}
