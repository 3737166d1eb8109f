/// The `permessage-deflate` extension (RFC 7692) as agreed for one WebSocket, seen from one
/// end: the window and context takeover of what it sends and of what it receives.
public struct PerMessageDeflate: Sendable, Equatable {
    public static let name = "permessage-deflate"

    /// The window this end deflates with (9-15: zlib cannot deflate raw data with 8).
    public var sendWindowBits: Int
    /// Whether this end starts every message it sends afresh (no context takeover).
    public var sendNoContextTakeover: Bool
    /// The largest window the peer deflates with (8-15): the window this end inflates with.
    public var receiveWindowBits: Int
    public var receiveNoContextTakeover: Bool

    public init(sendWindowBits: Int = 15, sendNoContextTakeover: Bool = false, receiveWindowBits: Int = 15,
                receiveNoContextTakeover: Bool = false) {
        self.sendWindowBits = sendWindowBits
        self.sendNoContextTakeover = sendNoContextTakeover
        self.receiveWindowBits = receiveWindowBits
        self.receiveNoContextTakeover = receiveNoContextTakeover
    }

    /// What a server is willing to agree to.
    public struct Policy: Sendable, Equatable {
        /// The largest window either side may use: the server's own, and the client's when its
        /// offer lets the server choose (`client_max_window_bits`). Smaller windows cost less
        /// memory per connection: about 2^(bits+2) bytes for the deflater, 2^bits for the inflater.
        public var windowBits: Int
        /// Whether the server keeps its deflater's context from one message to the next (the
        /// repeated keys of small JSON messages are where the savings are) or, off, asks both
        /// sides to start every message afresh.
        public var contextTakeover: Bool

        public init(windowBits: Int = 15, contextTakeover: Bool = true) {
            self.windowBits = min(max(windowBits, 9), 15)
            self.contextTakeover = contextTakeover
        }
    }

    /// Why a server did not take an offer of `permessage-deflate`, for its log and tests.
    public enum Decline: Error, Equatable, Sendable {
        case unknownParameter(String)
        case repeatedParameter(String)
        case invalidValue(String)
        /// The client asked for a server window of 8 bits, which zlib cannot deflate with.
        case unsupportedWindow
    }

    /// A server's answer to the `Sec-WebSocket-Extensions` values of an upgrade request: the
    /// first acceptable `permessage-deflate` offer is accepted (RFC 7692 5: offers are in the
    /// client's order of preference), with the response header value and what was agreed; nil
    /// when there is none, the extension is then not used (a declined offer never fails a
    /// connection). Other extensions are ignored: ply supports none.
    public static func negotiate(_ values: [String], policy: Policy) -> (agreed: PerMessageDeflate, response: String)? {
        for value in values {
            guard let offer = ExtensionOffer(value), offer.name == name else { continue }
            if case .success(let answer) = answer(offer, policy: policy) { return answer }
        }
        return nil
    }

