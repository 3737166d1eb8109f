import Foundation
import NIOCore
import PlyEngine
import PlyServer
import PlyWire
import Testing

/// Chooses a seat's move from the match as the seat has seen it.
typealias MoveChoice = @Sendable (Match) -> String

/// Plays the moves of a script in order, whoever's turn it is (Connect Four's drawn game: 42 moves).
let drawnGame: MoveChoice = { match in
    let script = "4,5,5,7,1,4,6,3,7,6,1,7,6,1,4,7,6,7,2,4,2,4,7,6,3,1,6,4,5,5,1,2,2,2,1,2,5,3,5,3,3,3".split(separator: ",")
    let played = match.events.filter { if case .moved = $0.change { true } else { false } }.count
    return String(script[played])
}

/// The first legal move in notation order (Reversi plays itself to the end with this).
let firstLegalMove: MoveChoice = { match in match.position.legalMoves.sorted()[0] }

/// Raw protocol drivers: each plays one seat to the end of the match over one transport and
/// returns every event it received. They speak the documented protocol directly.
enum SeatDriver {
    static func play(_ transport: Transport, on server: LiveServer, match: String, grant: SeatGrant, choose: @escaping MoveChoice) async throws -> [MatchEvent] {
        switch transport {
        case .longPoll: try await longPoll(server, match, grant, choose)
        case .webSocket: try await webSocket(server, match, grant, choose)
        case .serverSentEvents: try await eventStream(server, match, grant, choose)
        }
    }

