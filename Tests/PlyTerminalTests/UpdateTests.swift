import PlyClient
import PlyEngine
import PlyWire
import Testing
@testable import PlyTerminal

struct UpdateTests {
    func screen(_ state: PlayState) -> GameScreen? {
        if case .game(let screen) = state.mode { return screen }
        return nil
    }

    @Test func digitsDropInAColumnAgainstTheCurrentVersion() throws {
        var state = gameState(try replica(.connect4))
        #expect(update(&state, .key(.character("5"))) == [.play(move: "5", version: 3)])
        #expect(screen(state)?.cursor.column == 4)
        #expect(screen(state)?.awaitingAnswer == true)
        // A second move before the answer is held back.
        #expect(update(&state, .key(.character("6"))).isEmpty)
        #expect(state.notice == .info("Your last move is still on its way."))
        _ = update(&state, .acknowledged(match: "other"))
        #expect(screen(state)?.awaitingAnswer == true, "an answer for another match changes nothing")
        _ = update(&state, .acknowledged(match: "m1"))
        #expect(screen(state)?.awaitingAnswer == false)
    }

    @Test func arrowsAimAndEnterPlays() throws {
        var state = gameState(try replica(.connect4))
        for _ in 0..<10 { _ = update(&state, .key(.left)) }
        #expect(screen(state)?.cursor.column == 0)
        _ = update(&state, .key(.right))
        _ = update(&state, .key(.character("l")))
        #expect(update(&state, .key(.enter)) == [.play(move: "3", version: 3)])
    }

    @Test func reversiAimsAtCellsAndPassesWhenItMust() throws {
        var state = gameState(try replica(.reversi))
        _ = update(&state, .key(.up))
        _ = update(&state, .key(.left))
        #expect(update(&state, .key(.character(" "))) == [.play(move: "d3", version: 3)])
    }

    @Test func notYourTurnOrWatchingSendsNothing() throws {
        var theirs = gameState(try replica(.connect4, ["4"]))
        #expect(update(&theirs, .key(.character("4"))).isEmpty)
        #expect(theirs.notice == .info("It is not your turn."))
        var watching = gameState(try replica(.connect4), seat: nil)
        #expect(update(&watching, .key(.enter)).isEmpty)
        #expect(watching.notice == .info("You are watching this match."))
    }

    @Test func resignationNeedsConfirming() throws {
        var state = gameState(try replica(.connect4))
        #expect(update(&state, .key(.character("r"))).isEmpty)
        #expect(update(&state, .key(.character("n"))).isEmpty)
        #expect(state.notice == .info("Resignation cancelled."))
        _ = update(&state, .key(.character("r")))
        #expect(update(&state, .key(.character("y"))) == [.resign(version: 3)])
    }

    @Test func eventsBuildTheMatchAndRefusalsShow() throws {
        var state = gameState(try replica(.connect4))
        _ = update(&state, .key(.character("4")))
        _ = update(&state, .event(match: "m1", MatchEvent(version: 4, change: .moved(seat: .first, move: "4"))))
        _ = update(&state, .event(match: "other", MatchEvent(version: 5, change: .moved(seat: .second, move: "1"))))
        #expect(screen(state)?.match.version == 4)
        #expect(screen(state)?.match.turn == .second)
        _ = update(&state, .refused(match: "m1", "column 4 is full"))
        #expect(state.notice == .error("column 4 is full"))
        #expect(screen(state)?.awaitingAnswer == false)
    }

    @Test func afterTheGameARematchOrTheLobby() throws {
        let finished = try replica(.connect4, ["1", "2", "1", "2", "1", "2", "1"])
        var embedded = gameState(finished)
        #expect(update(&embedded, .key(.character("l"))).isEmpty)
        #expect(update(&embedded, .key(.character("n"))) == [.closeGame, .newGame(.connect4)])
        guard case .opening = embedded.mode else { Issue.record("a new game shows that it is starting"); return }
        var online = gameState(finished, hasLobby: true)
        #expect(update(&online, .key(.character("q"))) == [.quit])
        #expect(update(&online, .key(.character("l"))) == [.closeGame, .refreshLobby])
        guard case .lobby(let lobby) = online.mode else { Issue.record("back in the lobby"); return }
        #expect(lobby.loading)
        #expect(online.network.state == nil, "the closed game's connection is not shown")
    }

