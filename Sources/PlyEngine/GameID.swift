/// The games ply offers. The raw value is the game's name on the wire and the command line.
public enum GameID: String, CaseIterable, Codable, Hashable, Sendable {
    case connect4
    case reversi
    case battleship

    /// The game's definition: the one place that knows it.
    public var definition: any GameDefinition {
        switch self {
        case .connect4: ConnectFour()
        case .reversi: Reversi()
        case .battleship: Battleship()
        }
    }

    /// A name for people.
    public var title: String { definition.title }

    /// How to play, for people (`ply rules`).
    public var rulesText: String { definition.rulesText }

    /// The initial position of this game, seen through notation.
    public var initialPosition: any Position { definition.initialPosition }
}
