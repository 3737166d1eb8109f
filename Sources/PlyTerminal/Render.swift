import Foundation
import PlyClient
import PlyEngine
import PlyWire

/// The smallest terminal the screens fit in.
public let minimumSize = (width: 40, height: 16)

/// Draws the whole screen from the state: exactly `height` lines, none wider than `width`.
/// Pure: the same state, size and clock give the same lines.
public func render(_ state: PlayState, width: Int, height: Int, now: ContinuousClock.Instant = .now) -> [Line] {
    guard width >= minimumSize.width, height >= minimumSize.height else {
        let message = ["Terminal too small: \(width)x\(height);", "ply needs \(minimumSize.width)x\(minimumSize.height)."]
        let first = max(height, 1) / 2 - 1
        return (0..<max(height, 1)).map { row in
            message.indices.contains(row - first) ? Line(message[row - first], .warning).clipped(to: width) : Line()
        }
    }
    var body: [Line]
    switch state.mode {
    case _ where state.showHelp: body = helpLines(state)
    case .game(let screen): body = gameLines(screen, state, width: width, now: now)
    case .lobby(let lobby): body = lobbyLines(lobby, state, width: width)
    case .opening(let message): body = ["", Line("  " + message, .dim)]
    }
    let bottom = noticeLines(state)
    let room = height - 1 - bottom.count
    if state.showWire {
        let wire = wireLines(state, width: width, height: max(0, room - body.count - 1))
        if !wire.isEmpty { body += [""] + wire }
    }
    body = Array(body.prefix(room))
    body += Array(repeating: Line(), count: room - body.count)
    return (body + bottom + [statusLine(state, width: width, now: now).clipped(to: width).padded(to: width, .status)]).map { $0.clipped(to: width) }
}

// MARK: Game

/// The game, the match and both seats; on a narrow terminal the match id goes first, then
/// the name of the program, so the players stay in view.
/// - Parameter observer: what to call a reader without a seat.
func title(_ screen: GameScreen, _ state: PlayState, width: Int, observer: String = "watching") -> Line {
    let full = title(screen, state, showing: " ply" + state.glyphs.separator + screen.match.game.title + state.glyphs.separator + "match " + screen.matchID, observer)
    guard full.width > width else { return full }
    let shorter = title(screen, state, showing: " ply" + state.glyphs.separator + screen.match.game.title, observer)
    return shorter.width <= width ? shorter : title(screen, state, showing: " " + screen.match.game.title, observer)
}

private func title(_ screen: GameScreen, _ state: PlayState, showing heading: String, _ observer: String) -> Line {
    let glyphs = state.glyphs
    var line = Line(heading, .title) + Line(glyphs.separator)
    for seat in Seat.allCases {
        let name = screen.match.names[seat.rawValue] ?? "(free seat)"
        let you = seat == screen.seat ? " (you)" : ""
        line = line + Line([Span(glyphs.piece(seat), .piece(seat: seat.rawValue)), Span(" \(name)\(you)")])
        if seat == .first { line = line + Line(" vs ") }
    }
    if screen.seat == nil { line = line + Line(glyphs.separator + observer, .dim) }
    return line
}

private func gameLines(_ screen: GameScreen, _ state: PlayState, width: Int, now: ContinuousClock.Instant) -> [Line] {
    var lines = [title(screen, state, width: width), ""]
    lines += screen.match.position.grids.count > 1 ? gridLines(screen, state, width: width) : boardLines(screen, state)
    lines.append("")
    lines += turnLines(screen, state, narrow: width < 66, now: now)
    return lines
}

