import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import PlyStore
import ServiceLifecycle

/// The ply server: one `GameService` behind HTTP long-polling and WebSocket on one port.
///
/// Its service group runs the HTTP server and the game service; on SIGINT or SIGTERM the game
/// service shuts down first (answering polls, closing WebSockets with 1001), then the HTTP server.
public struct PlyServer: Sendable {
    public let service: GameService
    private let group: ServiceGroup

    private let store: (any MatchStore)?

    /// - Parameter store: where matches are made durable (the server closes it when it stops);
    ///   nil keeps them in memory only.
    /// - Parameter onRunning: called with the bound port once the server listens (useful with port 0).
    public init(
        configuration: ServerConfiguration,
        store: (any MatchStore)? = nil,
        logger: Logger = Logger(label: "ply.server"),
        handleSignals: Bool = true,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) {
        let service = GameService(configuration: configuration, store: store, logger: logger)
        self.store = store
        let application = Self.buildApplication(service: service, logger: logger, onRunning: onRunning)
        self.service = service
        // Graceful shutdown runs in reverse order: the game service, then the HTTP server.
        group = ServiceGroup(configuration: .init(
            services: [application, service],
            gracefulShutdownSignals: handleSignals ? [.sigterm, .sigint] : [],
            logger: logger
        ))
    }

    /// Rebuilds the stored matches, then runs until a signal (or `shutDown()`) stops the server.
    public func run() async throws {
        do {
            try await service.restore()
            try await group.run()
        } catch {
            await store?.close()
            throw error
        }
        await store?.close()
    }

    /// Starts a graceful shutdown, as SIGTERM would.
    public func shutDown() async {
        await group.triggerGracefulShutdown()
    }

    /// The Hummingbird application: HTTP routes and the WebSocket upgrade on one port.
    static func buildApplication(
        service: GameService,
        logger: Logger,
        onRunning: @escaping @Sendable (Int) async -> Void
    ) -> some ApplicationProtocol {
        let configuration = service.configuration
        let router = Router(context: PlyRequestContext.self)
        router.middlewares.add(WireErrorMiddleware())
        HTTPRoutes(service: service).add(to: router)

        // Without WebSocket, every upgrade request is refused (400), as a proxy that strips `Upgrade` would.
        let webSocketRouter = Router(context: PlyRequestContext.self)
        if configuration.webSocket { WebSocketTransport(service: service).add(to: webSocketRouter) }

        return Application(
            router: router,
            server: .http1WebSocketUpgrade(
                webSocketRouter: webSocketRouter,
                configuration: .init(
                    http1: .init(additionalChannelHandlers: [ConnectionLogger(service: service, logger: logger)]),
                    ws: .init(
                        maxFrameSize: configuration.maxMessageBytes,
                        autoPing: .enabled(timePeriod: configuration.pingInterval),
                        closeTimeout: configuration.shutdownGrace,
                        validateUTF8: true
                    )
                )
            ),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port)),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger
        )
    }
}
