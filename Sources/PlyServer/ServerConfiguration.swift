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

    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        maxMessageBytes: Int = 4096,
        defaultPollWait: Duration = .seconds(25),
        maxPollWait: Duration = .seconds(60),
        pingInterval: Duration = .seconds(20),
        shutdownGrace: Duration = .seconds(5),
        webSocket: Bool = true
    ) {
        self.host = host
        self.port = port
        self.maxMessageBytes = maxMessageBytes
        self.defaultPollWait = defaultPollWait
        self.maxPollWait = maxPollWait
        self.pingInterval = pingInterval
        self.shutdownGrace = shutdownGrace
        self.webSocket = webSocket
    }
}
