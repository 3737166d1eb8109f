import Testing
@testable import PlyEngine

struct BattleshipTests {
    let rules = Battleship()
    /// A legal fleet: ships down columns a, c, e, g, i from row 1.
    static let fleet = "a1-a5 c1-c4 e1-e3 g1-g3 i1-i2"

    @Test(arguments: [
        ("e5", "e5"), ("E5", "e5"), (" j10 ", "j10"), ("a1", "a1"),
    ])
    func squaresAreReadInAnyCase(_ text: String, _ notation: String) throws {
        #expect(try Battleship.Square(notation: text).notation == notation)
    }

    @Test(arguments: [
        ("k1", ErrorCode.outOfRange), ("a11", .outOfRange), ("a0", .outOfRange), ("z9", .outOfRange),
        ("", .unreadableMove), ("5e", .unreadableMove), ("e", .unreadableMove), ("ee5", .unreadableMove), ("e-5", .unreadableMove),
        ("é5", .unreadableMove),
    ])
    func badSquaresAreRefused(_ text: String, _ code: ErrorCode) {
        #expect(throws: RuleViolation.self) { try Battleship.Square(notation: text) }
        do {
            _ = try Battleship.Square(notation: text)
        } catch {
            #expect(error.code == code, "\(text)")
        }
    }

    @Test(arguments: [
        ("a1-a5", "a1-a5", 5, false), ("a5-a1", "a1-a5", 5, false), ("e3-b3", "b3-e3", 4, true), ("j9-j10", "j9-j10", 2, false),
    ])
    func shipsAreNamedByTheirEnds(_ text: String, _ notation: String, _ length: Int, _ across: Bool) throws {
        let ship = try Battleship.Ship(notation: text)
        #expect(ship.notation == notation)
        #expect(ship.length == length)
        #expect(ship.across == across)
        #expect(ship.squares.count == length)
    }

    struct BadFleet: CustomTestStringConvertible, Sendable {
        let name: String
        let fleet: String
        let code: ErrorCode
        var testDescription: String { name }
    }

    static let badFleets: [BadFleet] = [
        BadFleet(name: "a ship too few", fleet: "a1-a5 c1-c4 e1-e3 g1-g3", code: .invalidFleet),
        BadFleet(name: "a ship too many", fleet: fleet + " a9-b9", code: .invalidFleet),
        BadFleet(name: "wrong lengths", fleet: "a1-a5 c1-c4 e1-e3 g1-g4 i1-i2", code: .invalidFleet),
        BadFleet(name: "not straight", fleet: "a1-e5 c1-c4 e1-e3 g1-g3 i1-i2", code: .invalidFleet),
        BadFleet(name: "overlapping", fleet: "a1-a5 a3-d3 e1-e3 g1-g3 i1-i2", code: .invalidFleet),
        BadFleet(name: "touching side by side", fleet: "a1-a5 b1-b4 e1-e3 g1-g3 i1-i2", code: .invalidFleet),
        BadFleet(name: "touching end to end", fleet: "a1-a5 a6-a9 e1-e3 g1-g3 i1-i2", code: .invalidFleet),
        BadFleet(name: "touching at a corner", fleet: "a1-a5 b6-e6 e1-e3 g1-g3 i1-i2", code: .invalidFleet),
        BadFleet(name: "off the grid", fleet: "a1-a5 c1-c4 e1-e3 g1-g3 j10-k10", code: .invalidFleet),
        BadFleet(name: "off the grid, down a column", fleet: "a1-a5 c1-c4 e1-e3 g1-g3 j10-j11", code: .invalidFleet),
        BadFleet(name: "unreadable", fleet: "a1-a5 c1-c4 e1-e3 g1-g3 i1:i2", code: .unreadableMove),
    ]

    @Test(arguments: badFleets)
    func badFleetsAreRefusedWithWhy(_ bad: BadFleet) {
        do {
            _ = try Battleship.fleet(notation: bad.fleet)
            Issue.record("\(bad.fleet) was accepted")
        } catch {
            #expect(error.code == bad.code, "\(error.message)")
        }
    }

