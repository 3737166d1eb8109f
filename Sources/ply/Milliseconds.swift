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

/// A command-line span of time in seconds, minutes or hours: `90`, `90s`, `30m`, `1h`.
struct TimeSpan: ExpressibleByArgument, Sendable, Hashable {
    let seconds: Int

    init(seconds: Int) {
        self.seconds = seconds
    }

    init?(argument: String) {
        let units = ["s": 1, "m": 60, "h": 3600]
        let unit = argument.last.flatMap { units[String($0)] }
        guard let number = Int(unit == nil ? argument : String(argument.dropLast())), number > 0 else { return nil }
        seconds = number * (unit ?? 1)
    }

    var duration: Duration { .seconds(seconds) }
    var defaultValueDescription: String { seconds % 60 == 0 ? "\(seconds / 60)m" : "\(seconds)s" }
}
