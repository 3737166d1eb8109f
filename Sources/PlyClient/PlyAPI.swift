import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import PlyEngine
import PlyWire

/// The server's HTTP resources: games, matches, snapshots and seats. One kept-alive
/// connection, reopened when it drops; calls run one at a time.
public actor PlyAPI {
    public nonisolated let endpoint: Endpoint
    public nonisolated let stats: WireStats
    private let group: any EventLoopGroup
    private var link: HTTPLink?

    public init(endpoint: Endpoint, stats: WireStats = WireStats(), options: ConnectionOptions = ConnectionOptions()) {
        self.endpoint = endpoint
        self.stats = stats
        group = options.group
    }

    public func health() async throws -> Health { try await get("/health") }

    public func games() async throws -> [GameInfo] { try await get("/games") }

    public func createMatch(_ game: GameID, moveTimeLimit: Int? = nil) async throws -> MatchSnapshot {
        try await call(.POST, "/matches", body: CreateMatchRequest(game: game, moveTimeLimit: moveTimeLimit))
    }

    public func matches(status: MatchStatus? = nil, limit: Int = 100) async throws -> [MatchSnapshot] {
        try await get("/matches?limit=\(limit)" + (status.map { "&status=\($0.rawValue)" } ?? ""))
    }

    public func snapshot(_ match: String) async throws -> MatchSnapshot { try await get("/matches/\(match)") }

    /// Takes the first free seat of a match.
    public func join(_ match: String, name: String) async throws -> SeatGrant {
        try await call(.POST, "/matches/\(match)/seats", body: JoinRequest(name: name))
    }

    public func close() {
        link?.close()
        link = nil
    }

    private func get<T: Decodable>(_ path: String) async throws -> T {
        try await call(.GET, path, body: Optional<CreateMatchRequest>.none)
    }

    /// One request; a 2xx answer decodes as `T`, any other as the `WireError` it carries.
    private func call<T: Decodable>(_ method: HTTPMethod, _ path: String, body: (some Encodable)?) async throws -> T {
        let payload = try body.map { try WireCoding.makeEncoder().encodeAsByteBuffer($0, allocator: ByteBufferAllocator()) }
        let response: HTTPLink.Response
        do {
            response = try await connection().send(method, path, body: payload)
        } catch LinkError.connectionClosed {
            // A kept-alive connection the server closed while idle: one fresh try.
            link = nil
            response = try await connection().send(method, path, body: payload)
        }
        let decoder = JSONDecoder()
        guard (200..<300).contains(response.status.code) else {
            throw (try? decoder.decode(WireError.self, from: response.body))
                ?? WireError(.badRequest, "HTTP \(response.status.code) from \(path)")
        }
        return try decoder.decode(T.self, from: response.body)
    }

    private func connection() async throws -> HTTPLink {
        if let link, link.isActive { return link }
        let fresh = try await HTTPLink.connect(to: endpoint, stats: stats, group: group)
        link = fresh
        return fresh
    }
}
