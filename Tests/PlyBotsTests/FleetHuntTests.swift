import PlyEngine
import Testing
@testable import PlyBots

/// Battleship bots, on the rules alone: each fires from its own seat's view.
struct FleetHuntTests {
    let rules = Battleship()

    /// Plays one game; returns the winner and how many shots each seat fired.
    func play(_ strategies: [ShotStrategy], seed: UInt64) throws -> (winner: Seat, shots: [Int]) {
        var random = SeededRandom(seed: seed)
        var state = rules.initialState
        for seat in Seat.allCases { state = try rules.place(Battleship.randomFleet(using: &random), by: seat, in: state) }
        while rules.outcome(state) == .ongoing {
            let seat = state.turn
            let view = state.view(for: seat)
            #expect(view.fleets[seat.opponent.rawValue] == nil, "a bot never sees the other fleet")
            let square = try #require(strategies[seat.rawValue].target(in: view, random: &random))
            #expect(!state.shots[seat.rawValue].contains { $0.square == square }, "never the same square twice")
            state = try rules.fire(at: square, in: state).0
        }
        let winner = try #require(rules.outcome(state).result?.winner)
        return (winner, state.shots.map(\.count))
    }

    @Test func huntAndTargetBeatsRandomInAClearMajority() throws {
        var huntWins = 0
        let seeds = UInt64(1)...200
        for seed in seeds {
            // Each side fires first in half the games.
            let huntSeat: Seat = seed.isMultiple(of: 2) ? .first : .second
            let strategies: [ShotStrategy] = huntSeat == .first ? [.hunt, .random] : [.random, .hunt]
            let game = try play(strategies, seed: seed)
            if game.winner == huntSeat { huntWins += 1 }
        }
        #expect(huntWins >= 180, "hunt won \(huntWins) of \(seeds.count)")
    }

    /// A hunter sinks a whole fleet in far fewer shots than the 100 squares: around ships it
    /// hit, and never next to a sunk one.
    @Test(arguments: Array(UInt64(1)...20))
    func aHunterAloneSinksAFleetQuickly(seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        var state = try rules.place(Battleship.randomFleet(using: &random), by: .first, in: rules.initialState)
        let target = Battleship.randomFleet(using: &random)
        state = try rules.place(target, by: .second, in: state)
        let around = Set(target.flatMap(\.squares).flatMap { $0.neighbours(diagonal: true) }).subtracting(target.flatMap(\.squares))
        var shots = 0
        while rules.outcome(state) == .ongoing {
            if state.turn == .first {
                let square = try #require(ShotStrategy.hunt.target(in: state.view(for: .first), random: &random))
                let sunkBefore = state.sunk(of: .second)
                state = try rules.fire(at: square, in: state).0
                shots += 1
                // Once a ship next to it is sunk, a square around a ship is never fired at.
                if around.contains(square) {
                    let sunkShips = target.filter { ship in ship.squares.allSatisfy { s in state.shots[0].contains { $0.square == s } } }
                    let nearSunk = sunkShips.contains { ship in ship.squares.contains { $0.neighbours(diagonal: true).contains(square) } }
                    #expect(!nearSunk || state.sunk(of: .second) > sunkBefore, "fired at \(square), next to a ship already sunk")
                }
            } else {
                // The other seat wastes its turns on its own corner of nothing: fire anywhere new.
                let square = try #require(ShotStrategy.random.target(in: state.view(for: .second), random: &random))
                state = try rules.fire(at: square, in: state).0
            }
        }
        // A random shooter needs about 96 shots to sink a fleet; this hunter took 30 to 56 over these seeds.
        if rules.outcome(state).result?.winner == .first { #expect(shots <= 65, "\(shots) shots") }
    }
}
