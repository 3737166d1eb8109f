import PlyEngine

/// A bot's view of one game: the position in the game's own typed state, kept up to date from
/// the moves it sees, and a strategy to choose its own moves with.
public protocol Brain: Sendable {
    var game: GameID { get }
    /// Plays a move seen on the board, in notation.
    mutating func observe(_ move: String) throws(RuleViolation)
    /// The strategy's move for the seat to move, in notation; nil when the game is over.
    func chooseMove(random: inout SeededRandom) -> String?
}

/// A brain for any game whose rules can be evaluated.
public struct GameBrain<Rules: Evaluator>: Brain {
    public let rules: Rules
    public let strategy: Strategy
    public private(set) var state: Rules.State

    public init(rules: Rules, strategy: Strategy) {
        self.rules = rules
        self.strategy = strategy
        state = rules.initialState
    }

    public var game: GameID { rules.id }

    public mutating func observe(_ move: String) throws(RuleViolation) {
        state = try rules.apply(notation: move, to: state)
    }

    public func chooseMove(random: inout SeededRandom) -> String? {
        strategy.move(rules, state, random: &random).map(rules.notation)
    }
}

extension Strategy {
    /// A fresh brain for a game, playing with this strategy on the rules its definition gives
    /// searches.
    public func brain(for game: GameID) -> any Brain {
        brain(on: game.definition.searchable)
    }

    private func brain(on rules: some Evaluator) -> any Brain {
        GameBrain(rules: rules, strategy: self)
    }
}
