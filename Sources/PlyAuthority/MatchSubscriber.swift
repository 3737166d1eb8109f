import PlyWire

/// Whatever delivers a match's events to a client: a WebSocket, a waiting long poll, or
/// anything a future transport needs. The authority knows nothing more of transports than
/// this: it says when new events are published and when the match closes; the subscriber
/// reads the events itself (`MatchAuthority.events(after:)`), each from its own cursor.
///
/// Both calls come from whichever thread published, outside the match's lock, and may arrive
/// out of order when two publications race: a subscriber that reads from its own cursor up to
/// the published version delivers every event once, in order, whatever the order of the calls.
public protocol MatchSubscriber: AnyObject, Sendable {
    /// Events up to `version` are published.
    func matchPublished(_ match: MatchAuthority, upTo version: Int)
    /// The match publishes nothing more, for this reason. Called once.
    func matchClosed(_ match: MatchAuthority, _ closure: MatchClosure)
    /// Shared store: what was published after `version` never became durable (this server was
    /// ahead of the database), and the match is the database's again: events after `version`
    /// are read anew from the cursor set back to it (`matchPublished` follows).
    func matchRolledBack(_ match: MatchAuthority, to version: Int)
}

extension MatchSubscriber {
    /// A subscriber that delivers nothing (it only watches the match's status) ignores it.
    public func matchRolledBack(_ match: MatchAuthority, to version: Int) {}
}

/// Why a match stopped serving.
public enum MatchClosure: Sendable, Hashable {
    /// The server is shutting down.
    case shuttingDown
    /// The match had no new event for longer than the server keeps idle matches.
    case expired

    /// The error a client gets for anything it asks of the match from now on.
    public func error(match id: String) -> WireError {
        switch self {
        case .shuttingDown: WireError(.shuttingDown, "the server is shutting down")
        case .expired: WireError(.expiredMatch, "match '\(id)' was idle too long and has expired")
        }
    }
}
