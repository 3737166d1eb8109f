import Foundation
import PlyBench
import PlyRelay
import PlyWire
import PlyServer
import Testing

/// A real browser (headless Chromium, driven over the DevTools protocol) runs a page served
/// from another origin, written from docs/protocol.md: with that origin granted it plays a
/// whole game, one seat on a browser WebSocket and one on fetch long-polling; without, it is
/// refused as documented. `.ci/run` installs Debian's chromium; where it is missing, the test
/// says so and is skipped.
@Suite(.serialized, .timeLimit(.minutes(2)),
       .enabled(if: Chromium.path != nil && IndependentClients.webSockets, "needs chromium and Python websockets (.ci/run installs both)"))
struct BrowserTests {

    /// A static file server for the page, on a port of its own: another origin.
    final class PageServer: Sendable {
        let port: Int
        private let process: Process

        init() async throws {
            port = try LoopbackPort.free()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try #require(IndependentClients.python))
            process.arguments = ["-m", "http.server", "\(port)", "--bind", "127.0.0.1",
                                 "--directory", IndependentClients.folder.appendingPathComponent("browser").path]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            self.process = process
            try await ClusterTools.waitForPort(port)
        }

        var origin: String { "http://127.0.0.1:\(port)" }

        /// Killed and left to Foundation to reap (its `waitUntilExit` was seen to spin here).
        func stop() {
            kill(process.processIdentifier, SIGKILL)
        }
    }

    /// Opens the page in Chromium and returns what it set as `window.plyResult`.
    func runPage(_ page: PageServer, query: String) async throws -> JSONValue {
        let screenshot = FileManager.default.temporaryDirectory.appendingPathComponent("ply-browser-\(UUID().uuidString).png").path
        let report = try await IndependentClients.run("browser_play.py", [try #require(Chromium.path), "\(page.origin)/play.html?\(query)", screenshot],
                                                      as: JSONValue.self, timeout: .seconds(90))
        try? FileManager.default.removeItem(atPath: screenshot)
        return try #require(report["result"].flatMap { $0 == .null ? nil : $0 }, "the page never finished: \(report)")
    }

    /// Chromium offers permessage-deflate on every WebSocket: a server with compression on
    /// accepts it (the page's `ws.extensions` says so) and gzips the polls' larger answers,
    /// which fetch inflates; with it off the offer is declined and the game the same.
    @Test(arguments: [false, true])
    func aPageOnAGrantedOriginPlaysAWholeGameOverBothTransports(compression: Bool) async throws {
        let page = try await PageServer()
        defer { page.stop() }
        var configuration = ServerConfiguration()
        configuration.allowedOrigins = [page.origin]
        configuration.compression = compression
        try await LiveServer.run(configuration) { server in
            let result = try await runPage(page, query: "server=http://127.0.0.1:\(server.port)")
            #expect(result["ok"] == .bool(true), "\(result)")
            let webSocket = result["webSocket"], polling = result["polling"]
            let extensions = webSocket?["extensions"]?.string
            if compression {
                #expect(extensions == "permessage-deflate; server_max_window_bits=10; client_max_window_bits=10", "\(result)")
            } else {
                #expect(extensions == "", "\(result)")
            }
            #expect(webSocket?["welcomed"]?.int == 0, "hello made the WebSocket seat 0: \(result)")
            #expect(webSocket?["errors"]?.array.isEmpty == true && polling?["errors"]?.array.isEmpty == true, "\(result)")
            let seen = webSocket?["seen"]?.array ?? []
            #expect(seen.count == 11 && seen.last?["type"]?.string == "ended", "\(result)")
            #expect(seen == polling?["seen"]?.array, "both seats saw the same game")
            #expect(result["result"]?["winner"]?.int == 0 && result["result"]?["reason"]?.string == "four_in_a_row")
            #expect(webSocket?["close"]?.int == 1000)
            let id = try #require(result["match"]?.string)
            #expect(try await server.log(id).count == 11)
        }
    }

    /// A seat plays over EventSource (opened with a stream ticket) and fetch, the other by
    /// long-polling; a spectator's EventSource, through a relay cut mid-game, reconnects by itself
    /// with Last-Event-ID and misses nothing, and stops once the server answers 204.
    @Test func aPagePlaysOverEventSourceAndWatchesThroughACut() async throws {
        let page = try await PageServer()
        defer { page.stop() }
        var configuration = ServerConfiguration()
        configuration.allowedOrigins = [page.origin]
        configuration.streamRetry = .milliseconds(300)
        try await LiveServer.run(configuration) { server in
            let relay = try await TCPRelay.start(to: "127.0.0.1", port: server.port)
            // Cut the spectator's stream once the game is under way (the seats wait 250 ms a move).
            let cut = Task {
                try await waitFor(seconds: 60) { relay.openConnections > 0 && server.server.health().streams >= 2 }
                let matches = try await server.request(.get, "/matches?status=playing").decode([MatchSnapshot].self)
                try await waitFor(seconds: 60) { (try await server.request(.get, "/matches/\(matches.first?.id ?? "")").decode(MatchSnapshot.self)).version >= 6 }
                relay.cutAll()
            }
            let result = try await runPage(page, query: "mode=sse&think=250&server=http://127.0.0.1:\(server.port)&watch=http://127.0.0.1:\(relay.port)")
            try await cut.value
            #expect(result["ok"] == .bool(true), "\(result)")
            let stream = result["stream"], polling = result["polling"], spectator = result["spectator"]
            #expect(stream?["errors"]?.array.isEmpty == true && polling?["errors"]?.array.isEmpty == true, "\(result)")
            let seen = stream?["seen"]?.array ?? []
            #expect(seen.count == 11 && seen.last?["type"]?.string == "ended", "\(result)")
            #expect(stream?["ids"]?.array.compactMap(\.string) == (1...11).map(String.init), "each event's id is its version")
            #expect(seen == polling?["seen"]?.array, "both seats saw the same game")
            #expect(spectator?["seen"]?.array == seen, "the spectator missed nothing and saw nothing twice: \(spectator ?? .null)")
            #expect((spectator?["opened"]?.int ?? 0) >= 2, "opened, and reopened by itself after the cut: \(spectator ?? .null)")
            #expect((spectator?["errors"]?.int ?? 0) >= 2, "the cut, and the 204 after the end that closed it: \(spectator ?? .null)")
            #expect(result["result"]?["winner"]?.int == 0 && result["result"]?["reason"]?.string == "four_in_a_row")
            await relay.stop()
        }
    }

    @Test func aPageOnAnOriginNotGrantedIsRefusedAsDocumented() async throws {
        let page = try await PageServer()
        defer { page.stop() }
        try await LiveServer.run { server in
            let id = try await server.createMatch()
            let result = try await runPage(page, query: "server=http://127.0.0.1:\(server.port)&match=\(id)")
            #expect(result["create"]?.string == "TypeError", "fetch fails as a network error would: \(result)")
            #expect(result["webSocket"]?["code"]?.int == 4403, "\(result)")
            #expect(result["webSocket"]?["reason"]?.string == "request/forbidden_origin")
            #expect(result["webSocket"]?["messages"]?.array.first?["code"]?.string == "request/forbidden_origin")
            #expect(try await server.request(.get, "/matches").decode([PlyWireSnapshotID].self).count == 1, "the page created nothing")
        }
    }
}

enum Chromium {
    static let path = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// Only a snapshot's id, to count matches.
struct PlyWireSnapshotID: Decodable { let id: String }
