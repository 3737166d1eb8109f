import PlyEngine
import PlyWire

/// What a client presents to be let in to a match.
public enum Credential: Sendable, Equatable {
    /// Nothing: a spectator.
    case none
    /// An `Authorization` header as sent (`Bearer TOKEN`; another form is refused as missing).
    case authorization(String)
    /// A seat token itself (a WebSocket `hello` carries one).
    case token(String)

    /// An `Authorization` header if the request had one, else nothing.
    public init(authorization header: String?) {
        self = header.map(Credential.authorization) ?? .none
    }
}

/// A client let in to a match: the match, whom it acts for (nil: a spectator) and the
/// version it starts after.
public struct Admission: Sendable {
    public let match: MatchAuthority
    public let seat: Seat?
    public let after: Int
}

extension Authority {
    /// The one step between a request and a match, for every transport and route: given a match
    /// id, a credential and the `after` a client names (its text; nil for 0), it answers the
    /// match, the viewer and the version to start after, or a typed refusal. It owns everything
    /// that needs the store: reading a match not in memory (finished a while ago, or held by
    /// another server), catching up on a shared store when a client names a version this server
    /// has not seen, and judging a token again after catching up (its seat may have been taken
    /// on another server a moment ago).
    ///
    /// Answers at once when the match is in memory and current; nil when the store must be
    /// read first: then `admit` answers (call it off the event loop).
    /// - Parameter seatRequired: refuse a client without a credential (`auth/missing_token`):
    ///   commands; spectators may watch.
    public func admission(to id: String?, as credential: Credential, after: String? = nil,
                          seatRequired: Bool = false) -> Result<Admission, WireError>? {
        let match: MatchAuthority
        do throws(WireError) {
            guard let found = try resident(id) else { return nil }
            match = found
        } catch {
            return .failure(error)
        }
        switch judge(match, credential, after: after, seatRequired: seatRequired, mayRead: true) {
        case .admitted(let admission): return .success(admission)
        case .refused(let error): return .failure(error)
        case .readStore: return nil
        }
    }

    /// The same step, reading the store where it must.
    public func admit(to id: String?, as credential: Credential, after: String? = nil, seatRequired: Bool = false) async -> Result<Admission, WireError> {
        if let answer = admission(to: id, as: credential, after: after, seatRequired: seatRequired) { return answer }
        let match: MatchAuthority
        do throws(WireError) {
            match = try await self.match(id)
        } catch {
            return .failure(error)
        }
        if let version = after.flatMap({ Int($0) }), match.isBehind(version) { await match.reach(version) }
        if case .readStore = judge(match, credential, after: after, seatRequired: seatRequired, mayRead: true) {
            await match.refresh()
        }
        switch judge(match, credential, after: after, seatRequired: seatRequired, mayRead: false) {
        case .admitted(let admission): return .success(admission)
        case .refused(let error):
            if match.isShared, error.code == .rolledBack || error.code == .wrongToken {
                // A client named what this server could not find in the store: worth knowing.
                logger.notice("a version or token named was not found after reading the shared store",
                              metadata: ["match": "\(match.id)", "after": "\(after ?? "-")", "version": "\(match.version)", "code": "\(error.code)"])
            }
            return .failure(error)
        case .readStore: return .failure(WireError(.internalError, "the match could not be read from the store; try again"))
        }
    }

    private enum Verdict {
        case admitted(Admission)
        case refused(WireError)
        /// On a shared store, what the client names may be another server's news.
        case readStore
    }

    /// Judges a credential and an `after` against a match as this server holds it.
    /// - Parameter mayRead: whether a version or token not seen here yet asks for a read of a
    ///   shared store (else it is refused as it stands).
    private func judge(_ match: MatchAuthority, _ credential: Credential, after: String?, seatRequired: Bool, mayRead: Bool) -> Verdict {
        let token: String?
        switch credential {
        case .none:
            guard !seatRequired else { return .refused(WireError(.missingToken, "send the seat token as 'Authorization: Bearer TOKEN'", version: match.version)) }
            token = nil
        case .authorization(let header):
            guard let bearer = SeatToken.bearer(header) else {
                return .refused(WireError(.missingToken, "send the seat token as 'Authorization: Bearer TOKEN'", version: match.version))
            }
            token = bearer
        case .token(let presented):
            token = presented
        }
        var seat: Seat?
        if let token {
            do throws(WireError) {
                seat = try match.seat(forToken: token)
            } catch where error.code == .wrongToken && mayRead && match.isShared {
                return .readStore
            } catch {
                return .refused(error.with(version: match.version))
            }
        }
        // One reading of the version for both checks: read twice, a version published in
        // between made a client that named it refused with the version before.
        let version = match.version
        guard let start = Int(after ?? "0") else { return .refused(Self.badAfter(version)) }
        if mayRead && match.isShared && start > version { return .readStore }
        // Beyond what the database holds, once read: what the client saw after `version` never
        // became durable (a server that was ahead showed it), or never was.
        if match.isShared && start > version { return .refused(match.rolledBackForBeyond()) }
        guard (0...version).contains(start) else { return .refused(Self.badAfter(version)) }
        return .admitted(Admission(match: match, seat: seat, after: start))
    }

    private static func badAfter(_ version: Int) -> WireError {
        WireError(.badParameter, "after must be an integer from 0 to the match's version, \(version)", version: version)
    }
}
