import Foundation
import NIOCore
import PlyEngine
import PlyWire
import Synchronization

/// Limits per client, a client being its address (the peer's IP address): however many
/// connections it opens, it shares one budget. Every limit has a `ply serve` option, and all
/// can be lifted at once (`--client-limits off`, for benchmarks on one machine).
public struct ClientLimits: Sendable, Hashable {
    /// Connections open at once.
    public var connections: Int
    /// Long polls waiting at once.
    public var waitingPolls: Int
    /// Unfinished matches it created.
    public var liveMatches: Int
    public var creationsPerSecond: Double
    public var creationBurst: Int
    public var joinsPerSecond: Double
    public var joinBurst: Int
    public var upgradesPerSecond: Double
    public var upgradeBurst: Int
    /// Commands, all its seats together.
    public var commandsPerSecond: Double
    public var commandBurst: Int

    public init(connections: Int = 1024, waitingPolls: Int = 512, liveMatches: Int = 10_000,
                creationsPerSecond: Double = 10, creationBurst: Int = 100, joinsPerSecond: Double = 20, joinBurst: Int = 200,
                upgradesPerSecond: Double = 50, upgradeBurst: Int = 500, commandsPerSecond: Double = 200, commandBurst: Int = 400) {
        self.connections = connections
        self.waitingPolls = waitingPolls
        self.liveMatches = liveMatches
        self.creationsPerSecond = creationsPerSecond
        self.creationBurst = creationBurst
        self.joinsPerSecond = joinsPerSecond
        self.joinBurst = joinBurst
        self.upgradesPerSecond = upgradesPerSecond
        self.upgradeBurst = upgradeBurst
        self.commandsPerSecond = commandsPerSecond
        self.commandBurst = commandBurst
    }

    /// No limit per client at all.
    public static let off = ClientLimits(connections: .max, waitingPolls: .max, liveMatches: .max,
                                         creationsPerSecond: .infinity, creationBurst: .max, joinsPerSecond: .infinity, joinBurst: .max,
                                         upgradesPerSecond: .infinity, upgradeBurst: .max, commandsPerSecond: .infinity, commandBurst: .max)
}

/// What each client is using and may still use: its connections, waiting polls and live
/// matches, and its budgets for creations, joins, upgrades and commands.
public final class ClientTable: Sendable {
    /// What a client spends from a budget.
    enum Action: Int, CaseIterable {
        case creation, join, upgrade, command

        var name: String {
            switch self {
            case .creation: "match creations"
            case .join: "joins"
            case .upgrade: "WebSocket upgrades and event streams"
            case .command: "commands"
            }
        }
    }

    private struct Client {
        var connections = 0
        var polls = 0
        var liveMatches = 0
        var budgets: [RateLimiter]
        var lastActive: ContinuousClock.Instant

        var inUse: Bool { connections > 0 || polls > 0 || liveMatches > 0 }
    }

    let limits: ClientLimits
    private let clients = Mutex<[String: Client]>([:])

    init(limits: ClientLimits) {
        self.limits = limits
    }

    /// The key of a connection's client: its peer's IP address.
    static func key(_ address: SocketAddress?) -> String {
        address?.ipAddress ?? "local"
    }

    /// The key of a request's client. From a trusted proxy it is the nearest address in
    /// `X-Forwarded-For` (its fields read right to left, each proxy appending the address it
    /// heard from) that is not itself a trusted proxy; from anyone else, the peer's address.
    static func key(_ address: SocketAddress?, forwardedFor: [String], trusting proxies: Set<String>) -> String {
        let peer = key(address)
        guard proxies.contains(peer), !forwardedFor.isEmpty else { return peer }
        let hops = forwardedFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        var client = peer
        for hop in hops.reversed() where !hop.isEmpty {
            client = hop
            if !proxies.contains(hop) { break }
        }
        return client
    }

    private func newClient(_ now: ContinuousClock.Instant) -> Client {
        Client(budgets: Action.allCases.map { action in
            switch action {
            case .creation: RateLimiter(rate: limits.creationsPerSecond, burst: limits.creationBurst, now: now)
            case .join: RateLimiter(rate: limits.joinsPerSecond, burst: limits.joinBurst, now: now)
            case .upgrade: RateLimiter(rate: limits.upgradesPerSecond, burst: limits.upgradeBurst, now: now)
            case .command: RateLimiter(rate: limits.commandsPerSecond, burst: limits.commandBurst, now: now)
            }
        }, lastActive: now)
    }

