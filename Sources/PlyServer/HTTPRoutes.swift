import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOFoundationCompat
import PlyEngine
import PlyWire

/// The HTTP resources (`/health`, `/games`, `/matches`, seats) and the long-polling transport
/// (`/matches/{id}/events` and `/matches/{id}/commands`).
struct HTTPRoutes: Sendable {
    typealias Context = PlyRequestContext
    let service: GameService

    func add(to router: Router<Context>) {
        router.get("/health") { _, _ in try Response.json(service.health()) }
        router.get("/games") { _, _ in try Response.json(GameID.allCases.map(GameInfo.init)) }
        router.post("/matches", use: createMatch)
        router.get("/matches", use: listMatches)
        router.get("/matches/:id") { _, context in try Response.json(try service.room(context.parameters.get("id")).snapshot()) }
        router.post("/matches/:id/seats", use: join)
        router.get("/matches/:id/events", use: poll)
        router.post("/matches/:id/commands", use: command)
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
        ("/health", [.get]), ("/games", [.get]), ("/matches", [.get, .post]), ("/matches/:id", [.get]),
        ("/matches/:id/seats", [.post]), ("/matches/:id/events", [.get]), ("/matches/:id/commands", [.post]),
        ("/matches/:id/ws", [.get]),
    ]

    // MARK: Resources

    @Sendable func createMatch(_ request: Request, context: Context) async throws -> Response {
        let body = try await decode(CreateMatchRequest.self, from: request)
        return try .json(try await service.createMatch(body), status: .created)
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
        let limit = try Self.integer(query.get("limit"), name: "limit", default: 100, in: 1...1000)
        return try .json(service.matches(status: status, limit: limit))
    }

    @Sendable func join(_ request: Request, context: Context) async throws -> Response {
        let room = try service.room(context.parameters.get("id"))
        try service.checkRunning()
        let body = try await decode(JoinRequest.self, from: request)
        return try .json(try await room.join(name: body.name), status: .created)
    }

    // MARK: Long polling

    /// Answers at once with every event after `after`, or holds the request until one arrives
    /// or `wait` seconds pass (then `[]`). The same bytes per event as a WebSocket message.
    /// A poll with a seat's token ends that seat's older waiting poll (which answers `[]`).
    @Sendable func poll(_ request: Request, context: Context) async throws -> Response {
        let room = try service.room(context.parameters.get("id"))
        let header = request.headers[.authorization]
        let seat = try header.map { header throws(WireError) in try room.seat(forToken: SeatToken.bearer(header)) }
        let query = request.uri.queryParameters
        let version = room.version
        guard let after = Int(query.get("after") ?? "0"), (0...version).contains(after) else {
            throw WireError(.badParameter, "after must be an integer from 0 to the match's version, \(version)", version: version)
        }
        let maxWait = Double(service.configuration.maxPollWait.components.seconds)
        var wait = service.configuration.defaultPollWait
        if let text = query.get("wait") {
            guard let seconds = Double(text), seconds.isFinite, (0...maxWait).contains(seconds) else {
                throw WireError(.badParameter, "wait must be a number of seconds from 0 to \(Int(maxWait))")
            }
            wait = .milliseconds(Int64(seconds * 1000))
        }
        if service.isShuttingDown { wait = .zero }
        let events = await service.poll(room, after: after, timeout: wait, seat: seat, on: context.channel)
        return .json(JSONBuffer.array(events))
    }

    /// Runs a seat's command; the answer is the acknowledgement or the error, as JSON.
    @Sendable func command(_ request: Request, context: Context) async throws -> Response {
        let room = try service.room(context.parameters.get("id"))
        let seat = try room.seat(forToken: SeatToken.bearer(request.headers[.authorization]))
        try service.checkRunning()
        try service.spendCommand(on: context.channel)
        let command = try await decode(Command.self, from: request)
        return try .json(try await room.execute(command, by: seat))
    }

    // MARK: Parsing

    private func decode<T: Decodable>(_ type: T.Type, from request: Request) async throws -> T {
        let body = try await request.body.collect(upTo: service.configuration.maxMessageBytes)
        return try WireCoding.decodeMessage(type, from: Data(buffer: body, byteTransferStrategy: .noCopy))
    }

    static func integer(_ text: String?, name: String, default value: Int, in range: ClosedRange<Int>) throws(WireError) -> Int {
        guard let text else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw WireError(.badParameter, "\(name) must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }
}
