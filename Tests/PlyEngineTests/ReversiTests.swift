import Testing
@testable import PlyEngine

struct ReversiTests {
    let rules = Reversi()

    func position(_ rows: [String], turn: Seat = .first) -> Reversi.State {
        guard let state = Reversi.State(rows: rows, turn: turn) else { preconditionFailure("bad rows") }
        return state
    }

    @Test func openingHasFourMovesForBlack() {
        let moves = rules.legalMoves(rules.initialState).map(rules.notation).sorted()
        #expect(moves == ["c4", "d3", "e6", "f5"])
        #expect(rules.board(rules.initialState).textRows[3] == "...ox...")
        #expect(rules.board(rules.initialState).textRows[4] == "...xo...")
    }

    struct Flip: CustomTestStringConvertible, Sendable {
        let direction: String
        let rows: [String]
        let move: String
        let after: [String]
        var testDescription: String { direction }
    }

    /// One line of white discs between the move and a black disc, in each of the 8 directions.
    static let flips: [Flip] = [
        Flip(direction: "east", rows: ["........", "........", "........", "....oox.", "........", "........", "........", "........"],
             move: "d4", after: ["........", "........", "........", "...xxxx.", "........", "........", "........", "........"]),
        Flip(direction: "west", rows: ["........", "........", "........", "xoo.....", "........", "........", "........", "........"],
             move: "d4", after: ["........", "........", "........", "xxxx....", "........", "........", "........", "........"]),
        Flip(direction: "north", rows: ["...x....", "...o....", "...o....", "........", "........", "........", "........", "........"],
             move: "d4", after: ["...x....", "...x....", "...x....", "...x....", "........", "........", "........", "........"]),
        Flip(direction: "south", rows: ["........", "........", "........", "........", "...o....", "...x....", "........", "........"],
             move: "d4", after: ["........", "........", "........", "...x....", "...x....", "...x....", "........", "........"]),
        Flip(direction: "north-east", rows: ["......x.", ".....o..", "....o...", "........", "........", "........", "........", "........"],
             move: "d4", after: ["......x.", ".....x..", "....x...", "...x....", "........", "........", "........", "........"]),
        Flip(direction: "north-west", rows: ["x.......", ".o......", "..o.....", "........", "........", "........", "........", "........"],
             move: "d4", after: ["x.......", ".x......", "..x.....", "...x....", "........", "........", "........", "........"]),
        Flip(direction: "south-east", rows: ["........", "........", "........", "........", "....o...", ".....o..", "......x.", "........"],
             move: "d4", after: ["........", "........", "........", "...x....", "....x...", ".....x..", "......x.", "........"]),
        Flip(direction: "south-west", rows: ["........", "........", "........", "........", "..o.....", ".x......", "........", "........"],
             move: "d4", after: ["........", "........", "........", "...x....", "..x.....", ".x......", "........", "........"]),
        Flip(direction: "several lines at once", rows: ["........", "........", "....x...", "..xo.o..", "...oox..", "........", "........", "........"],
             move: "c5", after: ["........", "........", "....x...", "..xx.o..", "..xxxx..", "........", "........", "........"]),
        Flip(direction: "a line that does not end in black flips nothing", rows: ["........", "........", "........", "....ooo.", "...o....", "...x....", "........", "........"],
             move: "d4", after: ["........", "........", "........", "...xooo.", "...x....", "...x....", "........", "........"]),
        Flip(direction: "no wrap from the a column to the h column", rows: ["........", "........", "........", "......xo", "........", "o.......", "x.......", "........"],
             move: "a5", after: ["........", "........", "........", "......xo", "x.......", "x.......", "x.......", "........"]),
    ]

    @Test(arguments: flips)
    func flipsAlongEachDirection(_ flip: Flip) throws {
        let after = try rules.apply(notation: flip.move, to: position(flip.rows))
        #expect(rules.board(after).textRows == flip.after)
        #expect(after.turn == .second)
    }

    struct Violation: CustomTestStringConvertible, Sendable {
        let name: String
        let rows: [String]
        let move: String
        let expected: RuleViolation
        var testDescription: String { name }
    }

    static let opening = ["........", "........", "........", "...ox...", "...xo...", "........", "........", "........"]
    /// Black to move with no placement, while white can still play a1.
    static let blackMustPass = [".xxxxxxo", "........", "........", "........", "........", "........", "........", "........"]