    @Test func helpAndTheWireViewToggle() throws {
        var state = gameState(try replica(.connect4))
        _ = update(&state, .key(.character("w")))
        #expect(state.showWire)
        _ = update(&state, .key(.character("?")))
        #expect(state.showHelp)
        // Any key closes the help without acting in the game.
        #expect(update(&state, .key(.character("4"))).isEmpty)
        #expect(!state.showHelp)
        #expect(update(&state, .key(.character("q"))) == [.quit])
    }

    @Test func theLobbyJoinsFreeSeatsAndWatchesTheRest() throws {
        var state = PlayState(mode: .lobby(Lobby()), transport: .webSocket, hasLobby: true)
        let waiting = MatchSnapshot(id: "w", match: try Match(game: .reversi))
        let playing = MatchSnapshot(id: "p", match: try replica(.connect4))
        _ = update(&state, .lobby([waiting, playing]))
        let lobby = state
        #expect(update(&state, .key(.enter)) == [.join("w")])
        state = lobby
        #expect(update(&state, .key(.character("v"))) == [.watch("w")])
        state = lobby
        _ = update(&state, .key(.down))
        #expect(update(&state, .key(.enter)) == [.watch("p")])
        state = lobby
        _ = update(&state, .key(.character("c")))
        #expect(update(&state, .key(.character("2"))) == [.newGame(.reversi)])
        state = lobby
        #expect(update(&state, .key(.character("r"))) == [.refreshLobby])
    }

    /// An open lobby asks for the list by itself every two seconds, one request at a time, and
    /// keeps the selection on its match when the list changes.
    @Test func theLobbyIsLive() throws {
        var state = PlayState(mode: .opening("Starting…"), transport: .webSocket, hasLobby: true)
        let start = ContinuousClock.now
        #expect(update(&state, .launch) == [.refreshLobby])
        #expect(update(&state, .tick(start)).isEmpty, "the first list is still on its way")
        let first = MatchSnapshot(id: "a", match: try Match(game: .connect4))
        let second = MatchSnapshot(id: "b", match: try replica(.reversi))
        _ = update(&state, .lobby([first, second]))
        _ = update(&state, .key(.down))
        #expect(update(&state, .tick(start + .milliseconds(200))) == [.refreshLobby])
        #expect(update(&state, .tick(start + .milliseconds(400))).isEmpty, "one request at a time")
        #expect(update(&state, .key(.character("r"))).isEmpty)
        let newer = MatchSnapshot(id: "c", match: try Match(game: .connect4))
        _ = update(&state, .lobby([newer, first, second]))
        guard case .lobby(let lobby) = state.mode else { Issue.record("\(state.mode)"); return }
        #expect(lobby.matches[lobby.selected].id == "b", "still on the match the player chose")
        #expect(update(&state, .tick(start + .seconds(1))).isEmpty, "asked less than two seconds ago")
        #expect(update(&state, .tick(start + .milliseconds(2_200))) == [.refreshLobby])
        _ = update(&state, .lobbyFailed("Could not list the matches: the connection closed"))
        #expect(state.notice == .error("Could not list the matches: the connection closed"))
        #expect(update(&state, .tick(start + .milliseconds(4_200))) == [.refreshLobby], "and tries again")
        // In a game, ticks ask for nothing.
        var game = gameState(try replica(.connect4), hasLobby: true)
        #expect(update(&game, .tick(start + .seconds(60))).isEmpty)
    }

