import NIOHTTP1

/// What the server does for one method of one resource.
enum Endpoint: Sendable, Equatable {
    // Served by Hummingbird's router, each request in a task (`HTTPRoutes`).
    case health, metrics, games, createMatch, listMatches, snapshot, join, streamTicket
    // The long-polling transport, served on the connection's event loop (`LongPollTransport`);
    // its command is the Server-Sent Events transport's too.
    case poll, command
    // The Server-Sent Events transport's stream, served on the event loop (`EventStreamTransport`).
    case stream
    // An upgrade to the WebSocket transport (`WebSocketTransport`).
    case webSocket

    /// Who serves it.
    enum Server { case router, eventLoop, upgrade }

    var server: Server {
        switch self {
        case .health, .metrics, .games, .createMatch, .listMatches, .snapshot, .join, .streamTicket: .router
        case .poll, .command, .stream: .eventLoop
        case .webSocket: .upgrade
        }
    }
}

/// One resource: its path (`:id` stands for a match id, one non-empty segment) and the
/// endpoint of each method it has.
struct Route: Sendable {
    let path: String
    let methods: [(method: HTTPMethod, endpoint: Endpoint)]
    private let segments: [Substring]

    init(_ path: String, _ methods: [(HTTPMethod, Endpoint)]) {
        self.path = path
        self.methods = methods.map { (method: $0.0, endpoint: $0.1) }
        segments = path.split(separator: "/")
    }

    /// The endpoint for a method. HEAD is answered as GET without the body, where the router
    /// serves the GET.
    func endpoint(for method: HTTPMethod) -> Endpoint? {
        if let found = methods.first(where: { $0.method == method }) { return found.endpoint }
        guard method == .HEAD, let get = methods.first(where: { $0.method == .GET }), get.endpoint.server == .router else { return nil }
        return get.endpoint
    }

    /// What `Allow` says: the methods, HEAD where GET is the router's, and OPTIONS.
    var allow: String {
        var names = methods.map(\.method.rawValue)
        if endpoint(for: .HEAD) != nil, !names.contains("HEAD") { names.append("HEAD") }
        names.append("OPTIONS")
        return names.joined(separator: ", ")
    }

    /// The match id a path names, if it is this route's path ("" for a route without one);
    /// nil when the path is not this route's. `path` starts with "/". Compared segment by
    /// segment in place: every request is matched, so nothing is allocated.
    func match(path: Substring) -> Substring? {
        var rest = path.dropFirst()
        var id: Substring = ""
        for (index, pattern) in segments.enumerated() {
            let end = rest.utf8.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
            let segment = rest[..<end]
            if pattern == ":id" {
                guard !segment.isEmpty else { return nil }
                id = segment
            } else if segment != pattern {
                return nil
            }
            if index == segments.count - 1 {
                guard end == rest.endIndex else { return nil }
            } else {
                guard end != rest.endIndex else { return nil }
                rest = rest[rest.index(after: end)...]
            }
        }
        return id
    }
}

/// Every resource the server has, once: Hummingbird's router is built from this table (the
/// router's endpoints), and every request on every connection is dispatched by it
/// (`HTTPConnection`), so a new resource or transport is one entry here.
enum Routes {
    static let all: [Route] = [
        Route("/health", [(.GET, .health)]),
        Route("/metrics", [(.GET, .metrics)]),
        Route("/games", [(.GET, .games)]),
        Route("/matches", [(.GET, .listMatches), (.POST, .createMatch)]),
        Route("/matches/:id", [(.GET, .snapshot)]),
        Route("/matches/:id/seats", [(.POST, .join)]),
        Route("/matches/:id/events", [(.GET, .poll)]),
        Route("/matches/:id/commands", [(.POST, .command)]),
        Route("/matches/:id/ws", [(.GET, .webSocket)]),
        Route("/matches/:id/stream", [(.GET, .stream)]),
        Route("/matches/:id/stream-tickets", [(.POST, .streamTicket)]),
    ]

    /// The route of a request target's path (the query left aside) and the match id it names.
    static func find(_ uri: String) -> (route: Route, match: Substring)? {
        let path = uri.utf8.firstIndex(of: UInt8(ascii: "?")).map { uri[..<$0] } ?? uri[...]
        guard path.utf8.first == UInt8(ascii: "/") else { return nil }
        for route in all {
            if let id = route.match(path: path) { return (route, id) }
        }
        return nil
    }
}
