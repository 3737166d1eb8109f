import ArgumentParser

/// A command-line duration in whole milliseconds: `40ms`, or `40`.
struct Milliseconds: ExpressibleByArgument, Sendable, Hashable {
    let value: Int

    init(_ value: Int) {
        self.value = value
    }

    init?(argument: String) {
        let digits = argument.hasSuffix("ms") ? String(argument.dropLast(2)) : argument
        guard let value = Int(digits), value >= 0 else { return nil }
        self.value = value
    }

    var defaultValueDescription: String { "\(value)ms" }
}