    /// `t` moves the game to the next transport (WebSocket, Server-Sent Events, long-polling,
    /// and round again) from the version on screen, but not while a move is on its way; an
    /// event that both connections deliver counts once.
    @Test func tCyclesThroughTheTransportsAndEventsCountOnce() throws {
        var state = gameState(try replica(.connect4))
        #expect(update(&state, .key(.character("t"))) == [.switchTransport(to: .serverSentEvents, after: 3)])
        #expect(state.notice == .info("Switching to Server-Sent Events…"))
        let moved = MatchEvent(version: 4, change: .moved(seat: .first, move: "4"))
        _ = update(&state, .event(match: "m1", moved))
        _ = update(&state, .event(match: "m1", moved))
        #expect(screen(state)?.match.version == 4)
        #expect(state.notice == .info("Switching to Server-Sent Events…"), "a repeated event is no error")
        _ = update(&state, .switched(match: "m1", .serverSentEvents))
        #expect(state.network.transport == .serverSentEvents)
        #expect(state.notice == .info("Now on Server-Sent Events: the game carries on where it was."))
        #expect(update(&state, .key(.character("t"))) == [.switchTransport(to: .longPoll, after: 4)])
        _ = update(&state, .switched(match: "m1", .longPoll))
        #expect(state.network.transport == .longPoll)
        _ = update(&state, .event(match: "m1", MatchEvent(version: 5, change: .moved(seat: .second, move: "4"))))
        #expect(update(&state, .key(.character("5"))) == [.play(move: "5", version: 5)])
        #expect(update(&state, .key(.character("t"))).isEmpty, "not with a move on its way")
        _ = update(&state, .acknowledged(match: "m1"))
        #expect(update(&state, .key(.character("t"))) == [.switchTransport(to: .webSocket, after: 5)])
    }

    /// A game opened on a transport `auto` settled on says why, as it opens, even while its
    /// seat waits for an opponent (the board says that too).
    @Test func aGameOpenedWhereAutoSettledSaysWhy() throws {
        var state = gameState(try replica(.connect4))
        var screen = GameScreen(matchID: "m2", seat: .first, match: try replica(.connect4), againstBot: true)
        screen.transportNote = "On SSE: WS upgrade refused (400)."
        _ = update(&state, .opened(screen))
        #expect(state.notice == .info("On SSE: WS upgrade refused (400)."))
        #expect(screenText(state).joined(separator: "\n").contains("On SSE: WS upgrade refused (400)."))
        var waiting = try Match(game: .connect4)
        try waiting.join(name: "ann")
        var alone = GameScreen(matchID: "m3", seat: .first, match: waiting, againstBot: false)
        alone.transportNote = screen.transportNote
        _ = update(&state, .opened(alone))
        #expect(state.notice == screen.transportNote.map { .info($0) })
        #expect(screenText(state).joined(separator: "\n").contains("Waiting for an opponent"))
        // The opponent joining a moment later keeps the reason in view beside the news.
        _ = update(&state, .event(match: "m3", MatchEvent(version: waiting.version + 1, change: .joined(seat: .second, name: "bot"))))
        #expect(state.notice == .info("bot joined.  On SSE: WS upgrade refused (400)."))
    }

    /// When `auto` moves a game on by itself mid-game, the notice says where and why; a status
    /// update on the same transport leaves the notice alone.
    @Test func autoMovingOnMidGameIsSaid() throws {
        var state = gameState(try replica(.connect4))
        var network = NetworkStatus(transport: .webSocket)
        network.transportNote = nil
        _ = update(&state, .network(network))
        #expect(state.notice == nil)
        network.transport = .serverSentEvents
        network.transportNote = "On SSE: WS cut 3 times soon after opening (a proxy?)."
        _ = update(&state, .network(network))
        #expect(state.notice == .info("On SSE: WS cut 3 times soon after opening (a proxy?)."))
        #expect(state.network.transport == .serverSentEvents)
        state.notice = nil
        _ = update(&state, .network(network))
        #expect(state.notice == nil, "said once, when it moved")
    }