/// The board with its frame and labels: Connect Four's column numbers with the cursor's column
/// marked above them, Reversi's letters and numbers with the cursor's cell highlighted.
func boardLines(_ screen: GameScreen, _ state: PlayState) -> [Line] {
    let glyphs = state.glyphs
    let match = screen.match
    let position = match.position
    let board = position.board
    // Aiming at a cell: letters over the columns, numbers by the rows, the cursor on a cell;
    // aiming at a column: numbers over the columns, the cursor above them.
    let cells = match.game.definition.layout.aim == .cell
    let margin = cells ? "    " : "  "
    let legal = screen.isMyTurn ? Set(position.legalMoves) : []
    let last = lastMoveCell(match)
    let winning = winningCells(match)
    var lines: [Line] = []

    if cells {
        let letters = (0..<board.columns).map { column -> Span in
            let label = String(UnicodeScalar(UInt8(ascii: "a") + UInt8(column)))
            return Span(" \(label) ", column == screen.cursor.column && screen.seat != nil ? .cursor : .frame)
        }
        lines.append(Line([Span(margin + " ")] + letters))
    } else {
        let marker = String(repeating: " ", count: margin.count + 1 + 3 * screen.cursor.column + 1) + glyphs.cursorMark
        lines.append(screen.seat != nil && match.status != .finished ? Line(marker, .cursor) : "")
        let numbers = (0..<board.columns).map { column in
            Span(" \(column + 1) ", column == screen.cursor.column && screen.seat != nil ? .cursor : .frame)
        }
        lines.append(Line([Span(margin + " ")] + numbers))
    }
    let rule = String(repeating: glyphs.frame.horizontal, count: 3 * board.columns)
    lines.append(Line(margin + glyphs.frame.topLeft + rule + glyphs.frame.topRight, .frame))
    for row in 0..<board.rows {
        let label = cells ? String(format: "%2d  ", row + 1) : margin
        var spans = [Span(label, .frame), Span(glyphs.frame.vertical, .frame)]
        for column in 0..<board.columns {
            let cell = Cell(row: row, column: column)
            let isCursor = cells && cell == screen.cursor && screen.seat != nil && match.status != .finished
            if let seat = board[row, column] {
                let style: Style = isCursor ? .cursor
                    : winning.contains(cell) ? .winning(seat: seat.rawValue)
                    : cell == last ? .lastMove(seat: seat.rawValue) : .piece(seat: seat.rawValue)
                spans.append(Span(" \(glyphs.piece(seat)) ", style))
            } else if let move = position.move(atRow: row, column: column), cells, legal.contains(move) {
                spans.append(Span(" \(glyphs.legal) ", isCursor ? .cursor : .legal))
            } else {
                spans.append(Span(" \(glyphs.empty) ", isCursor ? .cursor : .dim))
            }
        }
        spans.append(Span(glyphs.frame.vertical, .frame))
        lines.append(Line(spans))
    }
    lines.append(Line(margin + glyphs.frame.bottomLeft + rule + glyphs.frame.bottomRight, .frame))
    return lines
}

/// The cells that decided the game, as its definition says (Connect Four: the line of four).
func winningCells(_ match: Match) -> Set<Cell> {
    let columns = match.position.board.columns
    return Set(match.position.winningCells.map { Cell(row: $0 / columns, column: $0 % columns) })
}

/// The cell of the last move: for Connect Four the top piece of its column.
private func lastMoveCell(_ match: Match) -> Cell? {
    guard let move = match.lastMove?.move else { return nil }
    let board = match.position.board
    for row in 0..<board.rows {
        for column in 0..<board.columns where board[row, column] != nil && match.position.move(atRow: row, column: column) == move {
            return Cell(row: row, column: column)
        }
    }
    return nil
}

