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

extension Milliseconds {
    /// `MIN-MAX` in milliseconds, e.g. `50-150`; nil unless 0 <= MIN <= MAX.
    static func range(_ text: String) -> ClosedRange<Int>? {
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 2, parts[0] >= 0, parts[0] <= parts[1] else { return nil }
        return parts[0]...parts[1]
    }

    /// The same range as durations.
    static func durations(_ text: String) -> ClosedRange<Duration>? {
        range(text).map { .milliseconds($0.lowerBound) ... .milliseconds($0.upperBound) }
    }
}