    /// A match with a per-move limit shows the clock of the seat to move: started when the
    /// turn is seen, set exactly by the server's answer, and asked again after a reconnection.
    @Test func thePerMoveClock() throws {
        var match = try Match(game: .connect4, options: MatchOptions(moveTimeLimit: 60))
        _ = try match.join(name: "ann")
        _ = try match.join(name: "bob")
        let screen = GameScreen(matchID: "m1", seat: .first, match: try Match(replaying: match.events.prefix(1)), againstBot: false)
        var state = PlayState(mode: .opening("…"), transport: .webSocket, hasLobby: true, glyphs: .ascii)
        #expect(update(&state, .opened(screen)) == [.fetchClock(match: "m1")])
        for event in match.events.dropFirst() { _ = update(&state, .event(match: "m1", event)) }
        let now = ContinuousClock.now
        _ = update(&state, .tick(now))
        #expect(self.screen(state)?.turnDeadline == now + .seconds(60))
        #expect(screenText(state, now: now + .seconds(15)).contains("  You have 0:45 left to move"))
        // The server's word is more exact: 30.5 s left.
        _ = update(&state, .clock(match: "m1", version: 3, timeLeft: .milliseconds(30_500), at: now))
        #expect(screenText(state, now: now).contains("  You have 0:31 left to move"))
        #expect(screenText(state, now: now + .seconds(25)).contains("  You have 0:06 left to move"))
        // A clock for another version is stale.
        _ = update(&state, .clock(match: "m1", version: 2, timeLeft: .seconds(5), at: now))
        #expect(self.screen(state)?.turnDeadline == now + .milliseconds(30_500))
        // The opponent's turn starts its own clock.
        _ = update(&state, .event(match: "m1", MatchEvent(version: 4, change: .moved(seat: .first, move: "4"))))
        _ = update(&state, .tick(now + .seconds(1)))
        #expect(screenText(state, now: now + .seconds(2)).contains("  bob has 0:59 left to move"))
        // Reconnected: ask the server again.
        _ = update(&state, .connection(match: "m1", .reconnecting(attempt: 1, retryAt: now)))
        #expect(update(&state, .connection(match: "m1", .connected)) == [.fetchClock(match: "m1")])
    }

    /// Watching: both names in the title, whose turn it is, and each event as it comes.
    @Test func aSpectatorSeesBothSeatsAndKeepsUp() throws {
        var state = gameState(try replica(.connect4), seat: nil, hasLobby: true)
        var lines = screenText(state)
        #expect(lines[0] == " ply | Connect Four | match m1 | X ann vs O bob | watching")
        #expect(lines.contains("  X ann to move"))
        _ = update(&state, .event(match: "m1", MatchEvent(version: 4, change: .moved(seat: .first, move: "4"))))
        lines = screenText(state)
        #expect(lines.contains("  O bob to move"))
        #expect(lines.contains { $0.contains("| .  .  .  X  .  .  . |") })
        #expect(update(&state, .key(.character("l"))) == [.closeGame, .refreshLobby], "back to the lobby at any time")
    }

    @Test func launchingOpensTheLobbyOrStartsTheGame() {
        var online = PlayState(mode: .opening("Starting…"), transport: .webSocket, hasLobby: true)
        #expect(update(&online, .launch) == [.refreshLobby])
        guard case .lobby = online.mode else { Issue.record("the lobby"); return }
        var embedded = PlayState(mode: .opening("Starting…"), transport: .longPoll, hasLobby: false, firstGame: .reversi)
        #expect(update(&embedded, .launch) == [.newGame(.reversi)])
        guard case .opening = embedded.mode else { Issue.record("starting"); return }
    }

