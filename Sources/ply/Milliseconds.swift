import ArgumentParser

/// A command-line duration in whole milliseconds: `40ms`, or `40`, at most an hour.
struct Milliseconds: ExpressibleByArgument, Sendable, Hashable {
    let value: Int
    static let most = 3_600_000

    init(_ value: Int) {
        self.value = value
    }

    init?(argument: String) {
        let digits = argument.hasSuffix("ms") ? String(argument.dropLast(2)) : argument
        guard let value = Int(digits), (0...Self.most).contains(value) else { return nil }
        self.value = value
    }

    var defaultValueDescription: String { "\(value)ms" }
}

extension Milliseconds {
    /// `MIN-MAX` in milliseconds, e.g. `50-150`; nil unless 0 <= MIN <= MAX <= an hour.
    static func range(_ text: String) -> ClosedRange<Int>? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 2, let low = parts[0], let high = parts[1], low >= 0, low <= high, high <= most else { return nil }
        return low...high
    }

    /// The same range as durations.
    static func durations(_ text: String) -> ClosedRange<Duration>? {
        range(text).map { .milliseconds($0.lowerBound) ... .milliseconds($0.upperBound) }
    }
}

/// A command-line span of time in seconds, minutes or hours: `90`, `90s`, `30m`, `1h`; at most
/// a year.
struct TimeSpan: ExpressibleByArgument, Sendable, Hashable {
    let seconds: Int

    init(seconds: Int) {
        self.seconds = seconds
    }

    init?(argument: String) {
        let units = ["s": 1, "m": 60, "h": 3600]
        let unit = argument.last.flatMap { units[String($0)] }
        guard let number = Int(unit == nil ? argument : String(argument.dropLast())), number > 0 else { return nil }
        let (total, overflow) = number.multipliedReportingOverflow(by: unit ?? 1)
        guard !overflow, total <= 31_536_000 else { return nil }
        seconds = total
    }

    var duration: Duration { .seconds(seconds) }
    var defaultValueDescription: String { seconds % 60 == 0 ? "\(seconds / 60)m" : "\(seconds)s" }
}
