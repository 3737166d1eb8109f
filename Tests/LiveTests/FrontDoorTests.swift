import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOWebSocket
import PlyClient
import PlyEngine
@testable import PlyServer
import PlyWire
import Testing

/// The front door as clients no one here wrote use it: kept-alive and pipelined HTTP/1.1,
/// WebSockets held open past every timeout, upgrades on reused connections.
@Suite(.timeLimit(.minutes(2)))
struct FrontDoorTests {
    /// Every timer of the door, short: a WebSocket that has sent commands must outlive them all.
    static var shortTimers: ServerConfiguration {
        var configuration = ServerConfiguration()
        configuration.maxFragmentedMessageTime = .milliseconds(800)
        configuration.pingInterval = .milliseconds(500)
        configuration.headerTimeout = .milliseconds(800)
        configuration.keepAliveTimeout = .milliseconds(800)
        return configuration
    }

    /// The set-up of a test of short timers, tried again if a stall of the machine let the
    /// 800 ms header or keep-alive timeout close one of its connections (swift-nio's
    /// `ioOnClosedChannel`, the test client's `connectionClosing`: seen in clean-clone runs);
    /// what is tested comes after.
    static func settingUp<T>(_ body: () async throws -> T) async throws -> T {
        for _ in 1..<5 {
            if let value = try? await body() { return value }
            try await Task.sleep(for: .milliseconds(200))
        }
        return try await body()
    }

    /// Python `websockets` takes a seat, plays, then stays idle past every timer, over six times
    /// the 800 ms ones and three of the server's pings (answering them, as client libraries do):
    /// nothing closes it, and it plays on after. (Pings every 1.5 s, not 500 ms: a client that
    /// cannot answer by the next ping is closed, and on a loaded machine a Python process may
    /// not be scheduled for half a second.)
    @Test(.enabled(if: IndependentClients.webSockets, "\(IndependentClients.missing)"))
    func aWebSocketThatHasSentCommandsStaysOpenIdlePastEveryTimeout() async throws {
        var configuration = Self.shortTimers
        configuration.pingInterval = .milliseconds(1500)
        try await LiveServer.run(configuration) { server in
            let (id, ann, _) = try await Self.settingUp { try await server.startedMatch() }
            let report = try await IndependentClients.run("ws_idle.py", ["\(server.port)", id, ann.token, "5"], as: JSONValue.self)
            #expect(report["closed_during_idle"] == .null, "closed while idle: \(report)")
            #expect(report["before"]?.array.contains { $0["type"]?.string == "ack" && $0["v"]?.int == 4 } == true, "\(report)")
            #expect(report["during"]?.array.isEmpty == true, "\(report)")
            #expect(report["after"]?.array.last?["code"]?.string == ErrorCode.notYourTurn.rawValue, "\(report)")
            #expect(report["close"]?.int == 1000, "\(report)")
        }
    }

    /// Requests pipelined in one write (any HTTP/1.1 client may) are each answered, in order,
    /// whoever serves them; the event loop is free afterwards: fresh connections are answered
    /// and the server stops when told. (Two pipelined requests once left a loop spinning for
    /// good, and every connection landing on it unanswered.)
    @Test func pipelinedRequestsAreAnsweredInOrderAndTheLoopStaysFree() async throws {
        try await LiveServer.run { server in
            let id = try await server.createMatch()
            let pairs = [
                ["GET /games", "GET /health"],
                ["GET /matches/\(id)/events?after=0&wait=0", "GET /health", "GET /matches/\(id)", "GET /matches/\(id)/events?after=0&wait=0"],
            ]
            for requests in pairs {
                let client = try await RawClient.connect(port: server.port)
                try await client.send(requests.map { "\($0) HTTP/1.1\r\nHost: x\r\n\r\n" }.joined())
                try await waitFor(seconds: 10) { Self.responses(client.text).count == requests.count }
                let bodies = Self.responses(client.text).map(\.body)
                for (request, body) in zip(requests, bodies) {
                    let expected = request.hasSuffix("/games") ? "connect4" : request.hasSuffix("/health") ? #""status":"ok""#
                        : request.contains("/events") ? #""type":"created""# : #""id":"\#(id)""#
                    #expect(body.contains(expected), "\(request): \(body)")
                }
                #expect(Self.responses(client.text).allSatisfy { $0.status == 200 }, "\(client.text)")
                client.close()
            }
            // Fresh connections land on every event loop: each is answered.
            for _ in 0..<8 {
                #expect(try await server.request(.get, "/health", timeout: .seconds(5)).status == 200)
            }
        }
    }

