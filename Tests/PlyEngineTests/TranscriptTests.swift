import PlyEngine
import Testing

/// `ply replay`'s text: every move numbered, who played it, and how the match ended.
struct TranscriptTests {
    @Test func aFinishedMatchIsPrintedMoveByMove() throws {
        var match = try Match(game: .connect4, options: MatchOptions(moveTimeLimit: 30))
        try match.join(name: "ann")
        try match.join(name: "bob")
        for move in ["4", "5", "4", "5", "4", "5", "4"] { try match.play(move, by: match.turn!, against: match.version) }
        let text = try Transcript.text(id: "abc", log: match.events)
        #expect(text.split(separator: "\n").map(String.init) == [
            "Match abc · Connect Four · 30 s per move",
            "  ann (x) takes seat 0",
            "  bob (o) takes seat 1",
            "  1. ann (x) 4",
            "  2. bob (o) 5",
            "  3. ann (x) 4",
            "  4. bob (o) 5",
            "  5. ann (x) 4",
            "  6. bob (o) 5",
            "  7. ann (x) 4",
            "Result: ann (x) wins (four in a row) after 7 moves",
            "       .......",
            "       .......",
            "       ...x...",
            "       ...xo..",
            "       ...xo..",
            "       ...xo..",
        ])
    }

    @Test func boardsAfterEveryMoveAndAnUnfinishedMatch() throws {
        var match = try Match(game: .reversi)
        try match.join(name: "ann")
        try match.join(name: "bob")
        try match.play("d3", by: .first, against: 3)
        try match.resign(.second, against: 4)
        let text = try Transcript.text(id: "r", log: match.events, boards: true)
        #expect(text.contains("  1. ann (x) d3\n       ........\n       ........\n       ...x....\n"))
        #expect(text.contains("     bob (o) resigns"))
        #expect(text.hasSuffix("Result: ann (x) wins (resignation) after 1 move"))
        let unfinished = try Transcript.text(id: "w", log: Array(match.events.prefix(2)))
        #expect(unfinished.contains("Not finished: waiting at version 2"))
        #expect(throws: MatchError.self) { try Transcript.text(id: "e", log: []) }
    }
}
