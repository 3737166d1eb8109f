import NIOCore
import NIOPosix

/// How long to wait before each reconnection attempt: doubling from `initial` up to `maximum`,
/// each delay drawn between half and all of that ("equal jitter"), so that clients cut off
/// together do not all come back in the same instant.
public struct Backoff: Sendable, Hashable {
    public var initial: Duration
    public var maximum: Duration
    /// How each delay is drawn under its ceiling.
    public var spread: Spread

    public enum Spread: Sendable, Hashable {
        /// Between half the ceiling and the ceiling: never sooner than half.
        case upperHalf
        /// Anywhere from zero to the ceiling ("full jitter"): clients that lost the same server
        /// at the same instant come back spread over the whole span, not in a wave.
        case full
    }

    public init(initial: Duration = .milliseconds(100), maximum: Duration = .seconds(5), spread: Spread = .upperHalf) {
        self.initial = initial
        self.maximum = maximum
        self.spread = spread
    }

    /// How a connection comes back after losing its server: the first try within 1 s, then
    /// within 2, 4 and 5 s, each anywhere in its span (`ply bench --storm` measured the waves an
    /// upper-half spread made: 16.6% of 15,257 attempts in one 100 ms window).
    public static let reconnection = Backoff(initial: .seconds(1), maximum: .seconds(5), spread: .full)

    /// The delay before attempt `attempt` (1 for the first retry).
    public func delay(attempt: Int, using random: inout some RandomNumberGenerator) -> Duration {
        let exponent = min(max(attempt - 1, 0), 30)
        let ceiling = min(maximum, initial * (1 << exponent))
        return switch spread {
        case .upperHalf: ceiling / 2 + ceiling / 2 * Double.random(in: 0...1, using: &random)
        case .full: ceiling * Double.random(in: 0...1, using: &random)
        }
    }
}

/// Settings for a match connection. Every span of time is a `Duration`.
public struct ConnectionOptions: Sendable {
    /// The event loops the connection's sockets run on.
    public var group: any EventLoopGroup
    /// How long a long poll may be held by the server (`wait`).
    public var pollWait: Duration
    /// How long a WebSocket upgrade (or an event stream's first bytes) may take; `auto` moves on
    /// to the next transport after it.
    public var upgradeTimeout: Duration
    /// `auto`: a session lost sooner than this after it opened counts as cut by the network
    /// (a proxy that accepts the upgrade and kills the socket soon after); `cutsBeforeMovingOn`
    /// such cuts in a row move the connection on to the next transport instead of flapping.
    public var quickCut: Duration
    public var cutsBeforeMovingOn: Int
    /// How often the client pings the server over WebSocket, to notice a dead peer; nil for never.
    public var pingInterval: Duration?
    /// How long an event stream may say nothing (the server sends a heartbeat every 15 s by
    /// default) before the client takes it for cut silently and reconnects; nil for never.
    public var streamSilence: Duration?
    /// How long the connection that carries an HTTP transport's commands may have been quiet
    /// and still be used: an older one is closed and a new one opened for the next command, as a
    /// NAT or a proxy may have forgotten it without a word (its answer would never come).
    public var keptAliveReuse: Duration = .seconds(20)
    /// How long a command may wait for its answer, reconnections and retries included.
    public var commandTimeout: Duration
    /// How a lost connection is tried again (`Backoff.reconnection` unless given).
    public var backoff: Backoff
    /// Whether to ask for compression: `permessage-deflate` on WebSocket, gzip for event
    /// streams and long-poll answers (the server compresses only when run with it on).
    public var compression = false
    /// What `auto` remembers of each server's network, shared by connections (the process's own
    /// unless given another).
    public var memory = TransportMemory.shared

    public init(
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        pollWait: Duration = .seconds(25),
        upgradeTimeout: Duration = .seconds(3),
        pingInterval: Duration? = .seconds(15),
        streamSilence: Duration? = .seconds(45),
        commandTimeout: Duration = .seconds(15),
        backoff: Backoff = .reconnection,
        quickCut: Duration = .seconds(2),
        cutsBeforeMovingOn: Int = 3
    ) {
        self.group = group
        self.pollWait = pollWait
        self.upgradeTimeout = upgradeTimeout
        self.pingInterval = pingInterval
        self.streamSilence = streamSilence
        self.commandTimeout = commandTimeout
        self.backoff = backoff
        self.quickCut = quickCut
        self.cutsBeforeMovingOn = cutsBeforeMovingOn
    }

    /// How long a poll may go unanswered before its connection is taken for lost: the wait
    /// asked for, and as long again (up to 10 s) for the answer to come back.
    var pollTimeout: Duration { pollWait + min(max(pollWait, .seconds(1)), .seconds(10)) }

    /// Fits every timer by which the client keeps a quiet connection busy under a network's
    /// idle timeout (a NAT's): the WebSocket ping, the long poll's wait and the reuse of a
    /// quiet command connection are each at most half of it. Timers already shorter are kept.
    /// (An event stream is kept busy by the server's heartbeat: `ply serve --idle-timeout`.)
    public mutating func fit(idleTimeout: Duration) {
        let half = idleTimeout / 2
        pingInterval = min(pingInterval ?? half, half)
        pollWait = min(pollWait, half)
        keptAliveReuse = min(keptAliveReuse, half)
    }
}
