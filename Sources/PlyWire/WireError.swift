import PlyEngine

/// An error as clients see it: `{"code":"match/stale_version","id":3,"message":"...","type":"error","v":7}`.
/// The same bytes are an HTTP error body and a WebSocket message. `v` is the match's current
/// version when a match was involved; `id` echoes the command's id.
public struct WireError: Error, Hashable, Sendable, Codable, CustomStringConvertible {
    public var type = "error"
    public var code: ErrorCode
    public var message: String
    public var version: Int?
    public var id: Int?

    public init(_ code: ErrorCode, _ message: String, version: Int? = nil, id: Int? = nil) {
        self.code = code
        self.message = message
        self.version = version
        self.id = id
    }

    public init(_ error: MatchError, version: Int? = nil, id: Int? = nil) {
        self.init(ErrorCode(rawValue: error.code), error.message, version: version, id: id)
    }

    enum CodingKeys: String, CodingKey { case type, code, message, version = "v", id }

    public var description: String { "\(code.rawValue): \(message)" }
}

/// A stable error code, grouped by namespace: `request/`, `auth/`, `match/`, `rule/`, `server/`.
/// Engine codes (`match/...`, `rule/...`) come from `MatchError` and `RuleViolation`.
public struct ErrorCode: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(from decoder: any Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
    public var description: String { rawValue }

    /// The body or message is not JSON (or not UTF-8).
    public static let malformedJSON = ErrorCode(rawValue: "request/malformed_json")
    /// The JSON does not have the documented shape: a missing field, a wrong type, an unknown `type`.
    public static let invalidMessage = ErrorCode(rawValue: "request/invalid_message")
    /// A query parameter is missing or outside its documented range.
    public static let badParameter = ErrorCode(rawValue: "request/bad_parameter")
    /// The body or message is larger than the server's limit.
    public static let tooLarge = ErrorCode(rawValue: "request/too_large")
    /// A binary WebSocket message; ply speaks text (JSON) only.
    public static let binaryMessage = ErrorCode(rawValue: "request/binary_message")
    /// A plain HTTP request to the WebSocket endpoint (426).
    public static let upgradeRequired = ErrorCode(rawValue: "request/upgrade_required")
    /// Any other malformed HTTP request.
    public static let badRequest = ErrorCode(rawValue: "request/bad_request")
    /// No such route.
    public static let notFound = ErrorCode(rawValue: "request/not_found")
    /// The route exists but not for this HTTP method.
    public static let methodNotAllowed = ErrorCode(rawValue: "request/method_not_allowed")
    /// Too many commands in a second on one connection.
    public static let rateLimited = ErrorCode(rawValue: "request/rate_limited")
    /// No match has this id.
    public static let unknownMatch = ErrorCode(rawValue: "match/not_found")
    /// The game named is not one the server offers.
    public static let unknownGame = ErrorCode(rawValue: "match/unknown_game")
    /// A command without a seat token.
    public static let missingToken = ErrorCode(rawValue: "auth/missing_token")
    /// A token that is not the token of a seat in this match.
    public static let wrongToken = ErrorCode(rawValue: "auth/wrong_token")
    /// A second `hello` on a connection that already acts for a seat.
    public static let alreadyAuthenticated = ErrorCode(rawValue: "auth/already_authenticated")
    /// The server is stopping; try again later.
    public static let shuttingDown = ErrorCode(rawValue: "server/shutting_down")
    /// The server is at its connection limit.
    public static let overloaded = ErrorCode(rawValue: "server/overloaded")
    /// The server could not make a change durable, so it made none; it refuses changes until restarted.
    public static let storageFailed = ErrorCode(rawValue: "server/storage_failed")
    /// The match was idle for longer than the server keeps matches; its log is kept for `ply replay`.
    public static let expiredMatch = ErrorCode(rawValue: "match/expired")
    /// A WebSocket upgrade from an origin the server does not allow.
    public static let forbiddenOrigin = ErrorCode(rawValue: "request/forbidden_origin")
    /// A fault in the server; the request changed nothing.
    public static let internalError = ErrorCode(rawValue: "server/internal")
}