/// Whose turn it is and what to press, or how the game ended; shorter on a narrow terminal.
private func turnLines(_ screen: GameScreen, _ state: PlayState, narrow: Bool, now: ContinuousClock.Instant) -> [Line] {
    let glyphs = state.glyphs
    let match = screen.match
    var lines: [Line] = []
    if let score = match.position.score {
        lines.append(Line([
            Span("  \(match.game.definition.layout.scoreName): "), Span(glyphs.piece(.first), .piece(seat: 0)), Span(" \(score[.first] ?? 0)   "),
            Span(glyphs.piece(.second), .piece(seat: 1)), Span(" \(score[.second] ?? 0)"),
        ]))
    }
    let name = { (seat: Seat) in match.names[seat.rawValue] ?? "seat \(seat.rawValue)" }
    switch match.status {
    case .waiting:
        lines.append(Line("  Waiting for an opponent to join match \(screen.matchID)…", .dim))
    case .playing:
        if let lengths = fleetToPlace(screen) {
            let next = screen.placement.nextLength(of: lengths).map { "a ship of \($0) (\(screen.placement.ships.count + 1) of \(lengths.count))" } ?? "sending"
            lines.append(Line("  Place your fleet: \(next).", .good))
            lines.append(Line(narrow ? "  arrows, r turns, Enter, u undo, a random." : "  arrows move it, r turns it, Enter sets it down, u takes one back, a places all at random.", .good))
            break
        }
        // (A seat still placing was handled above: whoever is waited for is someone else.)
        if let waiting = Seat.allCases.first(where: match.awaitsSetup) {
            lines.append(Line("  Waiting for \(name(waiting)) to place a fleet…", .dim))
            if screen.seat != nil { lines.append(Line("  Your fleet is placed.", .dim)) }
            break
        }
        guard let turn = match.turn else { break }
        // The clock goes under whose turn it is (on a short terminal, it is what gives way).
        defer {
            if let deadline = screen.turnDeadline, screen.clockVersion == match.version {
                let seconds = Int((max(.zero, deadline - now) / .seconds(1)).rounded(.up))
                let who = turn == screen.seat ? "You have" : "\(name(turn)) has"
                lines.append(Line("  \(who) " + String(format: "%d:%02d", seconds / 60, seconds % 60) + " left to move", seconds <= 10 ? .warning : .dim))
            }
        }
        if turn == screen.seat {
            let piece = Line(glyphs.piece(turn), .piece(seat: turn.rawValue))
            let layout = match.game.definition.layout
            // The one legal move is a key's (Reversi's pass): say so.
            let only = match.position.legalMoves.count == 1 ? layout.keyMoves.first { $0.move == match.position.legalMoves[0] } : nil
            let hint = if let only {
                narrow ? "no move: Enter or \(only.key) to \(only.move)." : "you have no move. Press Enter or \(only.key) to \(only.move)."
            } else {
                (narrow ? layout.hint.narrow : layout.hint.wide).replacingOccurrences(of: "LEGAL", with: glyphs.legal)
            }
            lines.append(Line("  Your turn (", .good) + piece + Line("): " + hint, .good))
        } else {
            let who = screen.seat == nil ? "\(name(turn)) to move" : "\(name(turn)) is thinking…"
            lines.append(Line("  ") + Line(glyphs.piece(turn), .piece(seat: turn.rawValue)) + Line(" \(who)"))
        }
    case .finished:
        guard let result = match.result else { break }
        let reason = result.reason.rawValue.replacingOccurrences(of: "_", with: " ")
        let headline: Line
        switch (result.winner, screen.seat) {
        case (nil, _): headline = Line("  Draw (\(reason)).", .warning)
        case (let winner?, let seat?) where winner == seat: headline = Line("  You won! (\(reason))", .good)
        case (_, _?): headline = Line("  You lost (\(reason)).", .warning)
        case (let winner?, nil): headline = Line("  \(name(winner)) won (\(reason)).", .good)
        }
        lines.append(headline)
        lines.append(Line("  n: new game" + (state.hasLobby ? glyphs.separator + "l: lobby" : "") + glyphs.separator + "q: quit", .title))
        return lines
    }
    // While placing, `r` turns the ship; a spectator has nothing to resign.
    let resign = screen.seat != nil && fleetToPlace(screen) == nil ? "r: resign" + glyphs.separator : ""
    lines.append(Line("  " + resign + "t: transport" + glyphs.separator + "w: wire view" + glyphs.separator + "?: help"
        + glyphs.separator + "q: quit", .dim))
    return lines
}

// MARK: Lobby

private func lobbyLines(_ lobby: Lobby, _ state: PlayState, width: Int) -> [Line] {
    let glyphs = state.glyphs
    var lines = [Line(" ply", .title) + Line(glyphs.separator + "lobby"), ""]
    if lobby.choosingGame {
        let games = GameID.allCases.enumerated().map { "\($0.offset + 1) \($0.element.title)" }
        lines.append(Line("  New match: " + (games + ["any other key: back"]).joined(separator: glyphs.separator), .good))
    } else {
        lines.append(Line("  Enter: join a free seat or watch" + glyphs.separator + "v: watch" + glyphs.separator + "c: create"
            + glyphs.separator + "r: refresh" + glyphs.separator + "q: quit", .dim))
    }
    lines.append("")
    lines.append(Line("    " + pad("MATCH", 12) + pad("GAME", 14) + pad("STATUS", 10) + "PLAYERS", .frame))
    if lobby.matches.isEmpty {
        lines.append(Line(lobby.loading ? "    Loading…" : "    No matches yet: press c to create one.", .dim))
    }
    for (index, match) in lobby.matches.enumerated() {
        let players = match.seats.map { $0.name ?? "(free)" }.joined(separator: " vs ")
        let text = pad(match.id, 12) + pad(match.game.title, 14) + pad(match.status.rawValue, 10) + players
        lines.append(index == lobby.selected ? Line("  > " + text, .cursor) : Line("    " + text))
    }
    return lines
}

