import NIOCore
import NIOFoundationCompat
import PlyEngine
import PlyWire

/// JSON straight into NIO buffers, with the wire's encoder settings.
public enum JSONBuffer {
    public static let allocator = ByteBufferAllocator()

    public static func encode(_ value: some Encodable) throws -> ByteBuffer {
        try WireCoding.encoder.encodeAsByteBuffer(value, allocator: allocator)
    }

    /// An event, without Foundation: the bytes `encode(_:)`'s `Codable` path gives
    /// (`OutboundJSON`), for the message every move sends.
    public static func encode(_ event: MatchEvent) -> ByteBuffer {
        OutboundJSON.encode(event, allocator: allocator)
    }

    /// An acknowledgement, without Foundation (`OutboundJSON`).
    public static func encode(_ acknowledgement: Acknowledgement) -> ByteBuffer {
        OutboundJSON.encode(acknowledgement, allocator: allocator)
    }

    /// Joins already-encoded JSON values into one JSON array, copying each once.
    public static func array(_ elements: some Collection<ByteBuffer>) -> ByteBuffer {
        OutboundJSON.array(elements, allocator: allocator)
    }
}
