import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import PlyClient
import PlyEngine
import PlyWire
import Synchronization

/// One seat's connection to a floor, used by one task: the events the floor relays to it, and
/// its moves out. The links are ply's own clients' (`WebSocketLink`, `HTTPLink`,
/// `EventStreamLink`), so a floor's bytes and requests are counted as ply's are.
protocol FloorSeat {
    /// Whether `move` waits for the floor's acknowledgement (the raw TCP floor sends none).
    var acknowledges: Bool { get }
    /// The next event, the seat's own moves' echoes among them; nil when the connection ended.
    mutating func next() async throws -> MatchEvent?
    /// Sends a move's event.
    func move(_ event: ByteBuffer) async throws
    func close()
}

/// What a floor's seats send as their `Authorization`: a header of the length of ply's seat
/// tokens', so that requests weigh what ply's do (the floor reads none).
enum FloorToken {
    static let headers = [("Authorization", "Bearer " + String(repeating: "f", count: 32))]
}

enum FloorSeatError: Error, CustomStringConvertible {
    case refused(HTTPResponseStatus)
    case closed

    var description: String {
        switch self {
        case .refused(let status): "the floor answered \(status.code)"
        case .closed: "the floor's connection closed"
        }
    }
}

/// A seat on the raw TCP floor: each frame is an event; moves are not acknowledged.
struct TCPFloorSeat: FloorSeat {
    let link: FloorLink
    private var frames: AsyncStream<ByteBuffer>.Iterator

    init(_ link: FloorLink) {
        self.link = link
        frames = link.frames.makeAsyncIterator()
    }

    var acknowledges: Bool { false }

    mutating func next() async throws -> MatchEvent? {
        guard let frame = await frames.next() else { return nil }
        return try WireCoding.decoder.decode(MatchEvent.self, from: frame)
    }

    func move(_ event: ByteBuffer) async throws { link.send(event) }

    func close() { link.close() }
}

/// A seat on the WebSocket floor: one socket; a move is answered with its echo, then an
/// acknowledgement, which `move` waits for.
struct WebSocketFloorSeat: FloorSeat {
    /// The acknowledgement awaited, filled on the socket's event loop.
    private final class Waiter: Sendable {
        let pending = Mutex<CheckedContinuation<Void, any Error>?>(nil)

        func resume(_ result: Result<Void, any Error>) {
            pending.withLock { $0.take() }?.resume(with: result)
        }
    }

    private let link: WebSocketLink
    private let waiter: Waiter
    private var messages: AsyncStream<ByteBuffer>.Iterator

    static func connect(to endpoint: Endpoint, pair: String, stats: WireStats) async throws -> WebSocketFloorSeat {
        let (messages, continuation) = AsyncStream<ByteBuffer>.makeStream()
        let waiter = Waiter()
        let ack = Array(#"{"id":"#.utf8)
        let link = try await WebSocketLink.connect(to: endpoint, path: "/floor/\(pair)/ws?after=0", headers: FloorToken.headers,
                                                   maxFrameSize: FloorLimits.maxMessageBytes, stats: stats) { event in
            switch event {
            case .text(let text) where text.readableBytesView.starts(with: ack):
                waiter.resume(.success(()))
            case .text(let text):
                continuation.yield(text)
            case .binary:
                break
            case .closed:
                waiter.resume(.failure(FloorSeatError.closed))
                continuation.finish()
            }
        }
        return WebSocketFloorSeat(link: link, waiter: waiter, messages: messages.makeAsyncIterator())
    }

    var acknowledges: Bool { true }

    mutating func next() async throws -> MatchEvent? {
        guard let message = await messages.next() else { return nil }
        return try WireCoding.decoder.decode(MatchEvent.self, from: message)
    }

    func move(_ event: ByteBuffer) async throws {
        try await withCheckedThrowingContinuation { continuation in
            waiter.pending.withLock { $0 = continuation }
            link.send(text: event)
        }
    }

    func close() {
        waiter.resume(.failure(FloorSeatError.closed))
        link.close()
    }
}

/// Moves as ply's long-polling and SSE clients send commands: `POST`s on a kept-alive
/// connection of their own.
struct FloorMovePoster: Sendable {
    let link: HTTPLink
    let pair: String

    func move(_ event: ByteBuffer) async throws {
        let response = try await link.send(.POST, "/floor/\(pair)/moves", headers: FloorToken.headers, body: event)
        guard response.status == .ok else { throw FloorSeatError.refused(response.status) }
    }
}

/// A seat on the long-poll floor: one connection that polls (each answer asked again at once,
/// from the count of events had), one for moves.
struct LongPollFloorSeat: FloorSeat {
    private let poller: Task<Void, Never>
    private let pollLink: HTTPLink
    private let poster: FloorMovePoster
    private var answers: AsyncThrowingStream<[MatchEvent], any Error>.Iterator
    private var batch: [MatchEvent] = []

