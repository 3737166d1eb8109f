import Foundation
import Hummingbird
import NIOFoundationCompat
import PlyWire

extension Request {
    /// The body as one of ply's JSON messages: `request/too_large` beyond `limit` bytes, then
    /// `request/malformed_json` or `request/invalid_message` as `WireCoding` sorts them.
    func message<T: Decodable>(_ type: T.Type, upTo limit: Int) async throws -> T {
        let body = try await body.collect(upTo: limit)
        return try WireCoding.decodeMessage(type, from: Data(buffer: body, byteTransferStrategy: .noCopy))
    }
}
