import Foundation
import HummingbirdCore
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import PlyAuthority
import PlyEngine
import PlyWire
import Synchronization

/// The long-polling transport: `GET /matches/{id}/events` answers with the events after a
/// version, holding the request until there is one, and `POST /matches/{id}/commands` runs a
/// seat's command. Both are served by `HTTPConnection` on the connection's event loop, so a
/// waiting poll costs no task and an event reaches it with no hop; every other request goes on
/// to Hummingbird. Waiting, one poll per seat, and ending a poll whose client left live here;
/// the authority only says when a match has news.
struct LongPollTransport: Sendable {
    let authority: Authority
    let connections: Connections
    let configuration: ServerConfiguration
    let seatPolls = SeatPolls()

    /// The two requests this transport serves (and, for any request, a refusal decided from
    /// its head alone).
    enum Route {
        case poll(match: String)
        case command(match: String)
        case refuse(WireError)
    }

    /// The route of a request head, or nil for one Hummingbird serves (any other path or method).
    static func route(_ head: HTTPRequestHead) -> Route? {
        guard head.method == .GET || head.method == .POST else { return nil }
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0]
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0].isEmpty, parts[1] == "matches", !parts[2].isEmpty else { return nil }
        switch (head.method, parts[3]) {
        case (.GET, "events"): return .poll(match: String(parts[2]))
        case (.POST, "commands"): return .command(match: String(parts[2]))
        default: return nil
        }
    }

    /// A poll's request, judged: what to answer at once, or what to wait for.
    enum PollPlan {
        case answer(ArraySlice<ByteBuffer>)
        case wait(MatchAuthority, after: Int, seat: Seat?, timeout: Duration)
    }

    /// Checks a poll of a match (a token if sent, `after`, `wait`) and says what to do.
    func plan(poll match: MatchAuthority, _ head: HTTPRequestHead) throws(WireError) -> PollPlan {
        let seat = try head.headers["Authorization"].first.map { header throws(WireError) in
            try match.seat(forToken: SeatToken.bearer(header))
        }
        let query = URI(head.uri).queryParameters
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
        let ready = match.events(after: after, for: seat)
        guard ready.isEmpty, wait > .zero else { return .answer(ready) }
        return .wait(match, after: after, seat: seat, timeout: wait)
    }

    /// The version a poll asks after, when it is beyond what this server has published and
    /// other servers share the store (a client that saw it through another server): the store
    /// is read before the poll is judged.
    func beyond(_ match: MatchAuthority, _ head: HTTPRequestHead) -> Int? {
        let after = Int(URI(head.uri).queryParameters.get("after") ?? "")
        return match.isBehind(after) ? after : nil
    }

    /// Checks a command to a match (the token, the server running, the body) and returns what
    /// to run and for whom. The connection's budget is checked by the caller.
    func plan(command match: MatchAuthority, _ head: HTTPRequestHead, body: ByteBuffer?) throws(WireError) -> (Command, Seat) {
        let seat = try match.seat(forToken: SeatToken.bearer(head.headers["Authorization"].first))
        try authority.checkRunning()
        let data = body.map { Data(buffer: $0, byteTransferStrategy: .noCopy) } ?? Data()
        return (try WireCoding.decodeMessage(Command.self, from: data), seat)
    }
}
