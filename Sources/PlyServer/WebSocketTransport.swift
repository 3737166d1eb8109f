import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket
import PlyAuthority
import PlyCompression
import PlyEngine
import PlyWire

/// The WebSocket transport: `GET /matches/{id}/ws?after=V` upgrades, then the server sends
/// every event after V and each new event as one text message (the same JSON as one element
/// of a long-poll answer), and answers each command message with an ack or an error.
///
/// `HTTPConnection` asks it three things of an upgrade request, on any request of a
/// connection: whether the opening handshake is well formed (RFC 6455 4.2.1: if not, an HTTP
/// answer says why), whom to admit (the authority's admission step), and swift-nio's upgrader
/// for the admitted request, which answers 101 and puts swift-nio's frame codec, the frame
/// guard, swift-nio's aggregator and a `WebSocketConnection` in the pipeline.
final class WebSocketTransport: Sendable {
    let authority: Authority
    let connections: Connections
    let configuration: ServerConfiguration
    /// Every open WebSocket's pings, one sweep per event loop.
    let pings: LoopSweeps

    init(authority: Authority, connections: Connections, configuration: ServerConfiguration) {
        self.authority = authority
        self.connections = connections
        self.configuration = configuration
        pings = LoopSweeps(every: configuration.pingInterval)
    }

    /// What the server makes of an upgrade request.
    enum Admission: Sendable {
        /// A spectator (no seat) or a seat, starting after a version.
        case admitted(MatchAuthority, Seat?, after: Int)
        /// Upgraded only to say why not: the error is sent, then the connection closed (a page's
        /// WebSocket sees the close code and reason of a refused upgrade, never an HTTP answer).
        case refused(WireError)
    }

    /// What is wrong with an opening handshake, as the HTTP answer to give (400, or 426 with the
    /// version ply speaks); nil for a good one. A request with no `Upgrade: websocket` at all is
    /// a plain request for the endpoint (426 too).
    static func handshakeProblem(_ head: HTTPRequestHead) -> (WireError, HTTPHeaders)? {
        let headers = head.headers
        let upgradeRequired: HTTPHeaders = ["Upgrade": "websocket", "Connection": "Upgrade"]
        guard headers[canonicalForm: "upgrade"].contains(where: { $0.lowercased() == "websocket" }) else {
            return (WireError(.upgradeRequired, "this endpoint speaks WebSocket: send 'Upgrade: websocket'"), upgradeRequired)
        }
        let bad = { (why: String) -> (WireError, HTTPHeaders) in
            (WireError(.badRequest, "not a WebSocket opening handshake (RFC 6455 4.2.1): \(why)"), ["Sec-WebSocket-Version": "13"])
        }
        guard head.version.major > 1 || (head.version.major == 1 && head.version.minor >= 1) else { return bad("it needs HTTP/1.1") }
        guard headers.contains(name: "host") else { return bad("no Host header") }
        guard headers[canonicalForm: "connection"].contains(where: { $0.lowercased() == "upgrade" }) else {
            return bad("'Connection' must include 'Upgrade'")
        }
        let versions = headers["sec-websocket-version"]
        guard !versions.isEmpty else { return bad("no Sec-WebSocket-Version") }
        guard versions.count == 1, versions[0].trimmingCharacters(in: .whitespaces) == "13" else {
            return (WireError(.upgradeRequired, "ply speaks WebSocket version 13 only (Sec-WebSocket-Version: 13)"),
                    ["Sec-WebSocket-Version": "13", "Upgrade": "websocket", "Connection": "Upgrade"])
        }
        let keys = headers["sec-websocket-key"]
        guard keys.count == 1, Data(base64Encoded: keys[0].trimmingCharacters(in: .whitespaces))?.count == 16 else {
            return bad("Sec-WebSocket-Key must be 16 bytes in base64, sent once")
        }
        return nil
    }