    /// An opening handshake that asks for `/matches/ID/ws`, with extra or replaced header lines.
    static func upgrade(_ id: String, version: String = "HTTP/1.1", key: String? = "dGhlIHNhbXBsZSBub25jZQ==",
                        webSocketVersion: String? = "13", host: Bool = true, extra: String = "") -> String {
        var lines = ["GET /matches/\(id)/ws?after=0 \(version)"]
        if host { lines.append("Host: 127.0.0.1") }
        lines += ["Upgrade: websocket", "Connection: Upgrade"]
        if let key { lines.append("Sec-WebSocket-Key: \(key)") }
        if let webSocketVersion { lines.append("Sec-WebSocket-Version: \(webSocketVersion)") }
        return lines.joined(separator: "\r\n") + "\r\n" + extra + "\r\n"
    }

    /// A request, another, then an upgrade, on one kept-alive connection: each answered in
    /// order, the upgrade with 101 and the WebSocket's welcome. Sent one at a time and, again,
    /// pipelined in one write. (swift-nio's upgrade handler upgraded only a connection's first
    /// request: the third got 426.)
    @Test(arguments: [false, true])
    func anUpgradeIsAcceptedOnAnyRequestOfAKeptAliveConnection(pipelined: Bool) async throws {
        try await LiveServer.run { server in
            let (id, ann, _) = try await server.startedMatch()
            let client = try await RawClient.connect(port: server.port)
            let requests = [
                "GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
                "GET /matches/\(id)/events?after=0&wait=0 HTTP/1.1\r\nHost: x\r\n\r\n",
                Self.upgrade(id, extra: "Authorization: Bearer \(ann.token)\r\n"),
            ]
            if pipelined {
                try await client.send(requests.joined())
            } else {
                for (index, request) in requests.enumerated() {
                    try await client.send(request)
                    try await waitFor(seconds: 10) { Self.responses(client.text).count == index + 1 }
                }
            }
            try await waitFor(seconds: 10) { client.text.contains(#""type":"welcome""#) }
            let answers = Self.responses(client.text)
            #expect(answers.map(\.status) == [200, 200, 101], "\(client.text)")
            #expect(answers.last?.header("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
            #expect(client.text.contains(#"{"seat":0,"type":"welcome","v":3}"#))
            #expect(client.isOpen)
            client.close()
            let metrics = try await server.request(.get, "/metrics").body
            #expect(metrics.contains(#"ply_websocket_upgrades_total{request="later"} 1"#), "\(metrics)")
        }
    }

    /// aiohttp's ClientSession opens a match's WebSocket on the connection it pooled for the
    /// requests before: ply upgrades it, the seat plays, and the session goes on.
    @Test(.enabled(if: IndependentClients.aiohttp, "\(IndependentClients.missing)"))
    func aiohttpUpgradesItsPooledConnection() async throws {
        try await LiveServer.run { server in
            let report = try await IndependentClients.run("aiohttp_session.py", ["\(server.port)"], as: JSONValue.self)
            #expect(report["statuses"]?.array.compactMap(\.int) == [201, 201, 201, 101, 201], "\(report)")
            let types = report["messages"]?.array.compactMap { $0["type"]?.string } ?? []
            #expect(types == ["welcome", "created", "joined", "joined", "moved", "ack"], "\(report)")
            #expect(report["close"]?.int == 1000, "\(report)")
            #expect(report["connections"]?.int == 2, "one pooled connection upgraded, one after it: \(report)")
        }
    }

    /// Python `websockets` closes with codes a client may send: each is echoed (the table of
    /// codes that may not be sent is on swift-nio's testing channel, since no client library
    /// sends them).
    @Test(.enabled(if: IndependentClients.webSockets, "\(IndependentClients.missing)"))
    func closeCodesAreEchoedToAnIndependentClient() async throws {
        try await LiveServer.run { server in
            let id = try await server.createMatch()
            let report = try await IndependentClients.run("ws_close.py", ["\(server.port)", id, "1000", "1001", "3000", "4999"], as: JSONValue.self)
            for code in [1000, 1001, 3000, 4999] {
                #expect(report["\(code)"]?.array.first?.int == code, "\(report)")
            }
        }
    }

    /// RFC 6455 4.2: a malformed opening handshake gets an HTTP answer that says why (400, or
    /// 426 with the version ply speaks), then the connection closes; a plain GET of the endpoint
    /// gets 426 with `Upgrade: websocket`, on a connection that stays open.
    static let badHandshakes: [(name: String, request: @Sendable (String) -> String, status: Int, header: (String, String)?, closes: Bool)] = [
        ("version 8", { upgrade($0, webSocketVersion: "8") }, 426, ("Sec-WebSocket-Version", "13"), true),
        ("no version", { upgrade($0, webSocketVersion: nil) }, 400, ("Sec-WebSocket-Version", "13"), true),
        ("no key", { upgrade($0, key: nil) }, 400, nil, true),
        ("a key that is not 16 bytes", { upgrade($0, key: "abc") }, 400, nil, true),
        ("a key of 15 bytes", { upgrade($0, key: "AAAAAAAAAAAAAAAAAAAA") }, 400, nil, true),
        ("two keys", { upgrade($0, extra: "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n") }, 400, nil, true),
        ("HTTP/1.0", { upgrade($0, version: "HTTP/1.0") }, 400, nil, true),
        ("no Host", { upgrade($0, host: false) }, 400, nil, true),
        ("no upgrade at all", { "GET /matches/\($0)/ws HTTP/1.1\r\nHost: x\r\n\r\n" }, 426, ("Upgrade", "websocket"), false),
        ("Upgrade without Connection: Upgrade", {
            "GET /matches/\($0)/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        }, 400, nil, false),
        ("an upgrade to another protocol", {
            "GET /matches/\($0)/ws HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"
        }, 426, ("Upgrade", "websocket"), true),
        ("POST", { "POST /matches/\($0)/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nContent-Length: 0\r\n\r\n" },
         405, ("Allow", "GET, OPTIONS"), true),
    ]

    /// A poll that waits (and an open stream) keeps only what its answer needs of its request:
    /// the answer still says what the request asked of the connection, on either HTTP version,
    /// and the connection stays open or closes as it says.
    @Test(arguments: [("HTTP/1.0", "keep-alive", true), ("HTTP/1.0", nil, false), ("HTTP/1.1", "close", false), ("HTTP/1.1", nil, true)])
    func aHeldPollIsAnsweredWithTheKeepAliveItsRequestAskedFor(version: String, connection: String?, staysOpen: Bool) async throws {
        try await LiveServer.run { server in
            let (id, ann, _) = try await server.startedMatch()
            let client = try await RawClient.connect(port: server.port)
            try await client.send("GET /matches/\(id)/events?after=3&wait=20 \(version)\r\nHost: x\r\n" + (connection.map { "Connection: \($0)\r\n" } ?? "") + "\r\n")
            // The poll is held (no event after 3 yet) until the first move.
            try await Task.sleep(for: .milliseconds(300))
            #expect(client.text.isEmpty, "answered before any news: \(client.text)")
            _ = try await server.request(.post, "/matches/\(id)/commands", body: #"{"move":"4","type":"play","v":3}"#, token: ann.token)
            try await waitFor(seconds: 20) { !Self.responses(client.text).isEmpty }
            let answer = try #require(Self.responses(client.text).first)
            #expect(answer.status == 200, "\(client.text)")
            #expect(client.text.hasPrefix(version + " 200"), "\(client.text)")
            #expect(answer.body.contains(#""move":"4""#), "\(answer.body)")
            let said = answer.header("Connection")?.lowercased()
            #expect(said == (staysOpen ? (version == "HTTP/1.0" ? "keep-alive" : nil) : "close"), "\(client.text)")
            #expect(await client.closedByServer(within: staysOpen ? 0.5 : 20) == !staysOpen)
            client.close()
        }
    }

    @Test(arguments: badHandshakes.indices)
    func aMalformedOpeningHandshakeIsAnsweredOverHTTP(_ index: Int) async throws {
        let (name, request, status, header, closes) = Self.badHandshakes[index]
        try await LiveServer.run { server in
            let id = try await server.createMatch()
            let client = try await RawClient.connect(port: server.port)
            try await client.send(request(id))
            try await waitFor(seconds: 10) { !Self.responses(client.text).isEmpty }
            let answer = try #require(Self.responses(client.text).first)
            #expect(answer.status == status, "\(name): \(client.text)")
            if let (field, value) = header { #expect(answer.header(field) == value, "\(name): \(client.text)") }
            #expect(answer.header("Content-Type") == "application/json", "\(name)")
            #expect(answer.body.contains(#""type":"error""#), "\(name): \(answer.body)")
            #expect(await client.closedByServer(within: closes ? 20 : 0.5) == closes, "\(name): closed")
            client.close()
            #expect(try await server.request(.get, "/health").status == 200)
        }
    }

    /// Every route of the table is served, with each of its methods, and nothing else: another
    /// method is 405 with `Allow` whatever the body (before any body check), `OPTIONS` lists the
    /// methods, `HEAD` answers as GET without the body, and an unknown path is 404.
    @Test func everyRouteInTheTableIsServedAndNothingElse() async throws {
        try await LiveServer.run { server in
            let (id, ann, _) = try await server.startedMatch()
            for route in Routes.all {
                let path = route.path.replacingOccurrences(of: ":id", with: id)
                for (method, endpoint) in route.methods {
                    let reply: LiveServer.Reply
                    switch endpoint {
                    case .webSocket:
                        let socket = try await server.webSocket(path)
                        #expect(try await socket.next() != nil, "\(path): a WebSocket")
                        socket.link.close()
                        continue
                    case .stream:
                        let stream = try await server.eventStream(path)
                        #expect(await stream.nextEvent() != nil && stream.status == 200, "\(path): an event stream")
                        stream.link.close()
                        continue
                    case .streamTicket:
                        reply = try await server.request(.post, path, token: ann.token)
                    case .command:
                        reply = try await server.request(.post, path, body: #"{"type":"play","move":"4","v":3}"#, token: ann.token)
                    case .poll:
                        reply = try await server.request(.get, path + "?wait=0")
                    default:
                        let body: String? = method == .POST ? (endpoint == .join ? #"{"name":"cy"}"# : #"{"game":"connect4"}"#) : nil
                        reply = try await server.request(HTTPRequest.Method(method.rawValue)!, path, body: body)
                    }
                    #expect(reply.status != 404 && reply.status != 405, "\(method) \(path): \(reply.status) \(reply.body)")
                }
                for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete] where route.endpoint(for: NIOHTTP1.HTTPMethod(rawValue: method.rawValue)) == nil {
                    // A body of a form's type: the method is refused first.
                    let reply = try await server.request(method, path, body: "x", headers: [.contentType: "text/plain"])
                    #expect(reply.status == 405, "\(method) \(path): \(reply.status)")
                    #expect(reply.errorCode == "request/method_not_allowed")
                    #expect(reply.headers[.allow] == route.allow, "\(method) \(path)")
                }
                let options = try await server.request(.options, path)
                #expect(options.status == 204 && options.headers[.allow] == route.allow, "OPTIONS \(path): \(options.status)")
            }
            let put = try await server.request(.put, "/matches/\(id)")
            #expect(put.status == 405 && put.headers[.allow] == "GET, HEAD, OPTIONS", "PUT without a body: \(put.status)")
            let head = try await server.request(.head, "/matches/\(id)")
            #expect(head.status == 200 && head.body.isEmpty && Int(head.headers[.contentLength] ?? "") ?? 0 > 100)
            for path in ["/", "/healthz", "/matches/", "/matches//events", "/matches/\(id)/events/x", "/matches/\(id)/moves", "/games/connect4"] {
                let reply = try await server.request(.get, path)
                #expect(reply.status == 404 && reply.errorCode == "request/not_found", "\(path): \(reply.status)")
            }
        }
    }

    /// CORS for the origins the server grants (`--allow-origin`): preflights answered and every
    /// answer granted, errors included; an origin not listed is refused what changes state and
    /// its WebSocket, and may read without a grant; a page's own origin and requests without
    /// `Origin` need none.
    @Test func corsGrantsListedOriginsOnlyAndRefusesTheRestWhatChangesState() async throws {
        var configuration = ServerConfiguration()
        configuration.allowedOrigins = ["http://page.example:9000"]
        try await LiveServer.run(configuration) { server in
            let listed = "http://page.example:9000", unlisted = "http://evil.example"
            let preflight: HTTPFields = [.accessControlRequestMethod: "POST", .accessControlRequestHeaders: "authorization, content-type"]
            // A listed origin.
            var asked = preflight
            asked[.origin] = listed
            let granted = try await server.request(.options, "/matches", headers: asked)
            #expect(granted.status == 204)
            #expect(granted.headers[.accessControlAllowOrigin] == listed)
            #expect(granted.headers[.accessControlAllowMethods]?.contains("POST") == true)
            #expect(granted.headers[.accessControlAllowHeaders] == "Authorization, Content-Type")
            #expect(granted.headers[.accessControlMaxAge] == "600")
            #expect(granted.headers[.vary] == "Origin")
            let created = try await server.request(.post, "/matches", body: #"{"game":"connect4"}"#, headers: [.origin: listed])
            #expect(created.status == 201 && created.headers[.accessControlAllowOrigin] == listed && created.headers[.vary] == "Origin")
            let id = try created.decode(MatchSnapshot.self).id
            for path in ["/matches/\(id)", "/matches/\(id)/events?wait=0", "/matches/nope", "/nothing"] {
                #expect(try await server.request(.get, path, headers: [.origin: listed]).headers[.accessControlAllowOrigin] == listed, "\(path)")
            }
            let seat = try await server.request(.post, "/matches/\(id)/seats", body: #"{"name":"ann"}"#, headers: [.origin: listed])
            #expect(seat.status == 201 && seat.headers[.accessControlAllowOrigin] == listed)
            // An EventSource of a listed page reads its stream.
            let stream = try await server.eventStream("/matches/\(id)/stream", headers: [("Origin", listed)])
            #expect(await stream.nextEvent() != nil && stream.headers.first(name: "access-control-allow-origin") == listed)
            stream.link.close()
            // An origin not listed.
            asked[.origin] = unlisted
            let refused = try await server.request(.options, "/matches", headers: asked)
            #expect(refused.status == 403 && refused.errorCode == "request/forbidden_origin" && refused.headers[.accessControlAllowOrigin] == nil)
            let post = try await server.request(.post, "/matches/\(id)/seats", body: #"{"name":"eve"}"#, headers: [.origin: unlisted])
            #expect(post.status == 403 && post.errorCode == "request/forbidden_origin" && post.headers[.accessControlAllowOrigin] == nil)
            let read = try await server.request(.get, "/matches/\(id)", headers: [.origin: unlisted])
            #expect(read.status == 200 && read.headers[.accessControlAllowOrigin] == nil)
            // A stream is a read: served, with no grant, so the browser keeps it from the page.
            let unlistedStream = try await server.eventStream("/matches/\(id)/stream", headers: [("Origin", unlisted)])
            #expect(await unlistedStream.nextEvent() != nil && unlistedStream.headers.first(name: "access-control-allow-origin") == nil)
            unlistedStream.link.close()
            #expect(try await server.snapshot(id).seats.compactMap(\.name) == ["ann"], "the refused join changed nothing")
            let socket = TestSocket(try await WebSocketLink.connect(to: server.endpoint, path: "/matches/\(id)/ws", headers: [("Origin", unlisted)],
                                                                    stats: WireStats()))
            guard case .error(let error) = try await socket.next() else { Issue.record("no error"); return }
            #expect(error.code == .forbiddenOrigin)
            #expect(await socket.closed() == WebSocketErrorCode(codeNumber: 4403))
            // The page's own origin, and no origin at all.
            let own = try await server.request(.post, "/matches", body: #"{"game":"connect4"}"#,
                                               headers: [.origin: "http://127.0.0.1:\(server.port)", HTTPField.Name("Host")!: "127.0.0.1:\(server.port)"])
            #expect(own.status == 201 && own.headers[.accessControlAllowOrigin] == nil)
            let plain = try await server.request(.post, "/matches", body: #"{"game":"connect4"}"#)
            #expect(plain.status == 201 && plain.headers[.accessControlAllowOrigin] == nil)
            let options = try await server.request(.options, "/matches/\(id)/commands")
            #expect(options.status == 204 && options.headers[.allow] == "POST, OPTIONS" && options.headers[.accessControlAllowOrigin] == nil)
        }
    }

    /// `--allow-origin '*'` grants every origin.
    @Test func aWildcardGrantsEveryOrigin() async throws {
        var configuration = ServerConfiguration()
        configuration.allowedOrigins = ["*"]
        try await LiveServer.run(configuration) { server in
            let created = try await server.request(.post, "/matches", body: #"{"game":"connect4"}"#, headers: [.origin: "https://anyone.example"])
            #expect(created.status == 201 && created.headers[.accessControlAllowOrigin] == "https://anyone.example")
        }
    }

    /// A response as a raw client received it.
    struct RawResponse {
        let status: Int
        let headers: [(name: String, value: String)]
        let body: String

        func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    /// The responses in what a raw client received: status, headers and body of each, in order.
    static func responses(_ text: String) -> [RawResponse] {
        var found: [RawResponse] = []
        var rest = Substring(text)
        while let start = rest.range(of: "HTTP/1."), let headEnd = rest.range(of: "\r\n\r\n", range: start.upperBound..<rest.endIndex) {
            let lines = rest[start.lowerBound..<headEnd.lowerBound].components(separatedBy: "\r\n")
            let status = Int(lines[0].split(separator: " ").dropFirst().first ?? "") ?? 0
            let headers = lines.dropFirst().compactMap { line -> (name: String, value: String)? in
                guard let colon = line.firstIndex(of: ":") else { return nil }
                return (String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            }
            let length = headers.first { $0.name.lowercased() == "content-length" }.flatMap { Int($0.value) } ?? 0
            let bodyEnd = rest.index(headEnd.upperBound, offsetBy: length, limitedBy: rest.endIndex) ?? rest.endIndex
            found.append(RawResponse(status: status, headers: headers, body: String(rest[headEnd.upperBound..<bodyEnd])))
            rest = rest[bodyEnd...]
        }
        return found
    }
}
