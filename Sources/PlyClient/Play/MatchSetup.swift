import PlyEngine
import PlyWire

/// A new match with its seats taken: what `PlyAPI.setUpMatch` made.
public struct MatchSetup: Sendable {
    public let match: String
    /// The seats, in the order their names were given.
    public let grants: [SeatGrant]
    /// Each seat's connection, as `open` made it (nil for a seat its player connects later).
    public let connections: [MatchConnection?]
}

/// A step of setting up a match failed: which, and why.
public struct SetupError: Error, Sendable, CustomStringConvertible {
    public let step: String
    public let error: any Error

    public var description: String { "\(step): \(error)" }

    /// Runs one step of setting up a game, naming it in any error (an error that already
    /// names its step keeps it).
    public static func during<T>(_ step: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as SetupError {
            throw error
        } catch {
            throw SetupError(step: step, error: error)
        }
    }
}

extension PlyAPI {
    /// Sets up a game the way every player of ply does (bots, the benchmark, the terminal):
    /// creates a match of `game`, joins it under each of `names` in turn, so the first name
    /// moves first, then opens each seat's connection with `open` (which may return nil for a
    /// seat opened later). Rate limits and a store out of reach are waited out (`politely`);
    /// a step that fails otherwise closes the connections opened so far and is named in the
    /// `SetupError` thrown.
    public nonisolated func setUpMatch(
        _ game: GameID, names: [String],
        open: @Sendable (_ match: String, _ grant: SeatGrant) async throws -> MatchConnection?
    ) async throws -> MatchSetup {
        let match = try await SetupError.during("create a match") { try await politely { try await self.createMatch(game).id } }
        var grants: [SeatGrant] = []
        for name in names {
            grants.append(try await SetupError.during("join") { try await politely { try await self.join(match, name: name) } })
        }
        var connections: [MatchConnection?] = []
        do {
            for grant in grants {
                connections.append(try await SetupError.during("connect a seat") { try await open(match, grant) })
            }
        } catch {
            for connection in connections { connection?.close() }
            throw error
        }
        return MatchSetup(match: match, grants: grants, connections: connections)
    }
}