    static let violations: [Violation] = [
        Violation(name: "occupied square", rows: opening, move: "d4", expected: .occupied("d4")),
        Violation(name: "a move that flips nothing", rows: opening, move: "a1", expected: .noFlips("a1")),
        Violation(name: "off the board (column)", rows: opening, move: "i1", expected: .outOfRange("i1")),
        Violation(name: "off the board (row)", rows: opening, move: "a9", expected: .outOfRange("a9")),
        Violation(name: "row zero", rows: opening, move: "a0", expected: .outOfRange("a0")),
        Violation(name: "unreadable", rows: opening, move: "4d", expected: .unreadableMove("4d")),
        Violation(name: "unreadable sign", rows: opening, move: "a+1", expected: .unreadableMove("a+1")),
        Violation(name: "pass while a placement exists", rows: opening, move: "pass", expected: .passNotAllowed),
        Violation(name: "a placement when only a pass is legal", rows: blackMustPass, move: "e5", expected: .mustPass),
        Violation(name: "no wrap from the a column to the h column", rows: ["........", "........", "........", "...ox.xo", "...xo...", "........", "........", "........"],
                  move: "a5", expected: .noFlips("a5")),
    ]

    @Test(arguments: violations)
    func violation(_ violation: Violation) {
        #expect(throws: violation.expected) { try rules.apply(notation: violation.move, to: position(violation.rows)) }
    }

    @Test func forcedPassHandsTheTurnOver() throws {
        let state = position(Self.blackMustPass)
        #expect(rules.outcome(state) == .ongoing)
        #expect(rules.legalMoves(state) == [.pass])
        let after = try rules.apply(notation: "pass", to: state)
        #expect(after.turn == .second)
        #expect(rules.board(after) == rules.board(state))
        #expect(!rules.legalMoves(after).isEmpty)
        #expect(!rules.legalMoves(after).contains(.pass))
    }

    @Test func gameEndsWhenNeitherPlayerCanMove() throws {
        // Only black discs, on a board with empty squares: nobody can move, black wins.
        let state = position(["xx......", "........", "........", "........", "........", "........", "........", "........"], turn: .second)
        #expect(rules.outcome(state) == .over(GameResult(winner: .first, reason: .noMoves)))
        #expect(rules.legalMoves(state).isEmpty)
        #expect(throws: RuleViolation.gameOver) { try rules.apply(.pass, to: state) }
    }

    @Test func gameEndsByTheMoveThatLeavesNobodyAMove() throws {
        // White at a1 flips b1 and leaves black with no disc: the game is over, white wins.
        let state = position([".xo.....", "........", "........", "........", "........", "........", "........", "........"], turn: .second)
        let after = try rules.apply(notation: "a1", to: state)
        #expect(rules.outcome(after) == .over(GameResult(winner: .second, reason: .noMoves)))
    }

    @Test func gameEndsByAFullBoard() throws {
        let black = String(repeating: "x", count: 8), white = String(repeating: "o", count: 8)
        let win = position([black, black, black, black, black, white, white, white])
        #expect(rules.outcome(win) == .over(GameResult(winner: .first, reason: .boardFull)))
        let draw = position([black, black, black, black, white, white, white, white])
        #expect(rules.outcome(draw) == .over(GameResult(winner: nil, reason: .boardFull)))
        // The last empty square filled by a legal move ends the game.
        let almost = position([".oooooox"] + Array(repeating: black, count: 7))
        let last = try rules.apply(notation: "a1", to: almost)
        #expect(rules.outcome(last) == .over(GameResult(winner: .first, reason: .boardFull)))
        #expect(rules.score(last) == [.first: 64, .second: 0])
    }

    @Test func notationRoundTrips() throws {
        for square in 0..<64 {
            #expect(try rules.move(rules.notation(.place(square))) == .place(square))
        }
        #expect(rules.notation(.place(0)) == "a1")
        #expect(rules.notation(.place(63)) == "h8")
        #expect(try rules.move("D3") == .place(19))
        #expect(try rules.move("pass") == .pass)
    }

    /// Leaf counts from the start position, passes counted as moves (published values).
    @Test(arguments: [(1, 4), (2, 12), (3, 56), (4, 244), (5, 1_396), (6, 8_200)])
    func perft(depth: Int, leaves: Int) throws {
        #expect(try Self.perft(rules, rules.initialState, depth) == leaves)
    }

    static func perft(_ rules: Reversi, _ state: Reversi.State, _ depth: Int) throws -> Int {
        if depth == 0 { return 1 }
        let moves = rules.legalMoves(state)
        if moves.isEmpty { return 1 }
        var total = 0
        for move in moves { total += try perft(rules, try rules.apply(move, to: state), depth - 1) }
        return total
    }
}
