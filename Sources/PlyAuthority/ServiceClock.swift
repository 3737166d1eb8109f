import Synchronization

/// The time as the authority reads it, for turn clocks and idle expiry: the system's monotonic
/// clock, or a manual one that tests move by hand.
public struct ServiceClock: Sendable {
    private let read: @Sendable () -> ContinuousClock.Instant

    public init(_ read: @escaping @Sendable () -> ContinuousClock.Instant) {
        self.read = read
    }

    public static let system = ServiceClock { .now }

    public var now: ContinuousClock.Instant { read() }
}

/// A clock that stands still until it is told to move.
public final class ManualClock: Sendable {
    private let instant: Mutex<ContinuousClock.Instant>

    public init(start: ContinuousClock.Instant = .now) {
        instant = Mutex(start)
    }

    public var now: ContinuousClock.Instant { instant.withLock { $0 } }

    public func advance(by duration: Duration) {
        instant.withLock { $0 += duration }
    }

    public var serviceClock: ServiceClock { ServiceClock { self.now } }
}
