import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOFoundationCompat
import PlyAuthority
import PlyEngine
import PlyWire

/// The HTTP resources: `/health`, `/metrics`, `/games`, `/matches`, a match's snapshot and its
/// seats, served by Hummingbird's router. The router holds the router's endpoints of the one
/// route table (`Routes`); `HTTPConnection` hands it only requests the table sends its way.
struct HTTPRoutes: Sendable {
    typealias Context = PlyRequestContext
    let authority: Authority
    let connections: Connections
    let configuration: ServerConfiguration
    let health: @Sendable () -> Health

    func add(to router: Router<Context>) {
        for route in Routes.all {
            for (method, endpoint) in route.methods where endpoint.server == .router {
                guard let method = HTTPRequest.Method(method.rawValue) else { continue }
                router.on(RouterPath(route.path), method: method, use: handler(endpoint))
            }
        }
    }

    /// What serves each of the router's endpoints.
    private func handler(_ endpoint: Endpoint) -> @Sendable (Request, Context) async throws -> Response {
        switch endpoint {
        case .health: { _, _ in
            // A server whose store has failed refuses every change: it is not healthy.
            let health = health()
            return try Response.json(health, status: health.status == "degraded" ? .serviceUnavailable : .ok)
        }
        case .metrics: { [connections, authority, health] _, _ in
            let text = connections.metrics.exposition(health: health(), storeAvailable: PlyServer.storeAvailable(authority))
            var response = Response(status: .ok, body: ResponseBody(byteBuffer: ByteBuffer(bytes: text)))
            response.headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return response
        }
        case .games: { _, _ in try Response.json(GameID.allCases.map(GameInfo.init)) }
        case .createMatch: createMatch
        case .listMatches: listMatches
        case .snapshot: snapshot
        case .join: join
        case .streamTicket: streamTicket
        case .poll, .command, .webSocket, .stream: { request, _ in
            // Served by HTTPConnection; the router is never handed them.
            throw WireError(.internalError, "\(request.uri.path) is not the router's")
        }
        }
    }

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
        _ = try await authority.admit(to: snapshot.id, as: .none).get().match.subscribe(LiveMatchWatcher(client: context.client, clients: clients))
        return try .json(snapshot, status: .created)
    }

    /// A match as the seat whose token is sent may see it; without a token, as a spectator.
    @Sendable func snapshot(_ request: Request, context: Context) async throws -> Response {
        let admission = try await authority.admit(to: context.parameters.get("id"),
                                                  as: Credential(authorization: request.headers[.authorization])).get()
        return try Response.json(admission.match.snapshot(for: admission.seat))
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
        let match = try await authority.admit(to: context.parameters.get("id"), as: .none).get().match
        try authority.checkRunning()
        try connections.clients.spend(.join, by: context.client)
        let body = try await request.message(JoinRequest.self, upTo: configuration.maxMessageBytes)
        return try .json(try await match.join(name: body.name), status: .created)
    }

    /// A ticket for the seat whose token is sent, to open its event stream from a browser.
    @Sendable func streamTicket(_ request: Request, context: Context) async throws -> Response {
        let admission = try await authority.admit(to: context.parameters.get("id"), as: Credential(authorization: request.headers[.authorization]),
                                                  seatRequired: true).get()
        try connections.clients.spend(.upgrade, by: context.client)
        guard let token = request.headers[.authorization].flatMap(SeatToken.bearer) else {
            throw WireError(.missingToken, "send the seat token as 'Authorization: Bearer TOKEN'")
        }
        let (ticket, lifetime) = connections.tickets.issue(match: admission.match.id, token: token)
        return try .json(StreamTicket(ticket: ticket, expiresIn: Int(lifetime / .seconds(1))), status: .created)
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
