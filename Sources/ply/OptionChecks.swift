import ArgumentParser
import PlyClient
import PlyRelay

/// Checks of the numbers options give, where they are parsed: a value that is not finite, is
/// negative, or is too large for what it sets gets a clear message and exit code 64
/// (ArgumentParser's `ValidationError`), never a trap in a conversion later.
enum OptionCheck {
    /// `--middlebox MODE`, for ply bench and ply play alike.
    static func middlebox(_ argument: String) throws -> Middlebox {
        guard let box = Middlebox(argument: argument) else { throw ValidationError("--middlebox takes \(Middlebox.arguments): not '\(argument)'") }
        return box
    }

    /// A number of seconds from above zero (or zero, where allowed) to `most`, as a duration.
    static func seconds(_ value: Double, _ option: String, zeroAllowed: Bool = false, least: Double? = nil, most: Double) throws -> Duration {
        guard value.isFinite, zeroAllowed ? value >= 0 : value > 0, value >= (least ?? 0), value <= most else {
            let lowest = least.map(\.plain) ?? (zeroAllowed ? "0" : "more than 0")
            throw ValidationError("\(option) must be a number of seconds from \(lowest) to \(most.plain)")
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

/// `--idle-timeout` for clients: the network's idle timeout, which the client's keep-alive
/// timers are fitted under (`ConnectionOptions.fit(idleTimeout:)`).
struct IdleTimeoutOption: ParsableArguments {
    @Option(help: "The idle timeout of the network between this client and the server, in seconds (a NAT's; ply's defaults suit 30 or more): WebSocket pings, long polls and the reuse of quiet connections are kept to half of it. Event streams are kept busy by the server: ply serve --idle-timeout (ply play's embedded server is fitted too).")
    var idleTimeout: Double?

    func validate() throws {
        _ = try duration
    }

    private var duration: Duration? {
        get throws { try idleTimeout.map { try OptionCheck.seconds($0, "--idle-timeout", least: 0.2, most: 86_400) } }
    }

    /// The timeout given, if any (checked by `validate`).
    var timeout: Duration? { try? duration }

    /// The options with the client's timers fitted under the timeout, if one was given.
    func fitted(_ options: ConnectionOptions) -> ConnectionOptions {
        var options = options
        if let timeout = try? duration { options.fit(idleTimeout: timeout) }
        return options
    }
}
