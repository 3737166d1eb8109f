import PlyEngine
import PlyWire

/// What the index lists: a match held in memory, or what is left of a finished one.
protocol ListedMatch: AnyObject, Sendable {
    /// Creation order.
    var serial: Int { get }
    /// What a spectator sees.
    func snapshot() -> MatchSnapshot
}

extension MatchAuthority: ListedMatch {
    func snapshot() -> MatchSnapshot { snapshot(for: nil) }
}

/// A finished match as listed, once it has left memory: its last snapshot, no log.
final class FinishedMatch: ListedMatch {
    let serial: Int
    private let last: MatchSnapshot

    init(_ match: MatchAuthority) {
        serial = match.serial
        last = match.snapshot()
    }

    func snapshot() -> MatchSnapshot { last }
}

/// The matches listed, by status, each list in creation order: listing the newest of a status,
/// and counting them, costs the same whatever the number of matches. Every unfinished match is
/// listed; of finished ones, only the newest `finishedKept` (as many as a listing may ask for),
/// so the index does not grow with history.
struct MatchIndex {
    let finishedKept: Int
    private var lists: [MatchStatus: [any ListedMatch]] = [.waiting: [], .playing: [], .finished: []]
    /// The list each match is in.
    private var indexed: [ObjectIdentifier: MatchStatus] = [:]

    init(finishedKept: Int) {
        self.finishedKept = finishedKept
    }

    func count(_ status: MatchStatus) -> Int { lists[status]?.count ?? 0 }

    /// Puts a match in the list of a status, wherever it was: notices of status changes may
    /// arrive out of order, and this is right whatever their order as long as `status` is the
    /// match's status now.
    mutating func update(_ match: any ListedMatch, status: MatchStatus) {
        let key = ObjectIdentifier(match)
        if let old = indexed[key] {
            guard old != status else { return }
            take(match, from: old)
        }
        let index = position(of: match.serial, in: lists[status] ?? [])
        lists[status, default: []].insert(match, at: index)
        indexed[key] = status
        let excess = count(.finished) - finishedKept
        if status == .finished, excess > 0 {
            for oldest in lists[.finished]?.prefix(excess) ?? [] { indexed[ObjectIdentifier(oldest)] = nil }
            lists[.finished]?.removeFirst(excess)
        }
    }

    mutating func remove(_ match: any ListedMatch) {
        guard let old = indexed.removeValue(forKey: ObjectIdentifier(match)) else { return }
        take(match, from: old)
    }

    /// (Each list is changed in place: no copy of it may be held while it is, or the change
    /// copies the whole list, once a status change: perf showed it.)
    private mutating func take(_ match: any ListedMatch, from status: MatchStatus) {
        guard let index = place(of: match, in: status) else { return }
        lists[status]?.remove(at: index)
    }

    /// Where a match is in the list of a status.
    private func place(of match: any ListedMatch, in status: MatchStatus) -> Int? {
        guard let list = lists[status] else { return nil }
        // Serials are unique on one server; servers sharing a store may draw the same one.
        var index = position(of: match.serial, in: list)
        while index < list.count, list[index].serial == match.serial {
            if list[index] === match { return index }
            index += 1
        }
        return nil
    }

    /// The newest matches of a status (or of any), newest first.
    func newest(_ status: MatchStatus?, limit: Int) -> [any ListedMatch] {
        let chosen = status.map { [$0] } ?? [.waiting, .playing, .finished]
        var ends = chosen.map { lists[$0] ?? [] }.map { ($0, $0.count) }
        var result: [any ListedMatch] = []
        result.reserveCapacity(min(limit, ends.reduce(0) { $0 + $1.1 }))
        // Merge the lists from their newest ends.
        while result.count < limit {
            var best: Int?
            for (index, (list, end)) in ends.enumerated() where end > 0 {
                if best.map({ list[end - 1].serial > ends[$0].0[ends[$0].1 - 1].serial }) ?? true { best = index }
            }
            guard let best else { break }
            result.append(ends[best].0[ends[best].1 - 1])
            ends[best].1 -= 1
        }
        return result
    }

    /// Where a serial is, or would go, in a list ordered by serial.
    private func position(of serial: Int, in list: [any ListedMatch]) -> Int {
        var low = 0, high = list.count
        while low < high {
            let middle = (low + high) / 2
            if list[middle].serial < serial { low = middle + 1 } else { high = middle }
        }
        return low
    }
}

/// The finished matches most recently asked for (or just finished), held whole so that a
/// player's last poll or a spectator's replay costs no read of the store: a few, the least
/// recently used let go first.
struct RecentMatches {
    let capacity: Int
    private var matches: [String: MatchAuthority] = [:]
    /// Ids, least recently used first.
    private var order: [String] = []

    init(capacity: Int) {
        self.capacity = capacity
    }

    var count: Int { matches.count }
    var all: [MatchAuthority] { Array(matches.values) }

    /// The match with an id, now the most recently used.
    mutating func find(_ id: String) -> MatchAuthority? {
        guard let found = matches[id] else { return nil }
        if order.last != id, let index = order.firstIndex(of: id) {
            order.remove(at: index)
            order.append(id)
        }
        return found
    }

    /// Takes a match out (one that is playing again: reloaded from a database that had less of it).
    mutating func remove(_ id: String) -> MatchAuthority? {
        guard let found = matches.removeValue(forKey: id) else { return nil }
        order.removeAll { $0 == id }
        return found
    }

    mutating func insert(_ match: MatchAuthority) {
        guard capacity > 0, matches[match.id] == nil else { return }
        if matches.count == capacity {
            matches[order.removeFirst()] = nil
        }
        matches[match.id] = match
        order.append(match.id)
    }
}
