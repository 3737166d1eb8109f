import PlyClient
import PlyEngine
import PlyWire

/// Applies one input to the state and returns what the app must do about it. Pure: every key
/// maps to its action here, and nothing here touches the terminal or the network.
public func update(_ state: inout PlayState, _ input: Input) -> [Effect] {
    switch input {
    case .launch:
        if state.hasLobby {
            state.mode = .lobby(.asking)
            return [.refreshLobby]
        }
        state.mode = .opening("Starting a server and a bot…")
        return [.newGame(state.firstGame)]
    case .key(let key):
        return handle(key, &state)
    case .opened(let screen):
        state.mode = .game(screen)
        state.returnTo = nil
        // Why the game is on the transport it is, if `auto` passed one over; else, for a seat
        // alone in its match, what it waits for (the board's status line says so too).
        let waiting = screen.match.status == .waiting && screen.seat != nil ? "Waiting for an opponent to join match \(screen.matchID)." : nil
        state.notice = (screen.transportNote ?? waiting).map { .info($0) }
        return screen.match.options.moveTimeLimit == nil ? [] : [.fetchClock(match: screen.matchID)]
    case .openFailed(let message):
        if let previous = state.returnTo { state.mode = previous }
        state.returnTo = nil
        state.notice = .error(message)
    case .event(let matchID, let event):
        // Past a transport switch, both connections may deliver an event: each counts once.
        guard case .game(var screen) = state.mode, screen.matchID == matchID, event.version > screen.match.version else { return [] }
        do {
            try screen.match.apply(event)
        } catch {
            state.notice = .error("The match's log does not add up: \(error)")
            return []
        }
        if case .joined(let seat, let name) = event.change, seat != screen.seat {
            // Why `auto` settled where it did stays in view beside the news (an opponent,
            // ply's own bot above all, often joins a moment after the game opens).
            if let note = screen.transportNote ?? state.network.transportNote, state.notice == .info(note) {
                state.notice = .info("\(name) joined.  " + note)
            } else {
                state.notice = .info("\(name) joined.")
            }
        } else if case .moved(let seat, let move, let result) = event.change {
            // A shot's result is news to both seats; another move clears the notice.
            if let result {
                let who = seat == screen.seat ? "You" : screen.match.names[seat.rawValue] ?? "seat \(seat.rawValue)"
                let news = "\(who) fired at \(move): \(describe(result))."
                // The answer to the player's own shot stays in view beside the reply to it.
                if seat != screen.seat, case .info(let mine)? = state.notice, mine.hasPrefix("You fired") {
                    state.notice = .info(mine + "  " + news)
                } else {
                    state.notice = .info(news)
                }
            } else if seat != screen.seat, screen.isMyTurn {
                state.notice = nil
            }
        } else if case .placed(let seat, _) = event.change, seat == screen.seat {
            screen.awaitingAnswer = false
            state.notice = .info(screen.match.awaitsSetup(from: seat.opponent) ? "Fleet placed; the other fleet is not yet." : "Fleet placed. Fire away.")
        }
        state.mode = .game(screen)
    case .rolledBack(let matchID, let version):
        guard case .game(var screen) = state.mode, screen.matchID == matchID, screen.match.version > version,
              let earlier = try? Match(replaying: screen.match.events.filter { $0.version <= version }) else { return [] }
        screen.match = earlier
        screen.awaitingAnswer = false
        screen.confirmingResign = false
        state.notice = .error("The server lost the moves after version \(version); the game goes on from there.")
        state.mode = .game(screen)
    case .connection(let match, let connection):
        guard onScreen(match, state) else { return [] }
        let wasConnected = state.network.state == .connected
        state.network.state = connection
        if case .failed(let error) = connection { state.notice = .error("The server refused the connection: \(error.message)") }
        // Back after a loss: the server's clock ran on meanwhile.
        if connection == .connected, !wasConnected, case .game(let screen) = state.mode, screen.match.options.moveTimeLimit != nil {
            return [.fetchClock(match: match)]
        }
    case .clock(let match, let version, let timeLeft, let at):
        guard onScreen(match, state) else { return [] }
        modifyGame(&state) { screen in
            guard screen.match.version == version else { return }
            screen.turnDeadline = at + timeLeft
            screen.clockVersion = version
        }
    case .network(let network):
        // `auto` moved the game to another transport by itself (WebSockets cut soon after
        // opening, say): the notice says where it went and why.
        if network.transport != state.network.transport, let note = network.transportNote { state.notice = .info(note) }
        state.network = network
    case .switched(let match, let transport):
        guard onScreen(match, state) else { return [] }
        state.network.transport = transport
        state.notice = .info("Now on \(transport): the game carries on where it was.")
    case .acknowledged(let match):
        guard onScreen(match, state) else { return [] }
        modifyGame(&state) { $0.awaitingAnswer = false }
    case .refused(let match, let message):
        guard onScreen(match, state) else { return [] }
        modifyGame(&state) { $0.awaitingAnswer = false }
        state.notice = .error(message)
    case .lobby(let matches):
        // A list that arrives after the player left the lobby is of no use.
        guard case .lobby(var lobby) = state.mode else { return [] }
        // The selection stays on its match wherever the match moved in the list.
        let selectedID = lobby.matches.indices.contains(lobby.selected) ? lobby.matches[lobby.selected].id : nil
        lobby.matches = matches
        lobby.loading = false
        lobby.asking = false
        lobby.selected = matches.firstIndex { $0.id == selectedID } ?? min(lobby.selected, max(matches.count - 1, 0))
        state.mode = .lobby(lobby)
    case .lobbyFailed(let message):
        guard case .lobby(var lobby) = state.mode else { return [] }
        lobby.asking = false
        lobby.loading = false
        state.mode = .lobby(lobby)
        state.notice = .error(message)
    case .tick(let now):
        // A turn that began since the last tick: its clock starts now (the server's snapshot,
        // when asked, says more exactly).
        modifyGame(&state) { screen in
            guard screen.clockVersion != screen.match.version else { return }
            screen.clockVersion = screen.match.version
            screen.turnDeadline = screen.match.status == .playing ? screen.match.options.moveTimeLimit.map { now + .seconds($0) } : nil
        }
        guard case .lobby(var lobby) = state.mode, !lobby.asking, !lobby.choosingGame else { return [] }
        if let asked = lobby.askedAt, now - asked < Lobby.refreshInterval { return [] }
        lobby.asking = true
        lobby.askedAt = now
        state.mode = .lobby(lobby)
        return [.refreshLobby]
    case .failed(let message):
        state.notice = .error(message)
    case .info(let message):
        state.notice = .info(message)
    }
    return []
}