    /// The answer to one offer (RFC 7692 7.1): accepted, or why it is declined.
    public static func answer(_ offer: ExtensionOffer, policy: Policy) -> Result<(agreed: PerMessageDeflate, response: String), Decline> {
        var serverNoTakeover = false, clientNoTakeover = false
        var serverMax: Int?, clientMax: Int??
        var seen = Set<String>()
        for (parameter, value) in offer.parameters {
            guard seen.insert(parameter).inserted else { return .failure(.repeatedParameter(parameter)) }
            switch parameter {
            case "server_no_context_takeover", "client_no_context_takeover":
                guard value == nil else { return .failure(.invalidValue(parameter)) }
                if parameter == "server_no_context_takeover" { serverNoTakeover = true } else { clientNoTakeover = true }
            case "server_max_window_bits":
                guard let bits = value.flatMap(windowBits) else { return .failure(.invalidValue(parameter)) }
                serverMax = bits
            case "client_max_window_bits":
                if let value {
                    guard let bits = windowBits(value) else { return .failure(.invalidValue(parameter)) }
                    clientMax = .some(bits)
                } else {
                    clientMax = .some(nil)
                }
            default:
                return .failure(.unknownParameter(parameter))
            }
        }
        if serverMax == 8 { return .failure(.unsupportedWindow) }
        let sendBits = min(serverMax ?? 15, policy.windowBits)
        // The client's window can be limited only if it said it can be (`client_max_window_bits`).
        let receiveBits: Int? = clientMax.map { min($0 ?? 15, policy.windowBits) }
        let agreed = PerMessageDeflate(
            sendWindowBits: sendBits, sendNoContextTakeover: serverNoTakeover || !policy.contextTakeover,
            receiveWindowBits: receiveBits ?? 15, receiveNoContextTakeover: clientNoTakeover || !policy.contextTakeover
        )
        var response = ExtensionOffer(name: name)
        if agreed.sendNoContextTakeover { response.parameters.append(("server_no_context_takeover", nil)) }
        if agreed.receiveNoContextTakeover { response.parameters.append(("client_no_context_takeover", nil)) }
        if sendBits < 15 || serverMax != nil { response.parameters.append(("server_max_window_bits", String(sendBits))) }
        if let receiveBits, receiveBits < 15 || clientMax != .some(nil) {
            response.parameters.append(("client_max_window_bits", String(receiveBits)))
        }
        return .success((agreed, response.headerValue))
    }

    /// A client's offer: it lets the server choose the client's window.
    public static let clientOffer = "permessage-deflate; client_max_window_bits"

    /// Why a client fails a connection over the server's answer to its offer (RFC 7692 5.1).
    public enum Refusal: Error, Equatable, Sendable, CustomStringConvertible {
        case malformed(String)
        case notOffered(String)

        public var description: String {
            switch self {
            case .malformed(let why): "the server's permessage-deflate response is malformed: \(why)"
            case .notOffered(let what): "the server answered with \(what), which was not offered"
            }
        }
    }

    /// What a client that sent `clientOffer` agreed to, from the response's
    /// `Sec-WebSocket-Extensions` values: nil when the server declined.
    public static func accept(_ values: [String]) throws(Refusal) -> PerMessageDeflate? {
        var agreed: PerMessageDeflate?
        for value in values {
            guard let response = ExtensionOffer(value) else { throw .malformed(value) }
            guard response.name == name, agreed == nil else { throw .notOffered(response.name) }
            var result = PerMessageDeflate()
            var seen = Set<String>()
            for (parameter, value) in response.parameters {
                guard seen.insert(parameter).inserted else { throw .malformed("\(parameter) twice") }
                switch parameter {
                case "server_no_context_takeover", "client_no_context_takeover":
                    guard value == nil else { throw .malformed("\(parameter) with a value") }
                    if parameter == "server_no_context_takeover" { result.receiveNoContextTakeover = true } else { result.sendNoContextTakeover = true }
                case "server_max_window_bits":
                    guard let bits = value.flatMap(windowBits) else { throw .malformed("\(parameter)=\(value ?? "")") }
                    result.receiveWindowBits = bits
                case "client_max_window_bits":
                    guard let bits = value.flatMap(windowBits) else { throw .malformed("\(parameter)=\(value ?? "")") }
                    // zlib cannot deflate raw data with a window of 8 bits; 9 is what it uses instead, and a
                    // peer inflating with 8 cannot read it, so 8 is refused rather than silently exceeded.
                    guard bits >= 9 else { throw .malformed("a client window of 8 bits, which zlib cannot deflate with") }
                    result.sendWindowBits = bits
                default:
                    throw .malformed("unknown parameter \(parameter)")
                }
            }
            agreed = result
        }
        return agreed
    }

    /// RFC 7692 7.1.2: a window size is 8 to 15, written without leading zeros.
    static func windowBits(_ text: String) -> Int? {
        guard let bits = Int(text), (8...15).contains(bits), String(bits) == text else { return nil }
        return bits
    }
}
