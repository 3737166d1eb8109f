import Foundation
import PlyClient
import PlyEngine
import PlyWire
import Testing

/// `GET /metrics`: Prometheus's text format, counting what the server did.
@Suite(.timeLimit(.minutes(1)))
struct MetricsTests {
    /// Commands and moves are counted by transport and result, the store's writes timed, and
    /// the gauges read when asked.
    @Test func metricsCountCommandsByTransportAndResult() async throws {
        try await LiveServer.run { server in
            let (match, first, second) = try await server.startedMatch()
            let played = try await server.request(.post, "/matches/\(match)/commands", body: #"{"move":"1","type":"play","v":3}"#, token: first.token)
            #expect(played.status == 200)
            let stale = try await server.request(.post, "/matches/\(match)/commands", body: #"{"move":"2","type":"play","v":3}"#, token: second.token)
            #expect(stale.status == 409)
            let socket = try await MatchConnection.open(to: Endpoint(host: "127.0.0.1", port: server.port), match: match,
                                                        seat: (second.seat, second.token), transport: .over(.webSocket))
            _ = try await socket.send(Command(.play("2"), version: 4))
            _ = try await socket.send(Command(.resign, version: 5))

            let reply = try await server.request(.get, "/metrics")
            #expect(reply.status == 200)
            #expect(reply.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
            let lines = Set(reply.body.split(separator: "\n").map(String.init))
            for expected in [
                #"ply_moves_total{transport="http",result="ok"} 1"#,
                #"ply_moves_total{transport="http",result="match/stale_version"} 1"#,
                #"ply_moves_total{transport="websocket",result="ok"} 1"#,
                #"ply_commands_total{transport="websocket",result="ok"} 2"#,
                "ply_websockets_open 1.0",
                #"ply_websocket_upgrades_total{request="first"} 1"#,
                "ply_store_available 1.0",
                "# TYPE ply_store_write_seconds histogram",
            ] {
                #expect(lines.contains(expected), "\(expected) in \(reply.body)")
            }
            let writes = lines.first { $0.hasPrefix("ply_store_write_seconds_count ") }.flatMap { Int($0.split(separator: " ")[1]) }
            #expect((writes ?? 0) >= 6, "creation, two joins, three commands: each written")
            socket.close()
        }
    }
}
