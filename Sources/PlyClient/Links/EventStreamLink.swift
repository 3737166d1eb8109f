import NIOCore
import NIOHTTP1
import NIOPosix
import PlyCompression
import Synchronization

/// One Server-Sent Events stream, `GET …/stream`, on a connection of its own: swift-nio's
/// HTTP/1.1 client coding (which takes the chunked body apart), a `WireCounter` at the socket
/// end counting every byte, and `EventStreamParser` over the body as it comes. What the stream
/// yields is handed on on the connection's event loop, in order.
public final class EventStreamLink: Sendable {
    /// What the stream does.
    public enum Update: Sendable {
        /// The response's head: 200 (the stream is open), or 204 (nothing more will come).
        case opened(HTTPResponseStatus, HTTPHeaders)
        /// The server answered with an error status and this body, instead of a stream.
        case refused(HTTPResponseStatus, ByteBuffer)
        case item(EventStreamParser.Item)
        /// The response ended (the match is over, or the server ended it).
        case ended
        /// The connection closed.
        case closed
    }

    private let channel: any Channel

    private init(channel: any Channel) {
        self.channel = channel
    }

    /// Connects and asks for the stream at `path` (with `headers`, `Last-Event-ID` among them
    /// to resume); `update` then gets what comes.
    public static func open(
        to endpoint: Endpoint,
        path: String,
        headers: [(String, String)] = [],
        stats: WireStats,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        connectTimeout: TimeAmount = .seconds(5),
        silence: TimeAmount? = nil,
        compression: Bool = false,
        update: @escaping @Sendable (Update) -> Void
    ) async throws -> EventStreamLink {
        let channel = try await HTTPLink.connectHTTP(to: endpoint, stats: stats, group: group, connectTimeout: connectTimeout) { counter in
            // A stream that says nothing (not even the server's heartbeat) for `silence` was cut
            // where no FIN could come back (a NAT that forgot it): it is closed, and so lost.
            (silence.map { [IdleStateHandler(readTimeout: $0)] } ?? []) + [EventStreamHandler(counter: counter, stats: stats, compression: compression, update: update)]
        }
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
        head.headers.add(name: "Host", value: endpoint.hostHeader)
        head.headers.add(name: "Accept", value: "text/event-stream")
        if compression { head.headers.add(name: "Accept-Encoding", value: "gzip") }
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        try await channel.writeAndFlush(HTTPClientRequestPart.end(nil)).get()
        stats.update { $0.httpRequests += 1 }
        stats.record(WireRecord(.sent, .request("GET \(path) HTTP/1.1"), overhead: 0, payload: 0))
        return EventStreamLink(channel: channel)
    }

    public var isActive: Bool { channel.isActive }

    public func close() {
        channel.close(promise: nil)
    }
}

/// Reads the stream's response: its head, then its body through the parser; records each
/// event in the stats with its overhead (the `id:` and `data:` lines, the chunk framing) and
/// payload (the data).
final class EventStreamHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let counter: WireCounter
    private let stats: WireStats
    private let update: @Sendable (EventStreamLink.Update) -> Void
    private var parser = EventStreamParser()
    private var status: HTTPResponseStatus?
    private var refusal: ByteBuffer?
    /// Bytes received as of the last item handed on, to give each event its share.
    private var accounted = 0
    private let compression: Bool
    /// A gzipped stream's inflater: one context for the stream, each piece of the body
    /// inflated as it arrives and bounded on its own.
    private var inflater: MessageInflater?
    static let pieceLimit = 1 << 20

    init(counter: WireCounter, stats: WireStats, compression: Bool = false, update: @escaping @Sendable (EventStreamLink.Update) -> Void) {
        self.counter = counter
        self.stats = stats
        self.compression = compression
        self.update = update
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = head.status
            if compression, head.headers.first(name: "content-encoding")?.lowercased() == "gzip" {
                inflater = MessageInflater(format: .gzip, limit: Self.pieceLimit)
            }
            let bytes = counter.received - accounted
            accounted = counter.received
            stats.record(WireRecord(.received, .response("HTTP/1.1 \(head.status.code) \(head.status.reasonPhrase)"), overhead: bytes, payload: 0))
            if head.status == .ok || head.status == .noContent { update(.opened(head.status, head.headers)) }
        case .body(var part):
            if let inflater {
                do throws(MessageInflater.Failure) {
                    part = try inflater.inflate(part, fin: true, allocator: context.channel.allocator)
                } catch {
                    return context.close(promise: nil)
                }
            }
            guard status == .ok else {
                refusal = refusal.map { var joined = $0; var more = part; joined.writeBuffer(&more); return joined } ?? part
                return
            }
            for item in parser.feed(part) {
                if case .event(let event) = item {
                    let bytes = counter.received - accounted
                    accounted = counter.received
                    let payload = event.data.utf8.count
                    // Gzipped, an event's bytes on the wire cannot be told from its framing's:
                    // all of them count as its payload.
                    let wire = inflater == nil ? payload : bytes
                    stats.update {
                        $0.payloadReceived += wire
                        $0.plainPayloadReceived += payload
                    }
                    stats.record(WireRecord(.received, .event("id: \(event.lastEventID)"), overhead: max(0, bytes - wire), payload: wire,
                                            plainPayload: inflater == nil ? nil : payload,
                                            preview: WireRecord.preview(of: ByteBuffer(string: event.data))))
                }
                update(.item(item))
            }
        case .end:
            if let status, status != .ok, status != .noContent {
                update(.refused(status, refusal ?? ByteBuffer()))
            } else {
                update(.ended)
            }
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        update(.closed)
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