private func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? String(text.prefix(width - 1)) + " " : text + String(repeating: " ", count: width - text.count)
}

// MARK: Help

private func helpLines(_ state: PlayState) -> [Line] {
    let glyphs = state.glyphs
    return [
        Line(" ply", .title) + Line(glyphs.separator + "help"),
        "",
        Line("  In a game", .title),
        "    arrows or h j k l   move the cursor: to a cell, or to a column where pieces fall",
        "    Enter or Space      play at the cursor",
        "    a column's number   where pieces fall: play in that column",
    ] + GameID.allCases.flatMap { game in
        game.definition.layout.keyMoves.map { Line("    \($0.key)                   \(game.title): \($0.help)") }
            + (game.definition.layout.setup == nil ? [] : [
                Line("    placing a fleet     \(game.title): arrows move the ship, r turns it, Enter sets it down,"),
                Line("                        u takes the last one back, a places the whole fleet at random"),
            ])
    } + [
        "    r, then y           resign",
        "    t                   move this game to the next transport (WS, SSE, LP)",
        "    n                   after a game: a new game",
        "    l                   after a game: back to the lobby (on a server)",
        Line("  Anywhere", .title),
        "    w                   show or hide the wire view: the latest exchanges as they crossed the wire",
        "    ?                   show or hide this help",
        "    q                   quit (Ctrl-C too)",
        "",
        Line("  The status bar shows the transport, the connection, the round trip of your moves", .dim),
        Line("  (last, p50, p99), the bytes sent and received, HTTP requests and reconnects.", .dim),
        Line("  Press any key to go back.", .dim),
    ]
}

// MARK: Wire view

/// The latest exchanges, newest last: HTTP request and status lines, or WebSocket frames,
/// each with its overhead (head) and payload (body) in bytes.
/// The latest exchanges: what crossed the wire (request and status lines, frames, and the start
/// of each JSON message), the time since the command that caused it, and its bytes.
private func wireLines(_ state: PlayState, width: Int, height: Int) -> [Line] {
    guard height >= 3 else { return [] }
    let glyphs = state.glyphs
    let columns = "  after cmd   head   body"
    var lines = [Line(pad("  Wire view (\(state.network.transport)): latest exchanges", width - columns.count) + columns, .title)]
    // In the order things happened: an HTTP exchange is recorded when its answer comes, with
    // its request's time.
    let all = state.network.records.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }.map(\.element)
    if all.isEmpty { lines.append(Line("  Nothing has crossed the wire yet.", .dim)) }
    // What comes back is timed from the command it follows: the latest one sent before it (a
    // POST of a command, or a text message: a client sends nothing else).
    var command: ContinuousClock.Instant?
    var since: [Duration?] = []
    for record in all {
        let isCommand = switch (record.direction, record.kind) {
        case (.sent, .request(let line)): line.hasPrefix("POST ") && line.contains("/commands ")
        case (.sent, .frame("text")): true
        default: false
        }
        let isAnswer = switch (record.direction, record.kind) {
        case (.received, .response), (.received, .frame): true
        default: false
        }
        since.append(isAnswer ? command.map { record.at - $0 } : nil)
        if isCommand { command = record.at }
    }
    let shown = max(0, all.count - (height - 1))
    for (record, after) in zip(all[shown...], since[shown...]) {
        let arrow = record.direction == .sent ? glyphs.sent : glyphs.received
        var what: String
        switch record.kind {
        case .request(let line), .response(let line): what = line
        case .frame(let opcode): what = "\(opcode) frame"
        case .event(let id): what = "event \(id)"
        case .connection(let event): what = event
        }
        // Compressed: the payload column is its bytes on the wire, and this says what they inflated to.
        if let plain = record.plainPayloadBytes { what += " (\(plain) B inflated)" }
        if let preview = record.preview { what += "  " + preview }
        var numbers = after.map { ("+" + milliseconds($0)).leftPadded(to: 11) } ?? String(repeating: " ", count: 11)
        if case .connection = record.kind {
            numbers += String(repeating: " ", count: 14)
        } else {
            numbers += String(format: "%7d %6d", record.overheadBytes, record.payloadBytes)
        }
        let text = "  \(arrow) " + what
        let room = width - numbers.count - 1
        let clipped = text.count > room ? String(text.prefix(max(0, room - 1))) + "…" : text
        lines.append(Line(pad(clipped, room + 1) + numbers, record.direction == .sent ? .plain : .dim))
    }
    return lines
}

