/// Events code as flat objects: `{"move":"4","seat":0,"type":"moved","v":4}`.
/// This is both the wire form and the stored form, so it must not drift (see the fixture tests).
extension MatchEvent: Codable {
    public enum CodingKeys: String, CodingKey {
        case version = "v", type, game, options, seat, name, move, result, length, fleet, winner, reason, fleets
    }

    /// The `type` of each change, as it appears on the wire.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case created, joined, placed, moved, resigned
        case timedOut = "timed_out"
        case ended
    }

    public var kind: Kind {
        switch change {
        case .created: .created
        case .joined: .joined
        case .placed: .placed
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
        case .placed:
            change = .placed(seat: try container.decode(Seat.self, forKey: .seat), fleet: try container.decodeIfPresent(String.self, forKey: .fleet))
        case .moved:
            var result: ShotResult?
            switch try container.decodeIfPresent(String.self, forKey: .result) {
            case nil: result = nil
            case "miss": result = .miss
            case "hit": result = .hit
            case "sunk": result = .sunk(length: try container.decode(Int.self, forKey: .length))
            case let other?:
                throw DecodingError.dataCorruptedError(forKey: .result, in: container, debugDescription: "unknown shot result '\(other)'")
            }
            change = .moved(seat: try container.decode(Seat.self, forKey: .seat), move: try container.decode(String.self, forKey: .move), result: result)
        case .resigned:
            change = .resigned(seat: try container.decode(Seat.self, forKey: .seat))
        case .timedOut:
            change = .timedOut(seat: try container.decode(Seat.self, forKey: .seat))
        case .ended:
            change = .ended(GameResult(
                winner: try container.decodeIfPresent(Seat.self, forKey: .winner),
                reason: try container.decode(EndReason.self, forKey: .reason)
            ), fleets: try container.decodeIfPresent([String?].self, forKey: .fleets))
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
        case .placed(let seat, let fleet):
            try container.encode(seat, forKey: .seat)
            try container.encodeIfPresent(fleet, forKey: .fleet)
        case .moved(let seat, let move, let result):
            try container.encode(seat, forKey: .seat)
            try container.encode(move, forKey: .move)
            if let result {
                try container.encode(result.name, forKey: .result)
                if case .sunk(let length) = result { try container.encode(length, forKey: .length) }
            }
        case .resigned(let seat), .timedOut(let seat):
            try container.encode(seat, forKey: .seat)
        case .ended(let result, let fleets):
            try container.encodeIfPresent(result.winner, forKey: .winner)
            try container.encode(result.reason, forKey: .reason)
            try container.encodeIfPresent(fleets, forKey: .fleets)
        }
    }
}
