import ArgumentParser
import Foundation
import Logging
import PlyEngine
import PlyStore
import PlyWire

struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Print a stored match move by move (without a match id: list the newest matches)."
    )

    @Argument(help: "The match id.")
    var match: String?

    @Option(help: "The SQLite file ply serve stores matches in (default: $XDG_DATA_HOME/ply/matches.sqlite).")
    var data: String?

    @Flag(help: "Draw the board after every move.")
    var boards = false

    func run() async throws {
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
            return
        }
        guard let stored else { throw ValidationError("no match '\(match)' in \(path)") }
        let log = try stored.events.map { try WireCoding.decoder.decode(MatchEvent.self, from: $0) }
        print(try Transcript.text(id: stored.id, log: log, boards: boards))
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let self else { return nil }
        return try await transform(self)
    }
}
