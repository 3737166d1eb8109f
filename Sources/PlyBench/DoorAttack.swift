import Foundation
import NIOCore
import NIOPosix
import NIOWebSocket
import PlyClient
import Synchronization

/// What the attackers of `ply bench --attack` did, and what the server did to them.
public struct AttackFigures: Sendable, Codable, Hashable {
    /// Slowloris connections opened, and closed by the server before the attack ended.
    public var slowlorisOpened = 0
    public var slowlorisClosed = 0
    /// How long a slowloris connection lasted before the server closed it (the median).
    public var slowlorisMedianSeconds: Double?
    /// WebSockets opened to send a message in endless fragments, and the fragments they sent.
    public var fragmentBombs = 0
    public var fragmentsSent = 0
    /// Of the bombs, those the server closed with 1009 (too many fragments, or empty ones) and
    /// 1008 (a fragmented message too slow), otherwise (another code, or the connection dropped
    /// without a close frame), and those it did not close within 15 s.
    public var closedTooMany = 0
    public var closedTooSlow = 0
    public var closedOtherwise = 0
    public var notClosed = 0
    /// Pings sent by the ping floods.
    public var pingsSent = 0
    /// Connections or upgrades that failed (the server refused or was too busy to answer).
    public var connectFailures = 0

    public init() {}
}

/// Attackers at the server's door, run alongside held clients and a normal game. Each one
/// reconnects when the server closes it, until the attack ends:
/// - slowloris: connections that send a request head one byte a second, and never finish it;
/// - fragment bombs: WebSockets that send a message in endless fragments as fast as the socket
///   takes them, empty ones (`0x00 0x80` and a mask: 6 bytes each) or one-byte ones in turn;
/// - slow fragments: a one-byte fragment a second, a message that never completes;
/// - ping floods: WebSockets that send pings as fast as the socket takes them.
/// Every frame is made by swift-nio's WebSocket encoder (`WebSocketLink`); the slowloris bytes
/// are an ordinary request head, cut short.
struct DoorAttack: Sendable {
    let endpoint: Endpoint
    /// The match whose WebSocket the bombs open, as spectators (no token needed).
    let match: String
    let attackers: Attackers

    private final class Tally: Sendable {
        let figures = Mutex(AttackFigures())
        let lifetimes = Mutex<[Double]>([])

        func update(_ body: (inout AttackFigures) -> Void) {
            figures.withLock { body(&$0) }
        }
    }

