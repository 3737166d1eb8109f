import PlyClient
import PlyEngine
import PlyWire
import PlyRelay
import NIOCore

/// What the benchmark compares: each of ply's transports, each transport's floor, and the raw
/// TCP floor.
public enum BenchTransport: Sendable, Hashable, ArgumentCodable, CustomStringConvertible {
    /// A raw TCP relay carrying the same bytes: what any transport costs at the least.
    case floor
    /// A transport's floor: a bare server of swift-nio's parts carrying ply's per-move pattern
    /// over that transport, with no game (`TransportFloorServer`): what the transport costs.
    case floorOf(Transport)
    case ply(Transport)
    /// ply's `auto`: WebSocket, then SSE, then long-polling, whichever works (behind a
    /// middlebox, what it settles on).
    case auto

    /// The raw TCP floor, then each transport's floor followed by the transport.
    public static var allCases: [BenchTransport] { [.floor] + Transport.allCases.flatMap { [.floorOf($0), .ply($0)] } }

    /// `floor`, `ws-floor` (a transport's floor), a transport's name, or `auto`.
    public init?(argument: String) {
        if argument == "floor" {
            self = .floor
        } else if argument == "auto" {
            self = .auto
        } else if let transport = Transport(rawValue: argument) {
            self = .ply(transport)
        } else if argument.hasSuffix("-floor"), let transport = Transport(rawValue: String(argument.dropLast(6))) {
            self = .floorOf(transport)
        } else {
            return nil
        }
    }

    /// Every argument there is, for help texts.
    public static var arguments: [String] { ["floor"] + Transport.allCases.flatMap { ["\($0.rawValue)-floor", $0.rawValue] } + ["auto"] }

    public var argument: String {
        switch self {
        case .floor: "floor"
        case .floorOf(let transport): "\(transport.rawValue)-floor"
        case .ply(let transport): transport.rawValue
        case .auto: "auto"
        }
    }

    public var description: String {
        switch self {
        case .floor: "raw TCP floor"
        case .floorOf(let transport): "\(transport.description) floor"
        case .ply(let transport): transport.description
        case .auto: "auto"
        }
    }

    /// Whether this is a floor (raw TCP or a transport's), not ply.
    public var isFloor: Bool {
        switch self {
        case .floor, .floorOf: true
        case .ply, .auto: false
        }
    }

    /// The floor a ply transport is measured against: its own (nil for `auto` and floors).
    public var ownFloor: BenchTransport? {
        if case .ply(let transport) = self { return .floorOf(transport) }
        return nil
    }

    /// The transport a transport's floor carries (nil for the others).
    var floorTransport: Transport? {
        if case .floorOf(let transport) = self { return transport }
        return nil
    }

    /// The transport ply's clients use, or nil for the floors.
    var kind: Transport? {
        if case .ply(let transport) = self { return transport }
        return nil
    }

    /// How ply's clients connect, or nil for the floors.
    var choice: TransportChoice? {
        switch self {
        case .floor, .floorOf: nil
        case .ply(let transport): .over(transport)
        case .auto: .auto
        }
    }
}

/// Where the benchmarked `ply serve` keeps its matches.
public enum BenchStore: String, Sendable, Hashable, Codable, CaseIterable, CustomStringConvertible {
    /// SQLite, durable: the server's default.
    case sqlite
    /// In memory only (`--store memory`).
    case memory

    public var description: String { self == .sqlite ? "SQLite" : "memory store" }
}

