/// Why a match refused a command. Each case has a stable wire code.
public enum MatchError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The game's rules forbid the move.
    case rule(RuleViolation)
    /// The command was made against an older (or unknown) version than the match's current one.
    case staleVersion(sent: Int, current: Int)
    /// It is the other seat's turn.
    case notYourTurn
    /// The game has not started: a seat is still free.
    case notStarted
    /// The game has ended.
    case finished
    /// Both seats are taken.
    case full
    /// A player name must be 1 to 32 printable characters.
    case invalidName
    /// The options are outside their documented ranges.
    case invalidOptions(String)
    /// A log that is not a valid history of a match (replay only).
    case corruptLog(String)

    public var code: ErrorCode {
        switch self {
        case .rule(let violation): violation.code
        case .staleVersion: .staleVersion
        case .notYourTurn: .notYourTurn
        case .notStarted: .notStarted
        case .finished: .finished
        case .full: .full
        case .invalidName: .invalidName
        case .invalidOptions: .invalidOptions
        case .corruptLog: .corruptLog
        }
    }

    public var message: String {
        switch self {
        case .rule(let violation): violation.message
        case .staleVersion(let sent, let current): "command made against version \(sent), but the match is at version \(current)"
        case .notYourTurn: "it is not your turn"
        case .notStarted: "the match is waiting for a second player"
        case .finished: "the match has ended"
        case .full: "both seats are taken"
        case .invalidName: "a name must be 1 to \(Match.maxNameLength) characters (at most \(Match.maxNameBytes) bytes), with no control, format or separator character but the space"
        case .invalidOptions(let detail): detail
        case .corruptLog(let detail): "the event log is not a valid match: \(detail)"
        }
    }

    public var description: String { "\(code): \(message)" }
}
