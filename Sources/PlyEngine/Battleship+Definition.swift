extension Battleship: GameDefinition {
    public var id: GameID { .battleship }

    public var title: String { "Battleship" }

    public var rulesText: String {
        """
        Battleship

        Each player has a 10x10 grid, columns a-j (left to right) and rows 1-10 (top to
        bottom), and a fleet of five ships: 5, 4, 3, 3 and 2 squares long.

        First both players place their fleets, secretly and at the same time, in one go:
        each ship straight (across a row or down a column), on the grid, overlapping no
        other ship and touching none, not even at a corner (rule/invalid_fleet). A ship is
        named by its two ends, a fleet by its ships: a1-a5 c1-c4 e1-e3 g1-g3 i1-i2.

        Once both fleets are placed, the first seat fires first and the players take turns,
        one shot each, naming a square of the other's grid (e5). Every shot is answered
        miss, hit, or sunk with the length of the ship it sank; a square may be fired at
        only once (rule/already_shot). The first to sink the whole enemy fleet wins.

        You never see the other fleet, only the results of your shots; it is shown to
        both players when the game ends.
        """
    }

    public var layout: BoardLayout {
        BoardLayout(aim: .cell, hint: ("arrows or hjkl to aim at their grid, Enter to fire.", "arrows, Enter fires."),
                    setup: .fleet(lengths: Self.fleetLengths), scoreName: "Ships sunk")
    }

    public var bots: BotPlay { .fleetHunt }

    public var initialPosition: any Position { BattleshipPosition() }
}

/// A Battleship position as the server holds it (both fleets), or as one seat or a spectator
/// sees it (a fleet it may not see unknown, shots' results as told).
public struct BattleshipPosition: Position, Hashable {
    public let state: Battleship.State
    private var rules: Battleship { Battleship() }

    public init(state: Battleship.State = Battleship.State()) {
        self.state = state
    }

    public var game: GameID { .battleship }

    /// While placing, the first seat that has not placed (its clock runs); then the seat to fire.
    public var turn: Seat {
        guard state.bothPlaced else { return state.placed[0] ? .second : .first }
        return state.turn
    }

    public var outcome: Outcome { rules.outcome(state) }
    public var legalMoves: [String] { rules.legalShots(state).map(\.notation) }
    /// The shape of one grid (a position draws as two: `grids`).
    public var board: Board { Board(rows: Battleship.size, columns: Battleship.size) }

    /// Ships each seat has sunk.
    public var score: [Seat: Int]? {
        Dictionary(uniqueKeysWithValues: Seat.allCases.map { ($0, state.sunk(of: $0.opponent)) })
    }

    public var winningCells: Set<Int> { [] }

    public func move(atRow row: Int, column: Int) -> String? {
        Battleship.Square(column: column, row: row)?.notation
    }

    public func playing(_ move: String) throws(RuleViolation) -> any Position {
        try playing(move, told: nil).position
    }

    public func playing(_ move: String, told: ShotResult?) throws(RuleViolation) -> (position: any Position, report: ShotResult?) {
        let square = try Battleship.Square(notation: move)
        guard state.bothPlaced else { throw .fleetsNotPlaced }
        let result: ShotResult
        switch (rules.result(of: square, in: state), told) {
        case (let decided?, nil):
            result = decided
        case (let decided?, let told?):
            guard decided == told else {
                throw .invalidFleet("the shot at \(square) found \(decided.name), not \(told.name) as told")
            }
            result = decided
        case (nil, let told?):
            result = told
        case (nil, nil):
            throw .invalidFleet("the fleet at \(square) is unseen here, and the shot's result was not told")
        }
        return (BattleshipPosition(state: try rules.fire(at: square, result: result, in: state)), result)
    }

    public func canonical(_ move: String) throws(RuleViolation) -> String {
        try Battleship.Square(notation: move).notation
    }

    public func isSame(as other: any Position) -> Bool { (other as? Self) == self }

    public var description: String { textRows.joined(separator: "\n") }

    // MARK: Hidden information

    public var hidesInformation: Bool { true }

    public func awaitsSetup(from seat: Seat) -> Bool { !state.placed[seat.rawValue] && state.sunkFleet == nil }

    public func canonicalSetup(_ setup: String) throws(RuleViolation) -> String {
        Battleship.notation(try Battleship.fleet(notation: setup))
    }

    public func randomSetup(using random: inout SeededRandom) -> String? {
        Battleship.notation(Battleship.randomFleet(using: &random))
    }

    public func settingUp(_ setup: String?, by seat: Seat) throws(RuleViolation) -> any Position {
        guard let setup else { return BattleshipPosition(state: try rules.placeUnseen(by: seat, in: state)) }
        return BattleshipPosition(state: try rules.place(try Battleship.fleet(notation: setup), by: seat, in: state))
    }

    public var setups: [String?] { state.fleets.map { $0.map(Battleship.notation) } }

    public func view(for viewer: Seat?) -> any Position { BattleshipPosition(state: state.view(for: viewer)) }

    public func revealing(_ setups: [String?]) throws(RuleViolation) -> any Position {
        guard setups.count == Seat.allCases.count else { throw .invalidFleet("a reveal shows both fleets") }
        var next = state
        for seat in Seat.allCases {
            guard let setup = setups[seat.rawValue] else {
                guard !state.placed[seat.rawValue] else { throw .invalidFleet("seat \(seat.rawValue) placed a fleet the reveal does not show") }
                continue
            }
            let fleet = try Battleship.fleet(notation: setup)
            if let known = state.fleets[seat.rawValue] {
                guard Set(known) == Set(fleet) else { throw .invalidFleet("the fleet revealed for seat \(seat.rawValue) is not the one placed") }
            } else {
                next = try rules.reveal(fleet, of: seat, in: next)
            }
        }
        return BattleshipPosition(state: next)
    }

    /// One grid per seat: its waters, with its fleet where seen and the other seat's shots.
    public var grids: [[[Mark]]] {
        Seat.allCases.map { seat in
            var grid = Array(repeating: Array(repeating: Mark.empty, count: Battleship.size), count: Battleship.size)
            for ship in state.fleets[seat.rawValue] ?? [] {
                for square in ship.squares { grid[square.row][square.column] = .ship }
            }
            let shots = state.shots[seat.opponent.rawValue]
            let hits = Set(shots.filter(\.result.isHit).map(\.square))
            for shot in shots {
                grid[shot.square.row][shot.square.column] = shot.result.isHit ? .hit : .miss
            }
            // A sunk ship's squares: its hits.
            for shot in shots {
                guard case .sunk = shot.result else { continue }
                for square in Battleship.shipHits(at: shot.square, among: hits) { grid[square.row][square.column] = .sunk }
            }
            return grid
        }
    }
}
