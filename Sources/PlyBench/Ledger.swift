import Histogram
import PlyEngine
import PlyWire
import Synchronization

/// Where the players of one level record what they measure: move latencies against the time
/// each move was due, acknowledgement round trips, moves and errors. Nothing is recorded
/// outside the measurement window (warm-up is excluded).
final class Ledger: Sendable {
    private struct State {
        var measuring = false
        /// When each move (by match, then by the version its event will have) was due.
        var due: [Int: [Int: ContinuousClock.Instant]] = [:]
        var latency = Ledger.histogram()
        var acknowledgement = Ledger.histogram()
        /// How late the load generator sent each move after it was due: its own timer's part of the latency.
        var lag = Ledger.histogram()
        var moves = 0
        var errors = 0
        /// Games both seats saw end in the window, and the transports their seats ended on.
        var games = 0
        var endedOn: [String: Int] = [:]
        /// Of the errors, refusals by the server's rate limiter: a run with any measured a limiter.
        var rateLimited = 0
        var errorSamples: [String] = []
        /// Slots that have had a move due: their matches are under way.
        var slotsUnderWay: Set<Int> = []
    }

    private let state = Mutex(State())

    static func histogram() -> Histogram<UInt64> {
        Histogram(lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
    }

    var measuring: Bool {
        get { state.withLock { $0.measuring } }
        set { state.withLock { $0.measuring = newValue } }
    }

    /// The mover: the move that will have `version` was due at `instant`.
    func due(match: Int, version: Int, at instant: ContinuousClock.Instant) {
        state.withLock { state in
            state.due[match, default: [:]][version] = instant
            state.slotsUnderWay.insert(match >> 24)
        }
    }

    /// How many slots have a match under way (see `SlotContext.key`).
    var slotsUnderWay: Int { state.withLock { $0.slotsUnderWay.count } }

    /// The opponent: it has the move with `version`; its latency runs from when it was due.
    func received(match: Int, version: Int, at instant: ContinuousClock.Instant) {
        state.withLock { state in
            guard let due = state.due[match]?.removeValue(forKey: version), state.measuring else { return }
            _ = state.latency.record(Self.micros(instant - due))
        }
    }

    /// The mover sent a move this long after it was due.
    func lagged(_ lateness: Duration) {
        state.withLock { state in
            if state.measuring { _ = state.lag.record(Self.micros(lateness)) }
        }
    }

    func acknowledged(after roundTrip: Duration) {
        state.withLock { state in
            guard state.measuring else { return }
            _ = state.acknowledgement.record(Self.micros(roundTrip))
            state.moves += 1
        }
    }

    /// A floor move has no acknowledgement; it counts when sent.
    func sent() {
        state.withLock { state in
            if state.measuring { state.moves += 1 }
        }
    }

    func failed(_ error: any Error) {
        let text = "\(error)"
        state.withLock { state in
            state.errors += 1
            if text.contains(ErrorCode.rateLimited.rawValue) { state.rateLimited += 1 }
            if state.errorSamples.count < 5 { state.errorSamples.append(text) }
        }
    }

    /// A game over, its seats' connections on these transports at the end.
    func finished(on transports: [Transport]) {
        state.withLock { state in
            guard state.measuring else { return }
            state.games += 1
            for transport in transports { state.endedOn[transport.rawValue, default: 0] += 1 }
        }
    }

    var games: (count: Int, endedOn: [String: Int]) { state.withLock { ($0.games, $0.endedOn) } }

    func forget(match: Int) {
        _ = state.withLock { $0.due.removeValue(forKey: match) }
    }

    var snapshot: (latency: Histogram<UInt64>, acknowledgement: Histogram<UInt64>, lag: Histogram<UInt64>, moves: Int, errors: Int,
                   rateLimited: Int, samples: [String]) {
        state.withLock { ($0.latency, $0.acknowledgement, $0.lag, $0.moves, $0.errors, $0.rateLimited, $0.errorSamples) }
    }

    static func micros(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        return UInt64(max(1, seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
    }
}
