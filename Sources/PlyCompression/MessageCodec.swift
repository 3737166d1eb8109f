import CompressNIO
import NIOCore

/// Deflates the messages one end of a WebSocket sends (RFC 7692 7.2.1): each message's
/// payload compressed and flushed, its final `00 00 ff ff` taken off. zlib's state is made
/// when the first message is sent and, with context takeover, kept for the connection's life:
/// then a message's repeated keys cost a few bits. Its memory is 2^(windowBits+2) bytes and
/// 2^(memoryLevel+9) bytes, plus about 6 KiB of zlib's own.
public final class MessageDeflater {
    private let windowBits: Int32
    private let memoryLevel: Int32
    private let noContextTakeover: Bool
    private var compressor: ZlibCompressor?

    /// The memory level ply uses: the least. ply's messages are tens of bytes; a larger hash
    /// table finds no more matches in them.
    public static let memoryLevel = 1

    public init(windowBits: Int, noContextTakeover: Bool, memoryLevel: Int = MessageDeflater.memoryLevel) {
        self.windowBits = Int32(min(max(windowBits, 9), 15))
        self.memoryLevel = Int32(min(max(memoryLevel, 1), 9))
        self.noContextTakeover = noContextTakeover
    }

    public convenience init(_ agreed: PerMessageDeflate) {
        self.init(windowBits: agreed.sendWindowBits, noContextTakeover: agreed.sendNoContextTakeover)
    }

    /// A message's payload, deflated. Throws only when zlib cannot work (out of memory).
    public func deflate(_ payload: ByteBuffer, allocator: ByteBufferAllocator) throws -> ByteBuffer {
        // RFC 7692 7.2.3.6: an empty message is one empty stored block, 0x00 (and its
        // 00 00 ff ff, not sent); zlib's state is not touched.
        guard payload.readableBytes > 0 else { return allocator.buffer(bytes: [0]) }
        let compressor = try self.compressor ?? ZlibCompressor(
            algorithm: .deflate,
            configuration: ZlibConfiguration(windowSize: windowBits, compressionLevel: 6, memoryLevel: memoryLevel)
        )
        self.compressor = compressor
        var input = payload
        var output = allocator.buffer(capacity: compressor.maxSize(from: input))
        try compressor.deflate(from: &input, to: &output, flush: .sync)
        // RFC 7692 7.2.1: the flush's empty block ends with 00 00 ff ff, which is not sent.
        if output.readableBytes >= 4, output.readableBytesView.suffix(4).elementsEqual([0, 0, 0xFF, 0xFF]) {
            output.moveWriterIndex(to: output.writerIndex - 4)
        }
        if noContextTakeover { try compressor.reset() }
        return output
    }
}

/// Inflates the messages one end of a WebSocket receives, fragment by fragment, and never
/// past a limit: a message whose inflated bytes would exceed it stops at the limit (a few
/// kilobytes of work), however small the frames that carry it. zlib's state is made at the
/// first compressed message: 2^windowBits bytes and about 7 KiB.
public final class MessageInflater {
    public enum Failure: Error, Equatable, Sendable {
        /// The message inflates past the limit (close 1009).
        case tooLarge
        /// The bytes are not deflate data (close 1007).
        case corrupt
    }

    /// Raw deflate data ending in flushes (WebSocket messages), or a gzip stream (an HTTP body).
    public enum Format: Sendable {
        case webSocketMessages
        case gzip
    }

    private let format: Format
    private let windowBits: Int32
    private let noContextTakeover: Bool
    private let limit: Int
    private var decompressor: ZlibDecompressor?
    /// Bytes inflated of the message under way.
    private var inflated = 0
    /// A message's output is written in pieces of this size at most.
    private static let piece = 4096

    /// `limit`: the most bytes one message may inflate to.
    public init(format: Format = .webSocketMessages, windowBits: Int = 15, noContextTakeover: Bool = false, limit: Int) {
        self.format = format
        // zlib inflates with any window at least as large as the one the data was deflated with;
        // 8 bits is read with 9, which zlib's raw inflate also needs.
        self.windowBits = Int32(min(max(windowBits, 9), 15))
        self.noContextTakeover = noContextTakeover
        self.limit = limit
    }

    public convenience init(_ agreed: PerMessageDeflate, limit: Int) {
        self.init(windowBits: agreed.receiveWindowBits, noContextTakeover: agreed.receiveNoContextTakeover, limit: limit)
    }

    /// One fragment of a compressed message, inflated; `fin` for its last. For a gzip body,
    /// each part as it arrives; `fin` ends the count towards the limit (an event stream's
    /// parts are limited one by one).
    public func inflate(_ fragment: ByteBuffer, fin: Bool, allocator: ByteBufferAllocator) throws(Failure) -> ByteBuffer {
        var input = fragment
        // RFC 7692 7.2.2: the sender took 00 00 ff ff off the end of the message.
        if fin, format == .webSocketMessages { input.writeBytes([0, 0, 0xFF, 0xFF]) }
        guard input.readableBytes > 0 else { return allocator.buffer(capacity: 0) }
        do {
            let decompressor = try self.decompressor ?? ZlibDecompressor(algorithm: format == .gzip ? .gzip : .deflate, windowSize: windowBits)
            self.decompressor = decompressor
            var output = allocator.buffer(capacity: min(Self.piece, limit - inflated + 1, max(64, input.readableBytes * 4)))
            var ended = false
            while true {
                do {
                    try decompressor.inflate(from: &input, to: &output)
                    // Done with room to spare; input left over means the sender ended the
                    // deflate stream (a final block): what follows starts a new one.
                    ended = input.readableBytes > 0
                    break
                } catch let error as CompressNIOError where error == .inputBufferOverflow {
                    break
                } catch let error as CompressNIOError where error == .bufferOverflow {
                    let room = limit - inflated - output.readableBytes
                    guard room >= 0 else { throw Failure.tooLarge }
                    output.reserveCapacity(minimumWritableBytes: min(Self.piece, room + 1))
                }
            }
            if inflated + output.readableBytes > limit { throw Failure.tooLarge }
            if fin {
                inflated = 0
                if noContextTakeover || ended { try decompressor.reset() }
            } else {
                inflated += output.readableBytes
                if ended { try decompressor.reset() }
            }
            return output
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .corrupt
        }
    }
}
