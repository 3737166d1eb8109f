import Foundation
import NIOCore
import NIOEmbedded
import NIOWebSocket
import PlyAuthority
import PlyBench
import PlyClient
import PlyCompression
import PlyEngine
import PlyRelay
import PlyWire
@testable import PlyServer
import Testing

/// Compression: permessage-deflate on swift-nio's testing channel (compressed messages both
/// ways, in fragments, context takeover on and off, deflate bombs, reserved bits), then on a
/// live server: offers answered over a raw socket, ply's clients on every transport, the bytes
/// a relay carried, Python `websockets` and gzip bodies read by curl.
@Suite(.timeLimit(.minutes(2)))
struct CompressionTests {
    /// The server's side of what was agreed.
    static let agreed = PerMessageDeflate(sendWindowBits: 10, sendNoContextTakeover: false, receiveWindowBits: 10, receiveNoContextTakeover: false)

    /// The client's end of a compressed WebSocket: its deflater and inflater, as the server's
    /// agreement implies.
    final class ClientEnd {
        let deflater: MessageDeflater
        let inflater: MessageInflater

        init(_ agreed: PerMessageDeflate) {
            deflater = MessageDeflater(windowBits: agreed.receiveWindowBits, noContextTakeover: agreed.receiveNoContextTakeover)
            inflater = MessageInflater(windowBits: agreed.sendWindowBits, noContextTakeover: agreed.sendNoContextTakeover, limit: 1 << 20)
        }

        /// A message compressed and sent in `pieces` masked frames, RSV1 on the first.
        func frames(_ text: String, pieces: Int = 1) throws -> [WebSocketFrame] {
            try Self.split(deflater.deflate(ByteBuffer(string: text), allocator: ByteBufferAllocator()), pieces: pieces)
        }

        static func split(_ payload: ByteBuffer, pieces: Int, opcode: WebSocketOpcode = .text) -> [WebSocketFrame] {
            let bytes = Array(payload.readableBytesView)
            let size = max(1, (bytes.count + pieces - 1) / pieces)
            let chunks = stride(from: 0, to: max(bytes.count, 1), by: size).map { Array(bytes[$0..<min($0 + size, bytes.count)]) }
            return chunks.enumerated().map { index, chunk in
                let key = WebSocketMaskingKey.random()
                var data = ByteBuffer(bytes: chunk)
                data.webSocketMask(key)
                return WebSocketFrame(fin: index == chunks.count - 1, rsv1: index == 0, opcode: index == 0 ? opcode : .continuation,
                                      maskKey: key, data: data)
            }
        }

        /// A server message, inflated.
        func read(_ frame: WebSocketFrame) throws -> String {
            #expect(frame.rsv1, "sent compressed")
            return String(buffer: try inflater.inflate(frame.data, fin: frame.fin, allocator: ByteBufferAllocator()))
        }
    }

    /// A started match and a channel with the frame guard (inflating), swift-nio's aggregator
    /// and the connection (deflating), admitted for seat 0 after version 3, and what it wrote
    /// on opening.
    func open(_ agreed: PerMessageDeflate = agreed, configuration: ServerConfiguration = ServerConfiguration())
        async throws -> (NIOAsyncTestingChannel, MatchAuthority, [WebSocketFrame]) {
        let (channel, match, _, opening) = try await WebSocketConnectionTests().open(configuration, compression: agreed, seated: true)
        return (channel, match, opening)
    }

    func outbound(_ channel: NIOAsyncTestingChannel) async throws -> [WebSocketFrame] {
        await channel.testingEventLoop.run()
        var frames: [WebSocketFrame] = []
        while let frame = try await channel.readOutbound(as: WebSocketFrame.self) { frames.append(frame) }
        return frames
    }

    func send(_ channel: NIOAsyncTestingChannel, _ frames: [WebSocketFrame]) async {
        for frame in frames { _ = try? await channel.writeInbound(frame) }
    }

    func close(_ frames: [WebSocketFrame]) -> (code: WebSocketErrorCode?, reason: String) {
        guard var data = frames.last(where: { $0.opcode == .connectionClose })?.data else { return (nil, "") }
        let code = data.readWebSocketErrorCode()
        return (code, data.readString(length: data.readableBytes) ?? "")
    }

