import ArgumentParser
import Foundation
import Logging
import PlyAuthority
import PlyClient
import PlyEngine
import PlyStore
import PlyTerminal
import PlyWire

struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Step through a stored match in the terminal, or print it move by move (without a match id: list the newest matches).",
        discussion: """
        In a terminal, left and right (or h and l) step through the match version by version, \
        Home and End jump to its start and end, q quits. Piped, or with --text, it prints the \
        transcript instead.
        """
    )

    @Argument(help: "The match id.")
    var match: String?

    @Option(help: "The SQLite file ply serve stores matches in (default: $XDG_DATA_HOME/ply/matches.sqlite).")
    var data: String?

    @Option(help: "Ask a running ply server, http://HOST:PORT, instead of reading a file.")
    var server: String?

    @Option(help: ArgumentHelp("A seat token: replay the match as that seat saw it.",
                               discussion: "In a game with hidden information (Battleship) a replay shows what its viewer could see: without a token, what spectators saw (no fleet until the end); with a seat's token, that seat's own fleet too. Read from a file, the token is checked against the seat token hashes stored there."))
    var token: String?

    @Flag(help: "Print the transcript, even in a terminal.")
    var text = false

    @Flag(help: "With the transcript: draw the board after every move.")
    var boards = false

    @Flag(help: "Draw with ASCII characters only.")
    var ascii = false

    func validate() throws {
        if let server, Endpoint(server) == nil { throw ValidationError("--server must look like http://HOST:PORT") }
        if server != nil, data != nil { throw ValidationError("--server and --data each name where the match is: give one") }
    }

    func run() async throws {
        let (id, log) = if let endpoint = server.flatMap(Endpoint.init) { try await fetch(from: endpoint) } else { try await read() }
        guard let id, let log else { return }
        guard !text, !boards, isatty(STDIN_FILENO) != 0, isatty(STDOUT_FILENO) != 0 else {
            print(try Transcript.text(id: id, log: log, boards: boards))
            return
        }
        let environment = ProcessInfo.processInfo.environment
        let app = try await ReplayApp(id: id, log: log, glyphs: ascii ? .ascii : Glyphs.forEnvironment(environment),
                                      colour: (environment["NO_COLOR"] ?? "").isEmpty)
        await app.run()
        if await app.wasInterrupted { throw ExitCode(130) }
    }

    /// The match's log from a server (or, without a match id, its newest matches, printed).
    private func fetch(from endpoint: Endpoint) async throws -> (String?, [MatchEvent]?) {
        let api = PlyAPI(endpoint: endpoint)
        let fetched: Result<(String?, [MatchEvent]?), any Error>
        do {
            if let match {
                fetched = .success((match, try await api.events(match, after: 0, token: token)))
            } else {
                let newest = try await api.matches(limit: 20)
                print(newest.isEmpty ? "No matches on \(endpoint)." : newest.map { "\($0.id)  \($0.game.rawValue)  \($0.status.rawValue)" }.joined(separator: "\n"))
                fetched = .success((nil, nil))
            }
        } catch {
            fetched = .failure(error)
        }
        await api.close()
        return try fetched.get()
    }

    /// The match's log from the SQLite file (or, without a match id, its newest matches, printed).
    private func read() async throws -> (String?, [MatchEvent]?) {
        let path = data ?? StorageOptions.defaultPath
        guard FileManager.default.fileExists(atPath: path) else {
            throw ValidationError("no match store at \(path); pass the file ply serve uses with --data")
        }
        var logger = Logger(label: "ply.replay")
        logger.logLevel = .warning
        let store = try await SQLiteStore.open(path: path, exclusive: false, logger: logger)
        let stored: StoredMatch?, newest: [String]
        do {
            stored = try await match.asyncMap { try await store.match($0) } ?? nil
            newest = match == nil ? try await store.matchIDs(limit: 20) : []
        } catch {
            await store.close()
            throw error
        }
        await store.close()
        guard let match else {
            print(newest.isEmpty ? "No matches in \(path)." : newest.joined(separator: "\n"))
            return (nil, nil)
        }
        guard let stored else { throw ValidationError("no match '\(match)' in \(path)") }
        // The file holds every secret: show only what the token's seat (or a spectator) saw.
        var viewer: Seat?
        if let token {
            viewer = Seat.allCases.first { seat in stored.tokens[seat.rawValue].map { SeatToken.matches(token, hash: $0) } ?? false }
            guard viewer != nil else { throw ValidationError("the token is not a seat token of match \(match)") }
        }
        return (stored.id, try stored.events.map { try WireCoding.decoder.decode(MatchEvent.self, from: $0).view(for: viewer) })
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
