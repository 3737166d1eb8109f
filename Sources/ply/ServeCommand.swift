import ArgumentParser
import Foundation
import Logging
import PlyEngine
import PlyPostgres
import PlyServer
import PlyStore

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run a ply server: HTTP long-polling and WebSocket on one port.",
        discussion: "Every match is stored in SQLite (--data) before any change is acknowledged, "
            + "so a restarted server, even after kill -9, carries on every match where it was. "
            + "With --store postgres://… several servers share one database behind a proxy, and any of them serves any match (docs/deploy.md)."
    )

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0 picks a free one).")
    var port = 8080

    @OptionGroup var storage: StorageOptions

    enum SyncMode: String, ExpressibleByArgument, CaseIterable {
        case normal, full
        var store: SQLiteStore.Sync { self == .normal ? .normal : .full }
    }

    @Option(help: "SQLite synchronous mode: normal (survives a killed process) or full (also a power loss; an fsync per write).")
    var sync: SyncMode = .normal

    @Option(help: "The largest request body or WebSocket message, in bytes.")
    var maxMessageBytes = 4096

    @Option(help: "The most frames one WebSocket message may arrive in (more: close 1009).")
    var maxMessageFragments = 16

    @Option(help: "Seconds a WebSocket message sent in fragments may take to arrive whole (more: close 1008).")
    var maxFragmentedMessageTime = 10.0

    @Option(help: "Seconds a request head may take to arrive whole, from its first byte.")
    var headerTimeout = 10.0

    @Option(help: "Seconds a kept-alive HTTP connection may stay with no request in flight (a waiting poll is in flight).")
    var keepAliveTimeout = 60.0

    @Option(help: "The most connections open at once; more are closed at once.")
    var maxConnections = 16_384

    @Option(help: "Commands per second one seat may send on average, over all its connections, and messages one WebSocket may send (bursts of twice as many).")
    var commandsPerSecond = 20.0

    @OptionGroup(title: "Limits per client (address)") var clientLimits: ClientLimitOptions

    @Option(help: "The most unfinished matches the server holds at once.")
    var maxLiveMatches = 100_000

    @Option(help: "Finished matches kept whole in memory, the most recently finished or asked for; any other is read from the store when asked for.")
    var finishedHeld = 64

    @Option(help: "Messages a WebSocket may queue behind a blocked socket before a client that does not read is dropped.")
    var maxOutboundMessages = 256

    @Option(help: "The kernel send buffer of each WebSocket in bytes (default: the system's autotuning).")
    var webSocketSendBuffer: Int?

    @Option(help: "Seconds without a new event after which a match expires (0: never).")
    var idleExpiry = 3600

    @Option(help: "Seconds per move when a match's creator sets no limit (0: no limit).")
    var moveTimeLimit = 300

    @Option(name: .customLong("allow-origin"), help: "An Origin allowed to make requests and open WebSockets, e.g. https://example.com (repeat; default: any; requests without Origin are always allowed).")
    var allowedOrigins: [String] = []

    @Option(help: "Event loop threads for connections (default: one per core).")
    var threads: Int?

    @Option(name: .customLong("trusted-proxy"), help: "The address of a proxy (nginx) whose X-Forwarded-For names the client, for the limits per client (repeat; default: none, the header is ignored).")
    var trustedProxies: [String] = []

    @Option(help: "Seconds between the comment lines an event stream sends when it has nothing else to send, so that proxies and NATs keep it.")
    var streamHeartbeat = 15.0

    @Option(help: "Seconds between the pings the server sends each WebSocket; one unanswered by the next ping closes it.")
    var pingInterval = 20.0

    @Option(help: "Seconds a long poll waits for an event when it does not say (wait=).")
    var pollWait = 25.0

    @Option(help: "The idle timeout of the network in front of the server, in seconds (a NAT's or a load balancer's; ply's defaults suit 30 or more): pings, heartbeats and long polls are kept to half of it, longer waits asked for answered early.")
    var idleTimeout: Double?

    @Option(help: "Seconds a browser's EventSource waits before reconnecting by itself (the stream's retry: field).")
    var streamRetry = 2.0

    @Option(help: "Compression: on accepts WebSockets' offers of permessage-deflate and gzips event streams and larger bodies for clients that accept gzip; off (the default) sends everything as it is (docs/benchmarks.md, Compression, has what each costs and saves).")
    var compression: ClientLimitOptions.Switch = .off

    @Option(help: "The largest deflate window in bits, 9 to 15, of the server and of clients that let it choose theirs: the memory each compressed connection keeps (about 2^(bits+2) bytes to deflate, 2^bits to inflate).")
    var compressionWindowBits = 10

    @Flag(help: "Ask compressed WebSockets to start every message afresh (no context takeover): less memory kept between messages, but small messages then barely compress.")
    var compressionNoContextTakeover = false

    @Flag(help: "Refuse WebSocket upgrades and serve Server-Sent Events and long-polling only.")
    var noWebsocket = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    func validate() throws {
        let range = MatchOptions.moveTimeLimitRange
        guard moveTimeLimit == 0 || range.contains(moveTimeLimit) else {
            throw ValidationError("--move-time-limit must be 0 or \(range.lowerBound) to \(range.upperBound) seconds")
        }
        try OptionCheck.count(port, "--port", in: 0...65535)
        try OptionCheck.count(maxMessageBytes, "--max-message-bytes", in: 64...16_777_216)
        try OptionCheck.count(maxMessageFragments, "--max-message-fragments", in: 1...100_000)
        _ = try OptionCheck.seconds(maxFragmentedMessageTime, "--max-fragmented-message-time", most: 3600)
        _ = try OptionCheck.seconds(headerTimeout, "--header-timeout", most: 3600)
        _ = try OptionCheck.seconds(keepAliveTimeout, "--keep-alive-timeout", most: 86_400)
        _ = try OptionCheck.seconds(streamHeartbeat, "--stream-heartbeat", most: 3600)
        _ = try OptionCheck.seconds(streamRetry, "--stream-retry", most: 3600)
        _ = try OptionCheck.seconds(pingInterval, "--ping-interval", most: 3600)
        _ = try OptionCheck.seconds(pollWait, "--poll-wait", most: 60)
        if let idleTimeout { _ = try OptionCheck.seconds(idleTimeout, "--idle-timeout", least: 0.2, most: 86_400) }
        try OptionCheck.count(maxConnections, "--max-connections", in: 1...10_000_000)
        try OptionCheck.count(compressionWindowBits, "--compression-window-bits", in: 9...15)
        try OptionCheck.rate(commandsPerSecond, "--commands-per-second")
        try OptionCheck.count(maxLiveMatches, "--max-live-matches", in: 1...100_000_000)
        try OptionCheck.count(finishedHeld, "--finished-held", in: 0...10_000_000)
        try OptionCheck.count(maxOutboundMessages, "--max-outbound-messages", in: 1...10_000_000)
        if let webSocketSendBuffer { try OptionCheck.count(webSocketSendBuffer, "--web-socket-send-buffer", in: 1024...1_073_741_824) }
        try OptionCheck.count(idleExpiry, "--idle-expiry", in: 0...3_153_600_000)
        if let threads { try OptionCheck.count(threads, "--threads", in: 1...1024) }
        for origin in allowedOrigins where !ServerConfiguration.isValidOrigin(origin) {
            throw ValidationError("--allow-origin must be an origin, scheme://host[:port] (http or https, no path), or *: not '\(origin)'")
        }
    }

    func run() async throws {
        let logger = {
            var logger = Logger(label: "ply.server")
            logger.logLevel = logLevel
            return logger
        }()
        var configuration = ServerConfiguration(host: host, port: port, maxMessageBytes: maxMessageBytes, webSocket: !noWebsocket)
        configuration.maxMessageFragments = maxMessageFragments
        configuration.maxFragmentedMessageTime = try OptionCheck.seconds(maxFragmentedMessageTime, "--max-fragmented-message-time", most: 3600)
        configuration.clientLimits = clientLimits.limits
        configuration.maxLiveMatches = maxLiveMatches
        configuration.finishedMatchesHeld = finishedHeld
        configuration.eventLoopThreads = threads
        configuration.headerTimeout = try OptionCheck.seconds(headerTimeout, "--header-timeout", most: 3600)
        configuration.keepAliveTimeout = try OptionCheck.seconds(keepAliveTimeout, "--keep-alive-timeout", most: 86_400)
        configuration.streamHeartbeat = try OptionCheck.seconds(streamHeartbeat, "--stream-heartbeat", most: 3600)
        configuration.streamRetry = try OptionCheck.seconds(streamRetry, "--stream-retry", most: 3600)
        configuration.pingInterval = try OptionCheck.seconds(pingInterval, "--ping-interval", most: 3600)
        configuration.defaultPollWait = try OptionCheck.seconds(pollWait, "--poll-wait", most: 60)
        if let idleTimeout { configuration.fit(idleTimeout: try OptionCheck.seconds(idleTimeout, "--idle-timeout", least: 0.2, most: 86_400)) }
        configuration.maxConnections = maxConnections
        configuration.compression = compression == .on
        configuration.compressionWindowBits = compressionWindowBits
        configuration.compressionContextTakeover = !compressionNoContextTakeover
        configuration.commandsPerSecond = commandsPerSecond
        configuration.commandBurst = OptionCheck.burst(commandsPerSecond, times: 2)
        configuration.maxOutboundMessages = maxOutboundMessages
        configuration.webSocketSendBuffer = webSocketSendBuffer
        configuration.matchIdleTimeout = idleExpiry == 0 ? nil : .seconds(idleExpiry)
        configuration.defaultMoveTimeLimit = moveTimeLimit == 0 ? nil : moveTimeLimit
        configuration.allowedOrigins = Set(allowedOrigins)
        configuration.trustedProxies = Set(trustedProxies)
        let store = try await storage.open(sync: sync.store, logger: logger)
        if let store = store as? SQLiteStore { logger.info("matches are stored", metadata: ["path": "\(store.path)"]) }
        if let store = store as? PostgresStore { logger.info("matches are stored in PostgreSQL, shared with other servers", metadata: ["database": "\(store.location)"]) }
        let host = host
        let server = PlyServer(configuration: configuration, store: store, logger: logger) { port in
            // A line for people and for scripts (ply bench waits for it).
            FileHandle.standardOutput.write(Data("ply serve listening on http://\(host):\(port)\n".utf8))
        }
        try await server.run()
    }
}

