import PlyEngine
import PlyWire

/// How a client reaches a match: over one transport, or `auto`: the first of them, in the
/// order of `Transport.allCases`, that works (an upgrade refused or stalled moves on to the next).
public enum TransportChoice: Sendable, Hashable, CustomStringConvertible {
    case over(Transport)
    case auto

    /// `ws`, `longpoll`, ... (a transport's name) or `auto`.
    public init?(argument: String) {
        if argument == "auto" {
            self = .auto
        } else if let transport = Transport(rawValue: argument) {
            self = .over(transport)
        } else {
            return nil
        }
    }

    public var argument: String {
        switch self {
        case .over(let transport): transport.rawValue
        case .auto: "auto"
        }
    }

    public var description: String {
        switch self {
        case .over(let transport): transport.description
        case .auto: "auto"
        }
    }

    /// The transport tried first.
    public var preferred: Transport { candidates[0] }

    /// The transports to try, in order.
    var candidates: [Transport] {
        switch self {
        case .over(let transport): [transport]
        case .auto: Transport.allCases
        }
    }

    /// Every argument there is, for help texts.
    public static var arguments: [String] { Transport.allCases.map(\.rawValue) + ["auto"] }
}

/// Which transport each seat of a match uses: the same choice for both, or one transport each.
public enum SeatTransports: Sendable, Hashable, ArgumentCodable, CustomStringConvertible {
    case same(TransportChoice)
    case each(Transport, Transport)

    /// WebSocket for seat 0 and long-polling for seat 1: both kinds in every match.
    public static let mixed = SeatTransports.each(.webSocket, .longPoll)

    /// The choice a seat uses.
    public func choice(for seat: Seat) -> TransportChoice {
        switch self {
        case .same(let choice): choice
        case .each(let first, let second): .over(seat == .first ? first : second)
        }
    }

    /// A choice for both seats (`ws`, `auto`, ...), `A+B` for one each (`ws+longpoll`), or
    /// `mixed` (`ws+longpoll`).
    public init?(argument: String) {
        if argument == "mixed" {
            self = .mixed
            return
        }
        let parts = argument.split(separator: "+", omittingEmptySubsequences: false)
        if parts.count == 2, let first = Transport(rawValue: String(parts[0])), let second = Transport(rawValue: String(parts[1])) {
            self = .each(first, second)
        } else if let choice = TransportChoice(argument: argument) {
            self = .same(choice)
        } else {
            return nil
        }
    }

    public var argument: String {
        switch self {
        case .same(let choice): choice.argument
        case .each(let first, let second): "\(first.rawValue)+\(second.rawValue)"
        }
    }

    public var description: String {
        switch self {
        case .same(let choice): choice.description
        case .each(let first, let second): "\(first) and \(second)"
        }
    }

    /// How many of a match's seats use each transport (auto counted as its first candidate).
    public var seatsPerMatch: [Transport: Int] {
        var counts: [Transport: Int] = [:]
        for seat in Seat.allCases {
            let transport = switch choice(for: seat) {
            case .over(let transport): transport
            case .auto: Transport.allCases[0]
            }
            counts[transport, default: 0] += 1
        }
        return counts
    }
}
