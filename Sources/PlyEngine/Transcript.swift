/// A match's log as text for people, move by move: what `ply replay` prints.
public enum Transcript {
    /// - Parameter boards: also draw the board after every move.
    public static func text(id: String, log: [MatchEvent], boards: Bool = false) throws(MatchError) -> String {
        guard let first = log.first else { throw .corruptLog("the log is empty") }
        var match = try Match(replaying: [first])
        var lines = ["Match \(id) · \(match.game.title)"
            + (match.options.moveTimeLimit.map { " · \($0) s per move" } ?? "")]
        var moves = 0
        func name(_ seat: Seat) -> String {
            "\(match.names[seat.rawValue] ?? "seat \(seat.rawValue)") (\(seat == .first ? "x" : "o"))"
        }
        for event in log.dropFirst() {
            try match.apply(event)
            switch event.change {
            case .created:
                break
            case .joined(let seat, _):
                lines.append("  \(name(seat)) takes seat \(seat.rawValue)")
            case .placed(let seat, let fleet):
                lines.append("     \(name(seat)) places a fleet" + (fleet.map { ": \($0)" } ?? ""))
            case .moved(let seat, let move, let result):
                moves += 1
                let number = String(moves).leftPadded(to: 3)
                let found = result.map { result in
                    if case .sunk(let length) = result { " sunk (\(length))" } else { " \(result.name)" }
                } ?? ""
                lines.append("\(number). \(name(seat)) \(move)\(found)")
                if boards { lines += match.position.textRows.map { "       \($0)" } }
            case .resigned(let seat):
                lines.append("     \(name(seat)) resigns")
            case .timedOut(let seat):
                lines.append("     \(name(seat)) ran out of time")
            case .ended(let result, let fleets):
                for (seat, fleet) in zip(Seat.allCases, fleets ?? []) {
                    lines.append("     \(name(seat))'s fleet: \(fleet ?? "not placed")")
                }
                let outcome = result.winner.map { "\(name($0)) wins" } ?? "Draw"
                lines.append("Result: \(outcome) (\(result.reason.rawValue.replacingUnderscores)) after \(moves) move\(moves == 1 ? "" : "s")")
            }
        }
        if match.status != .finished { lines.append("Not finished: \(match.status.rawValue) at version \(match.version)") }
        if !boards || moves == 0 { lines += match.position.textRows.map { "       \($0)" } }
        return lines.joined(separator: "\n")
    }
}

extension String {
    /// The text right-aligned in `width` characters (as it is when longer).
    public func leftPadded(to width: Int) -> String { String(repeating: " ", count: max(0, width - count)) + self }
}

private extension String {
    var replacingUnderscores: String { String(map { $0 == "_" ? " " : $0 }) }
}
