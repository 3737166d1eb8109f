import Foundation

/// The JSON coders every ply endpoint uses, so that both transports send the same bytes.
public enum WireCoding {
    /// A new encoder with ply's settings: compact, keys sorted, `/` unescaped.
    public static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        // Sorted keys: Linux's encoder otherwise varies key order from run to run.
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    public static func makeDecoder() -> JSONDecoder { JSONDecoder() }

    /// One encoder and one decoder for everyone: their settings never change, and Foundation's
    /// coders may be used from several threads at once.
    public static let encoder = makeEncoder()
    public static let decoder = makeDecoder()

    /// Encodes a value to UTF-8 JSON bytes.
    public static func encode(_ value: some Encodable) throws -> Data {
        try encoder.encode(value)
    }

    /// Decodes UTF-8 JSON bytes.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try decoder.decode(type, from: data)
    }
}

extension WireCoding {
    /// Decodes a client's message, sorting failures into `request/malformed_json` (not JSON)
    /// and `request/invalid_message` (JSON of the wrong shape), with a readable reason.
    public static func decodeMessage<T: Decodable>(_ type: T.Type, from data: Data) throws(WireError) -> T {
        // JSON is UTF-8: anything else (stray bytes, encoded surrogates) is not JSON at all.
        guard isUTF8(data) else {
            throw WireError(.malformedJSON, "the body is not valid UTF-8, so not JSON")
        }
        return try decodeMessage(type, fromUTF8: data)
    }

    /// Whether bytes are valid UTF-8.
    public static func isUTF8(_ data: Data) -> Bool {
        String(validating: data, as: UTF8.self) != nil
    }

    /// `decodeMessage(_:from:)` for bytes already known to be valid UTF-8.
    public static func decodeMessage<T: Decodable>(_ type: T.Type, fromUTF8 data: Data) throws(WireError) -> T {
        do {
            return try decoder.decode(type, from: data)
        } catch let error as DecodingError {
            // Foundation reports a number that fits no Swift type (1.5 for an Int, 1e30) as
            // invalid JSON; on this error path only, a syntax check tells the two apart.
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty,
               (try? JSONSerialization.jsonObject(with: data, options: .fragmentsAllowed)) != nil {
                throw WireError(.invalidMessage, "a number does not fit its field (integers only, within 64 bits)")
            }
            throw describe(error)
        } catch let error as WireError {
            throw error
        } catch {
            throw WireError(.malformedJSON, "the body is not valid JSON")
        }
    }

    static func describe(_ error: DecodingError) -> WireError {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return WireError(.malformedJSON, "the body is not valid JSON")
        case .dataCorrupted(let context):
            return WireError(.invalidMessage, "invalid value at '\(path(context))': \(context.debugDescription)")
        case .keyNotFound(let key, let context):
            let at = path(context)
            return WireError(.invalidMessage, "missing field '\(at.isEmpty ? key.stringValue : at + "." + key.stringValue)'")
        case .typeMismatch(let type, let context):
            return WireError(.invalidMessage, "field '\(path(context))' must be \(describe(type))")
        case .valueNotFound(let type, let context):
            return WireError(.invalidMessage, "field '\(path(context))' must be \(describe(type)), not null")
        @unknown default:
            return WireError(.invalidMessage, "the message does not have the documented shape")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type: "an integer"
        case is Bool.Type: "a boolean"
        default: "\(type)"
        }
    }
}
