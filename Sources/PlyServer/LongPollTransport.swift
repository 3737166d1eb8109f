import Foundation
import Hummingbird
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import PlyAuthority
import PlyEngine
import PlyWire

/// The long-polling transport: `GET /matches/{id}/events` answers with the events after a
/// version, holding the request until there is one, and `POST /matches/{id}/commands` runs a
/// seat's command. Both are served by `HTTPConnection` on the connection's event loop, so a
/// waiting poll costs no task and an event reaches it with no hop. Who is let in is the
/// authority's admission step; what is left here is a poll's wait, one poll per seat, and a
/// command's body.
final class LongPollTransport: Sendable {
    let authority: Authority
    let connections: Connections
    let configuration: ServerConfiguration
    let seatPolls = SeatPolls()

    init(authority: Authority, connections: Connections, configuration: ServerConfiguration) {
        self.authority = authority
        self.connections = connections
        self.configuration = configuration
    }

    /// What a poll asks the admission step: its token (a spectator without one) and `after`.
    func admission(poll id: Substring, _ head: HTTPRequestHead, query: Parameters) -> Result<Admission, WireError>? {
        authority.admission(to: String(id), as: Credential(authorization: head.headers.first(name: "authorization")), after: query.get("after"))
    }

    func admit(poll id: Substring, _ head: HTTPRequestHead, query: Parameters) async -> Result<Admission, WireError> {
        await authority.admit(to: String(id), as: Credential(authorization: head.headers.first(name: "authorization")), after: query.get("after"))
    }

    /// What a command asks: a seat's token.
    func admission(command id: Substring, _ head: HTTPRequestHead) -> Result<Admission, WireError>? {
        authority.admission(to: String(id), as: Credential(authorization: head.headers.first(name: "authorization")), seatRequired: true)
    }

    func admit(command id: Substring, _ head: HTTPRequestHead) async -> Result<Admission, WireError> {
        await authority.admit(to: String(id), as: Credential(authorization: head.headers.first(name: "authorization")), seatRequired: true)
    }

    /// A poll's request, judged: what to answer at once, or what to wait for.
    enum PollPlan {
        case answer(ArraySlice<ByteBuffer>)
        case wait(MatchAuthority, after: Int, seat: Seat?, timeout: Duration)
    }

    /// Reads an admitted poll's `wait` and says what to do.
    func plan(poll admission: Admission, query: Parameters) throws(WireError) -> PollPlan {
        let maxWait = configuration.maxPollWait / .seconds(1)
        var wait = configuration.defaultPollWait
        if let text = query.get("wait") {
            guard let seconds = Double(text), seconds.isFinite, (0...maxWait).contains(seconds) else {
                throw WireError(.badParameter, "wait must be a number of seconds from 0 to \(Int(maxWait))")
            }
            wait = .milliseconds(Int64(seconds * 1000))
        }
        if let hold = configuration.pollHold { wait = min(wait, hold) }
        if authority.isShuttingDown { wait = .zero }
        let ready = admission.match.events(after: admission.after, for: admission.seat)
        guard ready.isEmpty, wait > .zero else { return .answer(ready) }
        return .wait(admission.match, after: admission.after, seat: admission.seat, timeout: wait)
    }

    /// Reads an admitted command's body (the server running); the budgets are the caller's.
    func command(from body: ByteBuffer?) throws(WireError) -> Command {
        try authority.checkRunning()
        let data = body.map { Data(buffer: $0, byteTransferStrategy: .noCopy) } ?? Data()
        return try WireCoding.decodeMessage(Command.self, from: data)
    }
}
