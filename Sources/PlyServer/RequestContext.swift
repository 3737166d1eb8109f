import HTTPTypes
import Hummingbird
import NIOCore

/// The request context of every route: Hummingbird's, plus the client the request comes from,
/// for the limits per client.
struct PlyRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The client's key in `ClientTable` (its address, or the one a trusted proxy names:
    /// `ClientAddressMiddleware`).
    var client: String
    let peer: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peer = source.channel.remoteAddress
        client = ClientTable.key(peer)
    }
}

/// Names the client of each request: the peer, or the client a trusted proxy forwards for.
struct ClientAddressMiddleware: RouterMiddleware {
    typealias Context = PlyRequestContext
    let connections: Connections

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard !connections.trustedProxies.isEmpty else { return try await next(request, context) }
        var context = context
        context.client = connections.client(context.peer, forwardedFor: request.headers[values: Self.forwardedFor])
        return try await next(request, context)
    }

    private static let forwardedFor = HTTPField.Name(HTTPConnection.forwardedFor)!
}
