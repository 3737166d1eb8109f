import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import PlyEngine
import PlyWire
import Synchronization

/// A session over HTTP long-polling: one poll outstanding at a time on its own kept-alive
/// connection, each answer handled on the event loop and followed at once by the next poll;
/// commands go over a second connection, opened when the first command is sent. A seat's
/// polls carry its token, so the server keeps one poll per seat.
final class LongPollSession: PostingSession {
    let kind = Transport.longPoll
    let ended: EventLoopFuture<SessionEnd>
    private let endPromise: EventLoopPromise<SessionEnd>
    private let endpoint: Endpoint
    private let match: String
    private let authorization: [(String, String)]
    private let options: ConnectionOptions
    private let stats: WireStats
    private let sink: EventSink
    private let pollLink: HTTPLink
    let commands: CommandPoster
    private let state: Mutex<State>

    private struct State {
        /// The version of the last event received.
        var cursor: Int
        var isOver = false
        /// The match's last event (`ended`) came: nothing can follow it, so no poll is sent
        /// after it (it would wait out its whole `wait` for nothing); commands still go.
        var pollsOver = false
    }

    private init(endpoint: Endpoint, match: String, token: String?, after: Int, options: ConnectionOptions,
                 stats: WireStats, pollLink: HTTPLink, sink: @escaping EventSink) {
        endPromise = options.group.any().makePromise()
        ended = endPromise.futureResult
        self.endpoint = endpoint
        self.match = match
        authorization = bearer(token)
        self.options = options
        self.stats = stats
        self.pollLink = pollLink
        self.sink = sink
        state = Mutex(State(cursor: after))
        let authorization = self.authorization
        commands = CommandPoster(endpoint: endpoint, match: match, authorization: authorization, options: options, stats: stats)
    }

    static func open(_ request: SessionRequest) async throws -> LongPollSession {
        let (endpoint, match, token, after, options, stats, sink) = request.parts
        let link = try await HTTPLink.connect(to: endpoint, stats: stats, compression: options.compression, group: options.group)
        let session = LongPollSession(endpoint: endpoint, match: match, token: token, after: after,
                                      options: options, stats: stats, pollLink: link, sink: sink)
        // The first poll does not wait, so that a refusal (an unknown match) is known before returning.
        try await session.firstPoll()
        return session
    }

    private func pollPath(after: Int, wait: Duration) -> String {
        "/matches/\(match)/events?after=\(after)&wait=\(Self.seconds(wait))"
    }

    /// A duration as the server reads `wait`: seconds, with decimals when it is not whole.
    static func seconds(_ duration: Duration) -> String {
        let milliseconds = Int(duration / .milliseconds(1))
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000)" : String(format: "%.3f", Double(milliseconds) / 1000)
    }

    private func firstPoll() async throws {
        let after = state.withLock { $0.cursor }
        let response: HTTPLink.Response
        do {
            response = try await pollLink.send(.GET, pollPath(after: after, wait: .zero), headers: authorization)
        } catch {
            finish(.lost("\(error)"))
            throw error
        }
        if let end = handle(response) {
            finish(end)
            if case .refused(let error) = end { throw error }
            throw SessionLost()
        }
        pollAgain()
    }

    /// Sends the next poll, or, once the match has ended, lets the poll's connection go (the
    /// session, and its connection for commands, stays until closed).
    private func pollAgain() {
        if state.withLock({ $0.pollsOver }) { pollLink.close() } else { poll() }
    }

    /// Sends the next poll; its answer is handled on the event loop, which sends the one after.
    private func poll() {
        let after: Int? = state.withLock { $0.isOver ? nil : $0.cursor }
        guard let after else { return }
        pollLink.send(.GET, pollPath(after: after, wait: options.pollWait), headers: authorization,
                      timeout: TimeAmount(options.pollTimeout))
            .whenComplete { [self] result in
                switch result {
                case .success(let response):
                    if let end = handle(response) { finish(end) } else { pollAgain() }
                case .failure(let error):
                    finish(.lost("\(error)"))
                }
            }
    }

    /// Delivers a poll's events; returns how the session ends if the answer was an error.
    private func handle(_ response: HTTPLink.Response) -> SessionEnd? {
        guard response.status == .ok else {
            // What was delivered after the error's version never became durable: poll after it.
            if let error = try? WireCoding.decoder.decode(WireError.self, from: response.body), error.code == .rolledBack, let version = error.version {
                state.withLock { $0.cursor = min($0.cursor, version) }
                sink(.rolledBack(to: version))
                return nil
            }
            return Self.end(for: response)
        }
        guard let events = try? WireCoding.decoder.decode([MatchEvent].self, from: response.body) else {
            return .lost("the server sent a poll answer that is not ply JSON")
        }
        if let last = events.last {
            let ended = if case .ended = last.change { true } else { false }
            state.withLock { state in
                state.cursor = max(state.cursor, last.version)
                if ended { state.pollsOver = true }
            }
            sink(.events(events))
        }
        return nil
    }

    /// An error answer to a poll: a refusal for good, or a reason to come back later.
    private static func end(for response: HTTPLink.Response) -> SessionEnd {
        CommandPoster.end(for: response)
    }

    /// Ends the session once, closing both connections.
    func finish(_ end: SessionEnd) {
        let first = state.withLock { state -> Bool in
            guard !state.isOver else { return false }
            state.isOver = true
            return true
        }
        guard first else { return }
        pollLink.close()
        commands.close()
        endPromise.succeed(end)
    }

    func close() {
        finish(.closed)
    }
}