    @Test func aFleetIsPlacedOnceAndItsNotationRoundTrips() throws {
        let fleet = try Battleship.fleet(notation: "i2-i1, g1-g3 e1-e3 c4-c1 a1-a5")
        #expect(Battleship.notation(fleet) == Self.fleet)
        let placed = try rules.place(fleet, by: .first, in: rules.initialState)
        #expect(placed.placed == [true, false])
        #expect(throws: RuleViolation.alreadyPlaced) { try rules.place(fleet, by: .first, in: placed) }
        #expect(throws: RuleViolation.fleetsNotPlaced) { try rules.fire(at: Battleship.Square(notation: "a1"), in: placed) }
        #expect(rules.legalShots(placed).isEmpty)
    }

    /// Shots alternate, seat 0 first; each is a miss, a hit, or sinks a ship of its length.
    @Test func shotsAreAnsweredMissHitOrSunk() throws {
        let fleet = try Battleship.fleet(notation: Self.fleet)
        var state = try rules.place(fleet, by: .second, in: rules.place(fleet, by: .first, in: rules.initialState))
        #expect(rules.legalShots(state).count == 100)
        func fire(_ square: String) throws -> Battleship.ShotResult {
            let (next, result) = try rules.fire(at: Battleship.Square(notation: square), in: state)
            state = next
            return result
        }
        #expect(try fire("i1") == .hit)  // seat 0 at seat 1's two-square ship
        #expect(try fire("b1") == .miss)  // seat 1
        #expect(throws: RuleViolation.alreadyShot("i1")) { try rules.fire(at: Battleship.Square(notation: "i1"), in: state) }
        #expect(try fire("i2") == .sunk(length: 2))
        #expect(state.turn == .second)
        #expect(state.sunk(of: .second) == 1)
        #expect(rules.legalShots(state).count == 99, "seat 1 has fired once")
    }

    /// Sinking every ship wins; the game is then over.
    @Test func sinkingTheWholeFleetWins() throws {
        let fleet = try Battleship.fleet(notation: Self.fleet)
        var state = try rules.place(fleet, by: .second, in: rules.place(fleet, by: .first, in: rules.initialState))
        let targets = fleet.flatMap(\.squares)
        var misses = Battleship.Square.all.filter { !targets.contains($0) }.makeIterator()
        for square in targets {
            #expect(rules.outcome(state) == .ongoing)
            state = try rules.fire(at: square, in: state).0
            if rules.outcome(state) == .ongoing, let miss = misses.next() { state = try rules.fire(at: miss, in: state).0 }
        }
        #expect(rules.outcome(state) == .over(GameResult(winner: .first, reason: .fleetSunk)))
        #expect(rules.legalShots(state).isEmpty)
        #expect(throws: RuleViolation.gameOver) { try rules.fire(at: Battleship.Square(notation: "j10"), in: state) }
    }

    /// A view hides the fleets its viewer may not see, until the game is over.
    @Test func aViewHidesTheOtherFleetUntilTheEnd() throws {
        let fleet = try Battleship.fleet(notation: Self.fleet)
        let state = try rules.place(fleet, by: .second, in: rules.place(fleet, by: .first, in: rules.initialState))
        #expect(state.view(for: .first).fleets == [fleet, nil])
        #expect(state.view(for: .second).fleets == [nil, fleet])
        #expect(state.view(for: nil).fleets == [nil, nil])
        #expect(state.view(for: nil).placed == [true, true])
        #expect(try rules.result(of: Battleship.Square(notation: "a1"), in: state.view(for: .first)) == nil, "seat 1's fleet is unseen")
    }