/// Round trips as a sparkline, each against the largest of them, and a space after it; nothing
/// when there are none.
func sparkline(_ durations: [Duration], _ glyphs: Glyphs) -> String {
    guard let largest = durations.max() else { return "" }
    guard largest > .zero else { return String(repeating: glyphs.sparks[0], count: durations.count) + " " }
    let top = glyphs.sparks.count - 1
    return String(durations.map { glyphs.sparks[min(top, Int((($0 / largest) * Double(top)).rounded()))] }) + " "
}

// MARK: Notice and status

private func noticeLines(_ state: PlayState) -> [Line] {
    switch state.notice {
    case .info(let text): [Line("  " + text, .good)]
    case .error(let text): [Line("  " + text, .warning)]
    case nil: [""]
    }
}

/// The status bar: the transport, the connection, round trips, bytes, requests, reconnects.
/// On a narrow terminal each field shortens, the least needed first, rather than being cut off.
private func statusLine(_ state: PlayState, width: Int, now: ContinuousClock.Instant) -> Line {
    let network = state.network
    let glyphs = state.glyphs
    let trips = network.roundTrips
    let totals = network.totals
    let connection: (long: String, short: String) = switch network.state {
    case .connected: ("connected", "connected")
    case .reconnecting(let attempt, let retryAt):
        (String(format: "reconnecting in %.1f s (attempt %d)", seconds(retryAt - now), attempt),
         String(format: "retry in %.0f s", seconds(retryAt - now).rounded(.up)))
    case .failed(let error): ("failed: \(error.code)", "failed")
    case .closed: ("closed", "closed")
    case nil: ("not connected", "offline")
    }
    let roundTrip: (long: String, short: String) = if let last = trips.last {
        ("rtt \(milliseconds(last)) \(sparkline(trips.recent, glyphs))(p50 \(trips.p50.map(milliseconds) ?? "-"), p99 \(trips.p99.map(milliseconds) ?? "-"))",
         "rtt \(milliseconds(last))")
    } else {
        ("rtt -", "rtt -")
    }
    let wire = "\(glyphs.up)\(bytes(totals.bytesSent)) \(glyphs.down)\(bytes(totals.bytesReceived))"
    let transport = network.transport.abbreviation
    // From the whole bar to its bare bones; the first that fits is drawn.
    let versions: [[String]] = [
        ["\(network.transport)", connection.long, roundTrip.long, wire, counted(totals.httpRequests, "HTTP request"), counted(totals.reconnects, "reconnect")],
        ["\(network.transport)", connection.long, roundTrip.short + " " + sparkline(trips.recent, glyphs).dropLast(), wire,
         "\(totals.httpRequests) req", "\(totals.reconnects) reconn"],
        ["\(network.transport)", connection.long, roundTrip.short, wire, "\(totals.httpRequests) req", "\(totals.reconnects) reconn"],
        ["\(network.transport)", connection.long, roundTrip.short, wire],
        ["\(network.transport)", connection.long, roundTrip.short],
        [transport, connection.short, roundTrip.short, wire],
        [transport, connection.short, roundTrip.short],
        [transport, connection.short],
    ]
    let texts = versions.map { " " + $0.joined(separator: glyphs.separator) + " " }
    return Line(texts.first { $0.count <= width } ?? texts[texts.count - 1], .status)
}

private func seconds(_ duration: Duration) -> Double {
    max(0, Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
}

func milliseconds(_ duration: Duration) -> String {
    let (seconds, attoseconds) = duration.components
    return String(format: "%.2f ms", Double(seconds) * 1000 + Double(attoseconds) / 1e15)
}

/// "1 HTTP request", "7 HTTP requests".
func counted(_ count: Int, _ noun: String) -> String {
    count == 1 ? "1 \(noun)" : "\(count) \(noun)s"
}

func bytes(_ count: Int) -> String {
    switch count {
    case ..<1000: "\(count) B"
    case ..<1_000_000: String(format: "%.1f kB", Double(count) / 1000)
    default: String(format: "%.1f MB", Double(count) / 1_000_000)
    }
}
