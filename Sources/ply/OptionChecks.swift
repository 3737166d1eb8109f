import ArgumentParser

/// Checks of the numbers options give, where they are parsed: a value that is not finite, is
/// negative, or is too large for what it sets gets a clear message and exit code 64
/// (ArgumentParser's `ValidationError`), never a trap in a conversion later.
enum OptionCheck {
    /// A number of seconds from above zero (or zero, where allowed) to `most`, as a duration.
    static func seconds(_ value: Double, _ option: String, zeroAllowed: Bool = false, most: Double) throws -> Duration {
        guard value.isFinite, zeroAllowed ? value >= 0 : value > 0, value <= most else {
            throw ValidationError("\(option) must be a number of seconds from \(zeroAllowed ? "0" : "more than 0") to \(most.plain)")
        }
        return .milliseconds(Int64((value * 1000).rounded()))
    }

    /// A rate, per second, above zero and at most `most`.
    static func rate(_ value: Double, _ option: String, most: Double = 1e12) throws {
        guard value.isFinite, value > 0, value <= most else {
            throw ValidationError("\(option) must be a number above 0 and at most \(most.plain) a second")
        }
    }

    /// A whole number in a range.
    static func count(_ value: Int, _ option: String, in range: ClosedRange<Int>) throws {
        guard range.contains(value) else { throw ValidationError("\(option) must be from \(range.lowerBound) to \(range.upperBound)") }
    }

    /// The burst of a budget: `multiple` times its rate, as a whole number (at least 1).
    static func burst(_ rate: Double, times multiple: Double) -> Int {
        max(1, Int((rate * multiple).rounded(.down)))
    }
}

private extension Double {
    var plain: String { self == rounded() && abs(self) < 1e15 ? String(Int(self)) : String(self) }
}
