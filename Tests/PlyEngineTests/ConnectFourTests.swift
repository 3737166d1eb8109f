import Testing
@testable import PlyEngine

/// Plays a comma-separated list of columns from the start.
func connectFour(_ moves: String) throws(RuleViolation) -> ConnectFour.State {
    let rules = ConnectFour()
    var state = rules.initialState
    for move in moves.split(separator: ",") {
        state = try rules.apply(notation: String(move), to: state)
    }
    return state
}

struct ConnectFourTests {
    let rules = ConnectFour()

    struct Ending: CustomTestStringConvertible, Sendable {
        let name: String
        let moves: String
        let outcome: Outcome
        var testDescription: String { name }
    }

    static let endings: [Ending] = [
        Ending(name: "vertical", moves: "1,2,1,2,1,2,1", outcome: .over(GameResult(winner: .first, reason: .fourInARow))),
        Ending(name: "horizontal", moves: "1,1,2,2,3,3,4", outcome: .over(GameResult(winner: .first, reason: .fourInARow))),
        Ending(name: "horizontal at the right edge", moves: "4,4,5,5,6,6,7", outcome: .over(GameResult(winner: .first, reason: .fourInARow))),
        Ending(name: "diagonal rising", moves: "1,2,2,3,3,4,3,4,4,7,4", outcome: .over(GameResult(winner: .first, reason: .fourInARow))),
        Ending(name: "diagonal falling", moves: "7,6,6,5,5,4,5,4,4,1,4", outcome: .over(GameResult(winner: .first, reason: .fourInARow))),
        Ending(name: "second seat wins", moves: "1,2,1,2,1,2,7,2", outcome: .over(GameResult(winner: .second, reason: .fourInARow))),
        Ending(name: "top of one column and bottom of the next are not a line", moves: "2,1,7,1,7,1,1,6,1,6,1", outcome: .ongoing),
        Ending(name: "three in a row is not four", moves: "1,1,2,2,3,3", outcome: .ongoing),
        Ending(
            name: "full board draw",
            moves: "4,5,5,7,1,4,6,3,7,6,1,7,6,1,4,7,6,7,2,4,2,4,7,6,3,1,6,4,5,5,1,2,2,2,1,2,5,3,5,3,3,3",
            outcome: .over(GameResult(winner: nil, reason: .boardFull))
        ),
    ]

    @Test(arguments: endings)
    func outcome(of ending: Ending) throws {
        let state = try connectFour(ending.moves)
        #expect(rules.outcome(state) == ending.outcome)
        #expect(rules.legalMoves(state).isEmpty == ending.outcome.isOver)
    }

    struct Violation: CustomTestStringConvertible, Sendable {
        let before: String
        let move: String
        let expected: RuleViolation
        let code: String
        var testDescription: String { "\(move) after [\(before)]" }
    }

    static let violations: [Violation] = [
        Violation(before: "1,1,1,1,1,1", move: "1", expected: .columnFull(column: 1), code: "rule/column_full"),
        Violation(before: "", move: "0", expected: .outOfRange("0"), code: "rule/out_of_range"),
        Violation(before: "", move: "8", expected: .outOfRange("8"), code: "rule/out_of_range"),
        Violation(before: "", move: "-3", expected: .outOfRange("-3"), code: "rule/out_of_range"),
        Violation(before: "", move: "a", expected: .unreadableMove("a"), code: "rule/unreadable_move"),
        Violation(before: "", move: "", expected: .unreadableMove(""), code: "rule/unreadable_move"),
        Violation(before: "", move: "4.0", expected: .unreadableMove("4.0"), code: "rule/unreadable_move"),
        Violation(before: "1,2,1,2,1,2,1", move: "3", expected: .gameOver, code: "rule/game_over"),
    ]

    @Test(arguments: violations)
    func violation(_ violation: Violation) throws {
        let state = try connectFour(violation.before)
        #expect(throws: violation.expected) { try rules.apply(notation: violation.move, to: state) }
        #expect(violation.expected.code.rawValue == violation.code)
    }

    @Test func piecesFallToTheLowestFreeCell() throws {
        let board = rules.board(try connectFour("4,4,3"))
        #expect(board.textRows == [".......", ".......", ".......", ".......", "...o...", "..xx..."])
    }

    @Test func notationRoundTrips() throws {
        for column in 0..<7 {
            #expect(try rules.move(rules.notation(column)) == column)
        }
        #expect(try rules.move(" 7 ") == 6)
    }

    @Test func turnsAlternate() throws {
        #expect(rules.turn(try connectFour("")) == .first)
        #expect(rules.turn(try connectFour("3")) == .second)
        #expect(rules.turn(try connectFour("3,3")) == .first)
    }
}
