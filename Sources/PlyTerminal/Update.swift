import PlyClient
import PlyEngine
import PlyWire

/// Applies one input to the state and returns what the app must do about it. Pure: every key
/// maps to its action here, and nothing here touches the terminal or the network.
public func update(_ state: inout PlayState, _ input: Input) -> [Effect] {
    switch input {
    case .key(let key):
        return handle(key, &state)
    case .opened(let screen):
        state.mode = .game(screen)
        state.notice = screen.match.status == .waiting && screen.seat != nil
            ? .info("Waiting for an opponent to join match \(screen.matchID).") : nil
    case .event(let matchID, let event):
        guard case .game(var screen) = state.mode, screen.matchID == matchID else { return [] }
        do {
            try screen.match.apply(event)
        } catch {
            state.notice = .error("The match's log does not add up: \(error)")
            return []
        }
        if case .joined(let seat, let name) = event.change, seat != screen.seat {
            state.notice = .info("\(name) joined.")
        } else if case .moved(let seat, _) = event.change, seat != screen.seat, screen.isMyTurn {
            state.notice = nil
        }
        state.mode = .game(screen)
    case .connection(let connection):
        state.network.state = connection
        if case .failed(let error) = connection { state.notice = .error("The server refused the connection: \(error.message)") }
    case .network(let network):
        state.network = network
    case .acknowledged:
        modifyGame(&state) { $0.awaitingAnswer = false }
    case .refused(let message):
        modifyGame(&state) { $0.awaitingAnswer = false }
        state.notice = .error(message)
    case .lobby(let matches):
        if case .lobby(var lobby) = state.mode {
            lobby.matches = matches
            lobby.loading = false
            lobby.selected = min(lobby.selected, max(matches.count - 1, 0))
            state.mode = .lobby(lobby)
        } else {
            var lobby = Lobby()
            lobby.matches = matches
            lobby.loading = false
            state.mode = .lobby(lobby)
        }
    case .failed(let message):
        state.notice = .error(message)
    case .info(let message):
        state.notice = .info(message)
    }
    return []
}

private func modifyGame(_ state: inout PlayState, _ body: (inout GameScreen) -> Void) {
    guard case .game(var screen) = state.mode else { return }
    body(&screen)
    state.mode = .game(screen)
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
    if screen.confirmingResign {
        screen.confirmingResign = false
        if key == .character("y"), match.status == .playing {
            state.notice = .info("Resigning…")
            return [.resign(version: match.version)]
        }
        state.notice = .info("Resignation cancelled.")
        return []
    }
    if match.status == .finished {
        switch key {
        case .character("n"): return [.rematch(match.game)]
        case .character("l") where state.hasLobby: return [.toLobby]
        case .character("q"): return [.quit]
        default: return []
        }
    }
    switch key {
    case .character("q"):
        return [.quit]
    case .character("l") where state.hasLobby && screen.seat == nil:
        return [.toLobby]
    case .left, .character("h"):
        screen.cursor.column = max(0, screen.cursor.column - 1)
    case .right, .character("l"):
        screen.cursor.column = min(board.columns - 1, screen.cursor.column + 1)
    case .up, .character("k"):
        if match.game == .reversi { screen.cursor.row = max(0, screen.cursor.row - 1) }
    case .down, .character("j"):
        if match.game == .reversi { screen.cursor.row = min(board.rows - 1, screen.cursor.row + 1) }
    case .character(let digit) where match.game == .connect4 && digit.wholeNumberValue.map({ (1...board.columns).contains($0) }) == true:
        screen.cursor.column = digit.wholeNumberValue! - 1
        return play(at: screen.cursor, &screen, &state)
    case .enter, .character(" "):
        return play(at: screen.cursor, &screen, &state)
    case .character("p") where match.game == .reversi:
        return play("pass", &screen, &state)
    case .character("r"):
        guard screen.seat != nil, match.status == .playing else { return [] }
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
        switch key {
        case .character("1"): return [.create(.connect4)]
        case .character("2"): return [.create(.reversi)]
        default: return []
        }
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
        lobby.loading = true
        return [.refreshLobby]
    case .enter, .character("v"):
        guard lobby.matches.indices.contains(lobby.selected) else { return [] }
        let match = lobby.matches[lobby.selected]
        let freeSeat = match.status == .waiting && match.seats.contains { $0.name == nil }
        return [key == .enter && freeSeat ? .join(match.id) : .watch(match.id)]
    default:
        break
    }
    return []
}
