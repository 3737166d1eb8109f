import Hummingbird
import NIOCore

/// The request context of every route: Hummingbird's, plus the client the request comes from,
/// for the limits per client. `HTTPConnection` makes it, naming the client (its address, or
/// the one a trusted proxy names in `X-Forwarded-For`).
struct PlyRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The client's key in `ClientTable`.
    var client: String

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        client = ClientTable.key(source.channel.remoteAddress)
    }
}