/// The limits per client address.
struct ClientLimitOptions: ParsableArguments {
    enum Switch: String, ExpressibleByArgument, CaseIterable { case on, off }

    @Option(help: "Limits per client: on, or off for none (benchmarks and bot fleets from one machine).")
    var clientLimits: Switch = .on

    @Option(help: "Connections one client may have open at once.")
    var maxConnectionsPerClient = ClientLimits().connections

    @Option(help: "Long polls one client may have waiting at once.")
    var maxPollsPerClient = ClientLimits().waitingPolls

    @Option(help: "Unfinished matches one client may have created.")
    var maxLiveMatchesPerClient = ClientLimits().liveMatches

    @Option(help: "Matches one client may create per second on average (bursts of ten times as many).")
    var creationsPerSecond = ClientLimits().creationsPerSecond

    @Option(help: "Seats one client may take per second on average (bursts of ten times as many).")
    var joinsPerSecond = ClientLimits().joinsPerSecond

    @Option(help: "WebSocket upgrades and event streams one client may open per second on average (bursts of ten times as many).")
    var upgradesPerSecond = ClientLimits().upgradesPerSecond

    @Option(help: "Commands one client may send per second on average, all its seats together (bursts of twice as many).")
    var clientCommandsPerSecond = ClientLimits().commandsPerSecond

