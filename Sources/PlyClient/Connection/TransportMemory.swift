import PlyWire
import Synchronization

/// What `auto` has learned of the network between this process and each server: the
/// transports it gave up on there (a proxy refused, held or kept cutting them), and until when.
/// Every connection of the process shares it (`ConnectionOptions.memory`), so the next game
/// starts on the transport the last one settled on instead of paying for the same failures
/// again; and a transport given up on is tried again once its time is up, each time it fails
/// again after twice as long (`retry`), so a network that heals is used again and one that
/// does not costs a few attempts an hour.
public final class TransportMemory: Sendable {
    /// The process's memory, which connections use unless told otherwise.
    public static let shared = TransportMemory()

    /// How long a transport given up on is avoided: `initial` after the first time, doubling
    /// with each time in a row, up to `maximum` (with the jitter of `Backoff`).
    public let retry: Backoff

    private struct Entry {
        var strikes: Int
        var until: ContinuousClock.Instant
        var reason: String
    }

    private let entries = Mutex<[Endpoint: [Transport: Entry]]>([:])

    public init(retry: Backoff = Backoff(initial: .seconds(30), maximum: .seconds(600))) {
        self.retry = retry
    }

    /// `auto` gave up on `transport` at `endpoint`: avoided until the returned instant.
    @discardableResult
    func gaveUp(on transport: Transport, at endpoint: Endpoint, reason: String, now: ContinuousClock.Instant = .now) -> ContinuousClock.Instant {
        var random = SystemRandomNumberGenerator()
        return entries.withLock { entries in
            let strikes = (entries[endpoint]?[transport]?.strikes ?? 0) + 1
            let until = now + retry.delay(attempt: strikes, using: &random)
            entries[endpoint, default: [:]][transport] = Entry(strikes: strikes, until: until, reason: reason)
            return until
        }
    }

    /// A session over `transport` lasted: the network lets it through again.
    func worked(_ transport: Transport, at endpoint: Endpoint) {
        entries.withLock { entries in _ = entries[endpoint]?.removeValue(forKey: transport) }
    }

    /// The transports avoided at `endpoint` now, with why.
    func avoided(at endpoint: Endpoint, now: ContinuousClock.Instant = .now) -> [Transport: String] {
        entries.withLock { entries in
            (entries[endpoint] ?? [:]).filter { $0.value.until > now }.mapValues(\.reason)
        }
    }

    /// When `transport` may be tried again at `endpoint`; nil if it is not avoided.
    func retryAt(_ transport: Transport, at endpoint: Endpoint) -> ContinuousClock.Instant? {
        entries.withLock { $0[endpoint]?[transport]?.until }
    }
}
