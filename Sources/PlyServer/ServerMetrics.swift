import CoreMetrics
import Metrics
import PlyAuthority
import PlyEngine
import PlyWire
import Prometheus
import Synchronization

/// What `GET /metrics` shows, in Prometheus's text format: the authority's measures (store
/// writes, notification lag, conflicts), commands and moves by transport and result, dropped
/// clients, and, read when asked, open WebSockets, waiting polls, connections and live matches.
/// Each server has a registry of its own (no global metrics system), so tests can run many.
public final class ServerMetrics: Sendable {
    /// How a command arrived: as a WebSocket message, or as an HTTP POST (from a long-polling
    /// client, or any client whose events come another way).
    public enum CommandRoute: String, Sendable, CaseIterable { case webSocket = "websocket", http }

    let registry: PrometheusCollectorRegistry
    public let factory: PrometheusMetricsFactory
    public let authority: AuthorityMetrics
    /// Commands and moves answered `ok`, by transport: made at once, counted with no lookup.
    private let succeeded: [CommandRoute: (commands: CoreMetrics.Counter, moves: CoreMetrics.Counter)]
    /// Counters of refusals by name, transport and error code, made the first time each is counted.
    private let refused = Mutex<[String: CoreMetrics.Counter]>([:])
    private let webSockets: CoreMetrics.Gauge
    private let waitingPolls: CoreMetrics.Gauge
    private let streams: CoreMetrics.Gauge
    private let connections: CoreMetrics.Gauge
    private let liveMatches: CoreMetrics.Gauge
    private let storeAvailable: CoreMetrics.Gauge
    let outboundDrops: CoreMetrics.Counter
    /// Connections accepted, and WebSocket upgrades by the request of its connection they came on.
    let connectionsAccepted: CoreMetrics.Counter
    private let upgradesOnFirstRequest: CoreMetrics.Counter
    private let upgradesOnLaterRequest: CoreMetrics.Counter

    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        let milliseconds: [Duration] = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000]
            .map { .microseconds(Int64($0 * 1000)) }
        factory.defaultDurationHistogramBuckets = milliseconds
        self.factory = factory
        authority = AuthorityMetrics(factory: factory)
        webSockets = CoreMetrics.Gauge(label: "ply_websockets_open", factory: factory)
        waitingPolls = CoreMetrics.Gauge(label: "ply_polls_waiting", factory: factory)
        streams = CoreMetrics.Gauge(label: "ply_streams_open", factory: factory)
        connections = CoreMetrics.Gauge(label: "ply_connections_open", factory: factory)
        liveMatches = CoreMetrics.Gauge(label: "ply_matches_live", factory: factory)
        storeAvailable = CoreMetrics.Gauge(label: "ply_store_available", factory: factory)
        outboundDrops = CoreMetrics.Counter(label: "ply_outbound_drops_total", factory: factory)
        connectionsAccepted = CoreMetrics.Counter(label: "ply_connections_accepted_total", factory: factory)
        upgradesOnFirstRequest = CoreMetrics.Counter(label: "ply_websocket_upgrades_total", dimensions: [("request", "first")], factory: factory)
        upgradesOnLaterRequest = CoreMetrics.Counter(label: "ply_websocket_upgrades_total", dimensions: [("request", "later")], factory: factory)
        var succeeded: [CommandRoute: (commands: CoreMetrics.Counter, moves: CoreMetrics.Counter)] = [:]
        for transport in CommandRoute.allCases {
            succeeded[transport] = (Self.counter("ply_commands_total", transport, "ok", factory), Self.counter("ply_moves_total", transport, "ok", factory))
        }
        self.succeeded = succeeded
    }

    /// Counts a WebSocket upgrade: on its connection's first request, or a later one (a kept-alive
    /// connection a proxy or a client library reused).
    func upgraded(onLaterRequest: Bool) {
        (onLaterRequest ? upgradesOnLaterRequest : upgradesOnFirstRequest).increment()
    }

    /// Counts a command's answer, and a move's when it was one.
    func counted(_ command: Command, over transport: CommandRoute, _ result: Result<Acknowledgement, WireError>) {
        let isMove = if case .play = command.action { true } else { false }
        switch result {
        case .success:
            guard let counters = succeeded[transport] else { return }
            counters.commands.increment()
            if isMove { counters.moves.increment() }
        case .failure(let error):
            refusal("ply_commands_total", transport, error.code).increment()
            if isMove { refusal("ply_moves_total", transport, error.code).increment() }
        }
    }

    private func refusal(_ name: String, _ transport: CommandRoute, _ code: ErrorCode) -> CoreMetrics.Counter {
        let key = "\(name) \(transport.rawValue) \(code.rawValue)"
        return refused.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = Self.counter(name, transport, code.rawValue, factory)
            counters[key] = counter
            return counter
        }
    }

    private static func counter(_ name: String, _ transport: CommandRoute, _ result: String, _ factory: PrometheusMetricsFactory) -> CoreMetrics.Counter {
        CoreMetrics.Counter(label: name, dimensions: [("transport", transport.rawValue), ("result", result)], factory: factory)
    }

    /// The text of `GET /metrics`, with the gauges read now.
    func exposition(health: Health, storeAvailable available: Bool) -> [UInt8] {
        webSockets.record(health.webSockets)
        waitingPolls.record(health.waitingPolls)
        streams.record(health.streams)
        connections.record(health.connections)
        liveMatches.record(health.matches)
        storeAvailable.record(available ? 1 : 0)
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