    var limits: ClientLimits {
        guard clientLimits == .on else { return .off }
        return ClientLimits(connections: maxConnectionsPerClient, waitingPolls: maxPollsPerClient, liveMatches: maxLiveMatchesPerClient,
                            creationsPerSecond: creationsPerSecond, creationBurst: OptionCheck.burst(creationsPerSecond, times: 10),
                            joinsPerSecond: joinsPerSecond, joinBurst: OptionCheck.burst(joinsPerSecond, times: 10),
                            upgradesPerSecond: upgradesPerSecond, upgradeBurst: OptionCheck.burst(upgradesPerSecond, times: 10),
                            commandsPerSecond: clientCommandsPerSecond, commandBurst: OptionCheck.burst(clientCommandsPerSecond, times: 2))
    }

    func validate() throws {
        try OptionCheck.count(maxConnectionsPerClient, "--max-connections-per-client", in: 1...10_000_000)
        try OptionCheck.count(maxPollsPerClient, "--max-polls-per-client", in: 1...10_000_000)
        try OptionCheck.count(maxLiveMatchesPerClient, "--max-live-matches-per-client", in: 1...100_000_000)
        try OptionCheck.rate(creationsPerSecond, "--creations-per-second")
        try OptionCheck.rate(joinsPerSecond, "--joins-per-second")
        try OptionCheck.rate(upgradesPerSecond, "--upgrades-per-second")
        try OptionCheck.rate(clientCommandsPerSecond, "--client-commands-per-second")
    }
}

