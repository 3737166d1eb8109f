import HTTPTypes
import Hummingbird
import NIOCore
import NIOWebSocket
import PlyAuthority
import PlyEngine
import PlyWire

extension ErrorCode {
    /// The HTTP status of each code; nil for codes only a WebSocket carries. Only the server
    /// knows HTTP: the codes are the contract. docs/protocol.md's error table must agree.
    public var httpStatus: HTTPResponse.Status? {
        switch self {
        case .malformedJSON, .invalidMessage, .badParameter, .badRequest: .badRequest
        case .tooLarge: .contentTooLarge
        case .unsupportedMediaType: .unsupportedMediaType
        case .binaryMessage, .alreadyAuthenticated: nil
        case .notFound, .unknownMatch: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .upgradeRequired: .upgradeRequired
        case .rateLimited: .tooManyRequests
        case .forbiddenOrigin, .wrongToken: .forbidden
        case .missingToken: .unauthorized
        case .expiredMatch: .gone
        case .unknownGame, .invalidOptions, .invalidName: .badRequest
        case .full, .notStarted, .finished, .notYourTurn, .staleVersion, .rolledBack: .conflict
        case .unreadableMove, .outOfRange, .columnFull, .occupied, .noFlips, .mustPass, .passNotAllowed, .gameOver,
             .invalidFleet, .alreadyPlaced, .fleetsNotPlaced, .alreadyShot, .noSetup: .unprocessableContent
        case .shuttingDown, .storageFailed, .storeUnavailable, .atCapacity: .serviceUnavailable
        case .corruptLog, .internalError: .internalServerError
        }
    }

    /// The close code when this error refuses a WebSocket upgrade (the server upgrades, sends the
    /// error as a message, then closes with this code); nil for errors that never refuse one
    /// (over WebSocket they are replies, and the connection stays open). docs/protocol.md's
    /// error table must agree.
    public var upgradeRefusalCloseCode: WebSocketErrorCode? {
        switch self {
        case .badParameter: PlyCloseCode.badParameter
        case .rateLimited: PlyCloseCode.rateLimited
        case .missingToken: PlyCloseCode.missingToken
        case .wrongToken, .forbiddenOrigin: PlyCloseCode.wrongToken
        case .unknownMatch: PlyCloseCode.unknownMatch
        case .expiredMatch: PlyCloseCode.expiredMatch
        case .rolledBack: PlyCloseCode.rolledBack
        case .shuttingDown: .goingAway
        case .malformedJSON, .invalidMessage, .badRequest, .tooLarge, .unsupportedMediaType, .binaryMessage, .notFound, .methodNotAllowed, .upgradeRequired,
             .alreadyAuthenticated, .atCapacity, .unknownGame, .invalidOptions, .invalidName, .full, .notStarted, .finished,
             .notYourTurn, .staleVersion, .corruptLog, .unreadableMove, .outOfRange, .columnFull, .occupied, .noFlips, .mustPass,
             .passNotAllowed, .gameOver, .invalidFleet, .alreadyPlaced, .fleetsNotPlaced, .alreadyShot, .noSetup, .storageFailed, .storeUnavailable, .internalError:
            nil
        }
    }
}

/// Close codes beyond RFC 6455's own, sent after an error message that says why.
public enum PlyCloseCode {
    public static let badParameter = WebSocketErrorCode(codeNumber: 4400)
    public static let missingToken = WebSocketErrorCode(codeNumber: 4401)
    public static let wrongToken = WebSocketErrorCode(codeNumber: 4403)
    public static let unknownMatch = WebSocketErrorCode(codeNumber: 4404)
    public static let rolledBack = WebSocketErrorCode(codeNumber: 4409)
    public static let expiredMatch = WebSocketErrorCode(codeNumber: 4410)
    public static let rateLimited = WebSocketErrorCode(codeNumber: 4429)
}

extension MatchClosure {
    /// How a WebSocket watching a match that closes for this reason is closed.
    var closeCode: WebSocketErrorCode {
        switch self {
        case .shuttingDown: .goingAway
        case .expired: PlyCloseCode.expiredMatch
        }
    }
}

extension WireError {
    /// The error as an HTTP response: its status and the same JSON a WebSocket would carry.
    var response: Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if code == .missingToken { headers[.wwwAuthenticate] = "Bearer" }
        let body = (try? JSONBuffer.encode(self)) ?? ByteBuffer(string: #"{"code":"server/internal","type":"error"}"#)
        return Response(status: code.httpStatus ?? .badRequest, headers: headers, body: ResponseBody(byteBuffer: body))
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
