import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import NIOHTTP1
import PlyEngine
import PlyServer
import PlyStore
import PlyWire
import Synchronization
import Testing
import NIOWebSocket
import PlyClient

/// The transports (PlyWire's one list), as tests that run the same scenario over each name them.
extension Transport: CustomTestStringConvertible {
    public var testDescription: String { rawValue }
}

/// A real server on a free loopback port, for one test.
struct LiveServer: Sendable {
    let port: Int
    let server: PlyServer

    static func run<T: Sendable>(
        _ configuration: ServerConfiguration = ServerConfiguration(),
        store: any MatchStore = MemoryStore(),
        _ body: @Sendable (LiveServer) async throws -> T
    ) async throws -> T {
        var configuration = configuration
        configuration.host = "127.0.0.1"
        configuration.port = 0
        var logger = Logger(label: "ply.test")
        logger.logLevel = ProcessInfo.processInfo.environment["PLY_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        let (ports, portContinuation) = AsyncStream<Int>.makeStream()
        let server = PlyServer(configuration: configuration, store: store, logger: logger, handleSignals: false) { portContinuation.yield($0) }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let result: T
            do {
                result = try await body(LiveServer(port: port, server: server))
            } catch {
                await server.shutDown()
                try? await group.waitForAll()
                throw error
            }
            await server.shutDown()
            try await group.waitForAll()
            return result
        }
    }

    // MARK: HTTP

    struct Reply: Sendable {
        let status: Int
        let body: String
        let headers: HTTPFields

        func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
            try WireCoding.decode(type, from: Data(body.utf8))
        }

