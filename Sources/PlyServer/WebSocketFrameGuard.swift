import NIOCore
import NIOWebSocket

/// Checks each frame as it arrives, before swift-nio's aggregator joins fragments: every
/// client frame must be masked (RFC 6455 5.1) with no reserved bit set (no extension is
/// negotiated); a text message must be UTF-8, checked fragment by fragment (RFC 6455 8.1: fail
/// at the first bytes that cannot be); and a message sent in fragments must be complete within
/// `fragmentTime`, so a client cannot keep a half-sent message open. A violation is passed on
/// as an error, which `WebSocketConnection` answers with its close code; the frame goes no
/// further. Text frames go on unmasked (the one copy their payload needs), so nothing after
/// this handler unmasks them again.
final class WebSocketFrameGuard: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame

    enum Violation: Error {
        /// A frame without a mask, or with reserved bits set (close 1002).
        case malformedFrame
        /// A fragmented message that took longer than allowed (close 1008).
        case messageTooSlow
        /// A text message that is not UTF-8 (close 1007).
        case invalidUTF8
    }

    private let fragmentTime: TimeAmount
    /// The deadline of the fragmented message under way.
    private var deadline: Scheduled<Void>?
    /// The text message under way, sent in fragments: its UTF-8 so far.
    private var text: UTF8Validator?
    private var failed = false

    init(fragmentTime: TimeAmount) {
        self.fragmentTime = fragmentTime
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        let frame = unwrapInboundIn(data)
        guard frame.maskKey != nil, frame.reservedBits.isEmpty else { return fail(context, .malformedFrame) }
        switch frame.opcode {
        case .text:
            checkText(frame, UTF8Validator(), context: context)
        case .continuation:
            if let validator = text { return checkText(frame, validator, context: context) }
            fallthrough
        default:
            track(frame, context: context)
            context.fireChannelRead(data)
        }
    }

    /// A frame of a text message: unmasked, its bytes checked after those before, passed on.
    private func checkText(_ frame: WebSocketFrame, _ validator: UTF8Validator, context: ChannelHandlerContext) {
        let payload = frame.unmaskedData
        var validator = validator
        guard validator.feed(payload), !frame.fin || validator.isComplete else { return fail(context, .invalidUTF8) }
        text = frame.fin ? nil : validator
        track(frame, context: context)
        context.fireChannelRead(wrapInboundOut(WebSocketFrame(fin: frame.fin, opcode: frame.opcode, data: payload)))
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