    private func with<T>(_ key: String, _ body: (inout Client) -> T) -> T {
        let now = ContinuousClock.now
        return clients.withLock { clients in
            var client = clients[key] ?? newClient(now)
            client.lastActive = now
            defer { clients[key] = client }
            return body(&client)
        }
    }

    // MARK: Budgets

    /// Takes one action from a client's budget, or refuses with `request/rate_limited`.
    func spend(_ action: Action, by key: String) throws(WireError) {
        guard with(key, { $0.budgets[action.rawValue].allow() }) else {
            let rate = [limits.creationsPerSecond, limits.joinsPerSecond, limits.upgradesPerSecond, limits.commandsPerSecond][action.rawValue]
            throw WireError(.rateLimited, "too many \(action.name) from your address: at most \(rate.formatted) a second; slow down")
        }
    }

    // MARK: Things held at once

    /// Counts a new connection; false beyond the client's limit (then it is not counted).
    func openConnection(by key: String) -> Bool {
        take(\.connections, upTo: limits.connections, by: key)
    }

    /// Counts one more of what a client holds at once; false at its limit (then nothing changes).
    private func take(_ held: WritableKeyPath<Client, Int>, upTo limit: Int, by key: String) -> Bool {
        with(key) { client in
            guard client[keyPath: held] < limit else { return false }
            client[keyPath: held] += 1
            return true
        }
    }

    func closeConnection(by key: String) {
        with(key) { $0.connections -= 1 }
    }

    /// Counts a poll about to wait, or refuses with `request/rate_limited`.
    func startPoll(by key: String) throws(WireError) {
        guard take(\.polls, upTo: limits.waitingPolls, by: key) else {
            throw WireError(.rateLimited, "more than \(limits.waitingPolls) long polls waiting from your address; end some first")
        }
    }

    func endPoll(by key: String) {
        with(key) { $0.polls -= 1 }
    }

    /// Counts a match about to be created, or refuses with `request/rate_limited`.
    func reserveMatch(by key: String) throws(WireError) {
        guard take(\.liveMatches, upTo: limits.liveMatches, by: key) else {
            throw WireError(.rateLimited, "your address has \(limits.liveMatches) unfinished matches, its most; finish some first")
        }
    }

    /// A match the client created has ended (or was never made).
    func matchEnded(by key: String) {
        with(key) { $0.liveMatches -= 1 }
    }

    /// Forgets clients that hold nothing and have been quiet for `quiet` (their budgets have
    /// refilled by then), so the table follows the clients that are active.
    func prune(now: ContinuousClock.Instant = .now, quiet: Duration = .seconds(60)) {
        clients.withLock { clients in
            clients = clients.filter { $0.value.inUse || now - $0.value.lastActive < quiet }
        }
    }

    var count: Int { clients.withLock { $0.count } }
}

/// Commands per seat, whatever connections they come on.
final class SeatBudgets: Sendable {
    private struct Key: Hashable {
        let match: String
        let seat: Seat
    }

    private let rate: Double
    private let burst: Int
    private let budgets = Mutex<[Key: (limiter: RateLimiter, lastActive: ContinuousClock.Instant)]>([:])

    init(rate: Double, burst: Int) {
        self.rate = rate
        self.burst = burst
    }

    /// Takes one command from a seat's budget, or refuses with `request/rate_limited`.
    func spend(match: String, seat: Seat) throws(WireError) {
        let now = ContinuousClock.now
        let allowed = budgets.withLock { budgets in
            let key = Key(match: match, seat: seat)
            var entry = budgets[key] ?? (RateLimiter(rate: rate, burst: burst, now: now), now)
            defer { budgets[key] = entry }
            entry.lastActive = now
            return entry.limiter.allow(now: now)
        }
        if !allowed {
            throw WireError(.rateLimited, "more than \(burst) commands at once or \(rate.formatted) a second for one seat; slow down")
        }
    }

    /// Forgets seats quiet for longer than it takes their budget to refill: a full budget is
    /// the same as a new one, so the table holds only seats that sent commands lately (a
    /// finished match's seats leave it within seconds, not with the match's history).
    func prune(now: ContinuousClock.Instant = .now) {
        let refill = rate > 0 && rate.isFinite ? Duration.seconds(Double(burst) / rate) : .zero
        budgets.withLock { budgets in budgets = budgets.filter { now - $0.value.lastActive < refill } }
    }

    var count: Int { budgets.withLock { $0.count } }
}

extension Double {
    /// A rate as people write it: `20`, `0.5`, `unlimited`.
    var formatted: String {
        if isInfinite { return "unlimited" }
        return self == rounded() ? String(Int(self)) : String(self)
    }
}
