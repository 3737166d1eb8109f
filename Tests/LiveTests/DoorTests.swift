import Foundation
import NIOCore
import NIOPosix
import PlyClient
import PlyServer
import PlyWire
import Synchronization
import Testing

/// A bare TCP client: sends whatever bytes a test wants, whenever it wants, and records what
/// comes back and whether the server closed the connection.
final class RawClient: Sendable {
    private let channel: any Channel
    private let received = Mutex<[UInt8]>([])

    private init(channel: any Channel) {
        self.channel = channel
    }

    static func connect(port: Int) async throws -> RawClient {
        let collector = Collector()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) } }
            .connect(host: "127.0.0.1", port: port).get()
        let client = RawClient(channel: channel)
        collector.client = client
        return client
    }

    func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text))
    }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    /// Everything received so far.
    var bytes: [UInt8] { received.withLock { $0 } }

    /// Everything received so far, as text.
    var text: String { String(decoding: received.withLock { $0 }, as: UTF8.self) }

    var isOpen: Bool { channel.isActive }

    /// Waits until the server closes the connection; false if it has not within `seconds`.
    func closedByServer(within seconds: Double) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while channel.isActive, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(10)) }
        return !channel.isActive
    }

    func close() {
        channel.close(promise: nil)
    }

    /// Closes the sending side only (a FIN), as `nc` does at the end of its input or as the
    /// kernel does for a process that exits mid-connection.
    func closeOutput() async throws {
        try await channel.close(mode: .output)
    }

    private final class Collector: ChannelInboundHandler, @unchecked Sendable {
        // Touched on the channel's event loop only (and `client` once, before any read).
        typealias InboundIn = ByteBuffer
        var client: RawClient?

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let bytes = Array(buffer: unwrapInboundIn(data))
            client?.received.withLock { $0 += bytes }
        }
    }
}

