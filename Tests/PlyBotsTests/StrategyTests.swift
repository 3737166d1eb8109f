import PlyEngine
import Testing
@testable import PlyBots

/// Plays a whole game between two strategies without a server; `first` moves first.
func playOut<Rules: Evaluator>(_ rules: Rules, first: Strategy, second: Strategy, seed: UInt64) -> (result: GameResult, moves: [String]) {
    var random = SeededRandom(seed: seed)
    var state = rules.initialState
    var moves: [String] = []
    while true {
        if let result = rules.outcome(state).result { return (result, moves) }
        let strategy = rules.turn(state) == .first ? first : second
        guard let move = strategy.move(rules, state, random: &random), let next = try? rules.apply(move, to: state) else {
            preconditionFailure("a strategy must find a legal move while the game goes on")
        }
        moves.append(rules.notation(move))
        state = next
    }
}

struct StrategyTests {
    /// Wins of `strong` over `weak` across seeds, each seed played once from each side.
    func wins<Rules: Evaluator>(_ rules: Rules, strong: Strategy, weak: Strategy, seeds: ClosedRange<UInt64>) -> (wins: Int, games: Int) {
        var wins = 0, games = 0
        for seed in seeds {
            for strongFirst in [true, false] {
                let game = playOut(rules, first: strongFirst ? strong : weak, second: strongFirst ? weak : strong, seed: seed)
                games += 1
                if game.result.winner == (strongFirst ? .first : .second) { wins += 1 }
            }
        }
        return (wins, games)
    }

    @Test func minimaxBeatsRandomAtConnectFour() {
        let (wins, games) = wins(ConnectFour(), strong: .minimax(depth: 4), weak: .random, seeds: 1...15)
        #expect(Double(wins) / Double(games) >= 0.9, "\(wins) of \(games)")
    }

    @Test func minimaxBeatsRandomAtReversi() {
        let (wins, games) = wins(Reversi(), strong: .minimax(depth: 3), weak: .random, seeds: 1...10)
        #expect(Double(wins) / Double(games) >= 0.8, "\(wins) of \(games)")
    }

    @Test func greedyBeatsRandomAtConnectFour() {
        let (wins, games) = wins(ConnectFour(), strong: .greedy, weak: .random, seeds: 1...15)
        #expect(Double(wins) / Double(games) >= 0.7, "\(wins) of \(games)")
    }

    @Test(arguments: [Strategy.random, .greedy, .minimax(depth: 3)])
    func theSameSeedPlaysTheSameGame(_ strategy: Strategy) {
        for seed: UInt64 in [1, 2, 3] {
            #expect(playOut(Reversi(), first: strategy, second: .random, seed: seed).moves
                    == playOut(Reversi(), first: strategy, second: .random, seed: seed).moves)
        }
        let games = Set((1...6).map { playOut(ConnectFour(), first: strategy, second: .random, seed: $0).moves })
        #expect(games.count > 1, "different seeds should give different games")
    }

    @Test(arguments: [Strategy.greedy, .minimax(depth: 1), .minimax(depth: 4)])
    func takesAnImmediateWin(_ strategy: Strategy) throws {
        // x has three in column 1 and moves: column 1 wins at once.
        let rules = ConnectFour()
        var state = rules.initialState
        for move in ["1", "2", "1", "2", "1", "7"] { state = try rules.apply(notation: move, to: state) }
        var random = SeededRandom(seed: 9)
        #expect(strategy.move(rules, state, random: &random).map(rules.notation) == "1")
    }

    @Test(arguments: [2, 4])
    func minimaxBlocksAnImmediateLoss(depth: Int) throws {
        // o threatens to complete column 2; x must block there.
        let rules = ConnectFour()
        var state = rules.initialState
        for move in ["1", "2", "7", "2", "6", "2"] { state = try rules.apply(notation: move, to: state) }
        var random = SeededRandom(seed: 3)
        #expect(Strategy.minimax(depth: depth).move(rules, state, random: &random).map(rules.notation) == "2")
    }

    @Test func reversiBotsPassWhenTheyMust() throws {
        let rules = Reversi()
        let state = try #require(Reversi.State(rows: [".xxxxxxo", "........", "........", "........", "........", "........", "........", "........"], turn: .first))
        for strategy in [Strategy.random, .greedy, .minimax(depth: 3)] {
            var random = SeededRandom(seed: 1)
            #expect(strategy.move(rules, state, random: &random) == .pass)
        }
    }

    @Test func evaluationFavoursTheSideWithBetterPositions() throws {
        let rules = ConnectFour()
        var state = rules.initialState
        for move in ["4", "1", "4", "1"] { state = try rules.apply(notation: move, to: state) }
        #expect(rules.evaluate(state, for: .first) > rules.evaluate(state, for: .second))
        let corner = try #require(Reversi.State(rows: ["x.......", "........", "........", "...ox...", "...xo...", "........", "........", "........"], turn: .second))
        #expect(Reversi().evaluate(corner, for: .first) > Reversi().evaluate(corner, for: .second))
    }
}
