/// Every error code ply has: one closed catalogue that the engine, the wire, the server and the
/// clients share. The raw value is the stable code clients match on, grouped by namespace
/// (`request/`, `auth/`, `match/`, `rule/`, `server/`); docs/protocol.md lists each one, and a
/// test checks that the two agree.
public enum ErrorCode: String, CaseIterable, Hashable, Sendable, Codable, CustomStringConvertible {
    // MARK: request/: the request or message itself
    /// The body or message is not JSON (or not UTF-8).
    case malformedJSON = "request/malformed_json"
    /// The JSON does not have the documented shape: a missing field, a wrong type, an unknown `type`.
    case invalidMessage = "request/invalid_message"
    /// A query parameter is missing or outside its documented range.
    case badParameter = "request/bad_parameter"
    /// Any other malformed HTTP request.
    case badRequest = "request/bad_request"
    /// The body or message is larger than the server's limit.
    case tooLarge = "request/too_large"
    /// A binary WebSocket message; ply speaks text (JSON) only.
    case binaryMessage = "request/binary_message"
    /// No such route.
    case notFound = "request/not_found"
    /// The route exists but not for this HTTP method.
    case methodNotAllowed = "request/method_not_allowed"
    /// A plain HTTP request to the WebSocket endpoint (426).
    case upgradeRequired = "request/upgrade_required"
    /// Too many commands in a second on one connection.
    case rateLimited = "request/rate_limited"
    /// A request or WebSocket upgrade from an origin the server does not allow.
    case forbiddenOrigin = "request/forbidden_origin"
    /// A body that does not say `Content-Type: application/json`.
    case unsupportedMediaType = "request/unsupported_media_type"

    // MARK: auth/: seat tokens
    /// A command without a seat token.
    case missingToken = "auth/missing_token"
    /// A token that is not the token of a seat in this match.
    case wrongToken = "auth/wrong_token"
    /// A second `hello` on a connection that already acts for a seat.
    case alreadyAuthenticated = "auth/already_authenticated"

    // MARK: match/: the match as a whole
    /// No match has this id.
    case unknownMatch = "match/not_found"
    /// The match was idle for longer than the server keeps matches; its log is kept for `ply replay`.
    case expiredMatch = "match/expired"
    /// The game named is not one the server offers.
    case unknownGame = "match/unknown_game"
    /// The options are outside their documented ranges.
    case invalidOptions = "match/invalid_options"
    /// A player name must be 1 to 32 printable characters.
    case invalidName = "match/invalid_name"
    /// Both seats are taken.
    case full = "match/full"
    /// The game has not started: a seat is still free.
    case notStarted = "match/not_started"
    /// The game has ended.
    case finished = "match/finished"
    /// It is the other seat's turn.
    case notYourTurn = "match/not_your_turn"
    /// The command was made against another version than the match's current one.
    case staleVersion = "match/stale_version"
    /// Servers sharing a database: a version the client names is beyond the match's log, read
    /// from the database. Events after the error's `v` that a server showed never became
    /// durable (or never existed): drop them and resume after `v`.
    case rolledBack = "match/rolled_back"
    /// A log that is not a valid history of a match (replaying a stored or received log).
    case corruptLog = "match/corrupt_log"

    // MARK: rule/: the game's rules
    /// The text does not name a move in this game's notation.
    case unreadableMove = "rule/unreadable_move"
    /// The move names a column or square outside the board.
    case outOfRange = "rule/out_of_range"
    /// Connect Four: the column has no free cell.
    case columnFull = "rule/column_full"
    /// Reversi: the square already holds a disc.
    case occupied = "rule/occupied"
    /// Reversi: the move would flip no disc.
    case noFlips = "rule/no_flips"
    /// Reversi: the player has no legal placement and must pass.
    case mustPass = "rule/must_pass"
    /// Reversi: a pass while a legal placement exists.
    case passNotAllowed = "rule/pass_not_allowed"
    /// The game is over; no move is legal.
    case gameOver = "rule/game_over"
    /// Battleship: the fleet breaks a placement rule.
    case invalidFleet = "rule/invalid_fleet"
    /// Battleship: the seat's fleet is already placed.
    case alreadyPlaced = "rule/already_placed"
    /// Battleship: a shot before both fleets are placed.
    case fleetsNotPlaced = "rule/fleets_not_placed"
    /// Battleship: a second shot at the same square.
    case alreadyShot = "rule/already_shot"
    /// A `place` command in a game without a setup.
    case noSetup = "rule/no_setup"

    // MARK: server/: the server's own state
    /// The server is stopping; try again later.
    case shuttingDown = "server/shutting_down"
    /// The server could not make a change durable, so it made none; it refuses changes until restarted.
    case storageFailed = "server/storage_failed"
    /// The server could not reach the database it shares with other servers, so the change was
    /// not made; send it again.
    case storeUnavailable = "server/store_unavailable"
    /// The server holds as many unfinished matches as it may; a new one must wait until others end.
    case atCapacity = "server/at_capacity"
    /// A fault in the server; the request changed nothing.
    case internalError = "server/internal"

    public var description: String { rawValue }
}
