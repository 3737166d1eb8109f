import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import PlyClient
import PlyEngine
import PlyWire
import Synchronization

/// One seat's connection to a floor, driven where it is read: what the floor relays to it goes
/// to its receiver as each message is read, on the connection's event loop; moves go out with
/// `move`. The links are ply's own clients' (`WebSocketLink`, `HTTPLink`, `EventStreamLink`),
/// so a floor's bytes and requests are counted as ply's are.
protocol FloorSeat: Sendable {
    /// Whether a move is acknowledged (the raw TCP floor sends none).
    var acknowledges: Bool { get }
    /// Sends a move's event; the future completes with the floor's acknowledgement, or nil where
    /// the floor gives none.
    func move(_ event: ByteBuffer) -> EventLoopFuture<Void>?
    func close()
}

/// Where a floor seat hands what it reads: each event, the seat's own moves' echoes among
/// them, and nil once its connection has ended.
typealias FloorReceiver = @Sendable (MatchEvent?) -> Void

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

    static func connect(host: String, port: Int, pair: String, receive: @escaping FloorReceiver) async throws -> TCPFloorSeat {
        TCPFloorSeat(link: try await FloorLink.connect(host: host, port: port, pair: pair) { frame in
            receive(frame.flatMap { try? WireCoding.decoder.decode(MatchEvent.self, from: $0) })
        })
    }

    var acknowledges: Bool { false }

    func move(_ event: ByteBuffer) -> EventLoopFuture<Void>? {
        link.send(event)
        return nil
    }

    func close() { link.close() }
}

/// A seat on the WebSocket floor: one socket; a move is answered with its echo, then an
/// acknowledgement.
struct WebSocketFloorSeat: FloorSeat {
    /// The acknowledgement awaited.
    private final class Waiter: Sendable {
        let pending = Mutex<EventLoopPromise<Void>?>(nil)

        func resume(_ result: Result<Void, any Error>) {
            pending.withLock { $0.take() }?.completeWith(result)
        }
    }

    private let link: WebSocketLink
    private let waiter: Waiter

    static func connect(to endpoint: Endpoint, pair: String, stats: WireStats, receive: @escaping FloorReceiver) async throws -> WebSocketFloorSeat {
        let waiter = Waiter()
        let ack = Array(#"{"id":"#.utf8)
        let link = try await WebSocketLink.connect(to: endpoint, path: "/floor/\(pair)/ws?after=0", headers: FloorToken.headers,
                                                   maxFrameSize: FloorLimits.maxMessageBytes, stats: stats) { event in
            switch event {
            case .text(let text) where text.readableBytesView.starts(with: ack):
                waiter.resume(.success(()))
            case .text(let text):
                receive(try? WireCoding.decoder.decode(MatchEvent.self, from: text))
            case .binary:
                break
            case .closed:
                waiter.resume(.failure(FloorSeatError.closed))
                receive(nil)
            }
        }
        return WebSocketFloorSeat(link: link, waiter: waiter)
    }

    var acknowledges: Bool { true }

    func move(_ event: ByteBuffer) -> EventLoopFuture<Void>? {
        let acknowledged = link.eventLoop.makePromise(of: Void.self)
        waiter.pending.withLock { $0 = acknowledged }
        link.send(text: event)
        return acknowledged.futureResult
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

    func move(_ event: ByteBuffer) -> EventLoopFuture<Void> {
        let response: EventLoopFuture<HTTPLink.Response> = link.send(.POST, "/floor/\(pair)/moves", headers: FloorToken.headers, body: event)
        return response.flatMapThrowing { response in
            guard response.status == .ok else { throw FloorSeatError.refused(response.status) }
        }
    }
}

/// A seat on the long-poll floor: one connection that polls (each answer asked again at once,
/// from the count of events had, where it is read), one for moves.
struct LongPollFloorSeat: FloorSeat {
    private let pollLink: HTTPLink
    private let poster: FloorMovePoster

    static func connect(to endpoint: Endpoint, pair: String, stats: WireStats, receive: @escaping FloorReceiver) async throws -> LongPollFloorSeat {
        async let pollLink = HTTPLink.connect(to: endpoint, stats: stats)
        async let moveLink = HTTPLink.connect(to: endpoint, stats: stats)
        let (polls, moves) = try await (pollLink, moveLink)
        poll(polls, pair: pair, after: 0, receive: receive)
        return LongPollFloorSeat(pollLink: polls, poster: FloorMovePoster(link: moves, pair: pair))
    }

    private static func poll(_ link: HTTPLink, pair: String, after had: Int, receive: @escaping FloorReceiver) {
        let answer: EventLoopFuture<HTTPLink.Response> = link.send(.GET, "/floor/\(pair)/events?after=\(had)", headers: FloorToken.headers,
                                                                    timeout: .seconds(60))
        answer.whenComplete { result in
            guard case .success(let response) = result, response.status == .ok,
                  let events = try? WireCoding.decoder.decode([MatchEvent].self, from: response.body) else { return receive(nil) }
            for event in events { receive(event) }
            poll(link, pair: pair, after: had + events.count, receive: receive)
        }
    }

    var acknowledges: Bool { true }

    func move(_ event: ByteBuffer) -> EventLoopFuture<Void>? { poster.move(event) }

    func close() {
        pollLink.close()
        poster.link.close()
    }
}

/// A seat on the SSE floor: one connection for the stream, one for moves.
struct EventStreamFloorSeat: FloorSeat {
    private let stream: EventStreamLink
    private let poster: FloorMovePoster

    static func connect(to endpoint: Endpoint, pair: String, stats: WireStats, receive: @escaping FloorReceiver) async throws -> EventStreamFloorSeat {
        async let moveLink = HTTPLink.connect(to: endpoint, stats: stats)
        async let streamLink = EventStreamLink.open(to: endpoint, path: "/floor/\(pair)/stream?after=0", headers: FloorToken.headers,
                                                    stats: stats) { update in
            switch update {
            case .item(.event(let event)): receive(try? WireCoding.decoder.decode(MatchEvent.self, from: Data(event.data.utf8)))
            case .item, .opened: break
            case .refused, .ended, .closed: receive(nil)
            }
        }
        let (stream, moves) = try await (streamLink, moveLink)
        return EventStreamFloorSeat(stream: stream, poster: FloorMovePoster(link: moves, pair: pair))
    }

    var acknowledges: Bool { true }

    func move(_ event: ByteBuffer) -> EventLoopFuture<Void>? { poster.move(event) }

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
