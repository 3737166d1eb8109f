import Histogram
import Synchronization

/// What one client connection has cost on the wire, whatever its transport, across all the
/// TCP connections it opened. Bytes are counted at the socket end of each channel pipeline.
public struct WireTotals: Sendable, Hashable, Codable {
    /// Every byte written to and read from the sockets.
    public var bytesSent = 0
    public var bytesReceived = 0
    /// Of those, message bodies (JSON): HTTP bodies and WebSocket message payloads, as they
    /// crossed the wire (compressed, when they were).
    public var payloadSent = 0
    public var payloadReceived = 0
    /// The same bodies as the application wrote and read them: inflated. Equal to the payload
    /// when nothing is compressed.
    public var plainPayloadSent = 0
    public var plainPayloadReceived = 0
    /// The rest: HTTP request, status and header lines, WebSocket handshakes, frame headers and masks.
    public var overheadSent: Int { bytesSent - payloadSent }
    public var overheadReceived: Int { bytesReceived - payloadReceived }
    public var httpRequests = 0
    public var tcpConnections = 0
    /// WebSocket upgrades completed.
    public var handshakes = 0
    /// Times the connection was re-established after a failure.
    public var reconnects = 0
    /// Attempts to re-establish it, those that failed included.
    public var reconnectAttempts = 0
    public var messagesSent = 0
    public var messagesReceived = 0

    public init() {}

    /// The sum of two sets of totals.
    public static func + (a: WireTotals, b: WireTotals) -> WireTotals {
        var sum = a
        sum.bytesSent += b.bytesSent
        sum.bytesReceived += b.bytesReceived
        sum.payloadSent += b.payloadSent
        sum.payloadReceived += b.payloadReceived
        sum.plainPayloadSent += b.plainPayloadSent
        sum.plainPayloadReceived += b.plainPayloadReceived
        sum.reconnectAttempts += b.reconnectAttempts
        sum.httpRequests += b.httpRequests
        sum.tcpConnections += b.tcpConnections
        sum.handshakes += b.handshakes
        sum.reconnects += b.reconnects
        sum.messagesSent += b.messagesSent
        sum.messagesReceived += b.messagesReceived
        return sum
    }
}

/// Round trips from a command's send to its acknowledgement.
public struct RoundTrips: Sendable, Hashable {
    public var count: Int
    public var last: Duration?
    public var p50: Duration?
    public var p99: Duration?
    /// The latest round trips, oldest first (at most `WireStats.recentRoundTrips`).
    public var recent: [Duration]

    public init(count: Int = 0, last: Duration? = nil, p50: Duration? = nil, p99: Duration? = nil, recent: [Duration] = []) {
        self.count = count
        self.last = last
        self.p50 = p50
        self.p99 = p99
        self.recent = recent
    }
}

/// The wire statistics of one client connection: running totals, command round trips
/// (HdrHistogram, microseconds) and the most recent exchanges for the wire view.
public final class WireStats: Sendable {
    public static let recordCapacity = 64
    public static let recentRoundTrips = 16

    private struct State {
        var totals = WireTotals()
        var records: [WireRecord] = []
        var nextRecord = 0
        var roundTrips = Histogram<UInt64>(highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: .three)
        var recentRoundTrips: [Duration] = []
    }

    private let state = Mutex(State())
    /// Whether the latest exchanges are kept for a wire view (`recentRecords`). Only a screen
    /// shows them: bots and the benchmark count bytes and round trips, and spend nothing more
    /// per frame.
    public let keepsRecords: Bool

    public init(keepsRecords: Bool = false) {
        self.keepsRecords = keepsRecords
    }

    public var totals: WireTotals { state.withLock { $0.totals } }

    /// The latest exchanges, oldest first.
    public var recentRecords: [WireRecord] {
        state.withLock { state in
            guard state.records.count == Self.recordCapacity else { return state.records }
            return Array(state.records[state.nextRecord...] + state.records[..<state.nextRecord])
        }
    }

    public var roundTrips: RoundTrips {
        state.withLock { state in
            let count = Int(state.roundTrips.totalCount)
            func at(_ percentile: Double) -> Duration? {
                count == 0 ? nil : .microseconds(Int64(state.roundTrips.valueAtPercentile(percentile)))
            }
            return RoundTrips(count: count, last: state.recentRoundTrips.last, p50: at(50), p99: at(99), recent: state.recentRoundTrips)
        }
    }

    /// Adds another connection's totals and round trips to these (for a report over many).
    public func absorb(_ other: WireStats) {
        let (totals, roundTrips) = other.state.withLock { ($0.totals, $0.roundTrips) }
        state.withLock { state in
            state.totals = state.totals + totals
            state.roundTrips.add(roundTrips)
        }
    }

    func update(_ body: (inout WireTotals) -> Void) {
        state.withLock { body(&$0.totals) }
    }

    /// Keeps an exchange for the wire view; the record is not even made unless it is kept.
    func record(_ make: @autoclosure () -> WireRecord) {
        guard keepsRecords else { return }
        let record = make()
        state.withLock { state in
            if state.records.count < Self.recordCapacity {
                state.records.append(record)
            } else {
                state.records[state.nextRecord] = record
            }
            state.nextRecord = (state.nextRecord + 1) % Self.recordCapacity
        }
    }

    func recordRoundTrip(_ duration: Duration) {
        let micros = UInt64(max(0, duration / .microseconds(1)))
        state.withLock { state in
            _ = state.roundTrips.record(min(micros, 60_000_000))
            state.recentRoundTrips.append(duration)
            if state.recentRoundTrips.count > Self.recentRoundTrips { state.recentRoundTrips.removeFirst() }
        }
    }
}
