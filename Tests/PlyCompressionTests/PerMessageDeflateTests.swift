import NIOCore
import PlyCompression
import Testing

/// The server's answers to offers of permessage-deflate (RFC 7692 5 and 7.1), a client's
/// reading of the answer, and the codecs: round trips with and without context takeover, in
/// fragments, and the inflation bound against deflate bombs.
struct PerMessageDeflateTests {
    static let policy = PerMessageDeflate.Policy(windowBits: 10, contextTakeover: true)

    /// Offer header values → the response header value, or nil for declined.
    @Test(arguments: [
        // What Chromium and Python websockets offer: the client's window is the server's to choose.
        (["permessage-deflate; client_max_window_bits"], "permessage-deflate; server_max_window_bits=10; client_max_window_bits=10"),
        // No parameters: the client's window cannot be limited (it was not offered), the server's can.
        (["permessage-deflate"], "permessage-deflate; server_max_window_bits=10"),
        (["permessage-deflate; server_no_context_takeover"], "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"),
        (["permessage-deflate; client_no_context_takeover"], "permessage-deflate; client_no_context_takeover; server_max_window_bits=10"),
        (["permessage-deflate; server_max_window_bits=9"], "permessage-deflate; server_max_window_bits=9"),
        (["permessage-deflate; server_max_window_bits=12"], "permessage-deflate; server_max_window_bits=10"),
        (["permessage-deflate; client_max_window_bits=9"], "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9"),
        (["permessage-deflate; client_max_window_bits=\"12\""], "permessage-deflate; server_max_window_bits=10; client_max_window_bits=10"),
        // Several offers: the first acceptable one, in the client's order.
        (["permessage-deflate; server_max_window_bits=8", "permessage-deflate; client_max_window_bits"],
         "permessage-deflate; server_max_window_bits=10; client_max_window_bits=10"),
        (["x-webkit-deflate-frame", "permessage-deflate"], "permessage-deflate; server_max_window_bits=10"),
        // Declined, and the connection goes on without compression.
        (["permessage-deflate; server_max_window_bits=8"], nil),
        (["permessage-deflate; server_max_window_bits"], nil),
        (["permessage-deflate; server_max_window_bits=16"], nil),
        (["permessage-deflate; server_max_window_bits=010"], nil),
        (["permessage-deflate; client_max_window_bits=7"], nil),
        (["permessage-deflate; client_max_window_bits=ten"], nil),
        (["permessage-deflate; server_no_context_takeover=1"], nil),
        (["permessage-deflate; server_no_context_takeover; server_no_context_takeover"], nil),
        (["permessage-deflate; mystery"], nil),
        (["permessage-deflate; client_max_window_bits=\"1 0\""], nil),
        (["permessage-deflate;;"], nil),
        (["x-webkit-deflate-frame"], nil),
        ([], nil),
    ] as [([String], String?)])
    func serverAnswers(_ offers: [String], _ expected: String?) {
        #expect(PerMessageDeflate.negotiate(offers, policy: Self.policy)?.response == expected)
    }

