import PlyEngine

/// The matches held in memory, by status, each list in creation order: listing the newest of
/// a status, and counting them, costs the same whatever the number of matches.
struct MatchIndex {
    private var lists: [MatchStatus: [MatchAuthority]] = [.waiting: [], .playing: [], .finished: []]
    /// The list each match is in.
    private var indexed: [ObjectIdentifier: MatchStatus] = [:]

    func count(_ status: MatchStatus) -> Int { lists[status]?.count ?? 0 }

    /// Puts a match in the list of its status now, wherever it was: notices of status changes
    /// may arrive out of order, and this is right whatever their order.
    mutating func update(_ match: MatchAuthority) {
        let status = match.status
        let key = ObjectIdentifier(match)
        if let old = indexed[key] {
            guard old != status else { return }
            take(match, from: old)
        }
        let index = position(of: match.serial, in: lists[status] ?? [])
        lists[status, default: []].insert(match, at: index)
        indexed[key] = status
    }

    mutating func remove(_ match: MatchAuthority) {
        guard let old = indexed.removeValue(forKey: ObjectIdentifier(match)) else { return }
        take(match, from: old)
    }

    private mutating func take(_ match: MatchAuthority, from status: MatchStatus) {
        guard let list = lists[status] else { return }
        let index = position(of: match.serial, in: list)
        if index < list.count, list[index] === match { lists[status]?.remove(at: index) }
    }

    /// The newest matches of a status (or of any), newest first.
    func newest(_ status: MatchStatus?, limit: Int) -> [MatchAuthority] {
        let chosen = status.map { [$0] } ?? [.waiting, .playing, .finished]
        var ends = chosen.map { lists[$0] ?? [] }.map { ($0, $0.count) }
        var result: [MatchAuthority] = []
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
    private func position(of serial: Int, in list: [MatchAuthority]) -> Int {
        var low = 0, high = list.count
        while low < high {
            let middle = (low + high) / 2
            if list[middle].serial < serial { low = middle + 1 } else { high = middle }
        }
        return low
    }
}
