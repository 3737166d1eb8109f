/// One of the two seats at a board. The first seat moves first.
public enum Seat: Int, CaseIterable, Codable, Hashable, Sendable, CustomStringConvertible {
    case first = 0
    case second = 1

    /// The other seat.
    public var opponent: Seat { self == .first ? .second : .first }

    public var description: String { self == .first ? "first" : "second" }
}
