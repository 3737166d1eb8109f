import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import PlyAuthority
import PlyEngine
import PlyWire

/// The WebSocket transport: `GET /matches/{id}/ws?after=V` upgrades, then the server sends
/// every event after V and each new event as one text message (the same JSON as one element
/// of a long-poll answer), and answers each command message with an ack or an error.
///
/// The request is judged when the upgrade is asked for; from then on the connection is a
/// `WebSocketConnection` on its event loop (swift-nio's frame codec and aggregator below it).
struct WebSocketTransport: Sendable {
    let authority: Authority
    let connections: Connections
    let configuration: ServerConfiguration

    /// What the server makes of an upgrade request.
    enum Admission: Sendable {
        /// A spectator (no seat) or a seat, starting after a version.
        case admitted(MatchAuthority, Seat?, after: Int)
        /// Upgraded only to say why not: the error is sent, then the connection closed.
        case refused(WireError)
    }

    /// Judges an upgrade request; nil when its path is not a WebSocket endpoint (then the
    /// upgrade is refused and the request answered 400, as for any other path). A match not in
    /// memory (finished a while ago) is read from the store first.
    func admit(_ head: HTTPRequestHead, client: String, on eventLoop: any EventLoop) -> EventLoopFuture<Admission?> {
        let parts = URI(head.uri).path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0].isEmpty, parts[1] == "matches", parts[3] == "ws" else { return eventLoop.makeSucceededFuture(nil) }
        let id = String(parts[2])
        do throws(WireError) {
            try authority.checkRunning()
            try connections.clients.spend(.upgrade, by: client)
            if let allowed = configuration.allowedOrigins, let origin = head.headers["Origin"].first, !allowed.contains(origin) {
                throw WireError(.forbiddenOrigin, "WebSockets from origin '\(origin)' are not allowed")
            }
            if let match = try authority.resident(id), !match.isBehind(Self.after(head)) {
                let admission = Self.admission(to: match, head)
                // A seat taken on another server a moment ago: read the store, then judge again.
                guard case .refused(let error) = admission, error.code == .wrongToken, match.isShared else {
                    return eventLoop.makeSucceededFuture(admission)
                }
            }
        } catch {
            return eventLoop.makeSucceededFuture(.refused(error))
        }
        let authority = authority
        let promise = eventLoop.makePromise(of: Admission?.self)
        promise.completeWithTask {
            do throws(WireError) {
                let match = try await authority.match(id)
                if let after = Self.after(head), match.isBehind(after) { await match.reach(after) }
                let admission = Self.admission(to: match, head)
                guard case .refused(let error) = admission, error.code == .wrongToken, match.isShared else { return admission }
                await match.refresh()
                return Self.admission(to: match, head)
            } catch {
                return .refused(error)
            }
        }
        return promise.futureResult
    }

    /// The version a request names after `after=`, if it is a number.
    private static func after(_ head: HTTPRequestHead) -> Int? {
        Int(URI(head.uri).queryParameters.get("after") ?? "")
    }

    /// Admits a spectator, or a seat by its token, after a version of the match.
    private static func admission(to match: MatchAuthority, _ head: HTTPRequestHead) -> Admission {
        do throws(WireError) {
            let version = match.version
            guard let after = Int(URI(head.uri).queryParameters.get("after") ?? "0"), (0...version).contains(after) else {
                throw WireError(.badParameter, "after must be an integer from 0 to the match's version, \(version)", version: version)
            }
            guard let header = head.headers["Authorization"].first else { return .admitted(match, nil, after: after) }
            return .admitted(match, try match.seat(forToken: SeatToken.bearer(header)), after: after)
        } catch {
            return .refused(error)
        }
    }
}
