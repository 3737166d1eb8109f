import PlyEngine

/// `POST /matches`: `{"game":"connect4"}`, optionally with `"moveTimeLimit"` seconds.
public struct CreateMatchRequest: Hashable, Sendable, Codable {
    public var game: GameID
    public var moveTimeLimit: Int?

    public init(game: GameID, moveTimeLimit: Int? = nil) {
        self.game = game
        self.moveTimeLimit = moveTimeLimit
    }

    enum CodingKeys: String, CodingKey { case game, moveTimeLimit }

    /// A game name the server does not offer is `match/unknown_game`, not a shape error.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let name = try container.decode(String.self, forKey: .game)
        guard let game = GameID(rawValue: name) else {
            throw WireError(.unknownGame, "'\(name)' is not a game here; try \(GameID.allCases.map(\.rawValue).joined(separator: " or "))")
        }
        self.game = game
        moveTimeLimit = try container.decodeIfPresent(Int.self, forKey: .moveTimeLimit)
    }
}

/// `POST /matches/{id}/seats`: `{"name":"ann"}`.
public struct JoinRequest: Hashable, Sendable, Codable {
    public var name: String
    public init(name: String) { self.name = name }
}

/// The answer to a join: the seat taken and the secret token that acts for it.
/// The token is shown once, here, and never appears in events or logs.
public struct SeatGrant: Hashable, Sendable, Codable {
    public var match: String
    public var seat: Seat
    public var token: String
    /// The match version after the join.
    public var version: Int

    public init(match: String, seat: Seat, token: String, version: Int) {
        self.match = match
        self.seat = seat
        self.token = token
        self.version = version
    }

    enum CodingKeys: String, CodingKey { case match, seat, token, version = "v" }
}

/// A game the server offers (`GET /games`).
public struct GameInfo: Hashable, Sendable, Codable {
    public var id: GameID
    public var title: String
    public var rows: Int
    public var columns: Int

    public init(_ game: GameID) {
        id = game
        title = game.title
        let board = game.initialPosition.board
        rows = board.rows
        columns = board.columns
    }
}

/// One seat as a snapshot shows it.
public struct SeatInfo: Hashable, Sendable, Codable {
    public var seat: Seat
    public var name: String?
    public init(seat: Seat, name: String?) {
        self.seat = seat
        self.name = name
    }
}

/// The state of a match at a version (`GET /matches/{id}`, and each row of `GET /matches`),
/// as its viewer may see it. `board` rows are top first: `.` empty, `x` the first seat, `o`
/// the second; in Battleship, each row is seat 0's grid, a space and seat 1's grid, with `S`
/// a ship (where seen), `~` a miss, `X` a hit and `#` a sunk ship's square.
public struct MatchSnapshot: Hashable, Sendable, Codable {
    public var id: String
    public var game: GameID
    public var status: MatchStatus
    public var version: Int
    public var seats: [SeatInfo]
    /// The seat to move, while playing.
    public var turn: Seat?
    public var board: [String]
    public var legalMoves: [String]
    public var lastMove: String?
    /// Discs per seat, for games that count them.
    public var score: [Int]?
    public var result: GameResult?
    public var moveTimeLimit: Int?
    /// Seconds the seat to move has left, to the millisecond, while its turn clock runs.
    public var turnTimeLeft: Double?
    /// Games with setups (Battleship): each seat's fleet where the viewer may see it, else null.
    public var fleets: [String?]?
    /// Games with setups, while playing: the seats that have not made theirs yet.
    public var placing: [Seat]?

    enum CodingKeys: String, CodingKey {
        case id, game, status, version = "v", seats, turn, board, legalMoves, lastMove, score, result, moveTimeLimit, turnTimeLeft
        case fleets, placing
    }

    /// - Parameter match: the match as its viewer may see it (`Match.view(for:)`).
    public init(id: String, match: Match, turnTimeLeft: Duration? = nil) {
        self.id = id
        game = match.game
        status = match.status
        version = match.version
        seats = Seat.allCases.map { SeatInfo(seat: $0, name: match.names[$0.rawValue]) }
        turn = match.turn
        board = match.position.textRows
        legalMoves = match.status == .playing ? match.position.legalMoves : []
        lastMove = match.lastMove?.move
        score = match.position.score.map { score in Seat.allCases.map { score[$0] ?? 0 } }
        result = match.result
        moveTimeLimit = match.options.moveTimeLimit
        self.turnTimeLeft = turnTimeLeft.map { (max(.zero, $0) / .milliseconds(1)).rounded() / 1000 }
        if match.position.hidesInformation {
            fleets = match.position.setups
            placing = match.status == .playing ? Seat.allCases.filter(match.awaitsSetup) : nil
        }
    }
}

/// `GET /health`.
public struct Health: Hashable, Sendable, Codable {
    /// `ok`; `degraded` (and HTTP 503) once the store has failed and changes are refused;
    /// `shutting_down` while the server stops.
    public var status: String
    /// Unfinished matches (all held in memory; finished ones are read from the store).
    public var matches: Int
    /// Open TCP connections: HTTP and WebSocket.
    public var connections: Int
    /// Of those, WebSockets.
    public var webSockets: Int
    /// Long polls waiting for an event.
    public var waitingPolls: Int
    /// Server-Sent Events streams open.
    public var streams: Int

    public init(status: String, matches: Int, connections: Int, webSockets: Int = 0, waitingPolls: Int = 0, streams: Int = 0) {
        self.status = status
        self.matches = matches
        self.connections = connections
        self.webSockets = webSockets
        self.waitingPolls = waitingPolls
        self.streams = streams
    }

    enum CodingKeys: String, CodingKey { case status, matches, connections, webSockets, waitingPolls, streams }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        status = try container.decode(String.self, forKey: .status)
        matches = try container.decode(Int.self, forKey: .matches)
        connections = try container.decode(Int.self, forKey: .connections)
        webSockets = try container.decodeIfPresent(Int.self, forKey: .webSockets) ?? 0
        waitingPolls = try container.decodeIfPresent(Int.self, forKey: .waitingPolls) ?? 0
        // A server from before event streams says nothing of them.
        streams = try container.decodeIfPresent(Int.self, forKey: .streams) ?? 0
    }
}

/// What `POST /matches/{id}/stream-tickets` grants a seat: a ticket that opens the seat's
/// event stream once (`GET /matches/{id}/stream?ticket=…`), for an EventSource, which cannot
/// send `Authorization`; it is good for `expiresIn` seconds.
public struct StreamTicket: Hashable, Sendable, Codable {
    public var ticket: String
    public var expiresIn: Int

    public init(ticket: String, expiresIn: Int) {
        self.ticket = ticket
        self.expiresIn = expiresIn
    }
}
