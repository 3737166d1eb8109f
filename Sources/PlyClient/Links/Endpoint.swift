import Foundation

/// Where a ply server listens: `http://host:port`.
public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `http://host:port` (or `ws://`, or a bare `host:port`).
    public init?(_ text: String) {
        let withScheme = text.contains("://") ? text : "http://\(text)"
        guard let url = URL(string: withScheme), let host = url.host, !host.isEmpty,
              ["http", "ws"].contains(url.scheme ?? "") else { return nil }
        self.init(host: host, port: url.port ?? 80)
    }

    /// The value of the `Host` header.
    var hostHeader: String { port == 80 ? host : "\(host):\(port)" }

    public var description: String { "http://\(hostHeader)" }
}
