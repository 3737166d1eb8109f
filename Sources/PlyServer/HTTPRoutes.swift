import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOFoundationCompat
import PlyAuthority
import PlyEngine
import PlyWire

/// The HTTP resources: `/health`, `/games`, `/matches`, a match's snapshot and its seats.
/// The long-polling transport's two requests never reach the router (`HTTPConnection`).
struct HTTPRoutes: Sendable {
    typealias Context = PlyRequestContext
    let authority: Authority
    let connections: Connections
    let configuration: ServerConfiguration
    let health: @Sendable () -> Health

    func add(to router: Router<Context>) {
        router.get("/health") { _, _ in
            // A server whose store has failed refuses every change: it is not healthy.
            let health = health()
            return try Response.json(health, status: health.status == "degraded" ? .serviceUnavailable : .ok)
        }
        router.get("/metrics") { _, _ in
            let text = connections.metrics.exposition(health: health(), storeAvailable: PlyServer.storeAvailable(authority))
            var response = Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(bytes: text)))
            response.headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return response
        }
        router.get("/games") { _, _ in try Response.json(GameID.allCases.map(GameInfo.init)) }
        router.post("/matches", use: createMatch)
        router.get("/matches", use: listMatches)
        router.get("/matches/:id", use: snapshot)
        router.post("/matches/:id/seats", use: join)
        router.get("/matches/:id/ws") { _, _ -> Response in
            throw WireError(.upgradeRequired, "this endpoint speaks WebSocket: send 'Upgrade: websocket'")
        }
        // A known resource asked with a method it does not have: 405 with `Allow`, not 404.
        for (path, allowed) in Self.resources {
            for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] where !allowed.contains(method) {
                router.on(RouterPath(path), method: method) { request, _ -> Response in
                    var response = WireError(.methodNotAllowed, "\(request.method) is not allowed on \(request.uri.path); use \(allowed.map(\.rawValue).joined(separator: " or "))").response
                    response.headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
                    return response
                }
            }
        }
    }

    /// Every resource and the methods it answers.
    static let resources: [(String, [HTTPRequest.Method])] = [
        ("/health", [.get]), ("/metrics", [.get]), ("/games", [.get]), ("/matches", [.get, .post]), ("/matches/:id", [.get]),
        ("/matches/:id/seats", [.post]), ("/matches/:id/events", [.get]), ("/matches/:id/commands", [.post]),
        ("/matches/:id/ws", [.get]),
    ]

    // MARK: Resources

    @Sendable func createMatch(_ request: Request, context: Context) async throws -> Response {
        let clients = connections.clients
        try clients.spend(.creation, by: context.client)
        let body = try await request.message(CreateMatchRequest.self, upTo: configuration.maxMessageBytes)
        try clients.reserveMatch(by: context.client)
        let snapshot: MatchSnapshot
        do {
            snapshot = try await authority.create(body)
        } catch {
            clients.matchEnded(by: context.client)
            throw error
        }
        // The creator's allowance comes back when the match ends.
        _ = try await authority.match(snapshot.id).subscribe(LiveMatchWatcher(client: context.client, clients: clients))
        return try .json(snapshot, status: .created)
    }

    /// A match as the seat whose token is sent may see it; without a token, as a spectator.
    @Sendable func snapshot(_ request: Request, context: Context) async throws -> Response {
        let match = try await authority.match(context.parameters.get("id"))
        var seat: Seat?
        if let header = request.headers[.authorization] { seat = try await match.seatReading(forToken: SeatToken.bearer(header)) }
        return try Response.json(match.snapshot(for: seat))
    }

    @Sendable func listMatches(_ request: Request, context: Context) async throws -> Response {
        let query = request.uri.queryParameters
        var status: MatchStatus?
        if let text = query.get("status") {
            guard let parsed = MatchStatus(rawValue: text) else {
                throw WireError(.badParameter, "status must be waiting, playing or finished")
            }
            status = parsed
        }
        let limit = try Self.integer(query.get("limit"), name: "limit", default: 100, in: 1...Authority.Configuration.listingLimit)
        return try .json(authority.matches(status: status, limit: limit))
    }

    @Sendable func join(_ request: Request, context: Context) async throws -> Response {
        let match = try await authority.match(context.parameters.get("id"))
        try authority.checkRunning()
        try connections.clients.spend(.join, by: context.client)
        let body = try await request.message(JoinRequest.self, upTo: configuration.maxMessageBytes)
        return try .json(try await match.join(name: body.name), status: .created)
    }

    // MARK: Parsing

    static func integer(_ text: String?, name: String, default value: Int, in range: ClosedRange<Int>) throws(WireError) -> Int {
        guard let text else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw WireError(.badParameter, "\(name) must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }
}