        var errorCode: String? { (try? decode(WireError.self))?.code.rawValue }
    }

    /// One request on a fresh connection.
    /// - Parameters:
    ///   - bytes: a body that need not be UTF-8 (instead of `body`).
    ///   - authorization: a raw `Authorization` header (instead of `token`).
    func request(
        _ method: HTTPRequest.Method,
        _ path: String,
        body: String? = nil,
        bytes: [UInt8]? = nil,
        token: String? = nil,
        authorization: String? = nil,
        headers extra: HTTPFields = [:],
        timeout: Duration = .seconds(30)
    ) async throws -> Reply {
        try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: timeout)) { client in
            try await Self.send(client, method, path, body: body, bytes: bytes, token: token, authorization: authorization, headers: extra)
        }
    }

    /// - Parameter extra: headers sent as they are; a `Content-Type` among them replaces the
    ///   `application/json` a body otherwise gets (an empty one sends none).
    static func send(_ client: TestClient, _ method: HTTPRequest.Method, _ path: String, body: String? = nil, bytes: [UInt8]? = nil,
                     token: String? = nil, authorization: String? = nil, headers extra: HTTPFields = [:]) async throws -> Reply {
        var headers: HTTPFields = [:]
        if let header = authorization ?? token.map({ "Bearer \($0)" }) { headers[.authorization] = header }
        let payload = bytes.map { ByteBuffer(bytes: $0) } ?? body.map { ByteBuffer(string: $0) }
        if payload != nil { headers[.contentType] = "application/json" }
        for field in extra {
            if field.name == .contentType { headers[.contentType] = nil }
            if !field.value.isEmpty { headers.append(field) }
        }
        let response = try await client.execute(.init(path, method: method, headers: headers, body: payload))
        return Reply(status: Int(response.status.code), body: response.body.map { String(buffer: $0) } ?? "", headers: response.headers)
    }

    func createMatch(_ game: GameID = .connect4) async throws -> String {
        let reply = try await request(.post, "/matches", body: #"{"game":"\#(game.rawValue)"}"#)
        #expect(reply.status == 201, "\(reply.body)")
        return try reply.decode(MatchSnapshot.self).id
    }

    func join(_ match: String, _ name: String) async throws -> SeatGrant {
        let reply = try await request(.post, "/matches/\(match)/seats", body: #"{"name":"\#(name)"}"#)
        #expect(reply.status == 201, "\(reply.body)")
        return try reply.decode(SeatGrant.self)
    }

    /// A match with both seats taken: its id and the two grants.
    func startedMatch(_ game: GameID = .connect4) async throws -> (id: String, first: SeatGrant, second: SeatGrant) {
        let id = try await createMatch(game)
        return (id, try await join(id, "ann"), try await join(id, "bob"))
    }

    /// Plays a started Connect Four match to a win for seat 0 (column 1 four times) over HTTP;
    /// returns the match's last version.
    func playToAWin(_ match: String, _ first: SeatGrant, _ second: SeatGrant) async throws -> Int {
        var version = 3
        for (index, column) in ["1", "2", "1", "2", "1", "2", "1"].enumerated() {
            let reply = try await request(.post, "/matches/\(match)/commands", body: #"{"move":"\#(column)","type":"play","v":\#(version)}"#,
                                          token: index % 2 == 0 ? first.token : second.token)
            #expect(reply.status == 200, "\(reply.body)")
            version = try reply.decode(Acknowledgement.self).version
        }
        return version
    }

    /// The server's whole log of a match, through a long poll that does not wait.
    func log(_ match: String) async throws -> [MatchEvent] {
        try await request(.get, "/matches/\(match)/events?after=0&wait=0").decode()
    }

    func snapshot(_ match: String) async throws -> MatchSnapshot {
        try await request(.get, "/matches/\(match)").decode()
    }

    // MARK: WebSocket

    var endpoint: Endpoint { Endpoint(host: "127.0.0.1", port: port) }

    /// Opens a WebSocket to a path on this server.
    func webSocket(_ path: String, token: String? = nil, authorization: String? = nil, stats: WireStats = WireStats()) async throws -> TestSocket {
        let headers = (authorization ?? token.map { "Bearer \($0)" }).map { [("Authorization", $0)] } ?? []
        return TestSocket(try await WebSocketLink.connect(to: endpoint, path: path, headers: headers, stats: stats))
    }

    /// Opens an event stream (`GET path`, `Accept: text/event-stream`) on this server.
    func eventStream(_ path: String, token: String? = nil, headers extra: [(String, String)] = [], stats: WireStats = WireStats()) async throws -> TestStream {
        let headers = (token.map { [("Authorization", "Bearer \($0)")] } ?? []) + extra
        let (updates, continuation) = AsyncStream<EventStreamLink.Update>.makeStream()
        let link = try await EventStreamLink.open(to: endpoint, path: path, headers: headers, stats: stats) { update in
            continuation.yield(update)
            if case .closed = update { continuation.finish() }
        }
        return TestStream(link, updates: updates)
    }
}

/// An event stream as a test reads it: its status, then one event at a time, then how it ended.
final class TestStream {
    let link: EventStreamLink
    private var iterator: AsyncStream<EventStreamLink.Update>.AsyncIterator
    /// The response's status, once its head has come.
    private(set) var status: Int?
    /// The response's headers, once its head has come (a stream's or a 204's).
    private(set) var headers = HTTPHeaders()
    /// A refusal's body (an error status instead of a stream).
    private(set) var refusal: String?
    /// Whether the response ended (rather than the connection dropping).
    private(set) var ended = false
    /// Every `retry:` and comment seen, in order.
    private(set) var others: [EventStreamParser.Item] = []

    init(_ link: EventStreamLink, updates: AsyncStream<EventStreamLink.Update>) {
        self.link = link
        iterator = updates.makeAsyncIterator()
    }

    /// The next event, or nil once the response or the connection has ended.
    func nextEvent() async -> EventStreamParser.Event? {
        while let update = await iterator.next() {
            switch update {
            case .opened(let status, let headers):
                self.status = Int(status.code)
                self.headers = headers
            case .refused(let status, let body):
                self.status = Int(status.code)
                refusal = String(buffer: body)
            case .item(.event(let event)): return event
            case .item(let other): others.append(other)
            case .ended: ended = true
            case .closed: return nil
            }
        }
        return nil
    }

    /// The next event's data as a server message, or nil once the stream has ended.
    func next() async throws -> ServerMessage? {
        guard let event = await nextEvent() else { return nil }
        return try WireCoding.decode(ServerMessage.self, from: Data(event.data.utf8))
    }

    /// The data of the next `count` events (fewer if the stream ends first).
    func events(_ count: Int) async -> [String] {
        var events: [String] = []
        while events.count < count, let event = await nextEvent() { events.append(event.data) }
        return events
    }

    /// Reads to the end of the stream.
    func drain() async {
        while await nextEvent() != nil {}
    }
}

/// A WebSocket as a test reads it: one message at a time, then how it closed.
final class TestSocket {
    let link: WebSocketLink
    private var iterator: AsyncStream<WebSocketLink.Event>.AsyncIterator
    /// The server's close code, once the connection has ended (nil if it sent none).
    private(set) var closeCode: WebSocketErrorCode??

    init(_ link: WebSocketLink) {
        self.link = link
        iterator = link.events.makeAsyncIterator()
    }

    /// The next text message, or nil once the connection has closed.
    func nextText() async -> String? {
        while let event = await iterator.next() {
            switch event {
            case .text(let buffer): return String(buffer: buffer)
            case .binary: continue
            case .closed(let code, _): closeCode = .some(code)
            }
        }
        return nil
    }

    /// The next message as a server message, or nil once the connection has closed.
    func next() async throws -> ServerMessage? {
        guard let text = await nextText() else { return nil }
        return try WireCoding.decode(ServerMessage.self, from: Data(text.utf8))
    }

    /// Reads until the connection closes; returns the server's close code.
    func closed() async -> WebSocketErrorCode? {
        while await nextText() != nil {}
        return closeCode ?? nil
    }

    func send(_ json: String) {
        link.send(text: ByteBuffer(string: json))
    }
}

/// A value shared between a test and a @Sendable handler.
final class Box<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func get() -> Value { value.withLock { $0 } }
    func update<R>(_ body: (inout Value) -> R) -> R { value.withLock { body(&$0) } }
}