    static func eventStream(_ server: LiveServer, _ id: String, _ grant: SeatGrant, _ choose: @escaping MoveChoice) async throws -> [MatchEvent] {
        let stream = try await server.eventStream("/matches/\(id)/stream?after=0", token: grant.token)
        var events: [MatchEvent] = []
        while let message = try await stream.next() {
            guard case .event(let event) = message else {
                Issue.record("unexpected message \(message)")
                continue
            }
            events.append(event)
            let match = try Match(replaying: events)
            if match.turn == grant.seat {
                let reply = try await server.request(.post, "/matches/\(id)/commands",
                                                     body: #"{"type":"play","move":"\#(choose(match))","v":\#(match.version)}"#, token: grant.token)
                #expect(reply.status == 200, "\(reply.body)")
            }
        }
        // The stream ends after the match's last event.
        #expect(stream.status == 200)
        #expect(stream.ended)
        #expect(stream.others.first == .retry(2000))
        return events
    }

    static func longPoll(_ server: LiveServer, _ id: String, _ grant: SeatGrant, _ choose: @escaping MoveChoice) async throws -> [MatchEvent] {
        var events: [MatchEvent] = []
        while true {
            let poll = try await server.request(.get, "/matches/\(id)/events?after=\(events.count)&wait=10")
            #expect(poll.status == 200)
            events += try poll.decode([MatchEvent].self)
            let match = try Match(replaying: events)
            if match.status == .finished { return events }
            if match.turn == grant.seat {
                let move = choose(match)
                let reply = try await server.request(.post, "/matches/\(id)/commands",
                                                     body: #"{"type":"play","move":"\#(move)","v":\#(match.version)}"#, token: grant.token)
                #expect(reply.status == 200, "\(reply.body)")
                #expect(try reply.decode(Acknowledgement.self).version > match.version)
            }
        }
    }

    static func webSocket(_ server: LiveServer, _ id: String, _ grant: SeatGrant, _ choose: @escaping MoveChoice) async throws -> [MatchEvent] {
        let socket = try await server.webSocket("/matches/\(id)/ws?after=0", token: grant.token)
        var events: [MatchEvent] = []
        var sentAt = 0
        while let message = try await socket.next() {
            switch message {
            case .event(let event):
                events.append(event)
                let match = try Match(replaying: events)
                if match.status == .finished {
                    socket.link.close()
                } else if match.turn == grant.seat, sentAt != match.version {
                    sentAt = match.version
                    socket.send(#"{"type":"play","move":"\#(choose(match))","v":\#(match.version),"id":\#(match.version)}"#)
                }
            case .error(let error):
                Issue.record("unexpected error \(error)")
            case .rolledBack(let rolledBack):
                // Servers sharing a store that was ahead of it: go on from the match as it was.
                events = events.filter { $0.version <= rolledBack.version }
            case .ack, .welcome:
                break
            }
        }
        #expect(socket.closeCode == .some(nil) || socket.closeCode == .some(.normalClosure))
        return events
    }
}

@Suite(.timeLimit(.minutes(1)))
struct TransportGameTests {
    /// Plays a whole game with both seats on the given transports; returns each seat's log and the server's.
    func playGame(
        _ server: LiveServer,
        _ game: GameID,
        first: Transport,
        second: Transport,
        choose: @escaping MoveChoice
    ) async throws -> (first: [MatchEvent], second: [MatchEvent], server: [MatchEvent]) {
        let (id, ann, bob) = try await server.startedMatch(game)
        async let firstLog = SeatDriver.play(first, on: server, match: id, grant: ann, choose: choose)
        async let secondLog = SeatDriver.play(second, on: server, match: id, grant: bob, choose: choose)
        let logs = try await (firstLog, secondLog)
        return (logs.0, logs.1, try await server.log(id))
    }

    @Test(arguments: Transport.allCases)
    func aScriptedGameGivesTheSameLogOverEachTransport(_ transport: Transport) async throws {
        try await LiveServer.run { server in
            let game = try await playGame(server, .connect4, first: transport, second: transport, choose: drawnGame)
            #expect(game.first == game.server)
            #expect(game.second == game.server)
            #expect(game.server.count == 3 + 42 + 1)
            #expect(game.server.last?.change == .ended(GameResult(winner: nil, reason: .boardFull)))
            // Replaying what was played locally gives the very same events on each transport.
            let expected = try Self.expectedLog(.connect4, choose: drawnGame)
            #expect(game.server == expected)
        }
    }

    /// Every ordered pair of two different transports.
    static let pairs: [(Transport, Transport)] = Transport.allCases.flatMap { first in
        Transport.allCases.filter { $0 != first }.map { (first, $0) }
    }

    @Test(arguments: pairs)
    func oneSeatPerTransportInTheSameMatch(first: Transport, second: Transport) async throws {
        try await LiveServer.run { server in
            let game = try await playGame(server, .reversi, first: first, second: second, choose: firstLegalMove)
            #expect(game.first == game.server)
            #expect(game.second == game.server)
            #expect(game.server == (try Self.expectedLog(.reversi, choose: firstLegalMove)))
            #expect(game.server.last.map { if case .ended = $0.change { true } else { false } } == true)
        }
    }

    /// The same match through the three transports: a WebSocket message and an event stream's
    /// `data` are byte for byte one element of the long-poll answer.
    @Test func everyTransportCarriesTheSameBytes() async throws {
        try await LiveServer.run { server in
            let (id, ann, _) = try await server.startedMatch()
            _ = try await server.request(.post, "/matches/\(id)/commands", body: #"{"type":"play","move":"4","v":3}"#, token: ann.token)
            let poll = try await server.request(.get, "/matches/\(id)/events?after=0&wait=0")
            let messages = try await Self.socketEvents(server, "/matches/\(id)/ws?after=0", count: 4)
            let stream = try await server.eventStream("/matches/\(id)/stream?after=0")
            let streamed = await stream.events(4)
            stream.link.close()
            #expect(poll.body == "[" + messages.joined(separator: ",") + "]")
            #expect(streamed == messages)
        }
    }

    /// The text of the next `count` events a WebSocket at `path` carries.
    static func socketEvents(_ server: LiveServer, _ path: String, token: String? = nil, count: Int) async throws -> [String] {
        let socket = try await server.webSocket(path, token: token)
        var messages: [String] = []
        while messages.count < count, let text = await socket.nextText() {
            if case .event = try WireCoding.decode(ServerMessage.self, from: Data(text.utf8)) { messages.append(text) }
        }
        socket.link.close()
        return messages
    }

    /// Battleship: each viewer (a seat by its token, or a spectator) gets its own bytes for an
    /// event not everyone may see whole, and the same bytes over the three transports.
    @Test func eachViewerGetsItsOwnBytesAndTheSameOverEveryTransport() async throws {
        try await LiveServer.run { server in
            let (id, ann, bob) = try await server.startedMatch(.battleship)
            _ = try await server.request(.post, "/matches/\(id)/commands", body: #"{"type":"place","fleet":"a1-a5 c1-c4 e1-e3 g1-g3 i1-i2","v":3}"#, token: ann.token)
            _ = try await server.request(.post, "/matches/\(id)/commands", body: #"{"type":"place","fleet":"j6-j10 b10-e10 a5-a7 c5-e5 g7-h7","v":3}"#, token: bob.token)
            _ = try await server.request(.post, "/matches/\(id)/commands", body: #"{"type":"play","move":"j10","v":5}"#, token: ann.token)
            var polls: [String] = []
            for token in [ann.token, bob.token, nil] {
                let poll = try await server.request(.get, "/matches/\(id)/events?after=3&wait=0", token: token)
                let messages = try await Self.socketEvents(server, "/matches/\(id)/ws?after=3", token: token, count: 3)
                let stream = try await server.eventStream("/matches/\(id)/stream?after=3", token: token)
                let streamed = await stream.events(3)
                stream.link.close()
                #expect(poll.body == "[" + messages.joined(separator: ",") + "]")
                #expect(streamed == messages)
                polls.append(poll.body)
            }
            #expect(polls[0] == #"[{"fleet":"a1-a5 c1-c4 e1-e3 g1-g3 i1-i2","seat":0,"type":"placed","v":4},{"seat":1,"type":"placed","v":5},{"move":"j10","result":"hit","seat":0,"type":"moved","v":6}]"#)
            #expect(polls[1] == #"[{"seat":0,"type":"placed","v":4},{"fleet":"j6-j10 b10-e10 a5-a7 c5-e5 g7-h7","seat":1,"type":"placed","v":5},{"move":"j10","result":"hit","seat":0,"type":"moved","v":6}]"#)
            #expect(polls[2] == #"[{"seat":0,"type":"placed","v":4},{"seat":1,"type":"placed","v":5},{"move":"j10","result":"hit","seat":0,"type":"moved","v":6}]"#)
            // A wrong token reads nothing: it is refused, not served as a spectator.
            #expect(try await server.request(.get, "/matches/\(id)/events?after=0&wait=0", token: "not-a-token").status == 403)
            #expect(try await server.request(.get, "/matches/\(id)", token: "not-a-token").status == 403)
        }
    }

    @Test func aRetriedCommandIsNeverPlayedTwice() async throws {
        try await LiveServer.run { server in
            let (id, ann, _) = try await server.startedMatch()
            let body = #"{"type":"play","move":"4","v":3}"#
            let first = try await server.request(.post, "/matches/\(id)/commands", body: body, token: ann.token)
            let retry = try await server.request(.post, "/matches/\(id)/commands", body: body, token: ann.token)
            #expect(first.status == 200)
            #expect(retry.status == 409)
            #expect(retry.errorCode == "match/stale_version")
            #expect(try retry.decode(WireError.self).version == 4)
            #expect(try await server.log(id).count == 4)
        }
    }

    /// The events a game produces when both seats choose with `choose`, computed without a server.
    /// The log the server should keep, with the move time limit it gives a match by default.
    static func expectedLog(_ game: GameID, choose: MoveChoice) throws -> [MatchEvent] {
        var match = try Match(game: game, options: MatchOptions(moveTimeLimit: ServerConfiguration().defaultMoveTimeLimit))
        try match.join(name: "ann")
        try match.join(name: "bob")
        while let seat = match.turn { try match.play(choose(match), by: seat, against: match.version) }
        return match.events
    }
}

extension TransportGameTests {
    @Test func aWebSocketIsWelcomedBeforeAnyEvent() async throws {
        try await LiveServer.run { server in
            let (id, ann, _) = try await server.startedMatch()
            let seated = try await server.webSocket("/matches/\(id)/ws?after=0", token: ann.token)
            #expect(try await seated.next() == .welcome(Welcome(seat: .first, version: 3)))
            if case .event(let event) = try await seated.next() { #expect(event.version == 1) } else { Issue.record("expected the first event") }
            let watching = try await server.webSocket("/matches/\(id)/ws?after=3")
            #expect(try await watching.next() == .welcome(Welcome(seat: nil, version: 3)))
            seated.link.close()
            watching.link.close()
        }
    }
}
