import Foundation
import Hummingbird
import NIOCore
import NIOFoundationCompat
import PlyAuthority
import PlyEngine
import PlyWire
import Synchronization

/// The long-polling transport: `GET /matches/{id}/events` answers with the events after a
/// version, holding the request until there is one, and `POST /matches/{id}/commands` runs a
/// seat's command. Waiting, one poll per seat, and ending a poll whose client left live here;
/// the authority only says when a match has news.
struct LongPollTransport: Sendable {
    typealias Context = PlyRequestContext
    let authority: Authority
    let connections: Connections
    let configuration: ServerConfiguration
    let seatPolls: SeatPolls

    func add(to router: Router<Context>) {
        router.get("/matches/:id/events", use: poll)
        router.post("/matches/:id/commands", use: command)
    }

    /// Answers at once with every event after `after`, or holds the request until one arrives
    /// or `wait` seconds pass (then `[]`). The same bytes per event as a WebSocket message.
    /// A poll with a seat's token ends that seat's older waiting poll (which answers `[]`).
    @Sendable func poll(_ request: Request, context: Context) async throws -> Response {
        let match = try authority.match(context.parameters.get("id"))
        let header = request.headers[.authorization]
        let seat = try header.map { header throws(WireError) in try match.seat(forToken: SeatToken.bearer(header)) }
        let query = request.uri.queryParameters
        let version = match.version
        guard let after = Int(query.get("after") ?? "0"), (0...version).contains(after) else {
            throw WireError(.badParameter, "after must be an integer from 0 to the match's version, \(version)", version: version)
        }
        let maxWait = configuration.maxPollWait / .seconds(1)
        var wait = configuration.defaultPollWait
        if let text = query.get("wait") {
            guard let seconds = Double(text), seconds.isFinite, (0...maxWait).contains(seconds) else {
                throw WireError(.badParameter, "wait must be a number of seconds from 0 to \(Int(maxWait))")
            }
            wait = .milliseconds(Int64(seconds * 1000))
        }
        if authority.isShuttingDown { wait = .zero }
        let ready = match.events(after: after)
        guard ready.isEmpty, wait > .zero else { return .json(JSONBuffer.array(ready)) }
        let news = await PollWaiter(match: match, after: after, seat: seat, channel: context.channel, transport: self).wait(wait)
        return .json(JSONBuffer.array(news ? match.events(after: after) : []))
    }

    /// Runs a seat's command; the answer is the acknowledgement or the error, as JSON.
    @Sendable func command(_ request: Request, context: Context) async throws -> Response {
        let match = try authority.match(context.parameters.get("id"))
        let seat = try match.seat(forToken: SeatToken.bearer(request.headers[.authorization]))
        try authority.checkRunning()
        try connections.spendCommand(on: context.channel)
        let command = try await request.message(Command.self, upTo: configuration.maxMessageBytes)
        return try .json(try await match.execute(command, by: seat))
    }
}

/// The poll each seat has waiting, so that a newer one ends it.
final class SeatPolls: Sendable {
    private struct Key: Hashable {
        let match: ObjectIdentifier
        let seat: Seat
    }

    private let waiting = Mutex<[Key: PollWaiter]>([:])

    /// Records a seat's new poll and returns the one it replaces.
    func replace(_ match: MatchAuthority, _ seat: Seat, with waiter: PollWaiter) -> PollWaiter? {
        waiting.withLock { $0.updateValue(waiter, forKey: Key(match: ObjectIdentifier(match), seat: seat)) }
    }

    /// Forgets a seat's poll, if it is still the seat's current one.
    func remove(_ match: MatchAuthority, _ seat: Seat, _ waiter: PollWaiter) {
        waiting.withLock { waiting in
            let key = Key(match: ObjectIdentifier(match), seat: seat)
            if waiting[key] === waiter { waiting.removeValue(forKey: key) }
        }
    }
}

/// One poll parked until the match has news, its wait passes, a newer poll of the same seat
/// arrives, its client leaves or the match closes; whichever comes first ends it, once.
final class PollWaiter: MatchSubscriber {
    private let match: MatchAuthority
    private let after: Int
    private let seat: Seat?
    private let channel: any Channel
    private let transport: LongPollTransport
    /// The waiting request, and whether it has been answered; nil once answered.
    private let state = Mutex<(continuation: CheckedContinuation<Bool, Never>?, ended: Bool, news: Bool)>((nil, false, false))

    init(match: MatchAuthority, after: Int, seat: Seat?, channel: any Channel, transport: LongPollTransport) {
        self.match = match
        self.after = after
        self.seat = seat
        self.channel = channel
        self.transport = transport
    }

    /// Waits up to `timeout`; true when there are events after `after` to send.
    func wait(_ timeout: Duration) async -> Bool {
        let connections = transport.connections
        connections.pollStarted()
        defer { connections.pollEnded() }
        let timer = channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) { [self] in end(news: true) }
        let news = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let ended = state.withLock { state -> Bool in
                state.continuation = continuation
                return state.ended
            }
            if ended { return resume() }
            let (version, closure) = match.subscribe(self)
            if version > after || closure != nil { return end(news: closure == nil) }
            if let seat, let older = transport.seatPolls.replace(match, seat, with: self) { older.end(news: false) }
            connections.onClientLeaving(channel) { [self] in end(news: false) }
        }
        timer.cancel()
        match.unsubscribe(self)
        if let seat { transport.seatPolls.remove(match, seat, self) }
        connections.cancelOnClientLeaving(channel)
        return news
    }

    /// Answers the poll, once: with the events after its version (`news`), or `[]`.
    func end(news: Bool) {
        let first = state.withLock { state -> Bool in
            guard !state.ended else { return false }
            state.ended = true
            state.news = news
            return true
        }
        if first { resume() }
    }

    /// Resumes the waiting request if both it waits and the poll has ended.
    private func resume() {
        let resumption = state.withLock { state -> (CheckedContinuation<Bool, Never>, Bool)? in
            guard state.ended, let continuation = state.continuation else { return nil }
            state.continuation = nil
            return (continuation, state.news)
        }
        if let (continuation, news) = resumption { continuation.resume(returning: news) }
    }

    func matchPublished(_ match: MatchAuthority, upTo version: Int) {
        if version > after { end(news: true) }
    }

    func matchClosed(_ match: MatchAuthority, _ closure: MatchClosure) {
        end(news: false)
    }
}