    static func connect(to endpoint: Endpoint, pair: String, stats: WireStats) async throws -> LongPollFloorSeat {
        async let pollLink = HTTPLink.connect(to: endpoint, stats: stats)
        async let moveLink = HTTPLink.connect(to: endpoint, stats: stats)
        let (polls, moves) = try await (pollLink, moveLink)
        let (answers, continuation) = AsyncThrowingStream<[MatchEvent], any Error>.makeStream()
        let poller = Task {
            var had = 0
            do {
                while !Task.isCancelled {
                    let response = try await polls.send(.GET, "/floor/\(pair)/events?after=\(had)", headers: FloorToken.headers, timeout: .seconds(60))
                    guard response.status == .ok else { throw FloorSeatError.refused(response.status) }
                    let events = try WireCoding.decoder.decode([MatchEvent].self, from: response.body)
                    had += events.count
                    continuation.yield(events)
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        return LongPollFloorSeat(poller: poller, pollLink: polls, poster: FloorMovePoster(link: moves, pair: pair),
                                 answers: answers.makeAsyncIterator())
    }

    var acknowledges: Bool { true }

    mutating func next() async throws -> MatchEvent? {
        while batch.isEmpty {
            guard let answer = try await answers.next() else { return nil }
            batch = answer.reversed()
        }
        return batch.popLast()
    }

    func move(_ event: ByteBuffer) async throws { try await poster.move(event) }

    func close() {
        poller.cancel()
        pollLink.close()
        poster.link.close()
    }
}

/// A seat on the SSE floor: one connection for the stream, one for moves.
struct EventStreamFloorSeat: FloorSeat {
    private let stream: EventStreamLink
    private let poster: FloorMovePoster
    private var data: AsyncStream<String>.Iterator

    static func connect(to endpoint: Endpoint, pair: String, stats: WireStats) async throws -> EventStreamFloorSeat {
        let (data, continuation) = AsyncStream<String>.makeStream()
        async let moveLink = HTTPLink.connect(to: endpoint, stats: stats)
        async let streamLink = EventStreamLink.open(to: endpoint, path: "/floor/\(pair)/stream?after=0", headers: FloorToken.headers,
                                                    stats: stats) { update in
            switch update {
            case .item(.event(let event)): continuation.yield(event.data)
            case .item, .opened: break
            case .refused, .ended, .closed: continuation.finish()
            }
        }
        let (stream, moves) = try await (streamLink, moveLink)
        return EventStreamFloorSeat(stream: stream, poster: FloorMovePoster(link: moves, pair: pair), data: data.makeAsyncIterator())
    }

    var acknowledges: Bool { true }

    mutating func next() async throws -> MatchEvent? {
        guard let text = await data.next() else { return nil }
        return try WireCoding.decoder.decode(MatchEvent.self, from: Data(text.utf8))
    }

    func move(_ event: ByteBuffer) async throws { try await poster.move(event) }

    func close() {
        stream.close()
        poster.link.close()
    }
}

/// An idle client held to measure what a connection costs its server (`--hold`): one of ply's
/// spectators, or a reader of a floor's pair on one connection (a WebSocket open, a poll
/// waiting, a stream open), as ply's idle spectators are on ply.
struct HeldClient: Sendable {
    /// The spectator, when the server is ply's.
    let connection: MatchConnection?
    let isActive: @Sendable () -> Bool
    let close: @Sendable () -> Void

    init(_ connection: MatchConnection) {
        self.connection = connection
        isActive = { connection.state == .connected }
        close = { connection.close() }
    }

    private init(isActive: @escaping @Sendable () -> Bool, close: @escaping @Sendable () -> Void) {
        connection = nil
        self.isActive = isActive
        self.close = close
    }

    /// Set once a floor reader's connection ended, or its poll was answered.
    private final class Ended: Sendable {
        let flag = Atomic<Bool>(false)
        func set() { flag.store(true, ordering: .relaxed) }
        var isSet: Bool { flag.load(ordering: .relaxed) }
    }

    static func floorReader(_ transport: Transport, to endpoint: Endpoint, pair: String, stats: WireStats) async throws -> HeldClient {
        let ended = Ended()
        switch transport {
        case .webSocket:
            let link = try await WebSocketLink.connect(to: endpoint, path: "/floor/\(pair)/ws?after=0", headers: FloorToken.headers,
                                                       maxFrameSize: FloorLimits.maxMessageBytes, stats: stats) { event in
                if case .closed = event { ended.set() }
            }
            return HeldClient(isActive: { !ended.isSet }, close: { link.close() })
        case .longPoll:
            let link = try await HTTPLink.connect(to: endpoint, stats: stats)
            let answer: EventLoopFuture<HTTPLink.Response> = link.send(.GET, "/floor/\(pair)/events?after=0", headers: FloorToken.headers,
                                                                        timeout: .seconds(3600))
            answer.whenComplete { _ in ended.set() }
            return HeldClient(isActive: { !ended.isSet && link.isActive }, close: { link.close() })
        case .serverSentEvents:
            let link = try await EventStreamLink.open(to: endpoint, path: "/floor/\(pair)/stream?after=0", headers: FloorToken.headers,
                                                      stats: stats) { update in
                switch update {
                case .refused, .ended, .closed: ended.set()
                case .item, .opened: break
                }
            }
            return HeldClient(isActive: { !ended.isSet && link.isActive }, close: { link.close() })
        }
    }
}