/// A benchmark run: which transports, at which levels of concurrent matches, for how long.
public struct BenchPlan: Sendable, Codable {
    public var transports: [BenchTransport] = BenchTransport.allCases
    /// The stores each ply transport is measured with (the floor has none).
    public var stores: [BenchStore] = [.sqlite]
    /// Concurrent matches per level.
    public var levels: [Int] = [1, 10, 100, 1000]
    /// How many times every level of every run is measured, the rounds interleaved (each
    /// round measures all of them once before the next begins), so that a ratio between two
    /// runs compares measurements made minutes apart, not a whole run apart, and its spread
    /// over the rounds is known; nil (in runs before it was chosen) is one round.
    public var rounds: Int?
    /// Whether each ply transport runs uncompressed, compressed (`ply serve --compression on`,
    /// the clients asking for it), or both in one run; nil in runs before it was chosen (off).
    public var compressions: [Bool]?
    /// A middlebox between every client and the server (`--middlebox`), with the simulated
    /// network if there is one; nil for none.
    public var middlebox: Middlebox?
    /// The idle timeout the clients' and the server's keep-alive timers are fitted under
    /// (`--idle-timeout`, milliseconds; `ConnectionOptions.fit`, `ply serve --idle-timeout`);
    /// nil for ply's defaults.
    public var idleTimeoutMilliseconds: Int?
    /// Client options with the keep-alive timers fitted under the plan's idle timeout.
    func fitted(_ options: ConnectionOptions) -> ConnectionOptions {
        guard let idleTimeoutMilliseconds else { return options }
        var options = options
        options.fit(idleTimeout: .milliseconds(idleTimeoutMilliseconds))
        return options
    }
    var compressionModes: [Bool] { compressions ?? [false] }
    public var game: GameID = .connect4
    /// Think time per move, drawn uniformly from this range (milliseconds); nil saturates.
    public var thinkMilliseconds: ClosedRange<Int>? = 50...150
    /// Spectators per match, besides the two seats.
    public var spectators = 0
    public var warmup: Duration = .seconds(2)
    public var duration: Duration = .seconds(10)
    public var seed: UInt64 = 1
    /// A simulated network between clients and server: round-trip time and jitter, in milliseconds.
    public var rttMilliseconds: Int = 0
    public var jitterMilliseconds: Int = 0
    /// Idle clients to hold open on each transport, to measure memory per client (0: skip).
    public var hold = 0
    /// With the clients held, attack the server's door this long (slowloris, fragment bombs,
    /// ping floods) alongside a normal game, then watch its memory for 30 s; nil: no attack.
    public var attack: Duration?
    /// How many of each attacker the attack runs at once (nil in runs before it was recorded).
    public var attackers: Attackers? = Attackers()
    /// A running server to use instead of starting `ply serve` (then its CPU and memory are not read).
    public var server: String?
    /// With `server`: the processes that make it up (command lines containing any of these, as
    /// `ply serve` instances, `postgres:` backends, `nginx`), whose CPU and memory are read
    /// together as the server's.
    public var serverProcesses: [String] = []
    /// Bot play for a long time against one server, sampled as it goes (`--soak`); nil: none.
    public var soak: SoakPlan?
    /// Clients in live games, the server killed and restarted under them (`--storm`); nil: none.
    public var storm: StormPlan?

    public init() {}

    var latency: TCPRelay.Latency? {
        rttMilliseconds > 0 || jitterMilliseconds > 0
            ? TCPRelay.Latency(oneWay: .microseconds(rttMilliseconds * 500), jitter: .microseconds(jitterMilliseconds * 500))
            : nil
    }

    var thinkDescription: String {
        thinkMilliseconds.map { "\($0.lowerBound)-\($0.upperBound) ms think time" } ?? "no think time (saturation)"
    }

    /// Whether the run has a hold phase: clients held, perhaps attacked.
    var holds: Bool { hold > 0 || attack != nil }
}

/// The attackers of `--attack`, each reconnecting when the server closes it.
public struct Attackers: Sendable, Hashable, Codable {
    /// Connections that send a request head one byte a second.
    public var slowloris = 300
    /// WebSockets that send a message in endless fragments as fast as the socket takes them.
    public var fragmentBombs = 4
    /// WebSockets that send a fragment a second of a message that never completes.
    public var slowFragments = 20
    /// WebSockets that send pings as fast as the socket takes them.
    public var pingFloods = 2
    /// A pause after each batch of frames and each reconnection of the fast attackers: none in
    /// a soak; a little where the attack shares a machine with other work (the tests).
    public var pause: Duration = .zero

    public init() {}
}

