import HTTPTypes
import Hummingbird
import NIOCore
import PlyWire

extension WireError {
    /// The HTTP status for each code: only the server knows HTTP, the codes are the contract.
    var httpStatus: HTTPResponse.Status {
        switch code.rawValue {
        case "match/not_found", "request/not_found": .notFound
        case "request/method_not_allowed": .methodNotAllowed
        case "request/too_large": .contentTooLarge
        case "request/rate_limited": .tooManyRequests
        case "request/upgrade_required": .upgradeRequired
        case "auth/missing_token": .unauthorized
        case "auth/wrong_token": .forbidden
        case "match/expired": .gone
        case "request/forbidden_origin": .forbidden
        case "server/shutting_down", "server/overloaded", "server/storage_failed": .serviceUnavailable
        case "server/internal": .internalServerError
        case let code where code.hasPrefix("rule/"): .unprocessableContent
        case "match/stale_version", "match/not_your_turn", "match/not_started", "match/finished", "match/full": .conflict
        default: .badRequest
        }
    }

    /// The error as an HTTP response: its status and the same JSON a WebSocket would carry.
    var response: Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if code == .missingToken { headers[.wwwAuthenticate] = "Bearer" }
        let body = (try? JSONBuffer.encode(self)) ?? ByteBuffer(string: #"{"code":"server/internal","type":"error"}"#)
        return Response(status: httpStatus, headers: headers, body: ResponseBody(byteBuffer: body))
    }
}

extension Response {
    /// A JSON response from bytes already encoded.
    static func json(_ body: ByteBuffer, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: body))
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        .json(try JSONBuffer.encode(value), status: status)
    }
}

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
