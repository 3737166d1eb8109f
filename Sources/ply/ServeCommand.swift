import ArgumentParser
import Foundation
import Logging
import PlyServer

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run a ply server: HTTP long-polling and WebSocket on one port."
    )

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0 picks a free one).")
    var port = 8080

    @Option(help: "The largest request body or WebSocket message, in bytes.")
    var maxMessageBytes = 4096

    @Flag(help: "Refuse WebSocket upgrades and serve long-polling only.")
    var noWebsocket = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .info

    func run() async throws {
        let logger = {
            var logger = Logger(label: "ply.server")
            logger.logLevel = logLevel
            return logger
        }()
        let configuration = ServerConfiguration(host: host, port: port, maxMessageBytes: maxMessageBytes, webSocket: !noWebsocket)
        let server = PlyServer(configuration: configuration, logger: logger) { port in
            // A line for people and for scripts (ply bench waits for it).
            FileHandle.standardOutput.write(Data("ply serve listening on http://\(configuration.host):\(port)\n".utf8))
        }
        try await server.run()
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
