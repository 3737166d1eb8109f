import PlyEngine

/// How a bot fires in Battleship, from what its seat may see: its own shots and their results
/// (never the other fleet).
public enum ShotStrategy: String, Sendable, Hashable, CaseIterable {
    /// Any square not fired at yet.
    case random
    /// Hunt and target: while no ship is found, fire on a checkerboard (every ship covers one of
    /// its squares) away from sunk ships; once a ship is hit, fire around the hit, then along
    /// the line two hits make, until it sinks. Ships never touch, so no ship lies next to a sunk
    /// one, or diagonally next to any hit.
    case hunt

    /// The square to fire at for the seat to fire in `view`; nil when it has none left.
    public func target(in view: Battleship.State, random: inout SeededRandom) -> Battleship.Square? {
        let seat = view.turn
        let shots = view.shots[seat.rawValue]
        let fired = Set(shots.map(\.square))
        let open = Battleship.Square.all.filter { !fired.contains($0) }
        switch self {
        case .random:
            return open.randomElement(using: &random)
        case .hunt:
            let (targets, excluded) = Self.read(shots)
            if let square = targets.filter({ !fired.contains($0) && !excluded.contains($0) }).randomElement(using: &random) {
                return square
            }
            let hunting = open.filter { !excluded.contains($0) }
            let checkerboard = hunting.filter { ($0.row + $0.column).isMultiple(of: 2) }
            return (checkerboard.isEmpty ? hunting : checkerboard).randomElement(using: &random) ?? open.randomElement(using: &random)
        }
    }

    /// From a seat's shots: the squares worth firing at next (around a ship hit but not sunk),
    /// and the squares no ship can be on.
    static func read(_ shots: [Battleship.Shot]) -> (targets: [Battleship.Square], excluded: Set<Battleship.Square>) {
        let hits = Set(shots.filter(\.result.isHit).map(\.square))
        var seen = Set<Battleship.Square>()
        var targets: [Battleship.Square] = []
        var excluded = Set<Battleship.Square>()
        let sunkAt = Set(shots.compactMap { if case .sunk = $0.result { $0.square } else { nil } })
        for hit in hits where !seen.contains(hit) {
            let ship = Battleship.shipHits(at: hit, among: hits)
            seen.formUnion(ship)
            if ship.contains(where: sunkAt.contains) {
                // Sunk: nothing can be around it.
                for square in ship { excluded.formUnion(square.neighbours(diagonal: true)) }
                continue
            }
            // Hit but afloat: no ship diagonally next to its hits; the ship goes on along its line.
            for square in ship { excluded.formUnion(square.neighbours(diagonal: true).filter { $0.row != square.row && $0.column != square.column }) }
            if ship.count == 1 {
                targets += hit.neighbours(diagonal: false)
            } else {
                let across = ship[0].row == ship[1].row
                let line = ship.sorted()
                guard let first = line.first, let last = line.last else { continue }
                let ends = across
                    ? [Battleship.Square(column: first.column - 1, row: first.row), Battleship.Square(column: last.column + 1, row: last.row)]
                    : [Battleship.Square(column: first.column, row: first.row - 1), Battleship.Square(column: last.column, row: last.row + 1)]
                targets += ends.compactMap { $0 }
            }
        }
        return (targets, excluded)
    }
}

/// A Battleship bot: a random fleet, then shots from what its seat sees (its replica of the
/// match is a seat's view, which never holds the other fleet).
public struct FleetBrain: Brain {
    public let strategy: ShotStrategy
    private var view = Battleship.State()

    public init(strategy: ShotStrategy) {
        self.strategy = strategy
    }

    public var game: GameID { .battleship }

    public mutating func observe(_ event: MatchEvent, in match: Match) throws(RuleViolation) {
        if let position = match.position as? BattleshipPosition { view = position.state }
    }

    public func setup(random: inout SeededRandom) -> String? {
        BattleshipPosition().randomSetup(using: &random)
    }

    public func chooseMove(random: inout SeededRandom) -> String? {
        guard view.bothPlaced, view.sunkFleet == nil else { return nil }
        return strategy.target(in: view, random: &random)?.notation
    }
}
