import NIOCore
import NIOWebSocket

/// Checks each frame as it arrives, before swift-nio's aggregator joins fragments: every
/// client frame must be masked (RFC 6455 5.1) with no reserved bit set (no extension is
/// negotiated), and a message sent in fragments must be complete within `fragmentTime`, so a
/// client cannot keep a half-sent message open. A violation is passed on as an error, which
/// `WebSocketConnection` answers with its close code; the frame goes no further.
final class WebSocketFrameGuard: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame

    enum Violation: Error {
        /// A frame without a mask, or with reserved bits set (close 1002).
        case malformedFrame
        /// A fragmented message that took longer than allowed (close 1008).
        case messageTooSlow
    }

    private let fragmentTime: TimeAmount
    /// The deadline of the fragmented message under way.
    private var deadline: Scheduled<Void>?
    private var failed = false

    init(fragmentTime: TimeAmount) {
        self.fragmentTime = fragmentTime
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        let frame = unwrapInboundIn(data)
        guard frame.maskKey != nil, frame.reservedBits.isEmpty else { return fail(context, .malformedFrame) }
        switch frame.opcode {
        // The first frame of a fragmented message (each pattern needs its own `where`: one
        // written after `.text, .binary` would bind to `.binary` alone).
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
        context.fireChannelRead(data)
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