    /// Random fleets and random shots: every invariant holds after every shot, and a view fed
    /// only what its viewer may see (fleets unseen, results told) stays the view of the whole.
    @Test(arguments: Array(UInt64(1)...40))
    func randomGamesKeepEveryInvariant(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        var state = rules.initialState
        var views: [Battleship.State] = [rules.initialState, rules.initialState, rules.initialState]  // seat 0, seat 1, spectator
        let viewers: [Seat?] = [.first, .second, nil]
        for seat in Seat.allCases {
            let fleet = Battleship.randomFleet(using: &random)
            try Battleship.check(fleet)
            #expect(fleet.map(\.length).sorted(by: >) == Battleship.fleetLengths)
            state = try rules.place(fleet, by: seat, in: state)
            for (index, viewer) in viewers.enumerated() {
                views[index] = viewer == seat ? try rules.place(fleet, by: seat, in: views[index]) : try rules.placeUnseen(by: seat, in: views[index])
            }
        }
        var shots = 0
        while let square = rules.legalShots(state).randomElement(using: &random) {
            let mover = state.turn
            let before = state
            let (next, result) = try rules.fire(at: square, in: state)
            state = next
            shots += 1
            for (index, viewer) in viewers.enumerated() {
                let told = rules.result(of: square, in: views[index])
                #expect(told == nil || told == result, "a view that sees the fleet decides the same result")
                views[index] = try rules.fire(at: square, result: result, in: views[index])
                if !rules.outcome(state).isOver {
                    #expect(views[index] == state.view(for: viewer), "seed \(seed), shot \(shots)")
                    #expect(views[index].fleets.enumerated().allSatisfy { $0.offset == viewer?.rawValue || $0.element == nil })
                }
            }
            #expect(state.turn == mover.opponent || rules.outcome(state).isOver)
            #expect(state.shots[0].count + state.shots[1].count == shots)
            #expect(state.shots[0].count - state.shots[1].count == (state.turn == .second ? 1 : 0) || rules.outcome(state).isOver)
            // A hit is a square of a ship; a sunk ship has every square hit.
            let target = try #require(state.fleets[mover.opponent.rawValue])
            let hits = Set(state.shots[mover.rawValue].filter(\.result.isHit).map(\.square))
            #expect(hits.isSubset(of: Set(target.flatMap(\.squares))))
            let sunk = target.filter { $0.squares.allSatisfy(hits.contains) }
            #expect(sunk.count == state.sunk(of: mover.opponent))
            #expect(before.sunk(of: mover.opponent) + (result == .miss || result == .hit ? 0 : 1) == state.sunk(of: mover.opponent))
        }
        guard case .over(let result) = rules.outcome(state) else {
            Issue.record("a game with no shot left must be over")
            return
        }
        let loser = try #require(result.winner?.opponent)
        #expect(state.sunk(of: loser) == 5)
        #expect(state.shots[result.winner!.rawValue].filter(\.result.isHit).count == Battleship.fleetSquares)
        // The end reveals every fleet; each agrees with the shots each view was told.
        for (index, viewer) in viewers.enumerated() {
            for seat in Seat.allCases where seat != viewer {
                views[index] = try rules.reveal(try #require(state.fleets[seat.rawValue]), of: seat, in: views[index])
            }
            #expect(views[index] == state, "seed \(seed)")
        }
        let wrong = Battleship.randomFleet(using: &random)
        if wrong != state.fleets[loser.rawValue] {
            #expect(throws: RuleViolation.self) { try rules.reveal(wrong, of: loser, in: views[2].view(for: nil)) }
        }
    }
}

/// Battleship as a match: placing, firing, the clock and resignation, and what each viewer sees.
struct BattleshipMatchTests {
    static let fleets = ["a1-a5 c1-c4 e1-e3 g1-g3 i1-i2", "j6-j10 b10-e10 a5-a7 c5-e5 g7-h7"]

    func started() throws -> Match {
        var match = try Match(game: .battleship, options: MatchOptions(moveTimeLimit: 30))
        try match.join(name: "ann")
        try match.join(name: "bob")
        return match
    }

