import PlyEngine

/// How a bot chooses its moves.
public enum Strategy: Sendable, Hashable, CustomStringConvertible {
    /// A legal move chosen uniformly at random.
    case random
    /// The move whose resulting position evaluates best (a win first), looking one move ahead.
    case greedy
    /// Alpha-beta search `depth` moves ahead, then the evaluation.
    case minimax(depth: Int)

    public var name: String {
        switch self {
        case .random: "random"
        case .greedy: "greedy"
        case .minimax: "minimax"
        }
    }

    public var description: String {
        if case .minimax(let depth) = self { return "minimax(\(depth))" }
        return name
    }

    /// Parses `random`, `greedy` or `minimax`, with the depth for minimax.
    public init?(name: String, depth: Int) {
        switch name {
        case "random": self = .random
        case "greedy": self = .greedy
        case "minimax": self = .minimax(depth: max(1, depth))
        default: return nil
        }
    }

    /// Chooses a move; nil when the seat to move has none (the game is over).
    /// Equal choices are broken by `random`, so a seed fixes the whole game.
    public func move<Rules: Evaluator>(_ rules: Rules, _ state: Rules.State, random: inout SeededRandom) -> Rules.Move? {
        let moves = rules.orderedMoves(state)
        guard !moves.isEmpty else { return nil }
        switch self {
        case .random:
            return moves.randomElement(using: &random)
        case .greedy:
            let me = rules.turn(state)
            return best(moves, random: &random) { (move: Rules.Move) -> Int in
                guard let next = try? rules.apply(move, to: state) else { return .min }
                if let result = rules.outcome(next).result { return result.winner == me ? Score.win : result.winner == nil ? 0 : -Score.win }
                return rules.evaluate(next, for: me)
            }
        case .minimax(let depth):
            var search = Search(rules: rules)
            return best(moves, random: &random) { (move: Rules.Move) -> Int in
                guard let next = try? rules.apply(move, to: state) else { return .min }
                return -search.negamax(next, depth: depth - 1, alpha: -Score.infinity, beta: Score.infinity, ply: 1)
            }
        }
    }

    /// The highest-scoring move; among equals, one chosen by the seed.
    private func best<Move>(_ moves: [Move], random: inout SeededRandom, score: (Move) -> Int) -> Move {
        var bestScore = Int.min, bestMoves: [Move] = []
        for move in moves {
            let value = score(move)
            if value > bestScore {
                bestScore = value
                bestMoves = [move]
            } else if value == bestScore {
                bestMoves.append(move)
            }
        }
        return bestMoves.randomElement(using: &random) ?? moves[0]
    }
}

/// Negamax with alpha-beta pruning: a position's value for the side to move is the best of
/// the negated values of its children.
/// Search scores: a win outweighs any evaluation; infinity bounds every score.
enum Score {
    static let win = 1_000_000
    static let infinity = 10_000_000
}

struct Search<Rules: Evaluator> {
    let rules: Rules
    var nodes = 0

    mutating func negamax(_ state: Rules.State, depth: Int, alpha: Int, beta: Int, ply: Int) -> Int {
        nodes += 1
        let mover = rules.turn(state)
        if let result = rules.outcome(state).result {
            // Faster wins and slower losses score better.
            guard let winner = result.winner else { return 0 }
            return winner == mover ? Score.win - ply : -(Score.win - ply)
        }
        if depth == 0 { return rules.evaluate(state, for: mover) }
        var alpha = alpha
        var best = -Score.infinity
        for move in rules.orderedMoves(state) {
            guard let next = try? rules.apply(move, to: state) else { continue }
            let value = -negamax(next, depth: depth - 1, alpha: -beta, beta: -alpha, ply: ply + 1)
            best = max(best, value)
            alpha = max(alpha, value)
            if alpha >= beta { break }
        }
        return best
    }
}
