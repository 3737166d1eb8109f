import Testing
@testable import PlyEngine

struct MatchTests {
    func started(_ game: GameID = .connect4, options: MatchOptions = MatchOptions()) throws -> Match {
        var match = try Match(game: game, options: options)
        try match.join(name: "ann")
        try match.join(name: "bob")
        return match
    }

    @Test func seatsFillInOrderAndTheGameStarts() throws {
        var match = try Match(game: .connect4)
        #expect(match.status == .waiting)
        #expect(match.version == 1)
        #expect(try match.join(name: " ann ").seat == .first)
        #expect(match.status == .waiting)
        #expect(match.turn == nil)
        #expect(try match.join(name: "bob").seat == .second)
        #expect(match.status == .playing)
        #expect(match.turn == .first)
        #expect(match.names == ["ann", "bob"])
        #expect(throws: MatchError.full) { try match.join(name: "cy") }
        #expect(match.events.map(\.version) == [1, 2, 3])
    }

    @Test(arguments: [
        "", "   ", String(repeating: "a", count: 33), "a\u{7}b", "tab\tname",
        "\u{202E}nna",                        // a right-to-left override (format)
        "ann\u{200D}bob",                     // a zero-width joiner (format)
        "line\u{2028}break",                  // a line separator
        "para\u{2029}graph",                  // a paragraph separator
        "no\u{00A0}break",                    // a no-break space: the plain space only
        String(repeating: "😀", count: 17),   // 17 characters, 68 bytes
    ])
    func invalidNamesAreRefused(_ name: String) throws {
        var match = try Match(game: .connect4)
        #expect(throws: MatchError.invalidName) { try match.join(name: name) }
        #expect(match.version == 1)
    }

    @Test(arguments: ["ann lee", "Zoë", "李明", String(repeating: "😀", count: 16)])
    func namesInAnyScriptAreKept(_ name: String) throws {
        var match = try Match(game: .connect4)
        try match.join(name: name)
        #expect(match.names[0] == name)
    }

    /// A move is kept in the game's one spelling, however it was sent.
    @Test func movesAreRecordedInTheirCanonicalSpelling() throws {
        var connectFour = try started()
        try connectFour.play("+5", by: .first, against: connectFour.version)
        try connectFour.play("\n\n 3 \n", by: .second, against: connectFour.version)
        #expect(connectFour.events.suffix(2).map(\.change) == [.moved(seat: .first, move: "5"), .moved(seat: .second, move: "3")])
        var reversi = try Match(game: .reversi)
        try reversi.join(name: "ann")
        try reversi.join(name: "bob")
        try reversi.play(" D3 ", by: .first, against: reversi.version)
        #expect(reversi.events.last?.change == .moved(seat: .first, move: "d3"))
        let long = String(repeating: "\n", count: 3000) + "4"
        var match = try started()
        try match.play(long, by: .first, against: match.version)
        #expect(match.lastMove?.move == "4")
    }

    @Test func invalidOptionsAreRefused() {
        #expect(throws: MatchError.self) { try Match(game: .reversi, options: MatchOptions(moveTimeLimit: 0)) }
    }

    @Test func movesCarryTheCurrentVersion() throws {
        var match = try started()
        let events = try match.play("4", by: .first, against: 3)
        #expect(events.map(\.change) == [.moved(seat: .first, move: "4")])
        #expect(match.version == 4)
        #expect(match.turn == .second)
        // The same command again, as a retry would send it: refused, not played twice.
        #expect(throws: MatchError.staleVersion(sent: 3, current: 4)) { try match.play("4", by: .first, against: 3) }
        #expect(throws: MatchError.staleVersion(sent: 9, current: 4)) { try match.play("4", by: .second, against: 9) }
        #expect(match.version == 4)
    }

    struct Refusal: CustomTestStringConvertible, Sendable {
        let name: String
        let code: String
        let attempt: @Sendable (inout Match) throws(MatchError) -> Void
        var testDescription: String { name }
    }

