import PlyEngine
import PlyWire
import Testing

@testable import PlyAuthority

/// The match index against a model of it: after any sequence of status changes and removals,
/// in any order, each status lists its matches newest first, and of finished ones only the
/// newest `finishedKept`. (Its lists are changed in place since perf showed each change
/// copying them; this checks that nothing else changed.)
struct MatchIndexTests {
    private final class Listed: ListedMatch {
        let serial: Int
        private let shown: MatchSnapshot

        init(serial: Int, shown: MatchSnapshot) {
            self.serial = serial
            self.shown = shown
        }

        func snapshot() -> MatchSnapshot { shown }
    }

    @Test func theIndexListsWhatAModelOfItLists() throws {
        let shown = MatchSnapshot(id: "m", match: try Match(game: .connect4))
        var random = SeededRandom(seed: 25)
        for round in 0..<20 {
            let kept = Int.random(in: 1...6, using: &random)
            var index = MatchIndex(finishedKept: kept)
            let matches = (0..<30).map { Listed(serial: $0, shown: shown) }
            // The model: each match's status, nil for not listed; finished ones trimmed.
            var model: [Int: MatchStatus] = [:]
            for _ in 0..<200 {
                let match = matches[Int.random(in: 0..<matches.count, using: &random)]
                if Int.random(in: 0..<8, using: &random) == 0 {
                    index.remove(match)
                    model[match.serial] = nil
                } else {
                    let status = [MatchStatus.waiting, .playing, .finished].randomElement(using: &random) ?? .waiting
                    index.update(match, status: status)
                    model[match.serial] = status
                    let finished = model.filter { $0.value == .finished }.keys.sorted()
                    if status == .finished, finished.count > kept {
                        for dropped in finished.prefix(finished.count - kept) { model[dropped] = nil }
                    }
                }
                for status in [MatchStatus.waiting, .playing, .finished] {
                    let expected = model.filter { $0.value == status }.keys.sorted(by: >)
                    #expect(index.newest(status, limit: 100).map(\.serial) == expected, "round \(round), \(status)")
                    #expect(index.count(status) == expected.count)
                }
                #expect(index.newest(nil, limit: 100).map(\.serial) == model.keys.sorted(by: >))
            }
        }
    }
}
