import NIOCore
import NIOWebSocket
import PlyCompression

/// Checks each frame as it arrives, before swift-nio's aggregator joins fragments: every
/// client frame must be masked (RFC 6455 5.1) with no reserved bit set, but for RSV1 on the
/// first frame of a compressed message when `permessage-deflate` was agreed (RFC 7692 6); a
/// compressed message is inflated here, fragment by fragment, and never past the message size
/// limit, however small its frames; a text message must be UTF-8, checked fragment by fragment
/// once inflated (RFC 6455 8.1: fail at the first bytes that cannot be); and a message sent in
/// fragments must be complete within `fragmentTime`, so a client cannot keep a half-sent
/// message open. A violation is passed on as an error, which `WebSocketConnection` answers
/// with its close code; the frame goes no further. Data frames go on unmasked and inflated
/// (the one copy their payload needs), so nothing after this handler unmasks them again.
final class WebSocketFrameGuard: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame

    enum Violation: Error {
        /// A frame without a mask, or with reserved bits set that no extension allows (close 1002).
        case malformedFrame
        /// A fragmented message that took longer than allowed (close 1008).
        case messageTooSlow
        /// A text message that is not UTF-8 (close 1007).
        case invalidUTF8
        /// A compressed message that inflates past the size limit (close 1009).
        case inflatesTooLarge
        /// A compressed message that is not deflate data (close 1007).
        case invalidCompressedData
    }

    private let fragmentTime: TimeAmount
    /// The inflater of a connection that agreed to `permessage-deflate`.
    private let inflater: MessageInflater?
    /// The deadline of the fragmented message under way.
    private var deadline: Scheduled<Void>?
    /// The text message under way, sent in fragments: its UTF-8 so far.
    private var text: UTF8Validator?
    /// The message under way is compressed (its first frame had RSV1).
    private var compressed = false
    private var failed = false

    init(fragmentTime: TimeAmount, inflater: MessageInflater? = nil) {
        self.fragmentTime = fragmentTime
        self.inflater = inflater
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        let frame = unwrapInboundIn(data)
        let startsMessage = frame.opcode == .text || frame.opcode == .binary
        var reserved = frame.reservedBits
        if inflater != nil, startsMessage { reserved.remove(.rsv1) }
        guard frame.maskKey != nil, reserved.isEmpty else { return fail(context, .malformedFrame) }
        guard startsMessage || frame.opcode == .continuation else {
            track(frame, context: context)
            return context.fireChannelRead(data)
        }
        if startsMessage { compressed = frame.rsv1 }
        var payload = frame.unmaskedData
        if compressed, let inflater {
            do throws(MessageInflater.Failure) {
                payload = try inflater.inflate(payload, fin: frame.fin, allocator: context.channel.allocator)
            } catch {
                return fail(context, error == .tooLarge ? .inflatesTooLarge : .invalidCompressedData)
            }
        }
        if frame.fin { compressed = false }
        if frame.opcode == .text {
            guard check(payload, UTF8Validator(), fin: frame.fin) else { return fail(context, .invalidUTF8) }
        } else if frame.opcode == .continuation, let validator = text {
            guard check(payload, validator, fin: frame.fin) else { return fail(context, .invalidUTF8) }
        }
        track(frame, context: context)
        context.fireChannelRead(wrapInboundOut(WebSocketFrame(fin: frame.fin, opcode: frame.opcode, data: payload)))
    }

    /// A piece of a text message: its bytes checked after those before.
    private func check(_ payload: ByteBuffer, _ validator: UTF8Validator, fin: Bool) -> Bool {
        var validator = validator
        guard validator.feed(payload), !fin || validator.isComplete else { return false }
        text = fin ? nil : validator
        return true
    }

    /// Starts the deadline at the first frame of a fragmented message, and ends it at the last.
    private func track(_ frame: WebSocketFrame, context: ChannelHandlerContext) {
        switch frame.opcode {
        // (Each pattern needs its own `where`: one written after `.text, .binary` would bind
        // to `.binary` alone, and every whole text message would start the deadline.)
        case .text where !frame.fin, .binary where !frame.fin:
            if deadline == nil {
                let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                deadline = context.eventLoop.scheduleTask(in: fragmentTime) {
                    let (handler, context) = loopBound.value
                    handler.fail(context, .messageTooSlow)
                }
            }
        case .continuation where frame.fin:
            deadline?.cancel()
            deadline = nil
        default:
            break
        }
    }

    private func fail(_ context: ChannelHandlerContext, _ violation: Violation) {
        guard !failed else { return }
        failed = true
        deadline?.cancel()
        context.fireErrorCaught(violation)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }
}