    static let refusals: [Refusal] = [
        Refusal(name: "out of turn", code: "match/not_your_turn") { match throws(MatchError) in try match.play("4", by: .second, against: match.version) },
        Refusal(name: "before the game starts", code: "match/not_started") { match throws(MatchError) in
            match = try Match(game: .connect4)
            try match.join(name: "ann")
            try match.play("4", by: .first, against: match.version)
        },
        Refusal(name: "stale version", code: "match/stale_version") { match throws(MatchError) in try match.play("4", by: .first, against: 1) },
        Refusal(name: "illegal move", code: "rule/out_of_range") { match throws(MatchError) in try match.play("9", by: .first, against: match.version) },
        Refusal(name: "unreadable move", code: "rule/unreadable_move") { match throws(MatchError) in try match.play("x", by: .first, against: match.version) },
        Refusal(name: "move after the end", code: "match/finished") { match throws(MatchError) in
            try match.resign(.second, against: match.version)
            try match.play("4", by: .first, against: match.version)
        },
        Refusal(name: "resign after the end", code: "match/finished") { match throws(MatchError) in
            try match.resign(.second, against: match.version)
            try match.resign(.first, against: match.version)
        },
        Refusal(name: "join after the end", code: "match/finished") { match throws(MatchError) in
            try match.resign(.second, against: match.version)
            try match.join(name: "cy")
        },
        Refusal(name: "timeout claimed for the seat not to move", code: "match/not_your_turn") { match throws(MatchError) in
            try match.expireTurn(of: .second, against: match.version)
        },
    ]

    @Test(arguments: refusals)
    func refusalsChangeNothing(_ refusal: Refusal) throws {
        var match = try started()
        do {
            try refusal.attempt(&match)
            Issue.record("expected \(refusal.code)")
        } catch {
            #expect(error.code.rawValue == refusal.code)
        }
        // Whatever the refusal, the log is still a valid history that replays to the same match.
        let replayed = try Match(replaying: match.events)
        #expect(replayed.events == match.events)
        #expect(replayed.position.isSame(as: match.position))
    }

    @Test func resignationEndsTheMatch() throws {
        var match = try started()
        let events = try match.resign(.first, against: 3)
        #expect(events.map(\.change) == [.resigned(seat: .first), .ended(GameResult(winner: .second, reason: .resignation))])
        #expect(match.status == .finished)
        #expect(match.result == GameResult(winner: .second, reason: .resignation))
        #expect(match.turn == nil)
    }

    @Test func anExpiredTurnLosesTheMatch() throws {
        var match = try started(.reversi, options: MatchOptions(moveTimeLimit: 30))
        try match.play("d3", by: .first, against: 3)
        // A timer set before that move must not fire.
        #expect(throws: MatchError.staleVersion(sent: 3, current: 4)) { try match.expireTurn(of: .second, against: 3) }
        let events = try match.expireTurn(of: .second, against: 4)
        #expect(events.map(\.change) == [.timedOut(seat: .second), .ended(GameResult(winner: .first, reason: .timeout))])
    }

    @Test func aWinningMoveIsFollowedByEnded() throws {
        var match = try started()
        for (index, column) in ["1", "2", "1", "2", "1", "2"].enumerated() {
            try match.play(column, by: index % 2 == 0 ? .first : .second, against: match.version)
        }
        let events = try match.play("1", by: .first, against: match.version)
        #expect(events.map(\.version) == [10, 11])
        #expect(events.last?.change == .ended(GameResult(winner: .first, reason: .fourInARow)))
        #expect(match.lastMove?.move == "1")
        #expect(match.events(after: 9).map(\.version) == [10, 11])
        #expect(match.events(after: 11).isEmpty)
        #expect(match.events(after: -5).count == 11)
    }

    struct CorruptLog: CustomTestStringConvertible, Sendable {
        let name: String
        let events: [MatchEvent]
        var testDescription: String { name }
    }

