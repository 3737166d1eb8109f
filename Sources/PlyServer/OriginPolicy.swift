import NIOHTTP1

/// Which web pages may use the server (`ply serve --allow-origin`), and what each answer tells
/// a browser about it (CORS).
///
/// A request without `Origin` is not a browser's cross-origin request (curl, bots, ply's own
/// clients): it is served as it stands. A page's own origin (the `Origin` names the `Host` the
/// request was sent to: the page came from this server, or from a proxy in front of it) needs
/// no grant. An origin listed is granted: preflights are answered and every answer carries
/// `Access-Control-Allow-Origin`. Any other origin gets no grant, and whatever would change
/// state or open a WebSocket is refused (`request/forbidden_origin`); what it may read (a GET)
/// is answered without a grant, so its browser keeps the answer from the page.
struct OriginPolicy: Sendable {
    /// Origins granted, in lowercase (`scheme://host[:port]`).
    let granted: Set<String>
    /// `*` was listed: every origin is granted.
    let grantsAny: Bool

    init(allowed: Set<String>) {
        grantsAny = allowed.contains("*")
        granted = Set(allowed.filter { $0 != "*" }.map { Self.normalized($0) })
    }

    enum Verdict: Sendable, Equatable {
        /// No `Origin`: not a cross-origin browser request.
        case none
        /// The page's own origin.
        case sameOrigin
        /// A listed origin: answers carry the grant for it.
        case granted(String)
        /// An origin not listed.
        case refused(String)

        /// Whether what changes state or upgrades may go ahead.
        var mayAct: Bool {
            if case .refused = self { return false }
            return true
        }
    }

    func judge(_ head: HTTPRequestHead) -> Verdict {
        guard let origin = head.headers.first(name: "origin") else { return .none }
        let normalized = Self.normalized(origin)
        if let host = head.headers.first(name: "host")?.lowercased(),
           normalized == "http://" + host || normalized == "https://" + host {
            return .sameOrigin
        }
        if grantsAny || granted.contains(normalized) { return .granted(origin) }
        return .refused(origin)
    }

    /// An origin as compared: lowercase, without a trailing slash.
    static func normalized(_ origin: String) -> String {
        var text = origin.lowercased()
        if text.hasSuffix("/") { text.removeLast() }
        return text
    }

    /// Whether an `--allow-origin` value names an origin (`http` or `https`, a host, an
    /// optional port, nothing else), or is `*`.
    static func isValid(_ origin: String) -> Bool {
        if origin == "*" { return true }
        let text = normalized(origin)
        let rest: Substring
        if text.hasPrefix("http://") {
            rest = text.dropFirst(7)
        } else if text.hasPrefix("https://") {
            rest = text.dropFirst(8)
        } else {
            return false
        }
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
        guard let host = parts.first, !host.isEmpty, parts.count <= 2,
              host.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" }) else { return false }
        if parts.count == 2 {
            guard let port = Int(parts[1]), (1...65535).contains(port) else { return false }
        }
        return true
    }

    /// The headers every answer to a granted origin carries.
    static func grant(_ origin: String, into headers: inout HTTPHeaders) {
        headers.add(name: "Access-Control-Allow-Origin", value: origin)
        headers.add(name: "Vary", value: "Origin")
    }

    /// How long a browser may keep a preflight's answer, in seconds.
    static let preflightMaxAge = 600
    /// The request headers a page may send: the seat token and the JSON body's type.
    static let allowedHeaders = "Authorization, Content-Type"
}