    /// Judges a well-formed upgrade request at once, when it can: the server running, the
    /// client's upgrade budget, the page's origin, then the authority's admission step; nil when
    /// the store must be read first (`admit`).
    func admission(_ head: HTTPRequestHead, match id: Substring, client: String, origin: OriginPolicy.Verdict) -> Admission? {
        do throws(WireError) {
            try authority.checkRunning()
            try connections.clients.spend(.upgrade, by: client)
            if case .refused(let origin) = origin {
                throw WireError(.forbiddenOrigin, "WebSockets from origin '\(origin)' are not allowed")
            }
        } catch {
            return .refused(error)
        }
        return authority.admission(to: String(id), as: Credential(authorization: head.headers.first(name: "authorization")),
                                   after: Self.after(head)).map(Self.admission)
    }

    /// The same judgement, reading the store where it must (after `admission` said nil).
    func admit(_ head: HTTPRequestHead, match id: Substring) async -> Admission {
        Self.admission(await authority.admit(to: String(id), as: Credential(authorization: head.headers.first(name: "authorization")),
                                             after: Self.after(head)))
    }

    private static func admission(_ result: Result<PlyAuthority.Admission, WireError>) -> Admission {
        switch result {
        case .success(let admitted): .admitted(admitted.match, admitted.seat, after: admitted.after)
        case .failure(let error): .refused(error)
        }
    }

    private static func after(_ head: HTTPRequestHead) -> String? {
        URI(head.uri).queryParameters.get("after")
    }

    /// The answer to a request's offers of `permessage-deflate`, when the server compresses
    /// and one is acceptable; nil otherwise (the connection is then uncompressed).
    func compression(for head: HTTPRequestHead) -> (agreed: PerMessageDeflate, response: String)? {
        guard configuration.compression else { return nil }
        let offers = head.headers[canonicalForm: "sec-websocket-extensions"].map(String.init)
        let policy = PerMessageDeflate.Policy(windowBits: configuration.compressionWindowBits,
                                              contextTakeover: configuration.compressionContextTakeover)
        return PerMessageDeflate.negotiate(offers, policy: policy)
    }

    /// swift-nio's upgrader for one admitted request: it builds the 101's headers
    /// (`Sec-WebSocket-Accept`, and `Sec-WebSocket-Extensions` when compression is agreed),
    /// then adds swift-nio's frame encoder, decoder and protocol error handler (a bad frame is
    /// closed 1002, an oversized one 1009), and after them ply's frame guard (which also
    /// inflates), swift-nio's aggregator and the connection (which also deflates).
    func upgrader(for admission: Admission, head: HTTPRequestHead, client: String, logger: Logger) -> NIOTypedWebSocketServerUpgrader<Void> {
        let configuration = configuration
        // A refused upgrade only says why and closes: nothing to compress.
        let compression: (agreed: PerMessageDeflate, response: String)? = if case .admitted = admission { self.compression(for: head) } else { nil }
        return NIOTypedWebSocketServerUpgrader<Void>(
            maxFrameSize: configuration.maxMessageBytes,
            enableAutomaticErrorHandling: true,
            shouldUpgrade: { channel, _ in
                var headers = HTTPHeaders()
                if let compression { headers.add(name: "Sec-WebSocket-Extensions", value: compression.response) }
                return channel.eventLoop.makeSucceededFuture(headers)
            },
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        WebSocketFrameGuard(
                            fragmentTime: TimeAmount(configuration.maxFragmentedMessageTime),
                            inflater: compression.map { MessageInflater($0.agreed, limit: configuration.maxMessageBytes) }
                        ),
                        NIOWebSocketFrameAggregator(
                            minNonFinalFragmentSize: 1,
                            maxAccumulatedFrameCount: configuration.maxMessageFragments,
                            maxAccumulatedFrameSize: configuration.maxMessageBytes
                        ),
                        WebSocketConnection(admission: admission, client: client, transport: self,
                                            deflater: compression.map { MessageDeflater($0.agreed) }, logger: logger),
                    ])
                }
            }
        )
    }
}
