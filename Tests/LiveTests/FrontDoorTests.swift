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
}