    @Test(arguments: [1, 3])
    func aCompressedCommandIsPlayedAndTheAnswersComeCompressed(pieces: Int) async throws {
        let (channel, match, opening) = try await open()
        let client = ClientEnd(Self.agreed)
        #expect(try opening.map(client.read) == [#"{"seat":0,"type":"welcome","v":3}"#])
        await send(channel, try client.frames(#"{"id":1,"move":"4","type":"play","v":3}"#, pieces: pieces))
        let answers = try await outbound(channel)
        #expect(try answers.map(client.read) == [#"{"move":"4","seat":0,"type":"moved","v":4}"#, #"{"id":1,"type":"ack","v":4}"#])
        #expect(match.version == 4)
        // The context carried over from the messages before: the keys cost next to nothing.
        #expect(answers[1].data.readableBytes * 3 < #"{"id":1,"type":"ack","v":4}"#.utf8.count * 2)
        // An uncompressed message is still read: compression is per message (RFC 7692 6).
        let key = WebSocketMaskingKey.random()
        var plain = ByteBuffer(string: #"{"id":2,"move":"3","type":"play","v":4}"#)
        plain.webSocketMask(key)
        await send(channel, [WebSocketFrame(fin: true, opcode: .text, maskKey: key, data: plain)])
        #expect(try await outbound(channel).map(client.read).first?.contains(#""code":"match/not_your_turn""#) == true)
        _ = try? await channel.close()
    }

    /// Without context takeover each message inflates on its own; with it, a later message
    /// needs the ones before (a fresh inflater cannot read it).
    @Test(arguments: [false, true])
    func contextTakeoverOnAndOff(noTakeover: Bool) async throws {
        var agreed = Self.agreed
        agreed.sendNoContextTakeover = noTakeover
        agreed.receiveNoContextTakeover = noTakeover
        let (channel, _, _) = try await open(agreed)
        let client = ClientEnd(agreed)
        for id in 1...3 { await send(channel, try client.frames(#"{"id":\#(id),"type":"resign","v":2}"#)) }
        let answers = try await outbound(channel)
        #expect(answers.count == 3)
        let alone = { (frame: WebSocketFrame) in
            try? MessageInflater(windowBits: 15, noContextTakeover: true, limit: 4096).inflate(frame.data, fin: true, allocator: ByteBufferAllocator())
        }
        let readAlone = answers.map { alone($0).map { String(buffer: $0) } }
        if noTakeover {
            #expect(readAlone.allSatisfy { $0?.contains(#""code":"match/stale_version""#) == true }, "\(readAlone)")
        } else {
            #expect(readAlone.dropFirst().allSatisfy { $0?.contains("stale_version") != true }, "\(readAlone)")
        }
        _ = try? await channel.close()
    }

    /// A deflate bomb, one frame or in many small ones, is closed 1009 at the limit, with no
    /// more than the limit inflated.
    @Test(arguments: [1, 400])
    func aDeflateBombIsClosedAtTheLimit(pieces: Int) async throws {
        var configuration = ServerConfiguration()
        configuration.maxMessageFragments = 1000
        let (channel, match, _) = try await open(configuration: configuration)
        let bomb = try MessageDeflater(windowBits: 10, noContextTakeover: true)
            .deflate(ByteBuffer(string: #"{"id":1,"type":"play","move":""# + String(repeating: "4", count: 5_000_000) + #"","v":3}"#),
                     allocator: ByteBufferAllocator())
        #expect(bomb.readableBytes < 30_000)
        await send(channel, ClientEnd.split(bomb, pieces: pieces))
        let (code, reason) = close(try await outbound(channel))
        #expect(code == .messageTooLarge)
        // In one frame the inflater stops it; in many, swift-nio's aggregator may count the
        // inflated fragments past the same limit first.
        if pieces == 1 { #expect(reason.contains("inflates past")) }
        #expect(match.version == 3)
        _ = try? await channel.close()
    }

    @Test func reservedBitsOnlyWhereTheExtensionAllowsThem() async throws {
        let key = WebSocketMaskingKey.random()
        for frame in [
            WebSocketFrame(fin: true, rsv1: true, opcode: .ping, maskKey: key, data: ByteBuffer()),
            WebSocketFrame(fin: true, rsv2: true, opcode: .text, maskKey: key, data: ByteBuffer(string: "{}")),
        ] {
            let (channel, _, _) = try await open()
            await send(channel, [frame])
            #expect(close(try await outbound(channel)).code == .protocolError, "\(frame)")
            _ = try? await channel.close()
        }
        // RSV1 on a continuation frame: only a message's first frame says it is compressed.
        let (channel, _, _) = try await open()
        var frames = try ClientEnd(Self.agreed).frames(#"{"id":1,"type":"resign","v":3}"#, pieces: 2)
        frames[1].rsv1 = true
        await send(channel, frames)
        #expect(close(try await outbound(channel)).code == .protocolError)
        _ = try? await channel.close()
    }

    @Test func badCompressedDataIsClosed1007() async throws {
        let (channel, _, _) = try await open()
        await send(channel, ClientEnd.split(ByteBuffer(bytes: [0xFF, 0xFE, 0xFD, 0x00, 0x12]), pieces: 1))
        #expect(close(try await outbound(channel)).code == .dataInconsistentWithMessage)
        _ = try? await channel.close()
        // Deflate data whose text is not UTF-8: checked once inflated.
        let (second, _, _) = try await open()
        let bad = try MessageDeflater(windowBits: 10, noContextTakeover: true).deflate(ByteBuffer(bytes: [0x7B, 0xC3, 0x28, 0x7D]),
                                                                                       allocator: ByteBufferAllocator())
        await send(second, ClientEnd.split(bad, pieces: 1))
        #expect(close(try await outbound(second)).code == .dataInconsistentWithMessage)
        _ = try? await second.close()
    }

    // MARK: A live server

    static let compressing = {
        var options = ConnectionOptions()
        options.compression = true
        return options
    }()

    /// Offers as a browser or library sends them, over a raw socket: each answered with 101
    /// and the extension as RFC 7692 says, or declined (no header, no failure); with
    /// compression off every offer is declined. The welcome frame says which (RSV1).
    @Test(arguments: [
        (true, "permessage-deflate; client_max_window_bits", "permessage-deflate; server_max_window_bits=10; client_max_window_bits=10"),
        (true, "permessage-deflate", "permessage-deflate; server_max_window_bits=10"),
        (true, "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
         "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10"),
        (true, "permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=9", "permessage-deflate; server_max_window_bits=9"),
        (true, "permessage-deflate; server_max_window_bits=8", nil),
        (true, "permessage-deflate; no_such_parameter", nil),
        (true, "permessage-deflate; client_max_window_bits=16", nil),
        (true, "x-webkit-deflate-frame", nil),
        (false, "permessage-deflate; client_max_window_bits", nil),
    ] as [(Bool, String, String?)])
    func offersAreAnsweredAsTheRFCSays(_ compression: Bool, _ offer: String, _ answer: String?) async throws {
        var configuration = ServerConfiguration()
        configuration.compression = compression
        try await LiveServer.run(configuration) { server in
            let (id, ann, _) = try await server.startedMatch()
            let client = try await RawClient.connect(port: server.port)
            try await client.send(FrontDoorTests.upgrade(id, extra: "Authorization: Bearer \(ann.token)\r\nSec-WebSocket-Extensions: \(offer)\r\n"))
            // The whole head and the first byte after it (a loaded machine may deliver the head
            // in pieces, the welcome frame later).
            func headEnd(_ bytes: [UInt8]) -> Int? {
                bytes.count < 5 ? nil : (0..<(bytes.count - 4)).first { bytes[$0..<$0 + 4].elementsEqual([13, 10, 13, 10]) }
            }
            try await waitFor(seconds: 10) { headEnd(client.bytes) != nil && FrontDoorTests.responses(client.text).count == 1 }
            let response = try #require(FrontDoorTests.responses(client.text).first)
            #expect(response.status == 101)
            #expect(response.header("Sec-WebSocket-Extensions") == answer, "\(client.text)")
            // The first frame after the head: FIN and text, and RSV1 when compressed.
            let bytes = client.bytes
            let end = try #require(headEnd(bytes))
            #expect(bytes[end + 4] == (answer == nil ? 0x81 : 0xC1))
            client.close()
        }
    }

    /// ply's own clients play whole games compressed over every transport: nothing lost, and
    /// what they counted on the wire is less than what they read inflated (on WebSocket and
    /// Server-Sent Events; a long poll's answers are mostly under gzip's minimum).
    @Test(arguments: Transport.allCases)
    func plyClientsPlayCompressedOverEveryTransport(_ transport: Transport) async throws {
        var configuration = ServerConfiguration()
        configuration.compression = true
        let options = Self.compressing
        try await LiveServer.run(configuration) { server in
            let (games, connections, log) = try await ClientTests().playBots(server, transports: .same(.over(transport)), options: options)
            ClientTests().expectComplete(log)
            #expect(games[0].result == games[1].result)
            for connection in connections { #expect(connection.log == log) }
            let totals = connections.map { $0.stats.totals }.reduce(WireTotals(), +)
            if transport == .webSocket {
                #expect(totals.payloadReceived * 2 < totals.plainPayloadReceived, "\(totals)")
            } else if transport == .serverSentEvents {
                // (Its wire bytes include each event's `id:` and `data:` lines, inflated apart.)
                #expect(totals.payloadReceived < totals.plainPayloadReceived, "\(totals)")
            } else {
                #expect(totals.payloadReceived <= totals.plainPayloadReceived, "\(totals)")
            }
            if transport == .webSocket { #expect(totals.payloadSent < totals.plainPayloadSent, "\(totals)") }
        }
    }

    /// The bytes each client counted at its sockets, compressed, are exactly the bytes the relay carried.
    @Test(arguments: [Transport.webSocket, .serverSentEvents])
    func compressedCountsMatchAnIndependentCount(_ transport: Transport) async throws {
        var configuration = ServerConfiguration()
        configuration.compression = true
        let options = Self.compressing
        try await LiveServer.run(configuration) { server in
            let relay = try await TCPRelay.start(to: "127.0.0.1", port: server.port)
            let (_, connections, _) = try await ClientTests().playBots(server, transports: .same(.over(transport)),
                                                                     via: Endpoint(host: "127.0.0.1", port: relay.port), options: options)
            let totals = try await ClientTests().expectCountsMatch(connections, relay)
            #expect(totals.plainPayloadReceived > totals.payloadReceived)
            await relay.stop()
        }
    }

    /// Python `websockets` offers permessage-deflate by default: a server with compression on
    /// agrees, and the game is played compressed both ways.
    @Test(.enabled(if: IndependentClients.webSockets, "\(IndependentClients.missing)"))
    func pythonWebsocketsPlaysCompressed() async throws {
        var configuration = ServerConfiguration()
        configuration.compression = true
        try await LiveServer.run(configuration) { server in
            let report = try await IndependentClients.run("ws_compressed.py", ["\(server.port)"], as: JSONValue.self)
            #expect(report["extensions"]?.array.compactMap(\.string) == Array(repeating: "permessage-deflate; server_max_window_bits=10; client_max_window_bits=10", count: 2), "\(report)")
            let seen = report["seen"]?.array.map { $0.array.compactMap(\.string) } ?? []
            #expect(seen.count == 2 && seen.allSatisfy { $0.last == "ended" && $0.contains("moved") }, "\(report)")
            #expect(!(seen.first?.contains("error") ?? true), "\(report)")
        }
    }

    /// curl asks for gzip (`--compressed`) and inflates: a snapshot over 128 bytes comes
    /// gzipped, with `Vary`; a small answer plain; an event stream gzipped as it goes.
    @Test func curlReadsGzippedBodiesAndStreams() async throws {
        var configuration = ServerConfiguration()
        configuration.compression = true
        try await LiveServer.run(configuration) { server in
            let id = try await server.createMatch(.battleship)
            let base = "http://127.0.0.1:\(server.port)"
            let (_, headers) = try await ChildProcess.run("/usr/bin/curl", ["-s", "-D", "-", "-o", "/dev/null", "-H", "Accept-Encoding: gzip", "\(base)/matches/\(id)"])
            #expect(headers.contains("Content-Encoding: gzip") && headers.contains("Vary: Accept-Encoding"), "\(headers)")
            let (_, body) = try await ChildProcess.run("/usr/bin/curl", ["-s", "--compressed", "\(base)/matches/\(id)"])
            #expect(body.contains(#""game":"battleship""#))
            let (_, health) = try await ChildProcess.run("/usr/bin/curl", ["-s", "-D", "-", "--compressed", "\(base)/health"])
            #expect(!health.contains("Content-Encoding") && health.contains(#""status":"ok""#), "\(health)")
            let (_, stream) = try await ChildProcess.run("/usr/bin/curl", ["-s", "-N", "-D", "-", "--compressed", "--max-time", "2", "\(base)/matches/\(id)/stream"])
            #expect(stream.contains("Content-Encoding: gzip") && stream.contains("id: 1\ndata: {\"game\":\"battleship\""), "\(stream)")
        }
    }
}
