import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import PlyEngine
import PlyWire

/// The server's HTTP resources: games, matches, snapshots and seats. Calls may overlap (an
/// actor's calls interleave at every await), so each takes an idle kept-alive connection from
/// a small pool, or opens one, and gives it back when its answer has arrived.
public actor PlyAPI {
    public nonisolated let endpoint: Endpoint
    public nonisolated let stats: WireStats
    private let group: any EventLoopGroup
    /// Whether answers are asked for gzipped (`Accept-Encoding: gzip`).
    private let compression: Bool
    /// Idle kept-alive connections, with when each was given back; one quiet for longer than
    /// `keptAliveReuse` is closed rather than used (a NAT may have forgotten it).
    private var idle: [(link: HTTPLink, since: ContinuousClock.Instant)] = []
    private let keptAliveReuse: Duration

    public init(endpoint: Endpoint, stats: WireStats = WireStats(), options: ConnectionOptions = ConnectionOptions()) {
        self.endpoint = endpoint
        self.stats = stats
        group = options.group
        compression = options.compression
        keptAliveReuse = options.keptAliveReuse
    }

    /// The server's health; a degraded server answers 503 with its health, returned too.
    public func health() async throws -> Health {
        try await call(.GET, "/health", body: Optional<CreateMatchRequest>.none, alsoAccepting: 503)
    }

    public func games() async throws -> [GameInfo] { try await get("/games") }

    public func createMatch(_ game: GameID, moveTimeLimit: Int? = nil) async throws -> MatchSnapshot {
        try await call(.POST, "/matches", body: CreateMatchRequest(game: game, moveTimeLimit: moveTimeLimit))
    }

    public func matches(status: MatchStatus? = nil, limit: Int = 100) async throws -> [MatchSnapshot] {
        try await get("/matches?limit=\(limit)" + (status.map { "&status=\($0.rawValue)" } ?? ""))
    }

    /// A match as the seat whose token is given may see it; without one, as a spectator.
    public func snapshot(_ match: String, token: String? = nil) async throws -> MatchSnapshot {
        try await get("/matches/\(match)", token: token)
    }

    /// Takes the first free seat of a match.
    public func join(_ match: String, name: String) async throws -> SeatGrant {
        try await call(.POST, "/matches/\(match)/seats", body: JoinRequest(name: name))
    }

    /// Every event of a match after a version, at once (a long poll that does not wait), as the
    /// seat whose token is given may see them; without one, as a spectator.
    public func events(_ match: String, after version: Int = 0, token: String? = nil) async throws -> [MatchEvent] {
        try await get("/matches/\(match)/events?after=\(version)&wait=0", token: token)
    }

    public func close() {
        for (link, _) in idle { link.close() }
        idle.removeAll()
    }

    private func get<T: Decodable>(_ path: String, token: String? = nil) async throws -> T {
        try await call(.GET, path, body: Optional<CreateMatchRequest>.none, token: token)
    }

    /// One request; a 2xx answer decodes as `T`, any other as the `WireError` it carries.
    private func call<T: Decodable>(_ method: HTTPMethod, _ path: String, body: (some Encodable)?, token: String? = nil,
                                    alsoAccepting accepted: UInt? = nil) async throws -> T {
        let payload = try body.map { try WireCoding.encoder.encodeAsByteBuffer($0, allocator: ByteBufferAllocator()) }
        let headers = token.map { [("Authorization", "Bearer \($0)")] } ?? []
        let response: HTTPLink.Response
        do {
            response = try await send(on: try await takeLink(), method, path, headers, payload)
        } catch LinkError.connectionClosed {
            // A kept-alive connection the server closed while idle: one try on a fresh one.
            response = try await send(on: try await HTTPLink.connect(to: endpoint, stats: stats, compression: compression, group: group), method, path, headers, payload)
        }
        let decoder = WireCoding.decoder
        guard (200..<300).contains(response.status.code) || response.status.code == accepted else {
            throw (try? decoder.decode(WireError.self, from: response.body))
                ?? WireError(.badRequest, "HTTP \(response.status.code) from \(path)")
        }
        return try decoder.decode(T.self, from: response.body)
    }

    /// Sends on a link that no other call is using, and returns it to the pool afterwards.
    private func send(on link: HTTPLink, _ method: HTTPMethod, _ path: String, _ headers: [(String, String)], _ payload: ByteBuffer?) async throws -> HTTPLink.Response {
        let response = try await link.send(method, path, headers: headers, body: payload)
        if link.isActive, idle.count < 8 { idle.append((link, .now)) } else { link.close() }
        return response
    }

    private func takeLink() async throws -> HTTPLink {
        while let (link, since) = idle.popLast() {
            if link.isActive, ContinuousClock.now - since < keptAliveReuse { return link }
            link.close()
        }
        return try await HTTPLink.connect(to: endpoint, stats: stats, compression: compression, group: group)
    }
}
