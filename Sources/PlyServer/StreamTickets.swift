import Foundation
import PlyAuthority
import Synchronization

/// Tickets for a browser's EventSource, which cannot send `Authorization`: a seat's client asks
/// for one with its token (`POST /matches/{id}/stream-tickets`) and opens its stream with
/// `?ticket=…`. A ticket is good for one stream of one match, once, within its lifetime, so
/// what proxies and logs keep of the URL acts for no one; the seat token never goes into a URL.
/// Tickets are held in memory only (a restarted server has none: ask again).
final class StreamTickets: Sendable {
    private struct Ticket {
        let match: String
        /// The seat token it was asked with: the admission step judges it as it would the header.
        let token: String
        let expires: ContinuousClock.Instant
    }

    private let lifetime: Duration
    private let tickets = Mutex<[String: Ticket]>([:])

    init(lifetime: Duration) {
        self.lifetime = lifetime
    }

    /// A new ticket for a token of a match's seat, and how long it is good for.
    func issue(match: String, token: String, now: ContinuousClock.Instant = .now) -> (ticket: String, lifetime: Duration) {
        let ticket = SeatToken.generate()
        tickets.withLock { $0[ticket] = Ticket(match: match, token: token, expires: now + lifetime) }
        return (ticket, lifetime)
    }

    /// The token a ticket stands for, once: the ticket is spent. Nil for a ticket unknown,
    /// spent, expired, or of another match.
    func redeem(_ ticket: String, match: String, now: ContinuousClock.Instant = .now) -> String? {
        tickets.withLock { tickets in
            guard let found = tickets.removeValue(forKey: ticket), found.match == match, found.expires > now else { return nil }
            return found.token
        }
    }

    func prune(now: ContinuousClock.Instant) {
        tickets.withLock { $0 = $0.filter { $0.value.expires > now } }
    }
}
