import Hummingbird
import PlyWire

/// Turns every error a route throws into a documented JSON error, so that no client ever sees
/// an empty error body: unknown routes, oversized bodies and faults included.
struct WireErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as WireError {
            return error.response
        } catch let error as any HTTPResponseError {
            switch error.status {
            case .notFound:
                return WireError(.notFound, "no route for \(request.method) \(request.uri.path)").response
            case .methodNotAllowed:
                return WireError(.methodNotAllowed, "\(request.method) is not allowed on \(request.uri.path)").response
            case .contentTooLarge:
                return WireError(.tooLarge, "the body is larger than the limit").response
            default:
                return WireError(.badRequest, "the request was refused: \(error.status)").response
            }
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(error)", "path": "\(request.uri.path)"])
            return WireError(.internalError, "the server failed; the request changed nothing").response
        }
    }
}
