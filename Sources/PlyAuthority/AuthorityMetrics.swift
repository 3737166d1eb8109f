import CoreMetrics
import Metrics

/// What the authority measures of itself, through swift-metrics. The server passes a factory
/// (Prometheus, for `GET /metrics`); the default measures nothing. No global metrics system is
/// set: each server, and each test, has its own.
public struct AuthorityMetrics: Sendable {
    /// How long each write to the match store took (one batch of the journal's group commit).
    public let storeWrite: Timer
    /// How long the news of another server's event took to arrive (shared store).
    public let notificationLag: Timer
    /// Changes decided again because another server wrote their version first (shared store).
    public let conflicts: Counter
    /// Events read because another server appended them (shared store).
    public let eventsFollowed: Counter
    /// Matches reloaded from the database because this server was ahead of it (shared store).
    public let rollbacks: Counter

    public init(factory: any MetricsFactory = NOOPMetricsHandler.instance) {
        storeWrite = Timer(label: "ply_store_write_seconds", dimensions: [], preferredDisplayUnit: .seconds, factory: factory)
        notificationLag = Timer(label: "ply_notification_lag_seconds", dimensions: [], preferredDisplayUnit: .seconds, factory: factory)
        conflicts = Counter(label: "ply_store_conflicts_total", dimensions: [], factory: factory)
        eventsFollowed = Counter(label: "ply_events_followed_total", dimensions: [], factory: factory)
        rollbacks = Counter(label: "ply_rollbacks_total", dimensions: [], factory: factory)
    }
}
