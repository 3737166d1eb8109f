import NIOCore
import Synchronization

/// What a sweep calls: a connection with something to do once an interval (a WebSocket's
/// ping, an event stream's heartbeat), on its event loop.
protocol SweepMember: AnyObject {
    /// Where the member stands in its loop's sweep; nil when it is in none.
    var sweepSlot: Int? { get set }
    /// An interval has passed since the member joined or was last called.
    func sweptInterval()
}

/// One timer for every connection of a kind, per event loop, in place of a repeating timer of
/// each connection's own: an idle WebSocket's `RepeatedTask` with its scheduled task and
/// futures came to about 450 bytes, as much as its handler, its logger and its receive buffer
/// together. The loop's sweep ticks `ticksPerInterval` times an interval while it has members
/// (none when it has none), and calls each member once it has seen that many ticks since it
/// joined or was last called: every interval, the first time within one tick short of an
/// interval after joining. A member joins and leaves on its event loop.
final class LoopSweeps: Sendable {
    static let ticksPerInterval = 4

    private let interval: TimeAmount
    private let sweeps = Mutex<[ObjectIdentifier: NIOLoopBound<Sweep>]>([:])

    init(every interval: Duration) {
        self.interval = TimeAmount(interval)
    }

    /// Starts calling `member` every interval on `eventLoop`, its own.
    func join(_ member: any SweepMember, on eventLoop: any EventLoop) {
        guard member.sweepSlot == nil else { return }
        sweep(of: eventLoop).join(member)
    }

    /// Stops calling `member`; nothing if it is in no sweep.
    func leave(_ member: any SweepMember, on eventLoop: any EventLoop) {
        guard member.sweepSlot != nil else { return }
        sweep(of: eventLoop).leave(member)
    }

    private func sweep(of eventLoop: any EventLoop) -> Sweep {
        let bound = sweeps.withLock { sweeps in
            if let sweep = sweeps[ObjectIdentifier(eventLoop)] { return sweep }
            let made = NIOLoopBound(Sweep(eventLoop: eventLoop, tick: .nanoseconds(interval.nanoseconds / Int64(Self.ticksPerInterval))), eventLoop: eventLoop)
            sweeps[ObjectIdentifier(eventLoop)] = made
            return made
        }
        return bound.value
    }

    /// One loop's members, each with the ticks it has seen; touched only on that loop.
    private final class Sweep {
        private struct Entry {
            let member: any SweepMember
            var ticks: Int
        }

        private let eventLoop: any EventLoop
        private let tick: TimeAmount
        private var entries: [Entry] = []
        private var task: RepeatedTask?

        init(eventLoop: any EventLoop, tick: TimeAmount) {
            self.eventLoop = eventLoop
            self.tick = tick
        }

        func join(_ member: any SweepMember) {
            member.sweepSlot = entries.count
            entries.append(Entry(member: member, ticks: 0))
            guard task == nil else { return }
            let loopBound = NIOLoopBound(self, eventLoop: eventLoop)
            task = eventLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { _ in loopBound.value.swept() }
        }

        func leave(_ member: any SweepMember) {
            guard let slot = member.sweepSlot, slot < entries.count, entries[slot].member === member else { return }
            member.sweepSlot = nil
            let last = entries.removeLast()
            if slot < entries.count {
                entries[slot] = last
                last.member.sweepSlot = slot
            }
            if entries.isEmpty {
                // Nothing to sweep: no timer until a member joins again (the task held only this
                // sweep, which the loop's table keeps).
                task?.cancel()
                task = nil
            }
        }

        private func swept() {
            var due: [any SweepMember] = []
            for index in entries.indices {
                entries[index].ticks += 1
                if entries[index].ticks >= LoopSweeps.ticksPerInterval {
                    entries[index].ticks = 0
                    due.append(entries[index].member)
                }
            }
            // Called once the entries are counted: a member may leave (close) as it is called.
            for member in due where member.sweepSlot != nil { member.sweptInterval() }
        }
    }
}
