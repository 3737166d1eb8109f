import CompressNIO
import NIOCore

/// `Content-Encoding: gzip` for HTTP bodies (RFC 9110 8.4): whether a request accepts it, a
/// whole body compressed at once (a long-poll answer), and a body compressed as it is written
/// (an event stream: each event flushed, so that it arrives when it is sent).
public enum BodyCompression {
    /// Whether `Accept-Encoding` (its comma-separated values, as swift-nio splits them) takes
    /// gzip (RFC 9110 12.5.3): named, or `*`, with a weight above 0.
    public static func acceptsGzip(_ values: [String]) -> Bool {
        var gzip: Double?, any: Double?
        for value in values {
            let parts = value.split(separator: ";").map(ExtensionOffer.trimmed)
            guard let coding = parts.first?.lowercased() else { continue }
            var weight = 1.0
            for parameter in parts.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1).map(ExtensionOffer.trimmed)
                if pair.count == 2, pair[0].lowercased() == "q" { weight = Double(pair[1]) ?? 0 }
            }
            switch coding {
            case "gzip", "x-gzip": gzip = weight
            case "*": any = weight
            default: break
            }
        }
        return (gzip ?? any ?? 0) > 0
    }

    /// A gzip stream for one body. ply's bodies are small: the window and memory level are
    /// the stream's cost (about 2^(windowBits+2) + 2^(memoryLevel+9) bytes and 6 KiB).
    public final class GzipStream {
        private let compressor: ZlibCompressor
        /// Bytes given since the last flush: zlib may hold their compressed form until then.
        private var unflushed = 0

        public init(windowBits: Int, memoryLevel: Int = MessageDeflater.memoryLevel) throws {
            compressor = try ZlibCompressor(algorithm: .gzip, configuration: ZlibConfiguration(
                windowSize: Int32(min(max(windowBits, 9), 15)), compressionLevel: 6, memoryLevel: Int32(min(max(memoryLevel, 1), 9))
            ))
        }

        /// Bytes of the body, compressed; flushed (`flush`) so that all of it can be read now.
        public func write(_ bytes: ByteBuffer, flush: Bool, allocator: ByteBufferAllocator) throws -> ByteBuffer {
            try run(bytes, flush ? .sync : .no, allocator)
        }

        /// The rest of the body, and its end (the gzip trailer).
        public func finish(_ bytes: ByteBuffer = ByteBuffer(), allocator: ByteBufferAllocator) throws -> ByteBuffer {
            try run(bytes, .finish, allocator)
        }

        private func run(_ bytes: ByteBuffer, _ flush: CompressNIOFlush, _ allocator: ByteBufferAllocator) throws -> ByteBuffer {
            unflushed += bytes.readableBytes
            // Room for everything held since the last flush (deflate's bound: the bytes, an
            // eighth more, and its blocks' and gzip's framing).
            var output = allocator.buffer(capacity: unflushed + unflushed / 8 + 64)
            var input = bytes
            if input.readableBytes == 0 {
                // (CompressNIO needs input bytes to point at: none is written as a flush of nothing.)
                input = allocator.buffer(capacity: 1)
                input.writeInteger(UInt8(0))
                input.moveReaderIndex(forwardBy: 1)
            }
            try compressor.deflate(from: &input, to: &output, flush: flush)
            if flush != .no { unflushed = 0 }
            return output
        }
    }

    /// A whole body, gzipped.
    public static func gzip(_ body: ByteBuffer, windowBits: Int, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        try GzipStream(windowBits: windowBits).finish(body, allocator: allocator)
    }
}
