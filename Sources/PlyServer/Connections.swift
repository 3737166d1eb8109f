import NIOCore
import PlyEngine
import PlyWire
import Synchronization

/// What the server knows about its connections and clients, apart from any match: how many
/// connections are open, which are WebSockets, how many polls wait, and what each client and
/// seat may still do. The authority never sees any of it.
public final class Connections: Sendable {
    public let maxConnections: Int
    /// Each client's connections, polls, live matches and budgets.
    public let clients: ClientTable
    /// What `GET /metrics` shows.
    public let metrics: ServerMetrics
    /// Proxies whose `X-Forwarded-For` names the client.
    let trustedProxies: Set<String>

    /// The client a request comes from: its peer, or the client a trusted proxy names.
    func client(_ peer: SocketAddress?, forwardedFor: [String]) -> String {
        ClientTable.key(peer, forwardedFor: forwardedFor, trusting: trustedProxies)
    }

    /// Whether a connection comes from a trusted proxy (which carries many clients' requests).
    func isTrustedProxy(_ peer: SocketAddress?) -> Bool {
        !trustedProxies.isEmpty && trustedProxies.contains(ClientTable.key(peer))
    }
    /// Each seat's command budget.
    let seats: SeatBudgets
    private let commandsPerSecond: Double
    private let commandBurst: Int
    private let open = Atomic<Int>(0)
    private let polls = Atomic<Int>(0)
    private let openStreams = Atomic<Int>(0)
    /// Tickets that let a browser's EventSource open a seat's stream.
    let tickets: StreamTickets
    private let lastPrune = Mutex(ContinuousClock.now)
    private let state = Mutex(State())

    private struct State {
        /// Open WebSockets, dropped if still open when shutdown's grace ends.
        var webSockets: [ObjectIdentifier: any Channel] = [:]
        /// Waiting for the last WebSocket to close, by ticket.
        var closedWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextTicket = 0
    }

    init(configuration: ServerConfiguration, metrics: ServerMetrics = ServerMetrics()) {
        self.metrics = metrics
        trustedProxies = configuration.trustedProxies
        maxConnections = configuration.maxConnections
        clients = ClientTable(limits: configuration.clientLimits)
        seats = SeatBudgets(rate: configuration.commandsPerSecond, burst: configuration.commandBurst)
        commandsPerSecond = configuration.commandsPerSecond
        commandBurst = configuration.commandBurst
        tickets = StreamTickets(lifetime: configuration.streamTicketLifetime)
    }

    /// Counts a newly accepted connection; false (and not counted) beyond the limit.
    func admit() -> Bool {
        let count = open.add(1, ordering: .relaxed).newValue
        guard count <= maxConnections else {
            open.subtract(1, ordering: .relaxed)
            return false
        }
        return true
    }

    /// A counted connection has closed.
    func closed() {
        open.subtract(1, ordering: .relaxed)
    }

    // MARK: WebSockets and polls

    func openedWebSocket(_ channel: any Channel) {
        state.withLock { $0.webSockets[ObjectIdentifier(channel)] = channel }
    }

    func closedWebSocket(_ channel: any Channel) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.webSockets.removeValue(forKey: ObjectIdentifier(channel))
            guard state.webSockets.isEmpty else { return [] }
            defer { state.closedWaiters.removeAll() }
            return Array(state.closedWaiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once no WebSocket is open, or after `limit`, whichever is first.
    func webSocketsClosed(within limit: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.noWebSockets() }
            group.addTask { try? await Task.sleep(for: limit) }
            await group.next()
            group.cancelAll()
        }
    }

    /// Returns once no WebSocket is open, or when the task is cancelled.
    private func noWebSockets() async {
        let ticket = state.withLock { state in
            defer { state.nextTicket += 1 }
            return state.nextTicket
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let done = state.withLock { state in
                    if state.webSockets.isEmpty || Task.isCancelled { return true }
                    state.closedWaiters[ticket] = continuation
                    return false
                }
                if done { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.closedWaiters.removeValue(forKey: ticket) }?.resume()
        }
    }

    func pollStarted() { polls.add(1, ordering: .relaxed) }
    func pollEnded() { polls.subtract(1, ordering: .relaxed) }
    func streamStarted() { openStreams.add(1, ordering: .relaxed) }
    func streamEnded() { openStreams.subtract(1, ordering: .relaxed) }

    public var openConnections: Int { open.load(ordering: .relaxed) }
    public var webSockets: Int { state.withLock { $0.webSockets.count } }
    public var waitingPolls: Int { polls.load(ordering: .relaxed) }
    public var streams: Int { openStreams.load(ordering: .relaxed) }

    /// Every WebSocket still open.
    func openWebSockets() -> [any Channel] {
        state.withLock { Array($0.webSockets.values) }
    }

    // MARK: Limits

    /// A fresh budget for one connection's commands.
    func makeRateLimiter() -> RateLimiter {
        RateLimiter(rate: commandsPerSecond, burst: commandBurst)
    }

    var rateLimited: WireError {
        WireError(.rateLimited, "more than \(commandBurst) messages at once or \(commandsPerSecond.formatted) a second on one connection; slow down")
    }

    /// Forgets clients and seats that hold nothing and have been quiet a while (at most once
    /// every 10 s; the sweep calls it more often).
    func prune(now: ContinuousClock.Instant = .now) {
        guard lastPrune.withLock({ last in
            guard now - last >= .seconds(10) else { return false }
            last = now
            return true
        }) else { return }
        clients.prune(now: now)
        seats.prune(now: now)
        tickets.prune(now: now)
    }

    /// Takes a command from its client's and its seat's budgets, or refuses.
    func spendCommand(by client: String, match: String, seat: Seat) throws(WireError) {
        try clients.spend(.command, by: client)
        try seats.spend(match: match, seat: seat)
    }
}
