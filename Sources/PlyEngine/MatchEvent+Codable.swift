/// Events code as flat objects: `{"move":"4","seat":0,"type":"moved","v":4}`.
/// This is both the wire form and the stored form, so it must not drift (see the fixture tests).
extension MatchEvent: Codable {
    public enum CodingKeys: String, CodingKey {
        case version = "v", type, game, options, seat, name, move, winner, reason
    }

    /// The `type` of each change, as it appears on the wire.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case created, joined, moved, resigned
        case timedOut = "timed_out"
        case ended
    }

    public var kind: Kind {
        switch change {
        case .created: .created
        case .joined: .joined
        case .moved: .moved
        case .resigned: .resigned
        case .timedOut: .timedOut
        case .ended: .ended
        }
    }

    public init(from decoder: any Decoder) throws {
        try self.init(from: try decoder.container(keyedBy: CodingKeys.self))
    }

    /// An event from a container already open on its object (a reader that looked at `type`
    /// first need not open a second one).
    public init(from container: KeyedDecodingContainer<CodingKeys>) throws {
        version = try container.decode(Int.self, forKey: .version)
        switch try container.decode(Kind.self, forKey: .type) {
        case .created:
            change = .created(
                game: try container.decode(GameID.self, forKey: .game),
                options: try container.decodeIfPresent(MatchOptions.self, forKey: .options) ?? MatchOptions()
            )
        case .joined:
            change = .joined(seat: try container.decode(Seat.self, forKey: .seat), name: try container.decode(String.self, forKey: .name))
        case .moved:
            change = .moved(seat: try container.decode(Seat.self, forKey: .seat), move: try container.decode(String.self, forKey: .move))
        case .resigned:
            change = .resigned(seat: try container.decode(Seat.self, forKey: .seat))
        case .timedOut:
            change = .timedOut(seat: try container.decode(Seat.self, forKey: .seat))
        case .ended:
            change = .ended(GameResult(
                winner: try container.decodeIfPresent(Seat.self, forKey: .winner),
                reason: try container.decode(EndReason.self, forKey: .reason)
            ))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(version, forKey: .version)
        try container.encode(kind, forKey: .type)
        switch change {
        case .created(let game, let options):
            try container.encode(game, forKey: .game)
            if options != MatchOptions() { try container.encode(options, forKey: .options) }
        case .joined(let seat, let name):
            try container.encode(seat, forKey: .seat)
            try container.encode(name, forKey: .name)
        case .moved(let seat, let move):
            try container.encode(seat, forKey: .seat)
            try container.encode(move, forKey: .move)
        case .resigned(let seat), .timedOut(let seat):
            try container.encode(seat, forKey: .seat)
        case .ended(let result):
            try container.encodeIfPresent(result.winner, forKey: .winner)
            try container.encode(result.reason, forKey: .reason)
        }
    }
}