    /// Attacks for `duration`, then closes every attacking connection.
    func run(for duration: Duration) async -> AttackFigures {
        let deadline = ContinuousClock.now + duration
        let tally = Tally()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<attackers.slowloris { group.addTask { await slowlorisLoop(until: deadline, tally: tally) } }
            for index in 0..<attackers.fragmentBombs { group.addTask { await bombLoop(until: deadline, slow: false, first: index, tally: tally) } }
            for index in 0..<attackers.slowFragments { group.addTask { await bombLoop(until: deadline, slow: true, first: index, tally: tally) } }
            for _ in 0..<attackers.pingFloods { group.addTask { await pingFlood(until: deadline, tally: tally) } }
        }
        var figures = tally.figures.withLock { $0 }
        let lifetimes = tally.lifetimes.withLock { $0 }.sorted()
        figures.slowlorisMedianSeconds = lifetimes.isEmpty ? nil : lifetimes[lifetimes.count / 2]
        return figures
    }

    // MARK: Slowloris

    /// A request head that never ends: a request line, a host, then one header value forever.
    private static let slowHead = Array("GET /health HTTP/1.1\r\nHost: ply\r\nX-Slow: ".utf8)

    private func slowlorisLoop(until deadline: ContinuousClock.Instant, tally: Tally) async {
        while ContinuousClock.now < deadline {
            let channel: any Channel
            do {
                channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .connectTimeout(.seconds(5))
                    .connect(host: endpoint.host, port: endpoint.port).get()
            } catch {
                tally.update { $0.connectFailures += 1 }
                try? await Task.sleep(for: .milliseconds(200))
                continue
            }
            tally.update { $0.slowlorisOpened += 1 }
            let opened = ContinuousClock.now
            let closedAt = Mutex<ContinuousClock.Instant?>(nil)
            channel.closeFuture.whenComplete { _ in closedAt.withLock { $0 = .now } }
            var sent = 0
            while ContinuousClock.now < deadline, channel.isActive {
                let byte = sent < Self.slowHead.count ? Self.slowHead[sent] : UInt8(ascii: "a")
                channel.writeAndFlush(ByteBuffer(bytes: [byte]), promise: nil)
                sent += 1
                try? await Task.sleep(for: .seconds(1))
            }
            // Closed by the server: its close callback may not have run yet.
            if !channel.isActive { try? await channel.closeFuture.get() }
            if let closed = closedAt.withLock({ $0 }) {
                tally.update { $0.slowlorisClosed += 1 }
                tally.lifetimes.withLock { $0.append((closed - opened) / .seconds(1)) }
            } else {
                try? await channel.close()
            }
        }
    }

    // MARK: WebSocket attackers

    /// How an attacking WebSocket ended: nil while it is open, then the server's close code, if any.
    private final class Ending: Sendable {
        private let state = Mutex<WebSocketErrorCode??>(nil)
        func end(_ code: WebSocketErrorCode?) { state.withLock { $0 = .some(code) } }
        var code: WebSocketErrorCode?? { state.withLock { $0 } }
        var isOpen: Bool { code == nil }
    }

    /// A spectator's WebSocket on the match, and how it ends.
    private func openWebSocket(tally: Tally) async -> (WebSocketLink, Ending)? {
        let closed = Ending()
        do {
            let link = try await WebSocketLink.connect(to: endpoint, path: "/matches/\(match)/ws", stats: WireStats()) { event in
                if case .closed(let code, _) = event { closed.end(code) }
            }
            return (link, closed)
        } catch {
            tally.update { $0.connectFailures += 1 }
            try? await Task.sleep(for: .milliseconds(200))
            return nil
        }
    }

    /// Fragment bombs, fast or slow: each WebSocket begins a text message and sends fragments
    /// (fast ones alternate empty and one-byte fragments between connections) until the server
    /// closes it; then another.
    private func bombLoop(until deadline: ContinuousClock.Instant, slow: Bool, first: Int, tally: Tally) async {
        var round = first
        while ContinuousClock.now < deadline {
            guard let (link, closed) = await openWebSocket(tally: tally) else { continue }
            tally.update { $0.fragmentBombs += 1 }
            round += 1
            let empty = !slow && round.isMultiple(of: 2)
            let payload = ByteBuffer(string: empty ? "" : " ")
            let batch = slow ? 1 : 256
            var opening = true
            let stop = min(ContinuousClock.now + .seconds(15), deadline)
            while closed.isOpen, ContinuousClock.now < stop {
                let frames = (0..<batch).map { index in
                    WebSocketFrame(fin: false, opcode: opening && index == 0 ? .text : .continuation, maskKey: .random(),
                                   data: opening && index == 0 ? ByteBuffer(string: "{") : payload)
                }
                opening = false
                do {
                    try await link.send(frames)
                } catch {
                    break
                }
                tally.update { $0.fragmentsSent += batch }
                if slow {
                    try? await Task.sleep(for: .seconds(1))
                } else if attackers.pause > .zero {
                    try? await Task.sleep(for: attackers.pause)
                }
            }
            // The server's close frame may still be on its way.
            let wait = ContinuousClock.now + .seconds(2)
            while closed.isOpen, ContinuousClock.now < wait { try? await Task.sleep(for: .milliseconds(10)) }
            let code = closed.code
            if code == nil, ContinuousClock.now >= deadline {
                // The attack ended before the server had to act.
                link.drop()
                return
            }
            tally.update { figures in
                switch code {
                case .some(.some(.messageTooLarge)): figures.closedTooMany += 1
                case .some(.some(.policyViolation)): figures.closedTooSlow += 1
                case .some: figures.closedOtherwise += 1
                case .none: figures.notClosed += 1
                }
            }
            link.drop()
            if ContinuousClock.now >= deadline { return }
        }
    }

    /// Pings as fast as the socket takes them, until the attack ends.
    private func pingFlood(until deadline: ContinuousClock.Instant, tally: Tally) async {
        while ContinuousClock.now < deadline {
            guard let (link, closed) = await openWebSocket(tally: tally) else { continue }
            while closed.isOpen, ContinuousClock.now < deadline {
                let pings = (0..<256).map { _ in WebSocketFrame(fin: true, opcode: .ping, maskKey: .random(), data: ByteBuffer(string: "ping")) }
                do {
                    try await link.send(pings)
                } catch {
                    break
                }
                tally.update { $0.pingsSent += pings.count }
                if attackers.pause > .zero { try? await Task.sleep(for: attackers.pause) }
            }
            link.drop()
        }
    }
}
