import NIOCore
import PlyWire
import Synchronization

/// What the server knows about its connections, apart from any match: how many are open, which
/// are WebSockets, how many polls wait. The authority never sees any of it.
public final class Connections: Sendable {
    public let maxConnections: Int
    private let commandsPerSecond: Double
    private let commandBurst: Int
    private let open = Atomic<Int>(0)
    private let polls = Atomic<Int>(0)
    private let state = Mutex(State())

    private struct State {
        /// Open WebSockets, dropped if still open when shutdown's grace ends.
        var webSockets: [ObjectIdentifier: any Channel] = [:]
        /// Waiting for the last WebSocket to close, by ticket.
        var closedWaiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextTicket = 0
    }

    init(configuration: ServerConfiguration) {
        maxConnections = configuration.maxConnections
        commandsPerSecond = configuration.commandsPerSecond
        commandBurst = configuration.commandBurst
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

    public var openConnections: Int { open.load(ordering: .relaxed) }
    public var webSockets: Int { state.withLock { $0.webSockets.count } }
    public var waitingPolls: Int { polls.load(ordering: .relaxed) }

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
        WireError(.rateLimited, "more than \(commandBurst) commands at once or \(commandsPerSecond) a second on one connection; slow down")
    }
}
