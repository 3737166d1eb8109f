import Foundation
import Testing
import PlyEngine
@testable import PlyWire

/// The JSON of every message, byte for byte (keys sorted). These fixtures are the protocol: a change here is
/// a change to docs/protocol.md and to every client.
struct WireFixtureTests {
    struct Fixture: CustomTestStringConvertible, Sendable {
        let json: String
        let message: ServerMessage
        var testDescription: String { json }
    }

    static let serverMessages: [Fixture] = [
        Fixture(json: #"{"game":"connect4","type":"created","v":1}"#,
                message: .event(MatchEvent(version: 1, change: .created(game: .connect4, options: MatchOptions())))),
        Fixture(json: #"{"game":"reversi","options":{"moveTimeLimit":30},"type":"created","v":1}"#,
                message: .event(MatchEvent(version: 1, change: .created(game: .reversi, options: MatchOptions(moveTimeLimit: 30))))),
        Fixture(json: #"{"name":"ann","seat":0,"type":"joined","v":2}"#,
                message: .event(MatchEvent(version: 2, change: .joined(seat: .first, name: "ann")))),
        Fixture(json: #"{"move":"4","seat":0,"type":"moved","v":4}"#,
                message: .event(MatchEvent(version: 4, change: .moved(seat: .first, move: "4")))),
        Fixture(json: #"{"seat":1,"type":"resigned","v":5}"#,
                message: .event(MatchEvent(version: 5, change: .resigned(seat: .second)))),
        Fixture(json: #"{"seat":1,"type":"timed_out","v":5}"#,
                message: .event(MatchEvent(version: 5, change: .timedOut(seat: .second)))),
        Fixture(json: #"{"reason":"resignation","type":"ended","v":6,"winner":0}"#,
                message: .event(MatchEvent(version: 6, change: .ended(GameResult(winner: .first, reason: .resignation))))),
        Fixture(json: #"{"reason":"board_full","type":"ended","v":45}"#,
                message: .event(MatchEvent(version: 45, change: .ended(GameResult(winner: nil, reason: .boardFull))))),
        Fixture(json: #"{"id":3,"type":"ack","v":7}"#, message: .ack(Acknowledgement(version: 7, id: 3))),
        Fixture(json: #"{"type":"ack","v":7}"#, message: .ack(Acknowledgement(version: 7))),
        Fixture(json: #"{"id":1,"seat":1,"type":"welcome"}"#, message: .welcome(Welcome(seat: .second, id: 1))),
        Fixture(json: #"{"seat":0,"type":"welcome","v":7}"#, message: .welcome(Welcome(seat: .first, version: 7))),
        Fixture(json: #"{"type":"welcome","v":3}"#, message: .welcome(Welcome(seat: nil, version: 3))),
        Fixture(json: #"{"code":"match/stale_version","id":2,"message":"command made against version 3, but the match is at version 4","type":"error","v":4}"#,
                message: .error(WireError(MatchError.staleVersion(sent: 3, current: 4), version: 4, id: 2))),
        Fixture(json: #"{"type":"rolled_back","v":8}"#, message: .rolledBack(RolledBack(version: 8))),
    ]

    @Test(arguments: serverMessages)
    func serverMessageRoundTrips(_ fixture: Fixture) throws {
        let decoded = try WireCoding.decode(ServerMessage.self, from: Data(fixture.json.utf8))
        #expect(decoded == fixture.message)
        let encoded: Data = switch fixture.message {
        case .event(let event): try WireCoding.encode(event)
        case .ack(let ack): try WireCoding.encode(ack)
        case .welcome(let welcome): try WireCoding.encode(welcome)
        case .error(let error): try WireCoding.encode(error)
        case .rolledBack(let rolledBack): try WireCoding.encode(rolledBack)
        }
        #expect(String(decoding: encoded, as: UTF8.self) == fixture.json)
    }

    static let commands: [(String, ClientMessage)] = [
        (#"{"id":3,"move":"4","type":"play","v":6}"#, .command(Command(.play("4"), version: 6, id: 3))),
        (#"{"move":"d3","type":"play","v":3}"#, .command(Command(.play("d3"), version: 3))),
        (#"{"type":"resign","v":9}"#, .command(Command(.resign, version: 9))),
        (#"{"id":1,"token":"abc","type":"hello"}"#, .hello(Hello(token: "abc", id: 1))),
    ]

    @Test(arguments: commands)
    func clientMessageRoundTrips(json: String, message: ClientMessage) throws {
        #expect(try WireCoding.decode(ClientMessage.self, from: Data(json.utf8)) == message)
        let encoded: Data = switch message {
        case .command(let command): try WireCoding.encode(command)
        case .hello(let hello): try WireCoding.encode(hello)
        }
        #expect(String(decoding: encoded, as: UTF8.self) == json)
    }

    @Test func snapshotOfAMatch() throws {
        var match = try Match(game: .connect4)
        try match.join(name: "ann")
        try match.join(name: "bob")
        try match.play("4", by: .first, against: 3)
        let json = String(decoding: try WireCoding.encode(MatchSnapshot(id: "m1", match: match)), as: UTF8.self)
        #expect(json == #"{"board":[".......",".......",".......",".......",".......","...x..."],"game":"connect4","id":"m1","lastMove":"4","legalMoves":["1","2","3","4","5","6","7"],"seats":[{"name":"ann","seat":0},{"name":"bob","seat":1}],"status":"playing","turn":1,"v":4}"#)
        #expect(try WireCoding.decode(MatchSnapshot.self, from: Data(json.utf8)) == MatchSnapshot(id: "m1", match: match))
    }

    @Test func seatGrantAndRequests() throws {
        let grant = SeatGrant(match: "m1", seat: .second, token: "t0k", version: 3)
        #expect(String(decoding: try WireCoding.encode(grant), as: UTF8.self) == #"{"match":"m1","seat":1,"token":"t0k","v":3}"#)
        #expect(try WireCoding.decode(CreateMatchRequest.self, from: Data(#"{"game":"reversi","moveTimeLimit":20}"#.utf8))
                == CreateMatchRequest(game: .reversi, moveTimeLimit: 20))
        #expect(try WireCoding.decode(JoinRequest.self, from: Data(#"{"name":"ann"}"#.utf8)) == JoinRequest(name: "ann"))
    }

    struct BadInput: CustomTestStringConvertible, Sendable {
        let body: String
        let code: ErrorCode
        var testDescription: String { body.isEmpty ? "(empty)" : body }
    }

    static let badInputs: [BadInput] = [
        BadInput(body: "", code: .malformedJSON),
        BadInput(body: "{", code: .malformedJSON),
        BadInput(body: "not json", code: .malformedJSON),
        BadInput(body: #"{"type":"play","move":"4","v":6"#, code: .malformedJSON),
        BadInput(body: "[]", code: .invalidMessage),
        BadInput(body: "42", code: .invalidMessage),
        BadInput(body: "{}", code: .invalidMessage),
        BadInput(body: #"{"type":"jump","v":1}"#, code: .invalidMessage),
        BadInput(body: #"{"type":"play","v":1}"#, code: .invalidMessage),
        BadInput(body: #"{"type":"play","move":4,"v":1}"#, code: .invalidMessage),
        BadInput(body: #"{"type":"play","move":"4","v":"1"}"#, code: .invalidMessage),
        BadInput(body: #"{"type":"play","move":"4","v":1.5}"#, code: .invalidMessage),
        BadInput(body: #"{"type":"play","move":"4","v":99999999999999999999999}"#, code: .invalidMessage),
        BadInput(body: #"{"type":"play","move":null,"v":1}"#, code: .invalidMessage),
        BadInput(body: #"{"type":"hello"}"#, code: .invalidMessage),
    ]

    @Test(arguments: badInputs)
    func badClientInputGetsItsCode(_ input: BadInput) {
        do throws(WireError) {
            let message = try WireCoding.decodeMessage(ClientMessage.self, from: Data(input.body.utf8))
            Issue.record("decoded \(message)")
        } catch {
            #expect(error.code == input.code, "\(error.message)")
        }
    }
}
