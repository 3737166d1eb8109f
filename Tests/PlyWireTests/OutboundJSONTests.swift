import Foundation
import NIOCore
import PlyEngine
import Testing
@testable import PlyWire

/// `OutboundJSON`, the server's Foundation-free writer for events and acknowledgements, must
/// give byte for byte what the `Codable` path (`WireCoding.encoder`) gives: for every fixture,
/// and for many random values of every kind of event, with strings full of what JSON escapes.
struct OutboundJSONTests {
    static func codable(_ value: some Encodable) throws -> String {
        String(decoding: try WireCoding.encoder.encode(value), as: UTF8.self)
    }

    static func outbound(_ event: MatchEvent) -> String {
        String(buffer: OutboundJSON.encode(event, allocator: ByteBufferAllocator()))
    }

    static func outbound(_ acknowledgement: Acknowledgement) -> String {
        String(buffer: OutboundJSON.encode(acknowledgement, allocator: ByteBufferAllocator()))
    }

    static func outbound(_ command: Command) -> String {
        String(buffer: OutboundJSON.encode(command, allocator: ByteBufferAllocator()))
    }

    @Test func everyFixtureIsWrittenAsItsFixtureSays() throws {
        var checked = 0
        for fixture in WireFixtureTests.serverMessages {
            switch fixture.message {
            case .event(let event): #expect(Self.outbound(event) == fixture.json)
            case .ack(let acknowledgement): #expect(Self.outbound(acknowledgement) == fixture.json)
            default: continue
            }
            checked += 1
        }
        for case (let json, .command(let command)) in WireFixtureTests.commands {
            #expect(Self.outbound(command) == json)
            checked += 1
        }
        #expect(checked >= 13)
    }

    /// Characters of every class the writer treats apart: plain ASCII, each escaped character,
    /// every control character, DEL, `/`, and multi-byte UTF-8 (accents, U+2028, emoji).
    static let alphabet: [Character] = Array("aZ09 -_.~/") + ["\"", "\\", "\u{7f}", "é", "\u{2028}", "\u{fffe}", "😀", "漢"]
        + (0..<0x20).map { Character(Unicode.Scalar(UInt8($0))) }

    static func string(_ random: inout SeededRandom) -> String {
        String((0..<Int.random(in: 0...12, using: &random)).map { _ in alphabet.randomElement(using: &random)! })
    }

    static func integer(_ random: inout SeededRandom) -> Int {
        switch Int.random(in: 0..<4, using: &random) {
        case 0: [Int.min, Int.max, 0, -1, 1, 9, 10].randomElement(using: &random)!
        case 1: Int.random(in: -1000...1000, using: &random)
        default: Int.random(in: Int.min...Int.max, using: &random)
        }
    }

    static func event(_ kind: MatchEvent.Kind, _ random: inout SeededRandom) -> MatchEvent {
        let seat = Seat.allCases.randomElement(using: &random)!
        let change: MatchEvent.Change = switch kind {
        case .created:
            .created(game: GameID.allCases.randomElement(using: &random)!,
                     options: MatchOptions(moveTimeLimit: Bool.random(using: &random) ? integer(&random) : nil))
        case .joined: .joined(seat: seat, name: string(&random))
        case .placed: .placed(seat: seat, fleet: Bool.random(using: &random) ? string(&random) : nil)
        case .moved:
            .moved(seat: seat, move: string(&random),
                   result: [nil, .miss, .hit, .sunk(length: integer(&random))].randomElement(using: &random)!)
        case .resigned: .resigned(seat: seat)
        case .timedOut: .timedOut(seat: seat)
        case .ended:
            .ended(GameResult(winner: [nil, Seat.first, .second].randomElement(using: &random)!, reason: EndReason.allCases.randomElement(using: &random)!),
                   fleets: Bool.random(using: &random)
                       ? (0..<Int.random(in: 0...3, using: &random)).map { _ in Bool.random(using: &random) ? string(&random) : nil }
                       : nil)
        }
        return MatchEvent(version: integer(&random), change: change)
    }

    @Test(arguments: MatchEvent.Kind.allCases)
    func randomEventsOfEachKindAreTheCodableBytes(_ kind: MatchEvent.Kind) throws {
        var random = SeededRandom(seed: 0x5EED_0000 &+ UInt64(MatchEvent.Kind.allCases.firstIndex(of: kind)!))
        for _ in 0..<2000 {
            let event = Self.event(kind, &random)
            let expected = try Self.codable(event)
            #expect(Self.outbound(event) == expected, "\(event)")
            guard Self.outbound(event) == expected else { return }
        }
    }

    @Test func randomAcknowledgementsAreTheCodableBytes() throws {
        var random = SeededRandom(seed: 0xAC4)
        for _ in 0..<2000 {
            var acknowledgement = Acknowledgement(version: Self.integer(&random), id: Bool.random(using: &random) ? Self.integer(&random) : nil)
            if Int.random(in: 0..<10, using: &random) == 0 { acknowledgement.type = Self.string(&random) }
            let expected = try Self.codable(acknowledgement)
            #expect(Self.outbound(acknowledgement) == expected, "\(acknowledgement)")
            guard Self.outbound(acknowledgement) == expected else { return }
        }
    }

    @Test func randomCommandsAreTheCodableBytes() throws {
        var random = SeededRandom(seed: 0xC0D)
        for index in 0..<3000 {
            let action: Command.Action = switch index % 3 {
            case 0: .play(Self.string(&random))
            case 1: .place(Self.string(&random))
            default: .resign
            }
            let command = Command(action, version: Self.integer(&random), id: Bool.random(using: &random) ? Self.integer(&random) : nil)
            let expected = try Self.codable(command)
            #expect(Self.outbound(command) == expected, "\(command)")
            guard Self.outbound(command) == expected else { return }
        }
    }
}
