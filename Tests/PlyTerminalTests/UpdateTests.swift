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
        _ = update(&state, .acknowledged)
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
        _ = update(&state, .refused("column 4 is full"))
        #expect(state.notice == .error("column 4 is full"))
        #expect(screen(state)?.awaitingAnswer == false)
    }

    @Test func afterTheGameARematchOrTheLobby() throws {
        let finished = try replica(.connect4, ["1", "2", "1", "2", "1", "2", "1"])
        var embedded = gameState(finished)
        #expect(update(&embedded, .key(.character("l"))).isEmpty)
        #expect(update(&embedded, .key(.character("n"))) == [.rematch(.connect4)])
        var online = gameState(finished, hasLobby: true)
        #expect(update(&online, .key(.character("l"))) == [.toLobby])
        #expect(update(&online, .key(.character("q"))) == [.quit])
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
        #expect(update(&state, .key(.enter)) == [.join("w")])
        #expect(update(&state, .key(.character("v"))) == [.watch("w")])
        _ = update(&state, .key(.down))
        #expect(update(&state, .key(.enter)) == [.watch("p")])
        _ = update(&state, .key(.character("c")))
        #expect(update(&state, .key(.character("2"))) == [.create(.reversi)])
        #expect(update(&state, .key(.character("r"))) == [.refreshLobby])
    }
}
