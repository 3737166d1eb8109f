/// A hostile network device, reproduced by ply's relay (`ply bench --middlebox`, `ply play
/// --middlebox`).
public enum Middlebox: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Lets each WebSocket upgrade through, then cuts the connection this many milliseconds
    /// after the `101` (a proxy that kills WebSockets soon after they open).
    case cutsUpgrades(afterMilliseconds: Int)
    /// Holds each response (but a WebSocket's) until it ends or 4 KiB of it are held: a proxy
    /// that buffers, as nginx does by default (a long poll's answer is held until whole, an
    /// event stream's events until they fill the buffer).
    case buffers
    /// Takes `Upgrade` and `Connection: upgrade` out of every request (a proxy that does not
    /// know WebSockets).
    case stripsUpgrade
    /// Forgets each connection that carried nothing for this many milliseconds: it then
    /// carries nothing, without a FIN or a reset (a NAT's or a load balancer's idle timeout).
    case forgetsIdle(afterMilliseconds: Int)

    /// The forms `--middlebox` takes, for messages.
    public static let arguments = "cut-upgrades=MS, buffer, strip-upgrade or idle-cut=MS (MS from 1 to 600000)"

    /// `cut-upgrades=MS`, `buffer`, `strip-upgrade` or `idle-cut=MS`.
    public init?(argument: String) {
        func milliseconds(after prefix: String) -> Int? {
            guard argument.hasPrefix(prefix), let value = Int(argument.dropFirst(prefix.count)), (1...600_000).contains(value) else { return nil }
            return value
        }
        if argument == "buffer" {
            self = .buffers
        } else if argument == "strip-upgrade" {
            self = .stripsUpgrade
        } else if let value = milliseconds(after: "cut-upgrades=") {
            self = .cutsUpgrades(afterMilliseconds: value)
        } else if let value = milliseconds(after: "idle-cut=") {
            self = .forgetsIdle(afterMilliseconds: value)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .cutsUpgrades(let milliseconds): "a proxy that cuts each WebSocket \(milliseconds) ms after its 101"
        case .buffers: "a proxy that buffers responses (4 KiB each)"
        case .stripsUpgrade: "a proxy that strips Upgrade from requests"
        case .forgetsIdle(let milliseconds): "a NAT that silently forgets connections idle for \(milliseconds) ms"
        }
    }

    /// The relay's settings for it.
    public var buffering: TCPRelay.ResponseBuffering? { self == .buffers ? TCPRelay.ResponseBuffering() : nil }

    public var cutsUpgradesAfter: Duration? {
        if case .cutsUpgrades(let milliseconds) = self { return .milliseconds(milliseconds) }
        return nil
    }

    public var stripsUpgrade: Bool { self == .stripsUpgrade }

    public var cutsIdleAfter: Duration? {
        if case .forgetsIdle(let milliseconds) = self { return .milliseconds(milliseconds) }
        return nil
    }
}

extension TCPRelay {
    /// A relay that plays a middlebox (and a latency, if given) between clients and a server.
    public static func start(to host: String, port: Int, latency: Latency? = nil, middlebox: Middlebox?) async throws -> TCPRelay {
        try await start(to: host, port: port, latency: latency, buffering: middlebox?.buffering, cutsUpgradesAfter: middlebox?.cutsUpgradesAfter,
                        stripsUpgrade: middlebox?.stripsUpgrade ?? false, cutsIdleAfter: middlebox?.cutsIdleAfter)
    }
}
