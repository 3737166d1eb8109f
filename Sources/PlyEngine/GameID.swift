/// The games ply offers. The raw value is the game's name on the wire and the command line.
public enum GameID: String, CaseIterable, Codable, Hashable, Sendable {
    case connect4
    case reversi

    /// A name for people.
    public var title: String {
        switch self {
        case .connect4: "Connect Four"
        case .reversi: "Reversi"
        }
    }

    /// The initial position of this game, seen through notation.
    public var initialPosition: any Position {
        switch self {
        case .connect4: GamePosition(rules: ConnectFour())
        case .reversi: GamePosition(rules: Reversi())
        }
    }
}
