import PlyAuthority

/// Everything `ply serve` can be told. Every limit here is documented in docs/protocol.md.
public struct ServerConfiguration: Sendable {
    /// The address to listen on.
    public var host: String
    /// The port to listen on; 0 picks a free one.
    public var port: Int
    /// The largest request body or WebSocket message accepted, in bytes (413, or close 1009).
    public var maxMessageBytes: Int
    /// The most frames one fragmented WebSocket message may arrive in (close 1009 beyond).
    public var maxMessageFragments: Int
    /// How long a WebSocket message sent in fragments may take to complete (close 1008 beyond).
    public var maxFragmentedMessageTime: Duration
    /// How long a long poll waits for an event when the client does not say.
    public var defaultPollWait: Duration
    /// The longest wait a client may ask for with `?wait=`.
    public var maxPollWait: Duration
    /// The longest the server holds a poll, whatever the client asked for (it is then answered
    /// `[]`, as at the end of its wait); nil: as long as asked. Set under a network's idle
    /// timeout (`fit(idleTimeout:)`), so that no poll is left quiet long enough to be forgotten.
    public var pollHold: Duration?
    /// How often the server pings each WebSocket; a peer that does not answer is closed.
    public var pingInterval: Duration
    /// How often an event stream with nothing to send sends a comment line, so that proxies and
    /// NATs do not take it for idle.
    public var streamHeartbeat: Duration = .seconds(15)
    /// How long a browser's EventSource waits before it reconnects (the stream's `retry:`).
    public var streamRetry: Duration = .seconds(2)
    /// How long a stream ticket may wait for the stream it opens.
    public var streamTicketLifetime: Duration = .seconds(60)
    /// How long shutdown waits for WebSockets to finish their close handshake.
    public var shutdownGrace: Duration
    /// Whether WebSocket upgrades are accepted; without them, only long-polling is served
    /// (as behind a proxy that strips `Upgrade`).
    public var webSocket: Bool
    /// Whether the server compresses: it accepts a WebSocket's offer of `permessage-deflate`
    /// (RFC 7692) and gzips event streams and larger HTTP bodies for clients that accept gzip.
    public var compression = false
    /// The largest deflate window, in bits (9-15), of the server and of clients that let it
    /// choose theirs: the memory each compressed connection keeps.
    public var compressionWindowBits = 10
    /// Whether a compressed WebSocket keeps its deflate context from one message to the next
    /// (the savings on small messages are there); off asks both sides to start each message afresh.
    public var compressionContextTakeover = true
    /// The most TCP connections open at once; a connection beyond it is closed at once.
    public var maxConnections: Int
    /// Commands a seat may send per second, on average, and in a burst, whatever connections
    /// they come on (and WebSocket messages per connection); beyond that they are refused with
    /// `request/rate_limited` (429).
    public var commandsPerSecond: Double
    public var commandBurst: Int
    /// Limits per client address: connections, waiting polls, live matches, and budgets for
    /// creations, joins, upgrades and commands.
    public var clientLimits: ClientLimits
    /// The most unfinished matches the server holds (`server/at_capacity` beyond).
    public var maxLiveMatches: Int
    /// Finished matches held whole in memory, the most recently finished or asked for; any
    /// other is read from the store when asked for.
    public var finishedMatchesHeld: Int
    /// Messages a WebSocket may queue while its socket is blocked (the client is not reading,
    /// the kernel's and ply's write buffers are full); a client that falls further behind is
    /// disconnected.
    public var maxOutboundMessages: Int
    /// The kernel send buffer of each WebSocket (SO_SNDBUF), or nil for the system's autotuning.
    /// Smaller buffers hold less for a client that stops reading, so it is found out sooner.
    public var webSocketSendBuffer: Int?
    /// A match with no new event for this long is let go (`match/expired`); nil keeps matches forever.
    public var matchIdleTimeout: Duration?
    /// The per-move time limit of a match whose creator did not choose one; nil for none.
    public var defaultMoveTimeLimit: Int?
    /// Web page origins granted the use of the server (`scheme://host[:port]`, or `*` for
    /// any): their requests are answered with CORS grants, their WebSockets admitted. A page
    /// from any other origin may read (GET) but its browser keeps the answers from it, and it
    /// may change nothing nor open a WebSocket (`request/forbidden_origin`). A page's own
    /// origin (its `Origin` names the `Host` it asked) and requests without `Origin`
    /// (non-browser clients) need no grant.
    public var allowedOrigins: Set<String>
    /// How long a request head may take to arrive whole, from its first byte (or the accept).
    public var headerTimeout: Duration
    /// How long a kept-alive HTTP connection may stay with no request in flight.
    public var keepAliveTimeout: Duration
    /// How often the server checks turn clocks and idle matches: one timer for all matches.
    public var sweepInterval: Duration
    /// Event loop threads for connections; nil for one per core (swift-nio's shared group).
    public var eventLoopThreads: Int?
    /// Addresses of proxies (nginx) whose `X-Forwarded-For` is believed: a request from one is
    /// the client's the header names, so limits per client see real clients. From any other
    /// address the header is ignored (anyone could send it).
    public var trustedProxies: Set<String> = []

    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        maxMessageBytes: Int = 4096,
        maxMessageFragments: Int = 16,
        maxFragmentedMessageTime: Duration = .seconds(10),
        defaultPollWait: Duration = .seconds(25),
        maxPollWait: Duration = .seconds(60),
        pingInterval: Duration = .seconds(20),
        shutdownGrace: Duration = .seconds(5),
        webSocket: Bool = true,
        maxConnections: Int = 16_384,
        commandsPerSecond: Double = 20,
        commandBurst: Int = 40,
        clientLimits: ClientLimits = ClientLimits(),
        maxLiveMatches: Int = 100_000,
        finishedMatchesHeld: Int = 64,
        maxOutboundMessages: Int = 256,
        webSocketSendBuffer: Int? = nil,
        matchIdleTimeout: Duration? = .seconds(3600),
        defaultMoveTimeLimit: Int? = 300,
        allowedOrigins: Set<String> = [],
        headerTimeout: Duration = .seconds(10),
        keepAliveTimeout: Duration = .seconds(60),
        sweepInterval: Duration = .milliseconds(100),
        eventLoopThreads: Int? = nil
    ) {
        self.host = host
        self.port = port
        self.maxMessageBytes = maxMessageBytes
        self.maxMessageFragments = maxMessageFragments
        self.maxFragmentedMessageTime = maxFragmentedMessageTime
        self.defaultPollWait = defaultPollWait
        self.maxPollWait = maxPollWait
        self.pingInterval = pingInterval
        self.shutdownGrace = shutdownGrace
        self.webSocket = webSocket
        self.maxConnections = maxConnections
        self.commandsPerSecond = commandsPerSecond
        self.commandBurst = commandBurst
        self.clientLimits = clientLimits
        self.maxLiveMatches = maxLiveMatches
        self.finishedMatchesHeld = finishedMatchesHeld
        self.maxOutboundMessages = maxOutboundMessages
        self.webSocketSendBuffer = webSocketSendBuffer
        self.matchIdleTimeout = matchIdleTimeout
        self.defaultMoveTimeLimit = defaultMoveTimeLimit
        self.allowedOrigins = allowedOrigins
        self.headerTimeout = headerTimeout
        self.keepAliveTimeout = keepAliveTimeout
        self.sweepInterval = sweepInterval
        self.eventLoopThreads = eventLoopThreads
    }

    /// The idle timeout ply's defaults are made for: no connection the server keeps open stays
    /// quiet this long (the longest is a long poll's default wait, 25 s). A NAT or load balancer
    /// that forgets connections sooner needs `fit(idleTimeout:)` (`ply serve --idle-timeout`).
    public static let defaultIdleBound: Duration = .seconds(30)

    /// Fits every timer that keeps a quiet connection busy under a network's idle timeout (a NAT's
    /// or a load balancer's): WebSocket pings, event stream heartbeats, the default poll wait and
    /// the longest poll held are each at most half of it. Timers already shorter are kept.
    public mutating func fit(idleTimeout: Duration) {
        let half = idleTimeout / 2
        pingInterval = min(pingInterval, half)
        streamHeartbeat = min(streamHeartbeat, half)
        defaultPollWait = min(defaultPollWait, half)
        pollHold = min(pollHold ?? half, half)
    }

    /// Whether an `allowedOrigins` entry names an origin (`http` or `https`, a host, an optional
    /// port, nothing else), or is `*`.
    public static func isValidOrigin(_ text: String) -> Bool {
        OriginPolicy.isValid(text)
    }

    /// The part of the configuration the authority keeps.
    var authority: Authority.Configuration {
        Authority.Configuration(defaultMoveTimeLimit: defaultMoveTimeLimit, matchIdleTimeout: matchIdleTimeout, maxLiveMatches: maxLiveMatches,
                                finishedMatchesHeld: finishedMatchesHeld)
    }
}
