import PlyClient
import PlyEngine
import PlyWire
import Testing
@testable import PlyTerminal

/// A match replica after these moves, with ann (seat 0) against bob.
func replica(_ game: GameID, _ moves: [String] = []) throws -> Match {
    var match = try Match(game: game)
    try match.join(name: "ann")
    try match.join(name: "bob")
    for move in moves { try match.play(move, by: match.turn!, against: match.version) }
    return match
}

func gameState(_ match: Match, seat: Seat? = .first, glyphs: Glyphs = .ascii, hasLobby: Bool = false) -> PlayState {
    var state = PlayState(mode: .game(GameScreen(matchID: "m1", seat: seat, match: match, againstBot: !hasLobby)),
                          transport: .webSocket, hasLobby: hasLobby, glyphs: glyphs, colour: false)
    state.network.state = .connected
    return state
}

func screenText(_ state: PlayState, width: Int = 80, height: Int = 24, now: ContinuousClock.Instant = .now) -> [String] {
    render(state, width: width, height: height, now: now).map(\.text)
}

struct RenderTests {
    @Test func aConnectFourBoardAsText() throws {
        let lines = screenText(gameState(try replica(.connect4, ["4", "4", "3"])))
        #expect(lines[0] == " ply | Connect Four | match m1 | X ann (you) vs O bob")
        #expect(Array(lines[2...11]) == [
            "             v",
            "    1  2  3  4  5  6  7 ",
            "  +---------------------+",
            "  | .  .  .  .  .  .  . |",
            "  | .  .  .  .  .  .  . |",
            "  | .  .  .  .  .  .  . |",
            "  | .  .  .  .  .  .  . |",
            "  | .  .  .  O  .  .  . |",
            "  | .  .  X  X  .  .  . |",
            "  +---------------------+",
        ])
        #expect(lines.contains { $0.contains("bob is thinking") })
    }

    /// At the end of a Connect Four game the winning line stands out, and nothing else does.
    @Test func theWinningLineIsMarked() throws {
        let won = try replica(.connect4, ["1", "2", "1", "2", "1", "2", "1"])
        #expect(winningCells(won) == Set((2...5).map { Cell(row: $0, column: 0) }))
        let lines = render(gameState(won), width: 80, height: 24)
        let marked = lines.flatMap(\.spans).filter { $0.style == .winning(seat: 0) }
        #expect(marked.count == 4)
        var resigned = try replica(.connect4, ["1", "2", "1", "2", "1", "2"])
        try resigned.resign(.first, against: resigned.version)
        #expect(winningCells(resigned).isEmpty)
        #expect(winningCells(try replica(.reversi, ["d3"])).isEmpty)
    }

    @Test func theLastMoveAndTheCursorAreHighlighted() throws {
        let lines = render(gameState(try replica(.connect4, ["4", "4", "3"])), width: 80, height: 24)
        let bottomRow = lines[10].spans
        #expect(bottomRow.contains(Span(" X ", .lastMove(seat: 0))), "column 3's piece is the last move")
        #expect(bottomRow.contains(Span(" X ", .piece(seat: 0))))
        #expect(lines[3].spans.contains(Span(" 4 ", .cursor)), "the cursor starts on the middle column")
    }

    @Test func reversiMarksTheLegalMovesOnYourTurn() throws {
        let lines = screenText(gameState(try replica(.reversi)))
        #expect(Array(lines[2...12]) == [
            "      a  b  c  d  e  f  g  h ",
            "    +------------------------+",
            " 1  | .  .  .  .  .  .  .  . |",
            " 2  | .  .  .  .  .  .  .  . |",
            " 3  | .  .  .  +  .  .  .  . |",
            " 4  | .  .  +  O  X  .  .  . |",
            " 5  | .  .  .  X  O  +  .  . |",
            " 6  | .  .  .  .  +  .  .  . |",
            " 7  | .  .  .  .  .  .  .  . |",
            " 8  | .  .  .  .  .  .  .  . |",
            "    +------------------------+",
        ])
        #expect(lines.contains("  Discs: X 2   O 2"))
        // Not your turn: no marks.
        let theirs = screenText(gameState(try replica(.reversi, ["d3"])))
        #expect(!theirs[4...11].joined().contains("+"))
    }

    @Test func unicodePiecesWhenTheLocaleAllowsThem() throws {
        #expect(Glyphs.forEnvironment(["LANG": "en_US.UTF-8"]) == .unicode)
        #expect(Glyphs.forEnvironment(["LC_ALL": "C", "LANG": "en_US.UTF-8"]) == .ascii)
        #expect(Glyphs.forEnvironment([:]) == .ascii)
        let lines = screenText(gameState(try replica(.connect4, ["4"]), glyphs: .unicode))
        #expect(lines[10] == "  │ ·  ·  ·  ●  ·  ·  · │")
    }

    @Test func theResultOffersARematch() throws {
        var match = try replica(.connect4, ["1", "2", "1", "2", "1", "2", "1"])
        #expect(match.result?.winner == .first)
        #expect(screenText(gameState(match)).contains("  You won! (four in a row)"))
        #expect(screenText(gameState(match)).contains("  n: new game | q: quit"))
        #expect(screenText(gameState(match, seat: .second, hasLobby: true)).contains("  You lost (four in a row)."))
        #expect(screenText(gameState(match, seat: .second, hasLobby: true)).contains("  n: new game | l: lobby | q: quit"))
        #expect(screenText(gameState(match, seat: nil, hasLobby: true)).contains("  ann won (four in a row)."))
        try match = replica(.connect4, ["4"])
        try match.resign(.second, against: match.version)
        #expect(screenText(gameState(match)).contains("  You won! (resignation)"))
    }

    @Test func theStatusBarShowsTheConnectionAndItsCost() throws {
        var state = gameState(try replica(.connect4))
        var totals = WireTotals()
        totals.bytesSent = 1234
        totals.bytesReceived = 56_789
        totals.httpRequests = 7
        totals.reconnects = 2
        state.network.totals = totals
        state.network.roundTrips = RoundTrips(count: 3, last: .microseconds(420), p50: .microseconds(380), p99: .microseconds(1200))
        let bar = " WebSocket | connected | rtt 0.42 ms (p50 0.38 ms, p99 1.20 ms) | up 1.2 kB down 56.8 kB | 7 HTTP requests | 2 reconnects "
        #expect(screenText(state, width: 140).last == bar + String(repeating: " ", count: 140 - bar.count))
        state.network.totals.httpRequests = 1
        state.network.totals.reconnects = 1
        #expect(screenText(state, width: 140).last?.contains("| 1 HTTP request | 1 reconnect ") == true, "one of each, in the singular")
        state.network.totals = totals
        let now = ContinuousClock.now
        state.network.state = .reconnecting(attempt: 3, retryAt: now + .milliseconds(1500))
        #expect(screenText(state, width: 140, now: now).last?.contains("reconnecting in 1.5 s (attempt 3)") == true)
        // Narrower, the fields shorten rather than being cut off.
        let narrow = try #require(screenText(state, width: 40, height: 16, now: now).last)
        let short = " WS | retry in 2 s | rtt 0.42 ms "
        #expect(narrow == short + String(repeating: " ", count: 40 - short.count))
        state.network.state = .failed(WireError(.unknownMatch, "gone"))
        #expect(screenText(state).last?.contains("failed: match/not_found") == true)
    }

    @Test func theWireViewShowsEachExchangeWithItsHeadAndBody() throws {
        var state = gameState(try replica(.connect4))
        state.showWire = true
        state.network.transport = .longPoll
        let sent = ContinuousClock.now
        state.network.records = [
            WireRecord(.sent, .request("POST /matches/m1/commands HTTP/1.1"), overhead: 176, payload: 32, at: sent,
                       preview: #"{"type":"play","move":"4","v":3}"#),
            WireRecord(.received, .response("HTTP/1.1 200 OK"), overhead: 108, payload: 20, at: sent + .microseconds(1_250),
                       preview: #"{"type":"ack","v":4}"#),
            WireRecord(.sent, .frame("text"), overhead: 6, payload: 39, at: sent + .milliseconds(3)),
            // Compressed: 11 bytes on the wire for a message of 43.
            WireRecord(.received, .frame("text"), overhead: 2, payload: 11, plainPayload: 43, at: sent + .milliseconds(4),
                       preview: #"{"move":"4","seat":0,"type":"moved","v":4}"#),
        ]
        let lines = screenText(state, width: 120)
        let start = try #require(lines.firstIndex { $0.contains("Wire view (long-polling)") })
        #expect(lines[start].hasSuffix("after cmd   head   body"))
        #expect(lines[start + 1].hasPrefix(#"  > POST /matches/m1/commands HTTP/1.1  {"type":"play","move":"4","v":3}"#))
        #expect(lines[start + 1].hasSuffix("                176     32"), "a command follows none")
        #expect(lines[start + 2].hasPrefix(#"  < HTTP/1.1 200 OK  {"type":"ack","v":4}"#))
        #expect(lines[start + 2].hasSuffix("  +1.25 ms    108     20"), "its answer, 1.25 ms after it")
        #expect(lines[start + 3].hasPrefix("  > text frame"))
        #expect(lines[start + 3].hasSuffix("      6     39"))
        #expect(lines[start + 4].hasPrefix(#"  < text frame (43 B inflated)  {"move":"4""#), "\(lines[start + 4])")
        #expect(lines[start + 4].hasSuffix("      2     11"))
    }

    @Test func theLatestRoundTripsAreASparkline() {
        #expect(sparkline([.milliseconds(1), .milliseconds(8), .milliseconds(4), .zero], .unicode) == "▂█▅▁ ")
        #expect(sparkline([], .ascii).isEmpty)
        var state = PlayState(mode: .opening("…"), transport: .webSocket, hasLobby: false, glyphs: .ascii)
        state.network.roundTrips = RoundTrips(count: 2, last: .milliseconds(2), p50: .milliseconds(1), p99: .milliseconds(2),
                                              recent: [.milliseconds(1), .milliseconds(2)])
        #expect(screenText(state, width: 140).last?.contains("rtt 2.00 ms +@ (p50 1.00 ms, p99 2.00 ms)") == true)
    }

    /// Connect Four plays in 40x16: the whole board, whose turn it is and what to press, and a
    /// status bar whose fields fit.
    @Test func connectFourPlaysInFortyBySixteen() throws {
        let lines = screenText(gameState(try replica(.connect4, ["4"]), seat: .second), width: 40, height: 16)
        #expect(lines.count == 16)
        #expect(lines.allSatisfy { $0.count <= 40 })
        #expect(lines[0] == " Connect Four | X ann vs O bob (you)", "the players stay in view")
        let top = try #require(lines.firstIndex { $0.contains("+---------------------+") })
        #expect(lines.dropFirst(top + 1).contains { $0.contains("+---------------------+") }, "the board's bottom edge: \(lines)")
        #expect(lines.contains("  Your turn (O): 1-7 or arrows, Enter."), "\(lines)")
        #expect(lines.last == " WebSocket | connected | rtt - ".padding(toLength: 40, withPad: " ", startingAt: 0))
    }

    @Test func aTerminalTooSmallGetsAClearMessage() throws {
        let lines = screenText(gameState(try replica(.reversi)), width: 30, height: 12)
        #expect(lines.count == 12)
        #expect(lines.contains("Terminal too small: 30x12;"))
        #expect(lines.contains("ply needs 40x16."))
    }

    @Test(arguments: [(40, 16), (60, 20), (80, 24), (100, 30), (200, 60)])
    func everyScreenFillsTheTerminalExactly(width: Int, height: Int) throws {
        var states = [gameState(try replica(.reversi, ["d3", "c5"])), gameState(try replica(.connect4), glyphs: .unicode)]
        states[0].showWire = true
        states[0].network.records = Array(repeating: WireRecord(.received, .frame("text"), overhead: 2, payload: 44), count: 80)
        var lobby = Lobby()
        lobby.matches = [MatchSnapshot(id: "abc", match: try replica(.connect4))]
        states.append(PlayState(mode: .lobby(lobby), transport: .webSocket, hasLobby: true))
        var help = states[1]
        help.showHelp = true
        states.append(help)
        for state in states {
            let lines = render(state, width: width, height: height)
            #expect(lines.count == height)
            #expect(lines.allSatisfy { $0.width <= width })
        }
    }

    @Test func theLobbyListsMatchesWithTheSelectionMarked() throws {
        var lobby = Lobby()
        lobby.loading = false
        lobby.matches = [MatchSnapshot(id: "m1", match: try replica(.connect4)), MatchSnapshot(id: "m2", match: try Match(game: .reversi))]
        lobby.selected = 1
        let lines = screenText(PlayState(mode: .lobby(lobby), transport: .webSocket, hasLobby: true, glyphs: .ascii))
        #expect(lines.contains("    MATCH       GAME          STATUS    PLAYERS"))
        #expect(lines.contains("    m1          Connect Four  playing   ann vs bob"))
        #expect(lines.contains("  > m2          Reversi       waiting   (free) vs (free)"))
    }
}

/// The interactive replay: keys step through the log, the screen shows the board and what
/// happened at each version.
struct ReplayTests {
    func finishedLog() throws -> [MatchEvent] {
        try replica(.connect4, ["1", "2", "1", "2", "1", "2", "1"]).events
    }

    @Test func keysStepThroughTheMatch() throws {
        let log = try finishedLog()
        var state = try ReplayState(id: "m1", log: log, glyphs: .ascii)
        #expect(state.shown == log.count, "it opens on the end")
        #expect(updateReplay(&state, .right))
        #expect(state.shown == log.count, "no further than the end")
        _ = updateReplay(&state, .home)
        #expect(state.shown == 1)
        #expect(state.match.status == .waiting)
        _ = updateReplay(&state, .left)
        #expect(state.shown == 1, "no further back than the start")
        for _ in 0..<4 { _ = updateReplay(&state, .character("l")) }
        #expect(state.shown == 5)
        #expect(state.match.version == 5)
        _ = updateReplay(&state, .end)
        #expect(state.match.status == .finished)
        #expect(!updateReplay(&state, .character("q")))
    }

    @Test func theScreenSaysWhatHappenedAtEachVersion() throws {
        var state = try ReplayState(id: "m1", log: try finishedLog(), glyphs: .ascii)
        var lines = renderReplay(state, width: 80, height: 24).map(\.text)
        #expect(lines.count == 24)
        #expect(lines[0] == " ply | Connect Four | match m1 | X ann vs O bob | replay")
        #expect(lines.contains("  Version 11 of 11: ann (X) won (four in a row)"))
        #expect(lines.last?.hasPrefix("  < > or h l: step") == true)
        _ = updateReplay(&state, .home)
        _ = updateReplay(&state, .right)
        _ = updateReplay(&state, .right)
        lines = renderReplay(state, width: 80, height: 24).map(\.text)
        #expect(lines.contains("  Version 3 of 11: bob (O) took seat 1"))
        _ = updateReplay(&state, .right)
        lines = renderReplay(state, width: 40, height: 16).map(\.text)
        #expect(lines.contains("  Version 4 of 11: ann (X) played 1"))
        #expect(lines.allSatisfy { $0.count <= 40 })
        #expect(renderReplay(state, width: 30, height: 10).map(\.text).contains("Terminal too small: 30x10;"))
    }
}
