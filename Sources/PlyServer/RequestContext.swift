import Hummingbird
import NIOCore

/// The request context of every route: Hummingbird's, plus the client the request comes from,
/// for the limits per client.
struct PlyRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The client's key in `ClientTable` (its address).
    let client: String

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        client = ClientTable.key(source.channel.remoteAddress)
    }
}