    /// Joining shows that it is under way; a failure goes back to the lobby as it was and says
    /// why; a list that arrives once the player has left the lobby changes nothing.
    @Test func aFailedOpeningGoesBackWhereThePlayerWas() throws {
        var state = PlayState(mode: .lobby(Lobby()), transport: .webSocket, hasLobby: true)
        let waiting = MatchSnapshot(id: "w", match: try Match(game: .connect4))
        _ = update(&state, .lobby([waiting]))
        #expect(update(&state, .key(.enter)) == [.join("w")])
        guard case .opening("Joining w…") = state.mode else { Issue.record("\(state.mode)"); return }
        #expect(update(&state, .lobby([])).isEmpty)
        #expect(update(&state, .key(.enter)).isEmpty, "nothing to do while opening")
        _ = update(&state, .openFailed("match/full: both seats are taken"))
        guard case .lobby(let lobby) = state.mode else { Issue.record("\(state.mode)"); return }
        #expect(lobby.matches.map(\.id) == ["w"])
        #expect(state.notice == .error("match/full: both seats are taken"))
        _ = update(&state, .opened(GameScreen(matchID: "w", seat: .second, match: try replica(.connect4), againstBot: false)))
        guard case .game = state.mode else { Issue.record("\(state.mode)"); return }
    }

    /// The crash of issue 12: a move on its way (the server stalled), then `r` and `y`. No
    /// second command may start; once the move is answered, resigning works.
    @Test func noResignationWhileAMoveIsOnItsWay() throws {
        var state = gameState(try replica(.connect4))
        #expect(update(&state, .key(.character("4"))) == [.play(move: "4", version: 3)])
        #expect(update(&state, .key(.character("r"))).isEmpty)
        #expect(state.notice == .info("Your last move is still on its way."))
        #expect(update(&state, .key(.character("y"))).isEmpty)
        _ = update(&state, .event(match: "m1", MatchEvent(version: 4, change: .moved(seat: .first, move: "4"))))
        _ = update(&state, .acknowledged(match: "m1"))
        _ = update(&state, .key(.character("r")))
        #expect(update(&state, .key(.character("y"))) == [.resign(version: 4)])
        #expect(screen(state)?.awaitingAnswer == true, "the resignation is on its way")
        #expect(update(&state, .key(.character("5"))).isEmpty)
        #expect(update(&state, .key(.character("r"))).isEmpty)
    }

