import Hummingbird
import NIOCore

/// The request context of every route: Hummingbird's, plus the connection's channel, which
/// the server needs for per-connection limits (commands per second, the poll waiting on it).
struct PlyRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
