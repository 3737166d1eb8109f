import PlyClient
import PlyEngine

/// A stored match stepped through version by version: what `ply replay MATCH` shows in a
/// terminal. `updateReplay` and `renderReplay` are pure, like the game's.
public struct ReplayState: Sendable {
    public let id: String
    public let log: [MatchEvent]
    /// The match as it stood after `shown` events (1 is its creation).
    public private(set) var match: Match
    public private(set) var shown: Int
    public var glyphs: Glyphs

    /// Starts at the end of the log: the finished board first, as the transcript does.
    public init(id: String, log: [MatchEvent], glyphs: Glyphs = .unicode) throws(MatchError) {
        guard !log.isEmpty else { throw .corruptLog("the log is empty") }
        self.id = id
        self.log = log
        self.glyphs = glyphs
        match = try Match(replaying: log)
        shown = log.count
    }

    /// Shows the match after `count` events (clamped to the log).
    mutating func show(_ count: Int) {
        let count = min(max(count, 1), log.count)
        guard count != shown else { return }
        // The log replayed once already, so a prefix of it replays too.
        guard let match = try? Match(replaying: log.prefix(count)) else { return }
        self.match = match
        shown = count
    }
}

/// A key in the replay: returns false to quit.
public func updateReplay(_ state: inout ReplayState, _ key: Key) -> Bool {
    switch key {
    case .right, .character("l"), .character(" "), .enter: state.show(state.shown + 1)
    case .left, .character("h"): state.show(state.shown - 1)
    case .home, .character("g"): state.show(1)
    case .end, .character("G"): state.show(state.log.count)
    case .character("q"), .escape: return false
    default: break
    }
    return true
}

/// The replay's screen: exactly `height` lines, none wider than `width`.
public func renderReplay(_ state: ReplayState, width: Int, height: Int) -> [Line] {
    guard width >= minimumSize.width, height >= minimumSize.height else {
        return render(PlayState(mode: .opening(""), transport: .webSocket, hasLobby: false), width: width, height: height)
    }
    let glyphs = state.glyphs
    let screen = GameScreen(matchID: state.id, seat: nil, match: state.match, againstBot: false)
    let view = PlayState(mode: .game(screen), transport: .webSocket, hasLobby: false, glyphs: glyphs)
    var lines = [title(screen, view, width: width, observer: "replay"), ""]
    lines += screen.match.position.grids.count > 1 ? gridLines(screen, view, width: width) : boardLines(screen, view)
    lines.append("")
    lines.append(Line("  Version \(state.shown) of \(state.log.count): ", .title) + Line(happened(state.log[state.shown - 1], in: state.match, glyphs)))
    let keys = Line("  \(glyphs.received) \(glyphs.sent) or h l: step" + glyphs.separator + "Home End: first, last" + glyphs.separator + "q: quit", .dim)
    let body = Array(lines.prefix(height - 1))
    return (body + Array(repeating: Line(), count: height - 1 - body.count) + [keys]).map { $0.clipped(to: width) }
}

/// What an event did, in words.
private func happened(_ event: MatchEvent, in match: Match, _ glyphs: Glyphs) -> String {
    func name(_ seat: Seat) -> String { "\(match.names[seat.rawValue] ?? "seat \(seat.rawValue)") (\(glyphs.piece(seat)))" }
    switch event.change {
    case .created: return "\(match.game.title) created"
    case .joined(let seat, _): return "\(name(seat)) took seat \(seat.rawValue)"
    case .placed(let seat, let fleet): return "\(name(seat)) placed a fleet" + (fleet.map { ": \($0)" } ?? "")
    case .moved(let seat, let move, let result): return "\(name(seat)) played \(move)" + (result.map { ": \(describe($0))" } ?? "")
    case .resigned(let seat): return "\(name(seat)) resigned"
    case .timedOut(let seat): return "\(name(seat)) ran out of time"
    case .ended(let result, _):
        let reason = result.reason.rawValue.replacingOccurrences(of: "_", with: " ")
        return (result.winner.map { "\(name($0)) won" } ?? "a draw") + " (\(reason))"
    }
}

/// A shot's result in words.
func describe(_ result: ShotResult) -> String {
    if case .sunk(let length) = result { return "sunk a ship of \(length)" }
    return result.name
}

/// `ply replay MATCH` in a terminal: step through the match until `q`.
@MainActor
public final class ReplayApp {
    private var state: ReplayState
    private let session: TerminalSession<Never>

    public init(id: String, log: [MatchEvent], glyphs: Glyphs, colour: Bool) throws(MatchError) {
        state = try ReplayState(id: id, log: log, glyphs: glyphs)
        session = TerminalSession(colour: colour)
    }

    /// Whether a signal ended the replay.
    public var wasInterrupted: Bool { TerminalSession<Never>.wasInterrupted }

    public func run() async {
        await session.run(lines: { [unowned self] width, height in renderReplay(state, width: width, height: height) }) { [unowned self] message in
            guard case .key(let key) = message else { return true }
            return updateReplay(&state, key)
        }
    }
}