    /// Random keys and network news, thousands of steps: after each, the state holds together
    /// and no command is asked for while another is on its way.
    @Test(arguments: GameID.allCases, [false, true])
    func randomKeysAndNewsKeepTheStateWhole(game: GameID, hasLobby: Bool) throws {
        var random = SeededRandom(seed: hasLobby ? 7 : 3)
        func pick(_ count: Int) -> Int { Int.random(in: 0..<count, using: &random) }
        var state = PlayState(mode: .opening("Starting…"), transport: .webSocket, hasLobby: hasLobby, firstGame: game)
        _ = update(&state, .launch)
        // The server's side: the true match, and whether a command is on its way.
        var truth = try Match(game: game)
        var number = 1, id = "m1"
        var inFlight: Effect?
        var playing = 0
        let keys: [Key] = [.up, .down, .left, .right, .enter, .escape, .resize] + "0123456789 hjklnpqrvwy?cau".map { .character($0) }
        let actions: [Key] = [.enter, .character("r"), .character("y"), .character("4"), .character("p"), .character("a")]
        let snapshots = { (id: String, match: Match) in [MatchSnapshot(id: id, match: match), MatchSnapshot(id: "other", match: try Match(game: game))] }
        for step in 0..<5_000 {
            let input: Input
            switch pick(12) {
            case 0..<3:
                input = .key(keys[pick(keys.count)])
            case 3..<5:
                // The keys that act, often: they are where commands could pile up.
                input = .key(actions[pick(actions.count)])
            case 5:
                // The command on its way is answered: applied by the server, or refused.
                guard let command = inFlight else { continue }
                inFlight = nil
                if pick(3) > 0, case .game(let screen) = state.mode, let seat = screen.seat {
                    var applied = false
                    switch command {
                    case .play(let move, let version): applied = (try? truth.play(move, by: seat, against: version)) != nil
                    case .resign(let version): applied = (try? truth.resign(seat, against: version)) != nil
                    case .place(let fleet, _): applied = (try? truth.place(fleet, by: seat)) != nil
                    default: break
                    }
                    input = applied ? .acknowledged(match: id) : .refused(match: id, "refused")
                } else {
                    input = .refused(match: id, "no connection to the server in time")
                }
            case 6:
                // A player joins, or the opponent moves; once a game is over, the next match.
                let mine: Seat? = if case .game(let screen) = state.mode, screen.matchID == id { screen.seat } else { nil }
                if truth.status == .waiting {
                    try truth.join(name: "p\(truth.version)")
                } else if let seat = Seat.allCases.first(where: { $0 != mine && truth.awaitsSetup(from: $0) }),
                          let setup = truth.position.randomSetup(using: &random) {
                    try truth.place(setup, by: seat)
                } else if let seat = truth.turn, seat != mine, let move = truth.position.legalMoves.randomElement(using: &random) {
                    try truth.play(move, by: seat, against: truth.version)
                } else if truth.status == .finished {
                    truth = try Match(game: game)
                    number += 1
                    id = "m\(number)"
                } else {
                    continue
                }
                input = .info("news")
            case 7:
                // The feed catches up: every event the screen has not seen, in order, as its seat sees it.
                guard case .game(let screen) = state.mode, screen.matchID == id else { continue }
                let events = truth.events.filter { $0.version > screen.match.version }.map { $0.view(for: screen.seat) }
                for event in events {
                    let effects = update(&state, .event(match: id, event))
                    try check(state, effects, &inFlight, step)
                }
                continue
            case 8:
                let states: [ConnectionState] = [.connected, .reconnecting(attempt: 1, retryAt: .now), .failed(WireError(.notFound, "gone")), .closed]
                input = .connection(match: [id, "other"][pick(2)], states[pick(states.count)])
            case 9:
                input = .lobby(try snapshots(id, truth))
            case 10:
                // What an opening effect finds: the match, as far as the server has it, or a failure.
                guard case .opening = state.mode else { continue }
                if pick(4) == 0 {
                    input = .openFailed("refused")
                } else {
                    let replica = try Match(replaying: Array(truth.events.prefix(1)))
                    input = .opened(GameScreen(matchID: id, seat: [Seat.first, .second, nil][pick(3)], match: replica, againstBot: !hasLobby))
                    inFlight = nil
                }
            case 11 where pick(2) == 0:
                input = [.tick(.now + .seconds(step)), .lobbyFailed("no answer")][pick(2)]
            default:
                input = .event(match: "other", MatchEvent(version: 99, change: .moved(seat: .first, move: "1")))
            }
            let effects = update(&state, input)
            try check(state, effects, &inFlight, step)
            if case .game(let screen) = state.mode, screen.match.status == .playing { playing += 1 }
        }
        #expect(playing > 1_000, "the walk spends its time in games under way")
    }

