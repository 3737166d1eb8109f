import Foundation
import PlyEngine
import PlyServer
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

    /// Python `websockets` takes a seat, plays, then stays idle for four times the longest timer
    /// (answering pings, as client libraries do): nothing closes it, and it plays on after.
    @Test(.enabled(if: IndependentClients.webSockets, "\(IndependentClients.missing)"))
    func aWebSocketThatHasSentCommandsStaysOpenIdlePastEveryTimeout() async throws {
        try await LiveServer.run(Self.shortTimers) { server in
            let (id, ann, _) = try await server.startedMatch()
            let report = try await IndependentClients.run("ws_idle.py", ["\(server.port)", id, ann.token, "3.5"], as: JSONValue.self)
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

    /// The responses in what a raw client received: status and body of each, in order.
    static func responses(_ text: String) -> [(status: Int, body: String)] {
        var found: [(Int, String)] = []
        var rest = Substring(text)
        while let start = rest.range(of: "HTTP/1.1 "), let headEnd = rest.range(of: "\r\n\r\n", range: start.upperBound..<rest.endIndex) {
            let head = rest[start.upperBound..<headEnd.lowerBound]
            let status = Int(head.prefix(3)) ?? 0
            let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }
                .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
            let bodyEnd = rest.index(headEnd.upperBound, offsetBy: length, limitedBy: rest.endIndex) ?? rest.endIndex
            found.append((status, String(rest[headEnd.upperBound..<bodyEnd])))
            rest = rest[bodyEnd...]
        }
        return found
    }
}