    static let created = MatchEvent(version: 1, change: .created(game: .connect4, options: MatchOptions()))
    static let ann = MatchEvent(version: 2, change: .joined(seat: .first, name: "ann"))
    static let bob = MatchEvent(version: 3, change: .joined(seat: .second, name: "bob"))

    static let corruptLogs: [CorruptLog] = [
        CorruptLog(name: "empty", events: []),
        CorruptLog(name: "no created event", events: [MatchEvent(version: 1, change: .joined(seat: .first, name: "ann"))]),
        CorruptLog(name: "a gap in the versions", events: [created, MatchEvent(version: 3, change: .joined(seat: .first, name: "ann"))]),
        CorruptLog(name: "second seat before the first", events: [created, MatchEvent(version: 2, change: .joined(seat: .second, name: "bob"))]),
        CorruptLog(name: "a move out of turn", events: [created, ann, bob, MatchEvent(version: 4, change: .moved(seat: .second, move: "4"))]),
        CorruptLog(name: "an illegal move", events: [created, ann, bob, MatchEvent(version: 4, change: .moved(seat: .first, move: "8"))]),
        CorruptLog(name: "a resignation without 'ended'", events: [created, ann, bob, MatchEvent(version: 4, change: .resigned(seat: .first)),
                                                                    MatchEvent(version: 5, change: .moved(seat: .first, move: "4"))]),
        CorruptLog(name: "the wrong winner", events: [created, ann, bob, MatchEvent(version: 4, change: .resigned(seat: .first)),
                                                      MatchEvent(version: 5, change: .ended(GameResult(winner: .first, reason: .resignation)))]),
        CorruptLog(name: "an event after 'ended'", events: [created, ann, bob, MatchEvent(version: 4, change: .resigned(seat: .first)),
                                                             MatchEvent(version: 5, change: .ended(GameResult(winner: .second, reason: .resignation))),
                                                             MatchEvent(version: 6, change: .moved(seat: .first, move: "4"))]),
    ]

    @Test(arguments: corruptLogs)
    func replayRefusesACorruptLog(_ log: CorruptLog) {
        #expect(throws: MatchError.self) { try Match(replaying: log.events) }
    }
}

extension MatchTests {
    /// Clients replay logs that arrive one event at a time; between a deciding move and its
    /// `ended` event, nobody is to move.
    @Test func nobodyIsToMoveOnceTheGameIsDecided() throws {
        var match = try started()
        for (index, column) in ["1", "2", "1", "2", "1", "2", "1"].enumerated() {
            try match.play(column, by: index % 2 == 0 ? .first : .second, against: match.version)
        }
        let beforeEnded = try Match(replaying: match.events.dropLast())
        #expect(beforeEnded.turn == nil)
        #expect(beforeEnded.status == .playing)
        #expect(match.turn == nil)
    }
}

/// Each game is one definition that everything else consults.
struct GameDefinitionTests {
    @Test(arguments: GameID.allCases)
    func eachGameDefinesItselfWhole(_ game: GameID) throws {
        let definition = game.definition
        #expect(definition.id == game)
        #expect(definition.initialPosition.game == game)
        #expect(definition.rulesText.hasPrefix(definition.title))
        // A key that plays a move plays a move of the game's notation.
        for key in definition.layout.keyMoves {
            #expect(throws: Never.self) { try definition.initialPosition.canonical(key.move) }
        }
        switch definition.bots {
        case .search(let rules): #expect(rules.id == game)
        case .fleetHunt: #expect(definition.layout.setup != nil)
        }
        // A game with a setup says how to make one, and its positions hide what they must.
        #expect((definition.layout.setup != nil) == definition.initialPosition.hidesInformation)
    }

    @Test func titlesAndNamesAreDistinct() {
        #expect(Set(GameID.allCases.map(\.title)).count == GameID.allCases.count)
    }
}