    @Test func whatTheServerAgreesToIsWhatItAnswered() throws {
        let full = try #require(PerMessageDeflate.negotiate(["permessage-deflate; client_max_window_bits"], policy: .init(windowBits: 15)))
        #expect(full.response == "permessage-deflate")
        #expect(full.agreed == PerMessageDeflate(sendWindowBits: 15, sendNoContextTakeover: false, receiveWindowBits: 15, receiveNoContextTakeover: false))
        let fresh = try #require(PerMessageDeflate.negotiate(["permessage-deflate; client_max_window_bits"],
                                                             policy: .init(windowBits: 11, contextTakeover: false)))
        #expect(fresh.response == "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=11")
        #expect(fresh.agreed == PerMessageDeflate(sendWindowBits: 11, sendNoContextTakeover: true, receiveWindowBits: 11, receiveNoContextTakeover: true))
        // The client reads the same agreement from the answer, from its side.
        let client = try #require(try PerMessageDeflate.accept([fresh.response]))
        #expect(client == PerMessageDeflate(sendWindowBits: 11, sendNoContextTakeover: true, receiveWindowBits: 11, receiveNoContextTakeover: true))
    }

    @Test(arguments: [
        "permessage-deflate; mystery",
        "permessage-deflate; server_max_window_bits=99",
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; client_max_window_bits=8",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "x-webkit-deflate-frame",
        "permessage-deflate; =1",
    ])
    func aClientFailsOnABadAnswer(_ response: String) {
        #expect(throws: PerMessageDeflate.Refusal.self) { try PerMessageDeflate.accept([response]) }
    }

    @Test func aClientFailsOnTwoAnswers() throws {
        #expect(throws: PerMessageDeflate.Refusal.self) { try PerMessageDeflate.accept(["permessage-deflate", "permessage-deflate"]) }
        #expect(try PerMessageDeflate.accept([]) == nil)
    }

    static func messages(count: Int, seed: UInt64) -> [String] {
        var random = SplitMix(seed: seed)
        return (0..<count).map { index in
            switch random.next() % 4 {
            case 0: #"{"move":"\#(random.next() % 7 + 1)","seat":\#(index % 2),"type":"moved","v":\#(index + 3)}"#
            case 1: #"{"id":\#(index),"type":"ack","v":\#(index + 3)}"#
            case 2: String((0..<Int(random.next() % 300)).map { _ in Character(UnicodeScalar(UInt8(32 + random.next() % 90))) })
            default: ""
            }
        }
    }

    /// Every message comes back as sent, whole or split into fragments anywhere, with and
    /// without context takeover and at every window.
    @Test(arguments: [(15, false), (15, true), (10, false), (9, true)])
    func roundTrips(_ bits: Int, _ noTakeover: Bool) throws {
        let allocator = ByteBufferAllocator()
        let deflater = MessageDeflater(windowBits: bits, noContextTakeover: noTakeover)
        let inflater = MessageInflater(windowBits: bits, noContextTakeover: noTakeover, limit: 4096)
        var random = SplitMix(seed: UInt64(bits))
        var sent = 0, wire = 0
        for message in Self.messages(count: 200, seed: UInt64(bits) * 7 + (noTakeover ? 1 : 0)) {
            let compressed = try deflater.deflate(ByteBuffer(string: message), allocator: allocator)
            if message.hasPrefix("{") {
                sent += message.utf8.count
                wire += compressed.readableBytes
            }
            // Cut the compressed payload into up to three fragments.
            let bytes = Array(compressed.readableBytesView)
            let cuts = [Int(random.next() % UInt64(bytes.count + 1)), Int(random.next() % UInt64(bytes.count + 1))].sorted()
            var out = ByteBuffer()
            for (index, range) in [0..<cuts[0], cuts[0]..<cuts[1], cuts[1]..<bytes.count].enumerated() {
                var part = try inflater.inflate(ByteBuffer(bytes: bytes[range]), fin: index == 2, allocator: allocator)
                out.writeBuffer(&part)
            }
            #expect(String(buffer: out) == message)
        }
        // ply's small JSON messages compress well only with the context kept.
        if !noTakeover { #expect(wire * 2 < sent) }
    }

    /// A small frame that would inflate far past the limit stops at the limit, whole or in fragments.
    @Test func deflateBombsStopAtTheLimit() throws {
        let allocator = ByteBufferAllocator()
        let bomb = try MessageDeflater(windowBits: 15, noContextTakeover: true)
            .deflate(ByteBuffer(repeating: UInt8(ascii: "a"), count: 10_000_000), allocator: allocator)
        #expect(bomb.readableBytes < 20_000)
        let whole = MessageInflater(windowBits: 15, noContextTakeover: false, limit: 4096)
        #expect(throws: MessageInflater.Failure.tooLarge) { try whole.inflate(bomb, fin: true, allocator: allocator) }
        // In fragments: each stays under the limit, the message does not.
        let split = MessageInflater(windowBits: 15, noContextTakeover: false, limit: 4096)
        let bytes = Array(bomb.readableBytesView)
        var thrown: MessageInflater.Failure?
        var total = 0
        for start in stride(from: 0, to: bytes.count, by: 8) {
            do {
                total += try split.inflate(ByteBuffer(bytes: bytes[start..<min(start + 8, bytes.count)]), fin: start + 8 >= bytes.count,
                                           allocator: allocator).readableBytes
            } catch {
                thrown = error
                break
            }
        }
        #expect(thrown == .tooLarge)
        #expect(total <= 4096)
        // A message of exactly the limit is fine.
        let exact = MessageInflater(windowBits: 15, noContextTakeover: false, limit: 4096)
        let full = try MessageDeflater(windowBits: 15, noContextTakeover: false).deflate(ByteBuffer(repeating: 7, count: 4096), allocator: allocator)
        #expect(try exact.inflate(full, fin: true, allocator: allocator).readableBytes == 4096)
    }

    @Test func garbageIsCorrupt() {
        let inflater = MessageInflater(windowBits: 15, noContextTakeover: false, limit: 4096)
        #expect(throws: MessageInflater.Failure.corrupt) {
            try inflater.inflate(ByteBuffer(bytes: [0xFF, 0xFF, 0xFF, 0x12, 0x34]), fin: true, allocator: ByteBufferAllocator())
        }
    }

    @Test(arguments: [
        (["gzip"], true), (["gzip;q=0.5"], true), (["deflate", "gzip"], true), (["GZIP"], true), (["*"], true),
        (["gzip;q=0"], false), (["br"], false), ([], false), (["identity"], false), (["*;q=0"], false), (["gzip; q=0", "*"], false),
        (["x-gzip"], true),
    ] as [([String], Bool)])
    func acceptEncoding(_ values: [String], _ gzip: Bool) {
        #expect(BodyCompression.acceptsGzip(values) == gzip)
    }

    @Test func gzipBodiesRoundTrip() throws {
        let allocator = ByteBufferAllocator()
        let body = ByteBuffer(string: String(repeating: #"{"move":"4","seat":0,"type":"moved","v":4},"#, count: 20))
        let whole = try BodyCompression.gzip(body, windowBits: 10, allocator: allocator)
        #expect(whole.readableBytes < body.readableBytes / 4)
        let inflater = MessageInflater(format: .gzip, limit: 1 << 16)
        #expect(try inflater.inflate(whole, fin: true, allocator: allocator) == body)
        // A stream: each flushed piece can be read at once.
        let stream = try BodyCompression.GzipStream(windowBits: 10)
        let reader = MessageInflater(format: .gzip, limit: 1 << 16)
        for event in ["data: {\"v\":1}\n\n", "data: {\"v\":2}\n\n", ": heartbeat\n\n"] {
            let piece = try stream.write(ByteBuffer(string: event), flush: true, allocator: allocator)
            #expect(String(buffer: try reader.inflate(piece, fin: true, allocator: allocator)) == event)
        }
        // Writes held back (not flushed) all come out at the next flush.
        var held = ""
        var out = ByteBuffer()
        for version in 3..<40 {
            let event = "id: \(version)\ndata: {\"move\":\"4\",\"seat\":0,\"type\":\"moved\",\"v\":\(version)}\n\n"
            held += event
            var piece = try stream.write(ByteBuffer(string: event), flush: false, allocator: allocator)
            out.writeBuffer(&piece)
        }
        var flushed = try stream.write(ByteBuffer(), flush: true, allocator: allocator)
        out.writeBuffer(&flushed)
        #expect(String(buffer: try reader.inflate(out, fin: true, allocator: allocator)) == held)
        let end = try stream.finish(allocator: allocator)
        #expect(try reader.inflate(end, fin: true, allocator: allocator).readableBytes == 0)
    }
}

/// A small seeded generator, so that a failure can be replayed.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
