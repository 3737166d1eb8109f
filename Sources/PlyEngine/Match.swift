/// A game between two seats, kept as an append-only event log.
///
/// Commands (`join`, `play`, `resign`, `expireTurn`) check everything first and then append
/// events through the same reducer that `init(replaying:)` uses, so the state of a match is
/// always the replay of its log: the same log gives the same match.
public struct Match: Sendable {
    public static let maxNameLength = 32

    public let game: GameID
    public let options: MatchOptions
    /// Every event so far; event `i` has version `i + 1`.
    public private(set) var events: [MatchEvent]
    /// Each seat's player name, nil while the seat is free.
    public private(set) var names: [String?] = [nil, nil]
    /// The position on the board.
    public private(set) var position: any Position
    /// How the match ended, once it has.
    public private(set) var result: GameResult?
    /// A result decided by the last event, waiting for its `ended` event (only seen mid-replay).
    private var pendingResult: GameResult?

    /// Opens a match: its log starts with a `created` event at version 1.
    public init(game: GameID, options: MatchOptions = MatchOptions()) throws(MatchError) {
        if let limit = options.moveTimeLimit, !MatchOptions.moveTimeLimitRange.contains(limit) {
            throw .invalidOptions("moveTimeLimit must be within \(MatchOptions.moveTimeLimitRange) seconds")
        }
        self.game = game
        self.options = options
        self.position = game.initialPosition
        self.events = [MatchEvent(version: 1, change: .created(game: game, options: options))]
    }

    /// Rebuilds a match from its log, checking that every event is a legal step.
    public init(replaying log: some Sequence<MatchEvent>) throws(MatchError) {
        var iterator = log.makeIterator()
        guard let first = iterator.next(), first.version == 1,
              case .created(let game, let options) = first.change else {
            throw .corruptLog("the first event must be 'created' at version 1")
        }
        try self.init(game: game, options: options)
        while let event = iterator.next() { try apply(event) }
    }

    /// Appends one event received from elsewhere (a client's replica of a server's match),
    /// checked like replay: it must be the next version and a legal step.
    public mutating func apply(_ event: MatchEvent) throws(MatchError) {
        guard event.version == version + 1 else {
            throw .corruptLog("version \(event.version) follows version \(version)")
        }
        try record(event.change)
    }

    /// The version of the latest event.
    public var version: Int { events.count }

    public var status: MatchStatus {
        if result != nil { return .finished }
        return names.allSatisfy { $0 != nil } ? .playing : .waiting
    }

    /// The seat to move, while the game is being played. Nil once the game is decided, even
    /// in a log that stops between the deciding event and its `ended`.
    public var turn: Seat? { status == .playing && pendingResult == nil ? position.turn : nil }

    /// The latest move played, if any.
    public var lastMove: (seat: Seat, move: String)? {
        for event in events.reversed() {
            if case .moved(let seat, let move, _) = event.change { return (seat, move) }
        }
        return nil
    }

    /// The events after a version, in order; all of them for version 0.
    public func events(after version: Int) -> ArraySlice<MatchEvent> {
        events[min(max(version, 0), events.count)...]
    }

    // MARK: Commands

    /// Takes the first free seat.
    @discardableResult
    public mutating func join(name: String) throws(MatchError) -> (seat: Seat, events: ArraySlice<MatchEvent>) {
        guard result == nil else { throw .finished }
        guard let index = names.firstIndex(where: { $0 == nil }), let seat = Seat(rawValue: index) else { throw .full }
        let name = try Self.validName(name)
        return (seat, try appending(.joined(seat: seat, name: name)))
    }

    /// Plays a move for a seat, made against the match's current version.
    /// The move is recorded in the game's one spelling of it, however it was sent.
    @discardableResult
    public mutating func play(_ move: String, by seat: Seat, against version: Int) throws(MatchError) -> ArraySlice<MatchEvent> {
        try checkCommand(by: seat, against: version, needsTurn: true)
        let canonical: String
        do {
            canonical = try position.canonical(move)
        } catch {
            throw .rule(error)
        }
        return try appending(.moved(seat: seat, move: canonical))
    }

    /// Makes a seat's secret setup (Battleship: places its fleet), once, while the game is on.
    /// Setups do not depend on each other, so the version is not checked: a seat may place
    /// whether or not the other already has.
    @discardableResult
    public mutating func place(_ setup: String, by seat: Seat) throws(MatchError) -> ArraySlice<MatchEvent> {
        switch status {
        case .finished: throw .finished
        case .waiting: throw .notStarted
        case .playing: break
        }
        let canonical: String
        do {
            canonical = try position.canonicalSetup(setup)
        } catch {
            throw .rule(error)
        }
        guard position.awaitsSetup(from: seat) else { throw .rule(.alreadyPlaced) }
        return try appending(.placed(seat: seat, fleet: canonical))
    }

    /// Whether a seat still has its secret setup to make before play.
    public func awaitsSetup(from seat: Seat) -> Bool {
        status == .playing && position.awaitsSetup(from: seat)
    }

