import ArgumentParser

@main
struct Ply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ply",
        abstract: "A terminal multiplayer turn-based game over HTTP long-polling and WebSocket.",
        subcommands: [PlayCommand.self, ServeCommand.self, BotCommand.self, BenchCommand.self, ReplayCommand.self, RulesCommand.self, FloorCommand.self]
    )
}
