import PlyAuthority
import Synchronization

/// Watches a match a client created, and gives the client's live-match allowance back once,
/// when the match ends or is let go.
final class LiveMatchWatcher: MatchSubscriber {
    private let client: String
    private let clients: ClientTable
    private let ended = Atomic<Bool>(false)

    init(client: String, clients: ClientTable) {
        self.client = client
        self.clients = clients
    }

    func matchPublished(_ match: MatchAuthority, upTo version: Int) {
        if match.status == .finished { end(match) }
    }

    func matchClosed(_ match: MatchAuthority, _ closure: MatchClosure) {
        if closure == .expired { end(match) }
    }

    private func end(_ match: MatchAuthority) {
        guard !ended.exchange(true, ordering: .relaxed) else { return }
        clients.matchEnded(by: client)
        match.unsubscribe(self)
    }
}
