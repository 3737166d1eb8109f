import Hummingbird
import NIOCore
import NIOHTTP1
import PlyAuthority
import PlyEngine
import PlyWire

/// The Server-Sent Events transport: `GET /matches/{id}/stream` answers with one long response,
/// `text/event-stream`, that carries every event after a version and each new one as it is
/// published (`id: V`, then `data:` with the same JSON bytes the other transports carry for that
/// viewer); commands are `POST /matches/{id}/commands`, as in long-polling. A browser's
/// EventSource reconnects by itself, sending `Last-Event-ID`; since it cannot send
/// `Authorization`, a seat's stream may be opened with a single-use ticket instead
/// (`POST /matches/{id}/stream-tickets`, `StreamTickets`).
///
/// `HTTPConnection` serves the request on its event loop and an `EventStream` writes it. Who is
/// let in is the authority's admission step; what is here is reading the request (the
/// credential, where to start) and the stream's wire format.
final class EventStreamTransport: Sendable {
    let authority: Authority
    let connections: Connections
    let configuration: ServerConfiguration
    /// Every open stream's heartbeats, one sweep per event loop.
    let heartbeats: LoopSweeps

    init(authority: Authority, connections: Connections, configuration: ServerConfiguration) {
        self.authority = authority
        self.connections = connections
        self.configuration = configuration
        heartbeats = LoopSweeps(every: configuration.streamHeartbeat)
    }

    /// What a stream request presents: `Authorization`, a ticket (spent here, once), or nothing
    /// (a spectator).
    func credential(_ head: HTTPRequestHead, query: Parameters, match id: Substring) throws(WireError) -> Credential {
        if let header = head.headers.first(name: "authorization") { return .authorization(header) }
        guard let ticket = query.get("ticket") else { return .none }
        guard let token = connections.tickets.redeem(ticket, match: String(id)) else {
            throw WireError(.wrongToken, "the stream ticket is unknown, spent or expired: ask for another with the seat token")
        }
        return .token(token)
    }

    /// Where the stream starts: `Last-Event-ID` (what a browser's EventSource sends when it
    /// reconnects by itself), else `after`, else 0.
    func after(_ head: HTTPRequestHead, query: Parameters) -> String? {
        head.headers.first(name: "last-event-id")?.trimmingCharacters(in: .whitespaces) ?? query.get("after")
    }

    /// Judges a stream request at once, when it can: the server running, the client's budget
    /// (shared with WebSocket upgrades), then the authority's admission step; nil when the store
    /// must be read first (`admit`).
    func admission(_ id: Substring, as credential: Credential, after: String?, client: String) -> Result<Admission, WireError>? {
        do throws(WireError) {
            try authority.checkRunning()
            try connections.clients.spend(.upgrade, by: client)
        } catch {
            return .failure(error)
        }
        return authority.admission(to: String(id), as: credential, after: after)
    }

    func admit(_ id: Substring, as credential: Credential, after: String?) async -> Result<Admission, WireError> {
        await authority.admit(to: String(id), as: credential, after: after)
    }

    // MARK: The wire format (the HTML standard's event stream)

    /// The headers of a stream's response: the type, no caching, and no buffering by a proxy
    /// (nginx reads `X-Accel-Buffering`).
    static let headers: HTTPHeaders = ["Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"]

    // Each event is framed by `OutboundJSON.streamEvent`, as the transports' floor frames it.

    /// How long a browser waits before it reconnects, in milliseconds.
    static func retry(_ after: Duration, allocator: ByteBufferAllocator) -> ByteBuffer {
        allocator.buffer(string: "retry: \(Int(after / .milliseconds(1)))\n\n")
    }

    /// A comment line: nothing to a client, but bytes on the wire for proxies and NATs.
    static func heartbeat(allocator: ByteBufferAllocator) -> ByteBuffer {
        allocator.buffer(string: ": heartbeat\n\n")
    }
}
