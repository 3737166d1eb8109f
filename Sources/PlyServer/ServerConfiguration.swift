/// Everything `ply serve` can be told. Every limit here is documented in docs/protocol.md.
public struct ServerConfiguration: Sendable {
    /// The address to listen on.
    public var host: String
    /// The port to listen on; 0 picks a free one.
    public var port: Int
    /// The largest request body or WebSocket message accepted, in bytes (413, or close 1009).
    public var maxMessageBytes: Int
    /// How long a long poll waits for an event when the client does not say.
    public var defaultPollWait: Duration
    /// The longest wait a client may ask for with `?wait=`.
    public var maxPollWait: Duration
    /// How often the server pings each WebSocket; a peer that does not answer is closed.
    public var pingInterval: Duration
    /// How long shutdown waits for WebSockets to finish their close handshake.
    public var shutdownGrace: Duration
    /// Whether WebSocket upgrades are accepted; without them, only long-polling is served
    /// (as behind a proxy that strips `Upgrade`).
    public var webSocket: Bool
    /// The most TCP connections open at once; a connection beyond it is closed at once.
    public var maxConnections: Int
    /// Commands (and WebSocket messages) a connection may send per second, on average, and
    /// in a burst; beyond that they are refused with `request/rate_limited` (429).
    public var commandsPerSecond: Double
    public var commandBurst: Int
    /// Messages a WebSocket may have waiting to be written (events not yet sent plus replies);
    /// a client that stops reading and falls further behind is disconnected.
    public var maxOutboundMessages: Int
    /// The kernel send buffer of each WebSocket (SO_SNDBUF), or nil for the system's autotuning.
    /// Smaller buffers hold less for a client that stops reading, so it is found out sooner.
    public var webSocketSendBuffer: Int?
    /// A match with no new event for this long is let go (`match/expired`); nil keeps matches forever.
    public var matchIdleTimeout: Duration?
    /// The per-move time limit of a match whose creator did not choose one; nil for none.
    public var defaultMoveTimeLimit: Int?
    /// Origins allowed to open WebSockets (the `Origin` header, as `scheme://host[:port]`);
    /// nil allows any. Requests without an `Origin` (non-browser clients) are always allowed.
    public var allowedOrigins: Set<String>?

    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        maxMessageBytes: Int = 4096,
        defaultPollWait: Duration = .seconds(25),
        maxPollWait: Duration = .seconds(60),
        pingInterval: Duration = .seconds(20),
        shutdownGrace: Duration = .seconds(5),
        webSocket: Bool = true,
        maxConnections: Int = 16_384,
        commandsPerSecond: Double = 20,
        commandBurst: Int = 40,
        maxOutboundMessages: Int = 256,
        webSocketSendBuffer: Int? = nil,
        matchIdleTimeout: Duration? = .seconds(3600),
        defaultMoveTimeLimit: Int? = 300,
        allowedOrigins: Set<String>? = nil
    ) {
        self.host = host
        self.port = port
        self.maxMessageBytes = maxMessageBytes
        self.defaultPollWait = defaultPollWait
        self.maxPollWait = maxPollWait
        self.pingInterval = pingInterval
        self.shutdownGrace = shutdownGrace
        self.webSocket = webSocket
        self.maxConnections = maxConnections
        self.commandsPerSecond = commandsPerSecond
        self.commandBurst = commandBurst
        self.maxOutboundMessages = maxOutboundMessages
        self.webSocketSendBuffer = webSocketSendBuffer
        self.matchIdleTimeout = matchIdleTimeout
        self.defaultMoveTimeLimit = defaultMoveTimeLimit
        self.allowedOrigins = allowedOrigins
    }
}
