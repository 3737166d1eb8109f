import NIOCore
import NIOEmbedded
@testable import PlyServer
import Testing

/// The one timer per event loop that pings WebSockets and writes event streams' heartbeats, on
/// the embedded loop's clock.
@Suite struct LoopSweepTests {
    /// Counts its calls; on its loop only.
    final class Member: SweepMember, @unchecked Sendable {
        var sweepSlot: Int?
        var calls = 0
        var onCall: (() -> Void)?
        func sweptInterval() {
            calls += 1
            onCall?()
        }
    }

    @Test func everyMemberIsCalledOnceAnIntervalUntilItLeaves() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let sweeps = LoopSweeps(every: .seconds(4))
        let (a, b, c) = (Member(), Member(), Member())
        try await loop.executeInContext {
            for member in [a, b, c] { sweeps.join(member, on: loop) }
            sweeps.join(a, on: loop)  // twice: still once
        }
        await loop.advanceTime(by: .milliseconds(3999))
        try await loop.executeInContext { #expect([a, b, c].map(\.calls) == [0, 0, 0], "called before an interval") }
        await loop.advanceTime(by: .milliseconds(1))
        try await loop.executeInContext { #expect([a, b, c].map(\.calls) == [1, 1, 1]) }
        try await loop.executeInContext { sweeps.leave(a, on: loop) }
        await loop.advanceTime(by: .seconds(8))
        try await loop.executeInContext {
            #expect([a, b, c].map(\.calls) == [1, 3, 3], "the one that left is not called; the others every interval")
            #expect(a.sweepSlot == nil)
            sweeps.leave(a, on: loop)  // again: nothing
            sweeps.leave(b, on: loop)
        }
        await loop.advanceTime(by: .seconds(4))
        try await loop.executeInContext { #expect([a, b, c].map(\.calls) == [1, 3, 4], "the last one still swept after others left") }
        try await loop.executeInContext { sweeps.leave(c, on: loop) }
        await loop.advanceTime(by: .seconds(40))
        try await loop.executeInContext { #expect([a, b, c].map(\.calls) == [1, 3, 4]) }
        try await loop.close()
    }

    /// A member that joins a running sweep is called first between three and four ticks (a tick
    /// is a quarter of an interval) after it joined, then every interval; one that another member's call
    /// makes leave (a WebSocket's ping closing another connection, say) is not called after.
    @Test func aLateMemberIsCalledWithinAnIntervalAndOneThatLeavesDuringASweepIsNot() async throws {
        let loop = NIOAsyncTestingEventLoop()
        let sweeps = LoopSweeps(every: .seconds(4))
        let (first, late, leaver, closer) = (Member(), Member(), Member(), Member())
        try await loop.executeInContext {
            sweeps.join(first, on: loop)
            sweeps.join(closer, on: loop)
            sweeps.join(leaver, on: loop)
            closer.onCall = { sweeps.leave(leaver, on: loop) }
        }
        await loop.advanceTime(by: .milliseconds(1500))
        try await loop.executeInContext { sweeps.join(late, on: loop) }
        await loop.advanceTime(by: .milliseconds(2500))  // 4 s: the first interval; the late one has seen three ticks
        try await loop.executeInContext {
            #expect(first.calls == 1 && closer.calls == 1 && late.calls == 0)
            #expect(leaver.calls == 0 && leaver.sweepSlot == nil, "called after the closer's call made it leave")
        }
        await loop.advanceTime(by: .seconds(1))  // 5 s: the late one's fourth tick, 3.5 s after it joined
        try await loop.executeInContext { #expect(late.calls == 1 && first.calls == 1) }
        await loop.advanceTime(by: .seconds(3))  // 8 s
        try await loop.executeInContext { #expect(late.calls == 1 && first.calls == 2 && leaver.calls == 0) }
        await loop.advanceTime(by: .seconds(1))  // 9 s
        try await loop.executeInContext { #expect(late.calls == 2) }
        try await loop.close()
    }
}