/// Whether `match` is the match on screen.
private func onScreen(_ match: String, _ state: PlayState) -> Bool {
    if case .game(let screen) = state.mode { return screen.matchID == match }
    return false
}

private func modifyGame(_ state: inout PlayState, _ body: (inout GameScreen) -> Void) {
    guard case .game(var screen) = state.mode else { return }
    body(&screen)
    state.mode = .game(screen)
}

/// Shows `message` while `effects` open something; a failure goes back to where the player was.
private func opening(_ message: String, _ effects: [Effect], _ state: inout PlayState) -> [Effect] {
    state.returnTo = state.mode
    state.mode = .opening(message)
    state.notice = nil
    return effects
}

/// Back to the lobby: the game on screen is closed and the list asked for again.
private func toLobby(_ state: inout PlayState) -> [Effect] {
    state.mode = .lobby(.asking)
    state.returnTo = nil
    state.network = NetworkStatus(transport: state.network.transport)
    return [.closeGame, .refreshLobby]
}

private func handle(_ key: Key, _ state: inout PlayState) -> [Effect] {
    if state.showHelp {
        // Any key closes the help; q still quits.
        state.showHelp = false
        return key == .character("q") ? [.quit] : []
    }
    switch key {
    case .character("?"):
        state.showHelp = true
        return []
    case .character("w"):
        state.showWire.toggle()
        return []
    case .resize:
        return []
    default:
        break
    }
    switch state.mode {
    case .game(var screen):
        let effects = handle(key, &screen, &state)
        if case .game = state.mode { state.mode = .game(screen) }
        return effects
    case .lobby(var lobby):
        let effects = handle(key, &lobby, &state)
        if case .lobby = state.mode { state.mode = .lobby(lobby) }
        return effects
    case .opening:
        return key == .character("q") ? [.quit] : []
    }
}

// MARK: Game keys

