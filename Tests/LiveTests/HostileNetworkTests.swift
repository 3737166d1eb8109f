import Foundation
import PlyClient
import PlyRelay
import PlyServer
import PlyWire
import Testing

/// `auto` behind a proxy that lets WebSockets open and cuts them soon after (issue 26): it
/// settles on the fallback and stays there, the next connection to the same server starts
/// there, WebSocket is tried again later at a bounded rate, and once the proxy is mended the
/// connection goes back to it; nothing is lost across any switch.
@Suite(.timeLimit(.minutes(2)))
struct HostileNetworkTests {
    @Test func autoSettlesRemembersAndComesBack() async throws {
        try await LiveServer.run { server in
            let (id, ann, bob) = try await server.startedMatch()
            let relay = try await TCPRelay.start(to: "127.0.0.1", port: server.port, cutsUpgradesAfter: .milliseconds(200))
            let via = Endpoint(host: "127.0.0.1", port: relay.port)
            var options = ConnectionOptions(backoff: Backoff(initial: .milliseconds(50), maximum: .milliseconds(200)))
            // Tried again after 1-2 s, then 2-4 s (a test's scale; the default is 30 s to 10 min).
            options.memory = TransportMemory(retry: Backoff(initial: .seconds(2), maximum: .seconds(4)))
            let first = try await MatchConnection.open(to: via, match: id, transport: .auto, options: options)
            try await waitFor(seconds: 30) { first.transport == .serverSentEvents && first.state == .connected }
            #expect(first.settledReason?.contains("WS cut 3 times soon after opening") == true, "\(first.settledReason ?? "")")

            // The next connection to this server starts where the first settled: no WebSocket at all.
            let second = try await MatchConnection.open(to: via, match: id, transport: .auto, options: options)
            #expect(second.transport == .serverSentEvents)
            #expect(second.stats.totals.handshakes == 0)
            #expect(second.settledReason?.contains("lately") == true, "\(second.settledReason ?? "")")

            // Still cut: over 8 s the first tries WebSocket again a few times, never flapping.
            let handshakes = first.stats.totals.handshakes
            var version = 3
            for move in ["1", "2", "1", "2"] {
                let grant = version % 2 == 1 ? ann : bob
                let reply = try await server.request(.post, "/matches/\(id)/commands", body: #"{"move":"\#(move)","type":"play","v":\#(version)}"#,
                                                     token: grant.token)
                #expect(reply.status == 200, "\(reply.body)")
                version += 1
                try await Task.sleep(for: .seconds(2))
            }
            let retries = first.stats.totals.handshakes - handshakes
            #expect(retries >= 1 && retries <= 4, "WebSocket tried again \(retries) times in 8 s")

            // Mended: the next try opens, lasts, and the connection stays on WebSocket; the one
            // after it starts there.
            // (A try under way as it is mended may still be cut: the one after it is not.)
            relay.cutUpgrades(after: nil)
            let mended = ContinuousClock.now
            var stayed = false
            while !stayed, ContinuousClock.now - mended < .seconds(40) {
                try await waitFor(seconds: 40) { first.transport == .webSocket }
                try await Task.sleep(for: .milliseconds(2500))
                stayed = first.transport == .webSocket
            }
            #expect(stayed, "back on WebSocket, and kept")
            #expect(first.settledReason == "Back on WS: tried again, it opened.")
            let third = try await MatchConnection.open(to: via, match: id, transport: .auto, options: options)
            try await waitFor(seconds: 10) { third.transport == .webSocket && third.stats.totals.handshakes == 1 }
            #expect(third.settledReason == nil)

            // Nothing lost or doubled on any of them.
            let reply = try await server.request(.post, "/matches/\(id)/commands", body: #"{"move":"1","type":"play","v":\#(version)}"#,
                                                 token: ann.token)
            #expect(reply.status == 200)
            let log = try await server.log(id)
            for connection in [first, second, third] {
                try await waitFor(seconds: 10) { connection.lastVersion == log.count }
                #expect(connection.log == log)
                connection.close()
            }
            await relay.stop()
        }
    }
}