    @Test func placingIsOncePerSeatWhileTheGameIsOn() throws {
        var waiting = try Match(game: .battleship)
        try waiting.join(name: "ann")
        #expect(throws: MatchError.notStarted) { try waiting.place(Self.fleets[0], by: .first) }
        var match = try started()
        #expect(match.awaitsSetup(from: .first) && match.awaitsSetup(from: .second))
        #expect(throws: MatchError.rule(.fleetsNotPlaced)) { try match.play("a1", by: .first, against: match.version) }
        // Either seat first, whatever the version; in its one spelling.
        try match.place("i2-i1, g1-g3 e3-e1 c1-c4 a5-a1", by: .second)
        #expect(match.events.last?.change == .placed(seat: .second, fleet: Self.fleets[0]))
        #expect(throws: MatchError.rule(.alreadyPlaced)) { try match.place(Self.fleets[1], by: .second) }
        #expect(throws: MatchError.self) { try match.place("a1-a5", by: .first) }
        try match.place(Self.fleets[1], by: .first)
        #expect(!match.awaitsSetup(from: .first) && match.turn == .first)
        var connectFour = try Match(game: .connect4)
        try connectFour.join(name: "ann")
        try connectFour.join(name: "bob")
        #expect(throws: MatchError.rule(.noSetup)) { try connectFour.place(Self.fleets[0], by: .first) }
    }

    @Test func shotsCarryTheirResultsAndTheEndShowsBothFleets() throws {
        var match = try started()
        try match.place(Self.fleets[0], by: .first)
        try match.place(Self.fleets[1], by: .second)
        try match.play("J10", by: .first, against: match.version)
        #expect(match.events.last?.change == .moved(seat: .first, move: "j10", result: .hit))
        try match.play("f6", by: .second, against: match.version)
        #expect(match.events.last?.change == .moved(seat: .second, move: "f6", result: .miss))
        #expect(throws: MatchError.rule(.alreadyShot("j10"))) { try match.play("j10", by: .first, against: match.version) }
        try match.resign(.second, against: match.version)
        #expect(match.events.last?.change == .ended(GameResult(winner: .first, reason: .resignation), fleets: Self.fleets))
    }

    @Test func theClockRunsForTheFirstSeatStillPlacing() throws {
        var match = try started()
        #expect(match.turn == .first)
        try match.place(Self.fleets[0], by: .first)
        #expect(match.turn == .second, "seat 1's clock, once seat 0 has placed")
        #expect(throws: MatchError.notYourTurn) { try match.expireTurn(of: .first, against: match.version) }
        try match.expireTurn(of: .second, against: match.version)
        #expect(match.events.last?.change == .ended(GameResult(winner: .first, reason: .timeout), fleets: [Self.fleets[0], nil]))
        #expect(try Match(replaying: match.events.map { $0.view(for: .second) }).position.setups == [Self.fleets[0], nil])
    }

    @Test func eachViewerSeesItsOwnFleetOnly() throws {
        var match = try started()
        try match.place(Self.fleets[0], by: .first)
        try match.place(Self.fleets[1], by: .second)
        try match.play("j10", by: .first, against: match.version)
        for viewer in [Seat.first, .second, nil] {
            let view = match.view(for: viewer)
            #expect(view.position.setups == Seat.allCases.map { $0 == viewer ? Self.fleets[$0.rawValue] : nil })
            let placed = view.events.compactMap { if case .placed(_, let fleet) = $0.change { fleet } else { nil } }
            #expect(placed == (viewer.map { [Self.fleets[$0.rawValue]] } ?? []))
            #expect(view.events.map { $0.view(for: viewer) } == view.events, "a view is its own view")
            // A view's board shows its own ships, the shot's hit on the other grid, and no other ship.
            let grids = view.position.grids
            for seat in Seat.allCases {
                let ships = grids[seat.rawValue].joined().filter { $0 == .ship }.count
                #expect((ships > 0) == (seat == viewer))
            }
            #expect(grids[1][9][9] == .hit)
        }
        // A log that tells a result the fleet does not give is refused.
        var forged = match.events
        forged[forged.count - 1] = MatchEvent(version: match.version, change: .moved(seat: .first, move: "j10", result: .miss))
        #expect(throws: MatchError.self) { try Match(replaying: forged) }
    }
}