private func handle(_ key: Key, _ screen: inout GameScreen, _ state: inout PlayState) -> [Effect] {
    let match = screen.match
    let board = match.position.board
    let layout = match.game.definition.layout
    if screen.confirmingResign {
        screen.confirmingResign = false
        if key == .character("y"), match.status == .playing, !screen.awaitingAnswer {
            screen.awaitingAnswer = true
            state.notice = .info("Resigning…")
            return [.resign(version: match.version)]
        }
        state.notice = .info("Resignation cancelled.")
        return []
    }
    if match.status == .finished {
        switch key {
        case .character("n"): return opening("Starting a new game…", [.closeGame, .newGame(match.game)], &state)
        case .character("l") where state.hasLobby: return toLobby(&state)
        case .character("q"): return [.quit]
        default: return []
        }
    }
    if let lengths = fleetToPlace(screen) {
        let random = key == .character("a") ? screen.match.position.randomSetup(using: &state.random) : nil
        if let effects = placing(key, lengths: lengths, &screen, &state, random: random) { return effects }
    }
    switch key {
    case .character("q"):
        return [.quit]
    case .character("t"):
        guard !screen.awaitingAnswer else {
            state.notice = .info("Your last move is still on its way; switch once it is answered.")
            return []
        }
        // `t` goes through the transports in turn.
        let target = state.network.transport.next
        state.notice = .info("Switching to \(target)…")
        return [.switchTransport(to: target, after: match.version)]
    case .character("l") where state.hasLobby && screen.seat == nil:
        return toLobby(&state)
    case .left, .character("h"):
        screen.cursor.column = max(0, screen.cursor.column - 1)
    case .right, .character("l"):
        screen.cursor.column = min(board.columns - 1, screen.cursor.column + 1)
    case .up, .character("k"):
        if layout.aim == .cell { screen.cursor.row = max(0, screen.cursor.row - 1) }
    case .down, .character("j"):
        if layout.aim == .cell { screen.cursor.row = min(board.rows - 1, screen.cursor.row + 1) }
    case .character(let digit) where layout.aim == .column && digit.wholeNumberValue.map({ (1...board.columns).contains($0) }) == true:
        screen.cursor.column = (digit.wholeNumberValue ?? 1) - 1
        return play(at: screen.cursor, &screen, &state)
    case .enter, .character(" "):
        return play(at: screen.cursor, &screen, &state)
    case .character(let key) where layout.keyMoves.contains { $0.key == key }:
        guard let keyMove = layout.keyMoves.first(where: { $0.key == key }) else { return [] }
        return play(keyMove.move, &screen, &state)
    case .character("r"):
        guard screen.seat != nil, match.status == .playing else { return [] }
        guard !screen.awaitingAnswer else {
            state.notice = .info("Your last move is still on its way.")
            return []
        }
        screen.confirmingResign = true
        state.notice = .info("Resign this game? Press y to confirm, any other key to go on.")
    default:
        break
    }
    return []
}

/// The move for the cell under the cursor (a pass when a pass is the only move).
private func play(at cell: Cell, _ screen: inout GameScreen, _ state: inout PlayState) -> [Effect] {
    let position = screen.match.position
    if screen.isMyTurn, position.legalMoves == ["pass"] { return play("pass", &screen, &state) }
    guard let move = position.move(atRow: cell.row, column: cell.column) else { return [] }
    return play(move, &screen, &state)
}

private func play(_ move: String, _ screen: inout GameScreen, _ state: inout PlayState) -> [Effect] {
    guard screen.seat != nil else {
        state.notice = .info("You are watching this match.")
        return []
    }
    switch screen.match.status {
    case .waiting:
        state.notice = .info("The game starts when a second player joins.")
        return []
    case .finished:
        return []
    case .playing:
        break
    }
    guard screen.isMyTurn else {
        state.notice = .info("It is not your turn.")
        return []
    }
    guard !screen.awaitingAnswer else {
        state.notice = .info("Your last move is still on its way.")
        return []
    }
    screen.awaitingAnswer = true
    state.notice = nil
    return [.play(move: move, version: screen.match.version)]
}

// MARK: Lobby keys

private func handle(_ key: Key, _ lobby: inout Lobby, _ state: inout PlayState) -> [Effect] {
    if lobby.choosingGame {
        lobby.choosingGame = false
        state.mode = .lobby(lobby)
        // The games by number, in the order the server's list gives them.
        guard case .character(let digit) = key, let number = digit.wholeNumberValue,
              GameID.allCases.indices.contains(number - 1) else { return [] }
        return opening("Creating a match…", [.newGame(GameID.allCases[number - 1])], &state)
    }
    switch key {
    case .character("q"):
        return [.quit]
    case .up, .character("k"):
        lobby.selected = max(0, lobby.selected - 1)
    case .down, .character("j"):
        lobby.selected = min(max(lobby.matches.count - 1, 0), lobby.selected + 1)
    case .character("c"):
        lobby.choosingGame = true
    case .character("r"):
        guard !lobby.asking else { return [] }
        lobby.asking = true
        return [.refreshLobby]
    case .enter, .character("v"):
        guard lobby.matches.indices.contains(lobby.selected) else { return [] }
        let match = lobby.matches[lobby.selected]
        let freeSeat = match.status == .waiting && match.seats.contains { $0.name == nil }
        return key == .enter && freeSeat
            ? opening("Joining \(match.id)…", [.join(match.id)], &state)
            : opening("Opening \(match.id)…", [.watch(match.id)], &state)
    default:
        break
    }
    return []
}

extension Lobby {
    /// A lobby whose first list has been asked for.
    static var asking: Lobby {
        var lobby = Lobby()
        lobby.asking = true
        return lobby
    }
}
