import ArgumentParser
import PlyClient
import PlyWire

/// `--transport ws|longpoll|...|auto` (the transports' own names, in `Transport`).
extension TransportChoice: ExpressibleByArgument {
    public var defaultValueDescription: String { argument }
    public static var allValueStrings: [String] { arguments }
}

/// `--transport` for games with two seats: a choice for both, `A+B` for one each, or `mixed`.
extension SeatTransports: ExpressibleByArgument {
    public var defaultValueDescription: String { argument }
    public static var allValueStrings: [String] { TransportChoice.arguments + ["mixed", "A+B"] }
}

extension Transport {
    /// The transports' names, for help texts: `ws, longpoll`.
    static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}
