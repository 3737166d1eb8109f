import PlyEngine

/// A fleet being placed on screen, ship by ship, before it goes to the server in one command.
public struct Placement: Sendable, Hashable {
    /// The ships placed so far, in the order of the lengths to place.
    public var ships: [Battleship.Ship] = []
    /// Whether the next ship lies across a row (else down a column).
    public var across = true

    public init() {}

    /// The length of the next ship to place, nil once all are placed.
    func nextLength(of lengths: [Int]) -> Int? {
        lengths.indices.contains(ships.count) ? lengths[ships.count] : nil
    }

    /// The next ship as it would lie with its top or left end at the cursor, moved back onto
    /// the grid where it would stick out.
    func preview(at cursor: Cell, lengths: [Int]) -> Battleship.Ship? {
        guard let length = nextLength(of: lengths) else { return nil }
        let column = across ? min(cursor.column, Battleship.size - length) : cursor.column
        let row = across ? cursor.row : min(cursor.row, Battleship.size - length)
        return Battleship.Square(column: column, row: row).flatMap { Battleship.Ship(start: $0, length: length, across: across) }
    }
}

// MARK: Keys

/// A key while the player places a fleet: arrows move the next ship, `r` turns it, Enter or
/// Space sets it down, `u` takes the last one back, `a` places the whole fleet at
/// random (`random`, drawn by the caller for that key). The fleet is sent when its last ship
/// is set down. Nil for keys placing does not use.
func placing(_ key: Key, lengths: [Int], _ screen: inout GameScreen, _ state: inout PlayState, random: String?) -> [Effect]? {
    guard !screen.awaitingAnswer else {
        switch key {
        case .up, .down, .left, .right, .enter, .character(" "), .character("r"), .character("a"), .character("u"):
            state.notice = .info("Your fleet is on its way.")
            return []
        default:
            return nil
        }
    }
    switch key {
    case .left, .character("h"): screen.cursor.column = max(0, screen.cursor.column - 1)
    case .right, .character("l"): screen.cursor.column = min(Battleship.size - 1, screen.cursor.column + 1)
    case .up, .character("k"): screen.cursor.row = max(0, screen.cursor.row - 1)
    case .down, .character("j"): screen.cursor.row = min(Battleship.size - 1, screen.cursor.row + 1)
    case .character("r"):
        screen.placement.across.toggle()
    case .character("u"):
        guard !screen.placement.ships.isEmpty else { return [] }
        screen.placement.ships.removeLast()
        state.notice = nil
    case .character("a"):
        guard let random else { return [] }
        return sendFleet(random, &screen, &state)
    case .enter, .character(" "):
        guard let ship = screen.placement.preview(at: screen.cursor, lengths: lengths) else { return [] }
        if let conflict = Battleship.conflict(placing: ship, beside: screen.placement.ships) {
            state.notice = .error(conflict.message)
            return []
        }
        screen.placement.ships.append(ship)
        state.notice = nil
        if screen.placement.nextLength(of: lengths) == nil {
            return sendFleet(Battleship.notation(screen.placement.ships), &screen, &state)
        }
    default:
        return nil
    }
    // The cursor follows the ship, kept on the grid.
    if let ship = screen.placement.preview(at: screen.cursor, lengths: lengths) { screen.cursor = Cell(row: ship.start.row, column: ship.start.column) }
    return []
}

private func sendFleet(_ fleet: String, _ screen: inout GameScreen, _ state: inout PlayState) -> [Effect] {
    screen.awaitingAnswer = true
    state.notice = .info("Placing your fleet…")
    return [.place(fleet: fleet, version: screen.match.version)]
}

/// Whether the player on screen is placing a fleet now, and the lengths to place.
func fleetToPlace(_ screen: GameScreen) -> [Int]? {
    guard let seat = screen.seat, screen.match.awaitsSetup(from: seat),
          case .fleet(let lengths)? = screen.match.game.definition.layout.setup else { return nil }
    return lengths
}

// MARK: Drawing