/// The door: what happens to a connection before and between its requests.
@Suite(.timeLimit(.minutes(1)))
struct DoorTests {
    static let malformed: [(String, String)] = [
        ("a request line of garbage", "GARBAGE GARBAGE GARBAGE\r\n\r\n"),
        ("a 100 KB header", "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "a", count: 100_000) + "\r\n\r\n"),
        ("control bytes in the path", "GET /mat\u{01}ches HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("conflicting Content-Length", "POST /matches HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n{}"),
        ("garbage after a good request", "GET /health HTTP/1.1\r\nHost: x\r\n\r\nNOT HTTP AT ALL\r\n\r\n"),
    ]

    /// A request swift-nio cannot read gets 400 with the documented error body, and a close.
    @Test(arguments: malformed)
    func aMalformedRequestGetsBadRequestAndAClose(_ name: String, _ request: String) async throws {
        try await LiveServer.run { server in
            let client = try await RawClient.connect(port: server.port)
            try await client.send(request)
            #expect(await client.closedByServer(within: 20), "\(name): the connection stays open")
            let last = client.text.range(of: "HTTP/1.1 ", options: .backwards).map { client.text[$0.lowerBound...] } ?? ""
            #expect(last.hasPrefix("HTTP/1.1 400 Bad Request"), "\(name): \(client.text.prefix(300))")
            #expect(last.contains(#""code":"request/bad_request""#), "\(name): \(client.text.prefix(300))")
            #expect(last.contains("Connection: close"))
            if name == "garbage after a good request" { #expect(client.text.hasPrefix("HTTP/1.1 200 OK"), "the good request is answered first") }
            #expect(try await server.request(.get, "/health").status == 200)
        }
    }

    /// A request head sent a byte at a time is cut off at the header timeout, and so is a
    /// connection that sends nothing at all.
    @Test func aRequestHeadMustBeWholeInTime() async throws {
        var configuration = ServerConfiguration()
        configuration.headerTimeout = .milliseconds(600)
        try await LiveServer.run(configuration) { server in
            let silent = try await RawClient.connect(port: server.port)
            let slow = try await RawClient.connect(port: server.port)
            let head = Array("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
            let dripping = Task {
                var sent = 0
                for byte in head {
                    guard slow.isOpen else { break }
                    try? await slow.send([byte])
                    sent += 1
                    try? await Task.sleep(for: .milliseconds(100))
                }
                return sent
            }
            #expect(await slow.closedByServer(within: 20))
            #expect(await silent.closedByServer(within: 20))
            // Cut by the timeout, not at the end of the head: a loaded machine slows the drip
            // as much as the timer, so this holds where a bound in seconds would not.
            #expect(await dripping.value < head.count, "the head was cut before its end")
            #expect(!slow.text.contains("200 OK"), "the head never arrived whole")
        }
    }

    /// A kept-alive connection with nothing in flight is closed after the keep-alive timeout;
    /// a waiting long poll is in flight, so its connection is not.
    @Test func idleKeepAliveConnectionsExpireButWaitingPollsDoNot() async throws {
        var configuration = ServerConfiguration()
        configuration.keepAliveTimeout = .milliseconds(500)
        try await LiveServer.run(configuration) { server in
            let id = try await server.createMatch()
            let idle = try await RawClient.connect(port: server.port)
            try await idle.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            let polling = try await RawClient.connect(port: server.port)
            try await polling.send("GET /matches/\(id)/events?after=1&wait=1.5 HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(await idle.closedByServer(within: 20))
            #expect(idle.text.hasPrefix("HTTP/1.1 200 OK"))
            try await Task.sleep(for: .milliseconds(800))
            #expect(polling.isOpen, "a waiting poll is not idle")
            try await waitFor(seconds: 3) { polling.text.contains("\r\n\r\n[]") }
            #expect(await polling.closedByServer(within: 20), "idle once answered")
        }
    }

    /// Every accepted connection counts against the limit from the moment it is accepted:
    /// connections that never finish a request, and WebSockets, alike.
    @Test func everyConnectionCountsAgainstTheLimit() async throws {
        var configuration = ServerConfiguration()
        configuration.maxConnections = 4
        try await LiveServer.run(configuration) { server in
            let id = try await server.createMatch()
            // The creation's connection is closed, but the server may count it a moment longer.
            try await waitFor { server.server.health().connections == 0 }
            let slow = try await RawClient.connect(port: server.port)
            try await slow.send("GET /hea")
            var sockets: [TestSocket] = []
            for _ in 0..<3 {
                let socket = try await server.webSocket("/matches/\(id)/ws")
                _ = try await socket.next()  // welcome
                sockets.append(socket)
            }
            try await waitFor { server.server.health().connections == 4 }
            let refusedWebSocket = try? await server.webSocket("/matches/\(id)/ws")
            let refusedMessage = try? await refusedWebSocket?.next()
            #expect(refusedMessage == nil, "a fifth connection is closed at once, even one that would upgrade")
            let refusedHTTP = try await RawClient.connect(port: server.port)
            try? await refusedHTTP.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(await refusedHTTP.closedByServer(within: 20))
            #expect(!refusedHTTP.text.contains("200 OK"))
            slow.close()
            for socket in sockets { socket.link.close() }
            try await waitFor { server.server.health().connections == 0 }
            #expect(try await server.request(.get, "/health").status == 200)
        }
    }

    /// A client that closes its side is done: what it sent is answered (a waiting poll at once,
    /// with no events), then the server closes; no connection is left for a keep-alive timeout.
    @Test func aConnectionWhoseClientClosedItsSideIsClosedOnceAnswered() async throws {
        try await LiveServer.run { server in
            let id = try await server.createMatch()
            let polling = try await RawClient.connect(port: server.port)
            try await polling.send("GET /matches/\(id)/events?after=1&wait=30 HTTP/1.1\r\nHost: x\r\n\r\n")
            let answered = try await RawClient.connect(port: server.port)
            try await answered.send("GET /matches/\(id)/events?after=0 HTTP/1.1\r\nHost: x\r\n\r\n")
            let silent = try await RawClient.connect(port: server.port)
            try await waitFor(seconds: 5) { answered.text.contains("\"created\"") }
            try await waitFor(seconds: 5) { try await server.request(.get, "/health").decode(Health.self).waitingPolls == 1 }
            for client in [polling, answered, silent] { try await client.closeOutput() }
            #expect(await polling.closedByServer(within: 20))
            #expect(polling.text.hasPrefix("HTTP/1.1 200 OK") && polling.text.hasSuffix("\r\n\r\n[]"), "\(polling.text)")
            #expect(await answered.closedByServer(within: 20))
            #expect(await silent.closedByServer(within: 20))
            // Read in the process (no connection of its own), once the closes have been handled.
            try await waitFor { server.server.health().connections == 0 }
            #expect(server.server.health().waitingPolls == 0)
        }
    }

    /// A WebSocket whose client goes away without a close frame (its side closed) is closed at
    /// once, not at the next unanswered ping.
    @Test func aWebSocketWhoseClientClosedItsSideIsClosed() async throws {
        try await LiveServer.run { server in
            let id = try await server.createMatch()
            let client = try await RawClient.connect(port: server.port)
            try await client.send("GET /matches/\(id)/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
            try await waitFor(seconds: 5) { client.text.hasPrefix("HTTP/1.1 101") }
            try await waitFor(seconds: 5) { try await server.request(.get, "/health").decode(Health.self).webSockets == 1 }
            try await client.closeOutput()
            #expect(await client.closedByServer(within: 20))
            try await waitFor(seconds: 3) { try await server.request(.get, "/health").decode(Health.self).webSockets == 0 }
        }
    }
}
