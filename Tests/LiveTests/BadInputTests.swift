import Foundation
import HTTPTypes
import NIOCore
import NIOWebSocket
import PlyEngine
import PlyServer
import PlyWire
import Testing
import PlyClient

/// The world a bad request is thrown at: a match being played (ann to move at version 3),
/// a finished one, a waiting one, and a bystander match that must not notice anything.
struct Arena: Sendable {
    let playing: (id: String, first: SeatGrant, second: SeatGrant)
    let finished: (id: String, first: SeatGrant, second: SeatGrant)
    let waiting: String
    let bystander: (id: String, first: SeatGrant, second: SeatGrant)

    static func build(_ server: LiveServer) async throws -> Arena {
        let finished = try await server.startedMatch()
        _ = try await server.request(.post, "/matches/\(finished.id)/commands", body: #"{"type":"resign","v":3}"#, token: finished.second.token)
        return Arena(
            playing: try await server.startedMatch(),
            finished: finished,
            waiting: try await server.createMatch(),
            bystander: try await server.startedMatch()
        )
    }

    /// Versions of every match, to show that a refusal changed nothing.
    func versions(_ server: LiveServer) async throws -> [Int] {
        var versions: [Int] = []
        for id in [playing.id, finished.id, waiting, bystander.id] { versions.append(try await server.snapshot(id).version) }
        return versions
    }

    /// After the refusals: the server is up and the bystander's game goes on undisturbed.
    func checkStillServing(_ server: LiveServer) async throws {
        let health = try await server.request(.get, "/health")
        #expect(health.status == 200)
        let version = try await server.snapshot(bystander.id).version
        let move = try await server.request(.post, "/matches/\(bystander.id)/commands",
                                            body: #"{"type":"play","move":"1","v":\#(version)}"#, token: bystander.first.token)
        #expect(move.status == 200)
    }
}

/// Who a request claims to be.
enum Credential: Sendable {
    case none, first, second, garbage, otherMatch, finishedFirst
    /// An `Authorization` header sent as it is.
    case header(String)

    /// The `Authorization` header this credential sends.
    func authorization(_ arena: Arena) -> String? {
        let token: String? = switch self {
        case .none, .header: nil
        case .first: arena.playing.first.token
        case .second: arena.playing.second.token
        case .garbage: "not-a-token"
        case .otherMatch: arena.bystander.first.token
        case .finishedFirst: arena.finished.first.token
        }
        if case .header(let raw) = self { return raw }
        return token.map { "Bearer \($0)" }
    }
}

struct BadHTTPRequest: Sendable, CustomTestStringConvertible {
    let name: String
    let method: HTTPRequest.Method
    /// `{p}` the playing match, `{f}` the finished one, `{w}` the waiting one.
    let path: String
    var body: String?
    /// A body that is not UTF-8, sent instead of `body`.
    var bytes: [UInt8]?
    var credential: Credential = .none
    /// Headers sent as they are (a `Content-Type` here replaces `application/json`).
    var headers: HTTPFields = [:]
    let status: Int
    let code: String
    var testDescription: String { name }

    func resolvedPath(_ arena: Arena) -> String {
        path.replacingOccurrences(of: "{p}", with: arena.playing.id)
            .replacingOccurrences(of: "{f}", with: arena.finished.id)
            .replacingOccurrences(of: "{w}", with: arena.waiting)
    }

    init(name: String, method: HTTPRequest.Method, path: String, body: String? = nil, bytes: [UInt8]? = nil,
         credential: Credential = .none, headers: HTTPFields = [:], status: Int, code: String) {
        self.headers = headers
        self.name = name
        self.method = method
        self.path = path
        self.body = body
        self.bytes = bytes
        self.credential = credential
        self.status = status
        self.code = code
    }
}

struct BadWebSocketInput: Sendable, CustomTestStringConvertible {
    enum Frame: Sendable {
        case text(String)
        case binary([UInt8])
        case rawText([UInt8])
        /// One text message sent as several frames (a first frame and continuations).
        case fragmented([String])
    }

    let name: String
    var path = "/matches/{p}/ws?after=3"
    var credential: Credential = .none
    var frames: [Frame] = []
    /// The error codes of the replies, in order.
    let replies: [String]
    /// The close code the server sends, or nil when the connection stays open.
    var close: UInt16?
    var testDescription: String { name }
}

let oversized = #"{"type":"play","move":""# + String(repeating: "4", count: 5000) + #"","v":3}"#
/// JSON nested deeper than any decoder follows, but under the size limit.
let deeplyNested = String(repeating: "[", count: 1500) + String(repeating: "]", count: 1500)
/// `{"type":"play","move":"4","v":3}` with invalid UTF-8 inside the move.
let invalidUTF8Command: [UInt8] = Array(#"{"type":"play","move":""#.utf8) + [0xC3, 0x28] + Array(#"","v":3}"#.utf8)

/// One case at a time (each starts a server), so that the cases do not crowd the other tests.
@Suite(.serialized, .timeLimit(.minutes(1)))
struct BadInputTests {
    static let httpCases: [BadHTTPRequest] = [
        BadHTTPRequest(name: "create: not JSON", method: .post, path: "/matches", body: "{", status: 400, code: "request/malformed_json"),
        BadHTTPRequest(name: "create: empty body", method: .post, path: "/matches", body: "", status: 400, code: "request/malformed_json"),
        BadHTTPRequest(name: "create: unknown game", method: .post, path: "/matches", body: #"{"game":"chess"}"#, status: 400, code: "match/unknown_game"),
        BadHTTPRequest(name: "create: game of the wrong type", method: .post, path: "/matches", body: #"{"game":4}"#, status: 400, code: "request/invalid_message"),
        BadHTTPRequest(name: "create: time limit out of range", method: .post, path: "/matches", body: #"{"game":"reversi","moveTimeLimit":0}"#, status: 400, code: "match/invalid_options"),
        BadHTTPRequest(name: "create: oversized body", method: .post, path: "/matches", body: oversized, status: 413, code: "request/too_large"),
        BadHTTPRequest(name: "join: match full", method: .post, path: "/matches/{p}/seats", body: #"{"name":"cy"}"#, status: 409, code: "match/full"),
        BadHTTPRequest(name: "join: match finished", method: .post, path: "/matches/{f}/seats", body: #"{"name":"cy"}"#, status: 409, code: "match/finished"),
        BadHTTPRequest(name: "join: empty name", method: .post, path: "/matches/{w}/seats", body: #"{"name":"  "}"#, status: 400, code: "match/invalid_name"),
        BadHTTPRequest(name: "join: name missing", method: .post, path: "/matches/{w}/seats", body: "{}", status: 400, code: "request/invalid_message"),
        BadHTTPRequest(name: "join: unknown match", method: .post, path: "/matches/nope/seats", body: #"{"name":"cy"}"#, status: 404, code: "match/not_found"),
        BadHTTPRequest(name: "snapshot: unknown match", method: .get, path: "/matches/nope", status: 404, code: "match/not_found"),
        BadHTTPRequest(name: "list: unknown status", method: .get, path: "/matches?status=lost", status: 400, code: "request/bad_parameter"),
        BadHTTPRequest(name: "poll: unknown match", method: .get, path: "/matches/nope/events", status: 404, code: "match/not_found"),
        BadHTTPRequest(name: "poll: after not a number", method: .get, path: "/matches/{p}/events?after=x", status: 400, code: "request/bad_parameter"),
        BadHTTPRequest(name: "poll: after negative", method: .get, path: "/matches/{p}/events?after=-1", status: 400, code: "request/bad_parameter"),
        BadHTTPRequest(name: "poll: after beyond the log", method: .get, path: "/matches/{p}/events?after=99", status: 400, code: "request/bad_parameter"),
        BadHTTPRequest(name: "poll: wait too long", method: .get, path: "/matches/{p}/events?wait=61", status: 400, code: "request/bad_parameter"),
        BadHTTPRequest(name: "poll: wait not a number", method: .get, path: "/matches/{p}/events?wait=soon", status: 400, code: "request/bad_parameter"),
        BadHTTPRequest(name: "command: unknown match", method: .post, path: "/matches/nope/commands", body: #"{"type":"play","move":"4","v":3}"#, credential: .first, status: 404, code: "match/not_found"),
        BadHTTPRequest(name: "command: no token", method: .post, path: "/matches/{p}/commands", body: #"{"type":"play","move":"4","v":3}"#, status: 401, code: "auth/missing_token"),
        BadHTTPRequest(name: "command: wrong token", method: .post, path: "/matches/{p}/commands", body: #"{"type":"play","move":"4","v":3}"#, credential: .garbage, status: 403, code: "auth/wrong_token"),
        BadHTTPRequest(name: "command: another match's token", method: .post, path: "/matches/{p}/commands", body: #"{"type":"play","move":"4","v":3}"#, credential: .otherMatch, status: 403, code: "auth/wrong_token"),
        BadHTTPRequest(name: "command: not JSON", method: .post, path: "/matches/{p}/commands", body: "play 4", credential: .first, status: 400, code: "request/malformed_json"),
        BadHTTPRequest(name: "command: truncated JSON", method: .post, path: "/matches/{p}/commands", body: #"{"type":"play","move":"4""#, credential: .first, status: 400, code: "request/malformed_json"),
        BadHTTPRequest(name: "command: move of the wrong type", method: .post, path: "/matches/{p}/commands", body: #"{"type":"play","move":4,"v":3}"#, credential: .first, status: 400, code: "request/invalid_message"),
        BadHTTPRequest(name: "command: version of the wrong type", method: .post, path: "/matches/{p}/commands", body: #"{"type":"play","move":"4","v":"3"}"#, credential: .first, status: 400, code: "request/invalid_message"),
        BadHTTPRequest(name: "command: huge version", method: .post, path: "/matches/{p}/commands", body: #"{"type":"play","move":"4","v":99999999999999999999999}"#, credential: .first, status: 400, code: "request/invalid_message"),
        BadHTTPRequest(name: "command: unknown type", method: .post, path: "/matches/{p}/commands", body: #"{"type":"undo","v":3}"#, credential: .first, status: 400, code: "request/invalid_message"),
        BadHTTPRequest(name: "command: oversized body", method: .post, path: "/matches/{p}/commands", body: oversized, credential: .first, status: 413, code: "request/too_large"),
        BadHTTPRequest(name: "command: illegal move", method: .post, path: "/matches/{p}/commands", body: #"{"type":"play","move":"9","v":3}"#, credential: .first, status: 422, code: "rule/out_of_range"),
        BadHTTPRequest(name: "command: unreadable move", method: .post, path: "/matches/{p}/commands", body: #"{"type":"play","move":"left","v":3}"#, credential: .first, status: 422, code: "rule/unreadable_move"),
        BadHTTPRequest(name: "command: out of turn", method: .post, path: "/matches/{p}/commands", body: #"{"type":"play","move":"4","v":3}"#, credential: .second, status: 409, code: "match/not_your_turn"),
        BadHTTPRequest(name: "command: stale version", method: .post, path: "/matches/{p}/commands", body: #"{"type":"play","move":"4","v":2}"#, credential: .first, status: 409, code: "match/stale_version"),
        BadHTTPRequest(name: "command: after the game is over", method: .post, path: "/matches/{f}/commands", body: #"{"type":"play","move":"4","v":5}"#, credential: .finishedFirst, status: 409, code: "match/finished"),
        BadHTTPRequest(name: "create: a JSON array", method: .post, path: "/matches", body: "[]", status: 400, code: "request/invalid_message"),
        BadHTTPRequest(name: "create: JSON null", method: .post, path: "/matches", body: "null", status: 400, code: "request/invalid_message"),
        BadHTTPRequest(name: "create: a bare string", method: .post, path: "/matches", body: #""connect4""#, status: 400, code: "request/invalid_message"),
        BadHTTPRequest(name: "create: garbage after the JSON", method: .post, path: "/matches", body: #"{"game":"connect4"} x"#, status: 400, code: "request/malformed_json"),
        BadHTTPRequest(name: "create: invalid UTF-8", method: .post, path: "/matches", bytes: [0x7B, 0x22, 0x67, 0xFF, 0x22, 0x7D], status: 400, code: "request/malformed_json"),
        BadHTTPRequest(name: "create: deeply nested JSON", method: .post, path: "/matches", body: deeplyNested, status: 400, code: "request/malformed_json"),
        BadHTTPRequest(name: "create: time limit negative", method: .post, path: "/matches", body: #"{"game":"connect4","moveTimeLimit":-5}"#, status: 400, code: "match/invalid_options"),
        BadHTTPRequest(name: "create: time limit huge", method: .post, path: "/matches", body: #"{"game":"connect4","moveTimeLimit":1e30}"#, status: 400, code: "request/invalid_message"),
        BadHTTPRequest(name: "create: time limit a string", method: .post, path: "/matches", body: #"{"game":"connect4","moveTimeLimit":"60"}"#, status: 400, code: "request/invalid_message"),
        BadHTTPRequest(name: "join: not JSON", method: .post, path: "/matches/{w}/seats", body: "name=cy", status: 400, code: "request/malformed_json"),
        BadHTTPRequest(name: "join: name of the wrong type", method: .post, path: "/matches/{w}/seats", body: #"{"name":5}"#, status: 400, code: "request/invalid_message"),
        BadHTTPRequest(name: "join: name too long", method: .post, path: "/matches/{w}/seats", body: #"{"name":"\#(String(repeating: "n", count: 33))"}"#, status: 400, code: "match/invalid_name"),
        BadHTTPRequest(name: "join: control characters in the name", method: .post, path: "/matches/{w}/seats", body: #"{"name":"a\u0007b"}"#, status: 400, code: "match/invalid_name"),
        BadHTTPRequest(name: "join: invalid UTF-8", method: .post, path: "/matches/{w}/seats", bytes: [0x7B, 0x22, 0x6E, 0x22, 0x3A, 0x22, 0xED, 0xA0, 0x80, 0x22, 0x7D], status: 400, code: "request/malformed_json"),
        BadHTTPRequest(name: "join: oversized body", method: .post, path: "/matches/{w}/seats", body: oversized, status: 413, code: "request/too_large"),
        BadHTTPRequest(name: "snapshot: a very long id", method: .get, path: "/matches/" + String(repeating: "x", count: 300), status: 404, code: "match/not_found"),
        BadHTTPRequest(name: "list: limit zero", method: .get, path: "/matches?limit=0", status: 400, code: "request/bad_parameter"),
        BadHTTPRequest(name: "list: limit too large", method: .get, path: "/matches?limit=1001", status: 400, code: "request/bad_parameter"),
        BadHTTPRequest(name: "list: limit not a number", method: .get, path: "/matches?limit=all", status: 400, code: "request/bad_parameter"),
        BadHTTPRequest(name: "poll: wait negative", method: .get, path: "/matches/{p}/events?wait=-1", status: 400, code: "request/bad_parameter"),
        BadHTTPRequest(name: "poll: wait not finite", method: .get, path: "/matches/{p}/events?wait=nan", status: 400, code: "request/bad_parameter"),
        BadHTTPRequest(name: "poll: after huge", method: .get, path: "/matches/{p}/events?after=99999999999999999999999", status: 400, code: "request/bad_parameter"),
        BadHTTPRequest(name: "poll: a wrong token", method: .get, path: "/matches/{p}/events?after=3&wait=0", credential: .garbage, status: 403, code: "auth/wrong_token"),
        BadHTTPRequest(name: "poll: another match's token", method: .get, path: "/matches/{p}/events?after=3&wait=0", credential: .otherMatch, status: 403, code: "auth/wrong_token"),
        BadHTTPRequest(name: "command: a JSON array", method: .post, path: "/matches/{p}/commands", body: #"[{"type":"play","move":"4","v":3}]"#, credential: .first, status: 400, code: "request/invalid_message"),
        BadHTTPRequest(name: "command: JSON null", method: .post, path: "/matches/{p}/commands", body: "null", credential: .first, status: 400, code: "request/invalid_message"),
        BadHTTPRequest(name: "command: an empty object", method: .post, path: "/matches/{p}/commands", body: "{}", credential: .first, status: 400, code: "request/invalid_message"),
        BadHTTPRequest(name: "command: version missing", method: .post, path: "/matches/{p}/commands", body: #"{"type":"play","move":"4"}"#, credential: .first, status: 400, code: "request/invalid_message"),
        BadHTTPRequest(name: "command: move missing", method: .post, path: "/matches/{p}/commands", body: #"{"type":"play","v":3}"#, credential: .first, status: 400, code: "request/invalid_message"),
        BadHTTPRequest(name: "command: version a fraction", method: .post, path: "/matches/{p}/commands", body: #"{"type":"play","move":"4","v":3.5}"#, credential: .first, status: 400, code: "request/invalid_message"),
        BadHTTPRequest(name: "command: version negative", method: .post, path: "/matches/{p}/commands", body: #"{"type":"play","move":"4","v":-1}"#, credential: .first, status: 409, code: "match/stale_version"),
        BadHTTPRequest(name: "command: version from the future", method: .post, path: "/matches/{p}/commands", body: #"{"type":"play","move":"4","v":99}"#, credential: .first, status: 409, code: "match/stale_version"),
        BadHTTPRequest(name: "command: empty move", method: .post, path: "/matches/{p}/commands", body: #"{"type":"play","move":"","v":3}"#, credential: .first, status: 422, code: "rule/unreadable_move"),
        BadHTTPRequest(name: "command: a Reversi move in Connect Four", method: .post, path: "/matches/{p}/commands", body: #"{"type":"play","move":"d3","v":3}"#, credential: .first, status: 422, code: "rule/unreadable_move"),
        BadHTTPRequest(name: "command: invalid UTF-8", method: .post, path: "/matches/{p}/commands", bytes: invalidUTF8Command, credential: .first, status: 400, code: "request/malformed_json"),
        BadHTTPRequest(name: "command: deeply nested JSON", method: .post, path: "/matches/{p}/commands", body: deeplyNested, credential: .first, status: 400, code: "request/malformed_json"),
        BadHTTPRequest(name: "command: the finished match's seat token", method: .post, path: "/matches/{p}/commands", body: #"{"type":"play","move":"4","v":3}"#, credential: .finishedFirst, status: 403, code: "auth/wrong_token"),
        BadHTTPRequest(name: "command: a Basic Authorization header", method: .post, path: "/matches/{p}/commands", body: #"{"type":"play","move":"4","v":3}"#, credential: .header("Basic YW5uOnNlY3JldA=="), status: 401, code: "auth/missing_token"),
        BadHTTPRequest(name: "command: Bearer with no token", method: .post, path: "/matches/{p}/commands", body: #"{"type":"play","move":"4","v":3}"#, credential: .header("Bearer "), status: 401, code: "auth/missing_token"),
        BadHTTPRequest(name: "command: resign after the game is over", method: .post, path: "/matches/{f}/commands", body: #"{"type":"resign","v":5}"#, credential: .finishedFirst, status: 409, code: "match/finished"),
        BadHTTPRequest(name: "command: a match still waiting", method: .post, path: "/matches/{w}/commands", body: #"{"type":"play","move":"4","v":1}"#, credential: .first, status: 403, code: "auth/wrong_token"),
        BadHTTPRequest(name: "games: POST", method: .post, path: "/games", body: "{}", status: 405, code: "request/method_not_allowed"),
        BadHTTPRequest(name: "match: DELETE", method: .delete, path: "/matches/{p}", status: 405, code: "request/method_not_allowed"),
        BadHTTPRequest(name: "unknown route under a match", method: .get, path: "/matches/{p}/moves", status: 404, code: "request/not_found"),
        BadHTTPRequest(name: "unknown route", method: .get, path: "/players", status: 404, code: "request/not_found"),
        BadHTTPRequest(name: "WebSocket endpoint without an upgrade", method: .get, path: "/matches/{p}/ws", status: 426, code: "request/upgrade_required"),
        BadHTTPRequest(name: "create: a form's content type", method: .post, path: "/matches", body: #"{"game":"connect4"}"#,
                       headers: [.contentType: "application/x-www-form-urlencoded"], status: 415, code: "request/unsupported_media_type"),
        BadHTTPRequest(name: "join: text/plain", method: .post, path: "/matches/{w}/seats", body: #"{"name":"cy"}"#,
                       headers: [.contentType: "text/plain"], status: 415, code: "request/unsupported_media_type"),
        BadHTTPRequest(name: "command: no content type", method: .post, path: "/matches/{p}/commands", body: #"{"type":"play","move":"4","v":3}"#,
                       credential: .first, headers: [.contentType: ""], status: 415, code: "request/unsupported_media_type"),
        BadHTTPRequest(name: "command: multipart", method: .post, path: "/matches/{p}/commands", body: #"{"type":"play","move":"4","v":3}"#,
                       credential: .first, headers: [.contentType: "multipart/form-data; boundary=x"], status: 415, code: "request/unsupported_media_type"),
    ]

    @Test(arguments: httpCases)
    func badHTTPRequestsGetTheirDocumentedErrorAndChangeNothing(_ input: BadHTTPRequest) async throws {
        try await LiveServer.run { server in
            let arena = try await Arena.build(server)
            let before = try await arena.versions(server)
            let reply = try await server.request(input.method, input.resolvedPath(arena), body: input.body, bytes: input.bytes,
                                                 authorization: input.credential.authorization(arena), headers: input.headers)
            #expect(reply.status == input.status, "\(reply.body)")
            #expect(reply.errorCode == input.code, "\(reply.body)")
            #expect(reply.headers[.contentType] == "application/json")
            #expect(try await arena.versions(server) == before)
            try await arena.checkStillServing(server)
        }
    }

    static let webSocketCases: [BadWebSocketInput] = [
        BadWebSocketInput(name: "unknown match", path: "/matches/nope/ws", replies: ["match/not_found"], close: 4404),
        BadWebSocketInput(name: "after not a number", path: "/matches/{p}/ws?after=x", replies: ["request/bad_parameter"], close: 4400),
        BadWebSocketInput(name: "after beyond the log", path: "/matches/{p}/ws?after=99", replies: ["request/bad_parameter"], close: 4400),
        BadWebSocketInput(name: "wrong token in the header", credential: .garbage, replies: ["auth/wrong_token"], close: 4403),
        BadWebSocketInput(name: "another match's token in the header", credential: .otherMatch, replies: ["auth/wrong_token"], close: 4403),
        BadWebSocketInput(name: "not JSON", credential: .first, frames: [.text("play 4")], replies: ["request/malformed_json"]),
        BadWebSocketInput(name: "truncated JSON", credential: .first, frames: [.text(#"{"type":"play""#)], replies: ["request/malformed_json"]),
        BadWebSocketInput(name: "wrong types", credential: .first, frames: [.text(#"{"type":"play","move":4,"v":3}"#)], replies: ["request/invalid_message"]),
        BadWebSocketInput(name: "unknown type", credential: .first, frames: [.text(#"{"type":"undo","v":3}"#)], replies: ["request/invalid_message"]),
        BadWebSocketInput(name: "binary message", credential: .first, frames: [.binary([1, 2, 3])], replies: ["request/binary_message"]),
        BadWebSocketInput(name: "command without a seat", frames: [.text(#"{"type":"play","move":"4","v":3}"#)], replies: ["auth/missing_token"]),
        BadWebSocketInput(name: "hello with a wrong token, then the right one",
                          frames: [.text(#"{"type":"hello","token":"nope","id":1}"#), .text(#"{"type":"hello","token":"{first}","id":2}"#)],
                          replies: ["auth/wrong_token", "welcome"]),
        BadWebSocketInput(name: "a second hello", credential: .first, frames: [.text(#"{"type":"hello","token":"{first}"}"#)], replies: ["auth/already_authenticated"]),
        BadWebSocketInput(name: "illegal move", credential: .first, frames: [.text(#"{"type":"play","move":"0","v":3}"#)], replies: ["rule/out_of_range"]),
        BadWebSocketInput(name: "out of turn", credential: .second, frames: [.text(#"{"type":"play","move":"4","v":3}"#)], replies: ["match/not_your_turn"]),
        BadWebSocketInput(name: "stale version", credential: .first, frames: [.text(#"{"type":"play","move":"4","v":1}"#)], replies: ["match/stale_version"]),
        BadWebSocketInput(name: "after the game is over", path: "/matches/{f}/ws?after=5", credential: .finishedFirst,
                          frames: [.text(#"{"type":"play","move":"4","v":5}"#)], replies: ["match/finished"]),
        BadWebSocketInput(name: "several bad messages in a row", credential: .first,
                          frames: [.text("]"), .binary([0]), .text(#"{"type":"play","move":"8","v":3}"#)],
                          replies: ["request/malformed_json", "request/binary_message", "rule/out_of_range"]),
        BadWebSocketInput(name: "after negative", path: "/matches/{p}/ws?after=-1", replies: ["request/bad_parameter"], close: 4400),
        BadWebSocketInput(name: "after huge", path: "/matches/{p}/ws?after=99999999999999999999999", replies: ["request/bad_parameter"], close: 4400),
        BadWebSocketInput(name: "a Basic Authorization header", credential: .header("Basic YW5uOnNlY3JldA=="), replies: ["auth/missing_token"], close: 4401),
        BadWebSocketInput(name: "the finished match's seat token in the header", credential: .finishedFirst, replies: ["auth/wrong_token"], close: 4403),
        BadWebSocketInput(name: "a JSON array", credential: .first, frames: [.text(#"[{"type":"play","move":"4","v":3}]"#)], replies: ["request/invalid_message"]),
        BadWebSocketInput(name: "JSON null", credential: .first, frames: [.text("null")], replies: ["request/invalid_message"]),
        BadWebSocketInput(name: "an empty message", credential: .first, frames: [.text("")], replies: ["request/malformed_json"]),
        BadWebSocketInput(name: "garbage after the JSON", credential: .first, frames: [.text(#"{"type":"play","move":"4","v":3}}"#)], replies: ["request/malformed_json"]),
        BadWebSocketInput(name: "deeply nested JSON", credential: .first, frames: [.text(deeplyNested)], replies: ["request/malformed_json"]),
        BadWebSocketInput(name: "huge version", credential: .first, frames: [.text(#"{"type":"play","move":"4","v":99999999999999999999999}"#)], replies: ["request/invalid_message"]),
        BadWebSocketInput(name: "version a fraction", credential: .first, frames: [.text(#"{"type":"play","move":"4","v":2.5}"#)], replies: ["request/invalid_message"]),
        BadWebSocketInput(name: "version missing", credential: .first, frames: [.text(#"{"type":"resign"}"#)], replies: ["request/invalid_message"]),
        BadWebSocketInput(name: "version negative", credential: .first, frames: [.text(#"{"type":"play","move":"4","v":-3}"#)], replies: ["match/stale_version"]),
        BadWebSocketInput(name: "version from the future", credential: .first, frames: [.text(#"{"type":"play","move":"4","v":4}"#)], replies: ["match/stale_version"]),
        BadWebSocketInput(name: "empty move", credential: .first, frames: [.text(#"{"type":"play","move":"","v":3}"#)], replies: ["rule/unreadable_move"]),
        BadWebSocketInput(name: "hello without a token", frames: [.text(#"{"type":"hello"}"#)], replies: ["request/invalid_message"]),
        BadWebSocketInput(name: "hello with a token of the wrong type", frames: [.text(#"{"type":"hello","token":42}"#)], replies: ["request/invalid_message"]),
        BadWebSocketInput(name: "hello with another match's token", frames: [.text(#"{"type":"hello","token":"{other}","id":1}"#)], replies: ["auth/wrong_token"]),
        BadWebSocketInput(name: "resign after the game is over", path: "/matches/{f}/ws?after=5", credential: .finishedFirst,
                          frames: [.text(#"{"type":"resign","v":5}"#)], replies: ["match/finished"]),
        BadWebSocketInput(name: "an empty binary message", credential: .first, frames: [.binary([])], replies: ["request/binary_message"]),
        BadWebSocketInput(name: "an illegal move sent in three fragments", credential: .first,
                          frames: [.fragmented([#"{"type":"pl"#, #"ay","move":"#, #""0","v":3}"#])], replies: ["rule/out_of_range"]),
        BadWebSocketInput(name: "invalid UTF-8 inside a command", credential: .first, frames: [.rawText(invalidUTF8Command)], replies: [], close: 1007),
        BadWebSocketInput(name: "oversized binary message", credential: .first, frames: [.binary(Array(repeating: 7, count: 5000))], replies: [], close: 1009),
        BadWebSocketInput(name: "oversized message", credential: .first, frames: [.text(oversized)], replies: [], close: 1009),
        BadWebSocketInput(name: "invalid UTF-8 in a text message", credential: .first, frames: [.rawText([0x7B, 0xFF, 0xFE, 0x7D])], replies: [], close: 1007),
    ]

    @Test(arguments: webSocketCases)
    func badWebSocketInputGetsItsDocumentedErrorAndChangesNothing(_ input: BadWebSocketInput) async throws {
        try await LiveServer.run { server in
            let arena = try await Arena.build(server)
            let before = try await arena.versions(server)
            let path = input.path.replacingOccurrences(of: "{p}", with: arena.playing.id).replacingOccurrences(of: "{f}", with: arena.finished.id)
            let firstToken = arena.playing.first.token
            let socket = try await server.webSocket(path, authorization: input.credential.authorization(arena))
            for frame in input.frames {
                switch frame {
                case .text(let text):
                    socket.send(text.replacingOccurrences(of: "{first}", with: firstToken).replacingOccurrences(of: "{other}", with: arena.bystander.first.token))
                case .fragmented(let parts):
                    for (index, part) in parts.enumerated() {
                        socket.link.send(WebSocketFrame(fin: index == parts.count - 1, opcode: index == 0 ? .text : .continuation,
                                                        maskKey: .random(), data: ByteBuffer(string: part)))
                    }
                case .binary(let bytes): socket.link.send(WebSocketFrame(fin: true, opcode: .binary, maskKey: .random(), data: ByteBuffer(bytes: bytes)))
                case .rawText(let bytes): socket.link.send(WebSocketFrame(fin: true, opcode: .text, maskKey: .random(), data: ByteBuffer(bytes: bytes)))
                }
            }
            var replies: [String] = []
            while replies.count < input.replies.count || input.close != nil, let message = try await socket.next() {
                switch message {
                case .error(let error): replies.append(error.code.rawValue)
                case .welcome(let welcome): if welcome.id != nil { replies.append("welcome") }
                case .ack: replies.append("ack")
                case .event: continue
                case .rolledBack: replies.append("rolled_back")
                }
            }
            #expect(replies == input.replies)
            if let code = input.close {
                #expect(await socket.closed() == WebSocketErrorCode(codeNumber: Int(code)))
            } else {
                // The connection survived: it closes only when we close it.
                socket.link.close()
                #expect(await socket.closed() == .normalClosure)
            }
            #expect(try await arena.versions(server) == before)
            try await arena.checkStillServing(server)
        }
    }
}