/// A game with a grid per seat: the player's own fleet on the left (with the ships being
/// placed) and the other seat's waters on the right, where the cursor aims once firing; a
/// spectator sees both seats' waters.
func gridLines(_ screen: GameScreen, _ state: PlayState, width: Int) -> [Line] {
    let glyphs = state.glyphs
    let match = screen.match
    let grids = match.position.grids
    let left = screen.seat ?? .first, right = left.opponent
    let name = { (seat: Seat) in match.names[seat.rawValue] ?? "seat \(seat.rawValue)" }
    let lengths = fleetToPlace(screen)
    let placed = Set(screen.placement.ships.flatMap(\.squares))
    let preview = lengths.flatMap { screen.placement.preview(at: screen.cursor, lengths: $0) }
    let previewBlocked = preview.map { Battleship.conflict(placing: $0, beside: screen.placement.ships) != nil } ?? false
    let firing = screen.seat != nil && lengths == nil && match.status == .playing
    // Cells narrow with the terminal, so that both grids stay in view down to 40 columns.
    let cell = width >= 80 ? 3 : width >= 56 ? 2 : 1
    let rule = String(repeating: glyphs.frame.horizontal, count: cell * Battleship.size)
    let gap = "  "
    let lastShot = match.lastMove.flatMap { try? Battleship.Square(notation: $0.move) }
    let lastShooter = match.lastMove?.seat

    func heading(_ text: String) -> String { " " + text.padding(toLength: cell * Battleship.size + 5, withPad: " ", startingAt: 0) }
    let titles = screen.seat == nil ? ("\(name(left))'s waters", "\(name(right))'s waters") : ("Your fleet", "\(name(right))'s waters")
    var lines = [Line(heading(titles.0) + gap + heading(titles.1), .title)]
    let letters = (0..<Battleship.size).map { column -> String in
        let label = String(UnicodeScalar(UInt8(ascii: "a") + UInt8(column)))
        return cell == 3 ? " \(label) " : cell == 2 ? " \(label)" : label
    }.joined()
    lines.append(Line("    " + letters + " " + gap + "    " + letters, .frame))
    let top = "   " + glyphs.frame.topLeft + rule + glyphs.frame.topRight
    let bottom = "   " + glyphs.frame.bottomLeft + rule + glyphs.frame.bottomRight
    lines.append(Line(top + gap + top, .frame))
    for row in 0..<Battleship.size {
        var spans: [Span] = []
        for (side, seat) in [left, right].enumerated() {
            if side == 1 { spans.append(Span(gap)) }
            spans.append(Span(String(row + 1).leftPadded(to: 2) + " " + glyphs.frame.vertical, .frame))
            for column in 0..<Battleship.size {
                let here = Cell(row: row, column: column)
                var mark = grids.indices.contains(seat.rawValue) ? grids[seat.rawValue][row][column] : .empty
                var style = markStyle(mark)
                if side == 0, lengths != nil, let square = Battleship.Square(column: column, row: row) {
                    if preview?.squares.contains(square) == true {
                        mark = .ship
                        style = previewBlocked ? .warning : .cursor
                    } else if placed.contains(square) {
                        mark = .ship
                        style = .piece(seat: seat.rawValue)
                    }
                }
                if let lastShot, lastShooter == seat.opponent, lastShot.row == row, lastShot.column == column, mark != .empty {
                    style = .lastMove(seat: seat.opponent.rawValue)
                }
                if side == 1, firing, here == screen.cursor { style = .cursor }
                let text = glyphs.mark(mark)
                spans.append(Span(cell == 3 ? " \(text) " : cell == 2 ? " \(text)" : text, style))
            }
            spans.append(Span(glyphs.frame.vertical, .frame))
        }
        lines.append(Line(spans))
    }
    lines.append(Line(bottom + gap + bottom, .frame))
    return lines
}

private func markStyle(_ mark: Mark) -> Style {
    switch mark {
    case .empty: .dim
    case .piece(let seat): .piece(seat: seat.rawValue)
    case .ship: .piece(seat: 0)
    case .miss: .frame
    case .hit: .warning
    case .sunk: .winning(seat: 1)
    }
}