    /// The invariants `randomKeysAndNewsKeepTheStateWhole` checks after each step.
    private func check(_ state: PlayState, _ effects: [Effect], _ inFlight: inout Effect?, _ step: Int) throws {
        let commands = effects.filter {
            switch $0 {
            case .play, .resign, .place: true
            default: false
            }
        }
        #expect(commands.count <= 1, "step \(step): \(effects)")
        if let command = commands.first {
            #expect(inFlight == nil, "step \(step): \(command) while \(inFlight.map { "\($0)" } ?? "") is on its way")
            inFlight = command
        }
        switch state.mode {
        case .game(let screen):
            let board = screen.match.position.board
            #expect((0..<board.columns).contains(screen.cursor.column), "step \(step)")
            #expect((0..<board.rows).contains(screen.cursor.row), "step \(step)")
            if !screen.awaitingAnswer { #expect(inFlight == nil, "step \(step): a command on its way but not shown") }
            // A screen never holds a fleet its seat may not see, before the end.
            if screen.match.result == nil, screen.match.position.hidesInformation {
                #expect(screen.match.position.setups.enumerated().allSatisfy { $0.element == nil || $0.offset == screen.seat?.rawValue }, "step \(step)")
            }
        case .lobby(let lobby):
            #expect(lobby.matches.isEmpty ? lobby.selected == 0 : lobby.matches.indices.contains(lobby.selected), "step \(step)")
        case .opening:
            break
        }
        _ = render(state, width: 80, height: 24)
        _ = render(state, width: 20, height: 5)
    }

    // MARK: Battleship

    @Test func aFleetIsPlacedShipByShipAndSentWhole() throws {
        var state = gameState(try replica(.battleship))
        // The first ship (5) lies across from the cursor, pulled back onto the grid.
        for _ in 0..<9 { _ = update(&state, .key(.up)) }
        for _ in 0..<9 { _ = update(&state, .key(.left)) }
        #expect(update(&state, .key(.enter)).isEmpty)
        #expect(screen(state)?.placement.ships.map(\.notation) == ["a1-e1"])
        // Turned down a column, right next to the first: refused, with why.
        _ = update(&state, .key(.character("r")))
        _ = update(&state, .key(.down))
        #expect(update(&state, .key(.enter)).isEmpty)
        #expect(state.notice.map { "\($0)" }?.contains("touch") == true)
        // Taken back and placed again, then the rest.
        _ = update(&state, .key(.down))
        #expect(update(&state, .key(.enter)).isEmpty)
        _ = update(&state, .key(.character("u")))
        #expect(screen(state)?.placement.ships.count == 1)
        var effects: [Effect] = []
        for column in [0, 2, 4, 6] {
            for _ in 0..<9 { _ = update(&state, .key(.left)) }
            for _ in 0..<column { _ = update(&state, .key(.right)) }
            for _ in 0..<9 { _ = update(&state, .key(.down)) }
            effects = update(&state, .key(.enter))
        }
        guard case .place(let fleet, let version)? = effects.first else {
            Issue.record("no fleet sent: \(effects)")
            return
        }
        #expect(version == 3)
        #expect(throws: Never.self) { try Battleship.fleet(notation: fleet) }
        #expect(fleet == "a1-e1 a7-a10 c8-c10 e8-e10 g9-g10")
        #expect(screen(state)?.awaitingAnswer == true)
        #expect(update(&state, .key(.character("a"))).isEmpty, "nothing more while the fleet is on its way")
        // Placed: the screen fires at the other grid.
        var match = try #require(screen(state)?.match)
        try match.apply(MatchEvent(version: 4, change: .placed(seat: .first, fleet: fleet)))
        _ = update(&state, .event(match: "m1", MatchEvent(version: 4, change: .placed(seat: .first, fleet: fleet))))
        _ = update(&state, .event(match: "m1", MatchEvent(version: 5, change: .placed(seat: .second, fleet: nil))))
        #expect(screen(state)?.awaitingAnswer == false)
        #expect(update(&state, .key(.enter)).first.map { if case .play = $0 { true } else { false } } == true)
        let text = screenText(state, width: 100, height: 30).joined(separator: "\n")
        #expect(text.contains("Your fleet") && text.contains("bob's waters"))
    }

    @Test func aRandomFleetIsOneKeyAndLegal() throws {
        var state = gameState(try replica(.battleship))
        guard case .place(let fleet, _)? = update(&state, .key(.character("a"))).first else {
            Issue.record("no fleet sent")
            return
        }
        #expect(throws: Never.self) { try Battleship.fleet(notation: fleet) }
    }

    @Test func theOpponentsShotsShowAsTheyLand() throws {
        var match = try replica(.battleship)
        try match.place("a1-a5 c1-c4 e1-e3 g1-g3 i1-i2", by: .first)
        var state = gameState(match)
        _ = update(&state, .event(match: "m1", MatchEvent(version: 5, change: .placed(seat: .second, fleet: nil))))
        _ = update(&state, .event(match: "m1", MatchEvent(version: 6, change: .moved(seat: .first, move: "j10", result: .miss))))
        _ = update(&state, .event(match: "m1", MatchEvent(version: 7, change: .moved(seat: .second, move: "a1", result: .hit))))
        #expect(state.notice == .info("You fired at j10: miss.  bob fired at a1: hit."))
        let rows = screenText(state, width: 100, height: 30)
        #expect(rows.contains { $0.hasPrefix(" 1 | X  .  S") }, "the hit on the player's own fleet")
    }
}
