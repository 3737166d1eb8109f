import ArgumentParser
import PlyEngine

extension GameID: ExpressibleByArgument {}

struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Print how to play a game."
    )

    @Argument(help: "The game: \(GameID.allCases.map(\.rawValue).joined(separator: " or ")).")
    var game: GameID

    func run() {
        print(game.rulesText)
    }
}
