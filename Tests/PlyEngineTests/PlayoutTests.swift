import Testing
@testable import PlyEngine

/// Random games: every position reached is consistent, and the log always replays to it.
struct PlayoutTests {
    static let seeds: [UInt64] = Array(1...40)

    @Test(arguments: seeds)
    func connectFourPlayoutsStayLegal(seed: UInt64) throws {
        let rules = ConnectFour()
        var random = SeededRandom(seed: seed)
        var state = rules.initialState
        var plies = 0
        while let move = rules.legalMoves(state).randomElement(using: &random) {
            let mover = rules.turn(state)
            state = try rules.apply(move, to: state)
            plies += 1
            #expect(state.first & state.second == 0, "no cell holds two pieces")
            #expect(state.moveCount == plies)
            #expect((0..<7).allSatisfy { state.height(ofColumn: $0) <= 6 })
            #expect(state.first.nonzeroBitCount - state.second.nonzeroBitCount == (plies % 2))
            let board = rules.board(state)
            #expect(board.count(of: .first) + board.count(of: .second) == plies)
            if case .over(let result) = rules.outcome(state) {
                #expect(result.winner == mover || result.winner == nil)
            }
        }
        #expect(rules.outcome(state).isOver)
    }

    @Test(arguments: seeds)
    func reversiPlayoutsStayLegal(seed: UInt64) throws {
        let rules = Reversi()
        var random = SeededRandom(seed: seed)
        var state = rules.initialState
        var placements = 0
        while let move = rules.legalMoves(state).randomElement(using: &random) {
            let before = state
            state = try rules.apply(move, to: state)
            #expect(state.first & state.second == 0, "no square holds two discs")
            #expect(state.turn == before.turn.opponent)
            if case .place = move { placements += 1 }
            #expect((state.first | state.second).nonzeroBitCount == 4 + placements)
            // A legal placement flips at least one disc, and never takes a disc away from the mover.
            if case .place = move {
                let own = before.turn == .first ? (before.first, state.first) : (before.second, state.second)
                #expect(own.1 & own.0 == own.0)
                #expect(own.1.nonzeroBitCount >= own.0.nonzeroBitCount + 2)
            }
            // Every legal move applies; a pass is offered only when nothing else is.
            let moves = rules.legalMoves(state)
            #expect(!moves.contains(.pass) || moves == [.pass])
            for next in moves { _ = try rules.apply(next, to: state) }
        }
        guard case .over(let result) = rules.outcome(state) else {
            Issue.record("a game with no legal move must be over")
            return
        }
        let difference = state.first.nonzeroBitCount - state.second.nonzeroBitCount
        #expect(result.winner == (difference > 0 ? .first : difference < 0 ? .second : nil))
    }

    @Test(arguments: GameID.allCases, [UInt64(1), 2, 3, 4, 5, 6, 7, 8])
    func replayOfTheLogEqualsTheLiveMatch(game: GameID, seed: UInt64) throws {
        var random = SeededRandom(seed: seed)
        var match = try Match(game: game)
        try match.join(name: "ann")
        try match.join(name: "bob")
        // Setups first (Battleship's fleets), seat 1 first as often as not.
        for seat in Bool.random(using: &random) ? Seat.allCases : Seat.allCases.reversed() {
            if let setup = match.position.randomSetup(using: &random) { try match.place(setup, by: seat) }
        }
        while let seat = match.turn {
            if Int.random(in: 0..<200, using: &random) == 0 {
                try match.resign(seat, against: match.version)
                break
            }
            let move = try #require(match.position.legalMoves.randomElement(using: &random))
            try match.play(move, by: seat, against: match.version)
            // Any prefix of the log is a valid match too, and so is each viewer's view of it,
            // which is the view of the whole match.
            let replayed = try Match(replaying: match.events)
            #expect(replayed.position.isSame(as: match.position))
            for viewer in [Seat.first, .second, nil] {
                let seen = try Match(replaying: match.events.map { $0.view(for: viewer) })
                #expect(seen.position.isSame(as: match.position.view(for: viewer)))
                #expect(seen.events == match.view(for: viewer).events)
            }
        }
        // Once over, every viewer sees everything but other seats' setup events: the end shows them.
        for viewer in [Seat.first, .second, nil] {
            let seen = try Match(replaying: match.events.map { $0.view(for: viewer) })
            #expect(seen.position.isSame(as: match.position))
            #expect(seen.result == match.result)
        }
        let replayed = try Match(replaying: match.events)
        #expect(replayed.events == match.events)
        #expect(replayed.names == match.names)
        #expect(replayed.status == .finished)
        #expect(replayed.result == match.result)
        #expect(replayed.position.isSame(as: match.position))
        #expect(match.events.map(\.version) == Array(1...match.version))
    }
}
