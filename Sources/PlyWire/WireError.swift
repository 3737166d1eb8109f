import PlyEngine

/// An error as clients see it: `{"code":"match/stale_version","id":3,"message":"...","type":"error","v":7}`,
/// its code from the one catalogue (`ErrorCode`, in the engine). The same bytes are an HTTP error body and a WebSocket message. `v` is the match's current
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
        self.init(error.code, error.message, version: version, id: id)
    }

    enum CodingKeys: String, CodingKey { case type, code, message, version = "v", id }

    public var description: String { "\(code.rawValue): \(message)" }

    /// The same error, echoing a command's id (when there is one).
    public func with(id: Int?) -> WireError {
        var error = self
        error.id = id ?? error.id
        return error
    }

    /// The same error, saying the match's version (unless it says one already).
    public func with(version: Int) -> WireError {
        var error = self
        error.version = error.version ?? version
        return error
    }
}
