import NIOCore
import NIOHTTP1
import PlyEngine
import PlyWire
import Synchronization

/// Commands as `POST /matches/{id}/commands`, on a connection of their own, opened with the
/// first command: how both HTTP transports (long-polling and Server-Sent Events) send them.
final class CommandPoster: Sendable {
    private let endpoint: Endpoint
    private let match: String
    private let authorization: [(String, String)]
    private let options: ConnectionOptions
    private let stats: WireStats
    private let state = Mutex<State>(State())

    private struct State {
        var link: HTTPLink?
        var closed = false
        /// A command is waiting for its answer: closing waits for it (the answer to the move
        /// that ends a match may come after the stream that carried `ended` has ended).
        var inFlight = false
        /// When the link last carried an answer: one quiet for longer than
        /// `keptAliveReuse` is not used again (a NAT may have forgotten it).
        var lastAnswer = ContinuousClock.now
    }

    /// Its `send` throws `SessionLost` when the command's connection is lost, or the server
    /// unavailable: the session ends, and the command is sent again once it reconnects.
    init(endpoint: Endpoint, match: String, authorization: [(String, String)], options: ConnectionOptions, stats: WireStats) {
        self.endpoint = endpoint
        self.match = match
        self.authorization = authorization
        self.options = options
        self.stats = stats
    }

    func send(_ command: Command, before deadline: ContinuousClock.Instant) async throws -> CommandReply {
        let link = try await commandLink()
        defer { answered() }
        let response: HTTPLink.Response
        do {
            // This attempt has what is left of the command's time, not a full timeout of its own.
            let left = deadline - .now
            guard left > .zero else { throw CommandError.timedOut }
            response = try await post(command, on: link, within: left).get()
        } catch CommandError.timedOut {
            throw CommandError.timedOut
        } catch {
            throw SessionLost(reason: "the command connection dropped")
        }
        return try Self.reply(to: response)
    }

    /// `send` with no task, on a command connection already open and fresh; nil otherwise
    /// (`send` opens one).
    func sendNow(_ command: Command, before deadline: ContinuousClock.Instant) -> EventLoopFuture<CommandReply>? {
        let reuse = options.keptAliveReuse
        let link = state.withLock { state -> HTTPLink? in
            guard !state.closed, !state.inFlight, let link = state.link, link.isActive, ContinuousClock.now - state.lastAnswer < reuse else { return nil }
            state.inFlight = true
            return link
        }
        guard let link else { return nil }
        let left = deadline - .now
        guard left > .zero else {
            answered()
            return link.eventLoop.makeFailedFuture(CommandError.timedOut)
        }
        return post(command, on: link, within: left)
            .flatMapErrorThrowing { error in
                if case CommandError.timedOut = error { throw error }
                throw SessionLost(reason: "the command connection dropped")
            }
            .flatMapThrowing { response in try Self.reply(to: response) }
            .always { [self] _ in answered() }
    }

    private func post(_ command: Command, on link: HTTPLink, within left: Duration) -> EventLoopFuture<HTTPLink.Response> {
        let body = OutboundJSON.encode(command, allocator: ByteBufferAllocator())
        return link.send(.POST, "/matches/\(match)/commands", headers: authorization, body: body, timeout: TimeAmount(left))
    }

    /// A command's answer is in: the link is free again, or closed if the poster was.
    private func answered() {
        state.withLock { state in
            state.inFlight = false
            state.lastAnswer = .now
            return state.closed ? state.link : nil
        }?.close()
    }

    private static func reply(to response: HTTPLink.Response) throws -> CommandReply {
        if response.status == .ok, let ack = try? WireCoding.decoder.decode(Acknowledgement.self, from: response.body) {
            return .ack(ack)
        }
        if case .refused(let error) = end(for: response) { return .refused(error) }
        throw SessionLost(reason: "the server is unavailable (\(response.status.code))")
    }

    private func commandLink() async throws -> HTTPLink {
        let reuse = options.keptAliveReuse
        let (current, stale) = state.withLock { state -> (HTTPLink??, HTTPLink?) in
            guard !state.closed else { return (.none, nil) }
            guard let link = state.link, link.isActive else { return (.some(nil), nil) }
            guard ContinuousClock.now - state.lastAnswer < reuse else {
                state.link = nil
                return (.some(nil), link)
            }
            state.inFlight = true
            return (link, nil)
        }
        stale?.close()
        guard let current else { throw SessionLost(reason: "the session is closed") }
        if let current { return current }
        do {
            // Its answers are acknowledgements and errors, a few dozen bytes: never worth gzip, so
            // no `Accept-Encoding` is spent on them.
            let link = try await HTTPLink.connect(to: endpoint, stats: stats, group: options.group)
            let kept = state.withLock { state -> Bool in
                guard !state.closed else { return false }
                state.link = link
                state.inFlight = true
                return true
            }
            guard kept else {
                link.close()
                throw SessionLost(reason: "the session is closed")
            }
            return link
        } catch let lost as SessionLost {
            throw lost
        } catch {
            throw SessionLost(reason: "could not open the command connection")
        }
    }

    /// Closes the command connection, once the command on its way (if any) has its answer.
    func close() {
        state.withLock { state in
            state.closed = true
            return state.inFlight ? nil : state.link
        }?.close()
    }

    /// An error answer: a refusal for good, or a reason to come back later.
    static func end(for response: HTTPLink.Response) -> SessionEnd {
        let error = (try? WireCoding.decoder.decode(WireError.self, from: response.body))
            ?? WireError(.badRequest, "HTTP \(response.status.code)")
        switch response.status.code {
        case 500..<600: return .lost(error.message)
        default: return .refused(error)
        }
    }
}

/// A session whose commands are `CommandPoster`'s POSTs (long-polling, SSE): a command whose
/// connection is lost ends the session, which then reconnects.
protocol PostingSession: TransportSession {
    var commands: CommandPoster { get }
}

extension PostingSession {
    func send(_ command: Command, before deadline: ContinuousClock.Instant) async throws -> CommandReply {
        do {
            return try await commands.send(command, before: deadline)
        } catch let lost as SessionLost {
            finish(.lost(lost.reason))
            throw lost
        }
    }

    func sendNow(_ command: Command, before deadline: ContinuousClock.Instant) -> EventLoopFuture<CommandReply>? {
        commands.sendNow(command, before: deadline)?.flatMapErrorThrowing { [self] error in
            if let lost = error as? SessionLost { finish(.lost(lost.reason)) }
            throw error
        }
    }
}