/// Where matches are kept: `--data PATH` (SQLite), `--store memory`, or `--store postgres://…`
/// (or `PLY_DATABASE_URL`) for a database shared by several servers.
struct StorageOptions: ParsableArguments {
    /// What `--store` names.
    enum Kind: Equatable, ExpressibleByArgument {
        case sqlite, memory
        case postgres(url: String)

        init?(argument: String) {
            switch argument {
            case "sqlite": self = .sqlite
            case "memory": self = .memory
            case let url where url.hasPrefix("postgres://") || url.hasPrefix("postgresql://"): self = .postgres(url: url)
            default: return nil
            }
        }

        static var allValueStrings: [String] { ["sqlite", "memory", "postgres://USER@HOST:PORT/DATABASE"] }
    }

    @Option(help: ArgumentHelp(
        "Where matches are kept: sqlite (durable, one server), memory (lost when the server stops), or postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (durable, shared by several servers).",
        discussion: "Without --store, PLY_DATABASE_URL names a PostgreSQL database if it is set; else sqlite.",
        valueName: "store"))
    var store: Kind?

    @Option(help: "The SQLite file (default: $XDG_DATA_HOME/ply/matches.sqlite, or ~/.local/share/ply/matches.sqlite).")
    var data: String?

    @Option(help: "The most connections to PostgreSQL this server opens (its pool, and one more that listens).")
    var databaseConnections = 8

    var path: String { data ?? Self.defaultPath }

    /// `--store`, else `PLY_DATABASE_URL`, else SQLite.
    var kind: Kind {
        if let store { return store }
        if let url = ProcessInfo.processInfo.environment["PLY_DATABASE_URL"], !url.isEmpty { return .postgres(url: url) }
        return .sqlite
    }

    static var defaultPath: String {
        let environment = ProcessInfo.processInfo.environment
        let base = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (FileManager.default.homeDirectoryForCurrentUser.path + "/.local/share")
        return base + "/ply/matches.sqlite"
    }

    func validate() throws {
        try OptionCheck.count(databaseConnections, "--database-connections", in: 1...1000)
    }

    func open(sync: SQLiteStore.Sync = .normal, logger: Logger) async throws -> any MatchStore {
        switch kind {
        case .memory: return MemoryStore()
        case .sqlite: return try await SQLiteStore.open(path: path, sync: sync, logger: logger)
        case .postgres(let url): return try await PostgresStore.open(url: url, maxConnections: databaseConnections, logger: logger)
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