    /// The match as a seat (or, for nil, a spectator) may see it: events with other seats'
    /// setups hidden and, until the end, the position without what the viewer may not see.
    public func view(for viewer: Seat?) -> Match {
        guard position.hidesInformation else { return self }
        var view = self
        view.events = events.map { $0.view(for: viewer) }
        if result == nil { view.position = position.view(for: viewer) }
        return view
    }

    /// Resigns for a seat; the other seat wins.
    @discardableResult
    public mutating func resign(_ seat: Seat, against version: Int) throws(MatchError) -> ArraySlice<MatchEvent> {
        try checkCommand(by: seat, against: version, needsTurn: false)
        return try appending(.resigned(seat: seat))
    }

    /// Ends the match because the seat to move let its time limit pass. The version guards
    /// against a timer that fires after the move it was waiting for.
    @discardableResult
    public mutating func expireTurn(of seat: Seat, against version: Int) throws(MatchError) -> ArraySlice<MatchEvent> {
        try checkCommand(by: seat, against: version, needsTurn: true)
        return try appending(.timedOut(seat: seat))
    }

    private func checkCommand(by seat: Seat, against version: Int, needsTurn: Bool) throws(MatchError) {
        switch status {
        case .finished: throw .finished
        case .waiting: throw .notStarted
        case .playing: break
        }
        guard version == self.version else { throw .staleVersion(sent: version, current: self.version) }
        if needsTurn, position.turn != seat { throw .notYourTurn }
    }

    /// Records a change and, when it decides the game, the `ended` event that follows it.
    private mutating func appending(_ change: MatchEvent.Change) throws(MatchError) -> ArraySlice<MatchEvent> {
        let start = events.count
        try record(change)
        if let decided = pendingResult {
            try record(.ended(decided, fleets: position.hidesInformation ? position.setups : nil))
        }
        return events[start...]
    }

    // MARK: The reducer

    /// Checks that a change may follow the log, then appends it. Nothing changes when it throws.
    private mutating func record(_ change: MatchEvent.Change) throws(MatchError) {
        var recorded = change
        if let pending = pendingResult {
            guard case .ended(let result, _) = change, result == pending else {
                throw .corruptLog("expected 'ended' with \(pending) at version \(version + 1)")
            }
        } else if result != nil {
            throw .corruptLog("an event after 'ended'")
        }
        switch change {
        case .created:
            throw .corruptLog("a second 'created' event")
        case .joined(let seat, let name):
            guard names[seat.rawValue] == nil, names.firstIndex(where: { $0 == nil }) == seat.rawValue else {
                throw .corruptLog("seat \(seat.rawValue) joined out of order")
            }
            names[seat.rawValue] = try Self.validName(name)
        case .placed(let seat, let fleet):
            guard status == .playing else { throw .corruptLog("a setup outside play") }
            do {
                position = try position.settingUp(fleet, by: seat)
            } catch {
                throw .rule(error)
            }
        case .moved(let seat, let move, let told):
            guard status == .playing, position.turn == seat else { throw .corruptLog("seat \(seat.rawValue) moved out of turn") }
            let report: ShotResult?
            do {
                (position, report) = try position.playing(move, told: told)
            } catch {
                throw .rule(error)
            }
            // The event records what the move found, whether told or decided here.
            recorded = .moved(seat: seat, move: move, result: report)
            pendingResult = position.outcome.result
        case .resigned(let seat):
            guard status == .playing else { throw .corruptLog("a resignation outside play") }
            pendingResult = GameResult(winner: seat.opponent, reason: .resignation)
        case .timedOut(let seat):
            guard status == .playing, position.turn == seat else { throw .corruptLog("a timeout for the seat not to move") }
            pendingResult = GameResult(winner: seat.opponent, reason: .timeout)
        case .ended(let ended, let fleets):
            guard pendingResult == ended else { throw .corruptLog("'ended' without a decided game") }
            if let fleets {
                do {
                    position = try position.revealing(fleets)
                } catch {
                    throw .rule(error)
                }
            }
            result = ended
            pendingResult = nil
        }
        events.append(MatchEvent(version: events.count + 1, change: recorded))
    }

    /// The most bytes a name may take in UTF-8 (besides at most `maxNameLength` characters).
    public static let maxNameBytes = 64

    /// A name as it is kept: trimmed, 1 to 32 characters and at most 64 bytes, with no control,
    /// format (such as right-to-left overrides or zero-width characters) or separator character
    /// other than the plain space.
    static func validName(_ name: String) throws(MatchError) -> String {
        let trimmed = name.trimmingWhitespace
        guard (1...maxNameLength).contains(trimmed.count), trimmed.utf8.count <= maxNameBytes,
              trimmed.unicodeScalars.allSatisfy(isAllowedInName) else {
            throw .invalidName
        }
        return trimmed
    }

    private static func isAllowedInName(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .privateUse, .unassigned: false
        case .spaceSeparator: scalar == " "
        default: true
        }
    }
}
