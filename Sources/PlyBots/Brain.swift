import PlyEngine

/// A bot's view of one game: the position in the game's own typed state, kept up to date from
/// the events it sees, and a strategy to choose its own moves with.
public protocol Brain: Sendable {
    var game: GameID { get }
    /// Takes in an event the bot's replica of the match (`match`, as its seat sees it) has
    /// just applied.
    mutating func observe(_ event: MatchEvent, in match: Match) throws(RuleViolation)
    /// The secret setup to make before play (Battleship: a fleet), in notation; nil for games
    /// without one.
    func setup(random: inout SeededRandom) -> String?
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

    public mutating func observe(_ event: MatchEvent, in match: Match) throws(RuleViolation) {
        if case .moved(_, let move, _) = event.change { state = try rules.apply(notation: move, to: state) }
    }

    public func setup(random: inout SeededRandom) -> String? { nil }

    public func chooseMove(random: inout SeededRandom) -> String? {
        strategy.move(rules, state, random: &random).map(rules.notation)
    }
}

extension Strategy {
    /// A fresh brain for a game, as its definition says bots play it: searching with this
    /// strategy, or, in Battleship, firing at random (`random`) or hunting and targeting
    /// (`greedy` and `minimax`).
    public func brain(for game: GameID) -> any Brain {
        switch game.definition.bots {
        case .search(let rules): brain(on: rules)
        case .fleetHunt: FleetBrain(strategy: self == .random ? .random : .hunt)
        }
    }

    private func brain(on rules: some Evaluator) -> any Brain {
        GameBrain(rules: rules, strategy: self)
    }
}
