import NIOCore
import PlyEngine
import PlyWire

/// The server's answer to one command.
enum CommandReply: Sendable {
    case ack(Acknowledgement)
    case refused(WireError)
}

/// Why a transport session ended.
enum SessionEnd: Sendable {
    /// The connection was lost (or the server is restarting): reconnect and resume.
    case lost(String)
    /// The server refused the session for good (unknown match, wrong token): do not retry.
    case refused(WireError)
    /// The client closed it.
    case closed
}

/// A command sent on a session whose connection was lost before its answer arrived: it may or
/// may not have been applied.
struct SessionLost: Error {
    var reason = "the connection dropped"
}

/// One connection attempt over one transport: it delivers events (in version order) to the
/// match connection as they arrive, sends commands, and reports once how it ended.
protocol TransportSession: AnyObject, Sendable {
    /// Connects over this transport and starts delivering events after `request.after`.
    static func open(_ request: SessionRequest) async throws -> Self
    var kind: Transport { get }
    /// Completes once, when the session ends.
    var ended: EventLoopFuture<SessionEnd> { get }
    /// Sends a command and returns the server's answer; throws `SessionLost` if the connection
    /// goes first, and `CommandError.timedOut` if no answer comes by the deadline.
    func send(_ command: Command, before deadline: ContinuousClock.Instant) async throws -> CommandReply
    /// Sends a command at once, with no task: the future has the server's answer, or fails as
    /// `send` throws. Nil when the session cannot send at once (its command connection is not
    /// open yet): `send` then.
    func sendNow(_ command: Command, before deadline: ContinuousClock.Instant) -> EventLoopFuture<CommandReply>?
    /// Ends the session once, as `end` says, closing its connections.
    func finish(_ end: SessionEnd)
    func close()
}

/// What a session hands on: events, or the server's word that what it sent after a version
/// never became durable (servers sharing a database).
enum SessionNews: Sendable {
    case events([MatchEvent])
    case rolledBack(to: Int)
}

/// Where a session hands what it receives, on the connection's event loop.
typealias EventSink = @Sendable (SessionNews) -> Void

extension TransportSession {
    /// Waits for a new session to be admitted (a WebSocket's welcome, a stream's first bytes),
    /// at most `limit`: past it the admission fails with `LinkError.timedOut`, which makes
    /// `auto` move on (a proxy that holds the upgrade or buffers the stream). A session whose
    /// admission fails is closed.
    func awaitAdmission(_ admitted: EventLoopPromise<Void>, within limit: Duration) async throws {
        let timer = admitted.futureResult.eventLoop.scheduleTask(in: TimeAmount(limit)) { admitted.fail(LinkError.timedOut) }
        defer { timer.cancel() }
        do {
            try await admitted.futureResult.get()
        } catch {
            close()
            throw error
        }
    }
}

/// The headers that present a seat's token (none for a spectator).
func bearer(_ token: String?) -> [(String, String)] {
    token.map { [("Authorization", "Bearer \($0)")] } ?? []
}

/// What opening a session takes, whichever its transport.
struct SessionRequest: Sendable {
    var endpoint: Endpoint
    var match: String
    /// The seat's token; nil for a spectator.
    var token: String?
    var after: Int
    var options: ConnectionOptions
    var stats: WireStats
    var sink: EventSink

    var parts: (Endpoint, String, String?, Int, ConnectionOptions, WireStats, EventSink) {
        (endpoint, match, token, after, options, stats, sink)
    }
}
