import Foundation
import Synchronization

/// CPU time and resident memory of a process.
public struct ProcessUsage: Sendable, Hashable, Codable {
    /// User plus system CPU time of every thread the process has had, in seconds, at
    /// nanosecond resolution.
    public var cpuSeconds: Double
    /// Resident set size, in bytes.
    public var residentBytes: Int
    /// Open file descriptors (sockets, files, the event loops' own), from `/proc/PID/fd`.
    public var descriptors: Int?

    /// Reads the process's CPU-time clock (`clock_getcpuclockid`, the kernel's own sum over all
    /// its threads, in nanoseconds, not the 10 ms ticks of /proc/PID/stat), `/proc/PID/statm`
    /// (field 2: resident pages) and `/proc/PID/fd`.
    /// (`countingDescriptors` false skips the last: listing the descriptors of a process that
    /// holds ten thousand costs milliseconds.)
    public static func of(pid: Int32, countingDescriptors: Bool = true) -> ProcessUsage? {
        var clock = clockid_t()
        var time = timespec()
        guard clock_getcpuclockid(pid, &clock) == 0, clock_gettime(clock, &time) == 0,
              let statm = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8),
              let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return nil }
        return ProcessUsage(cpuSeconds: Double(time.tv_sec) + Double(time.tv_nsec) / 1e9,
                            residentBytes: pages * Int(sysconf(Int32(_SC_PAGESIZE))),
                            descriptors: countingDescriptors ? (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count : nil)
    }
}

extension ProcessUsage {
    /// The CPU time and resident memory of every process whose command line contains one of
    /// `patterns` (this process aside), summed: a server made of several processes (instances,
    /// a database's backends, a proxy) read as one. Nil when none matches.
    public static func matching(_ patterns: [String]) -> ProcessUsage? {
        let own = getpid()
        var total: ProcessUsage?
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry), pid != own,
                  let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !raw.isEmpty else { continue }
            let command = String(decoding: raw.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            guard patterns.contains(where: { command.contains($0) }), let usage = of(pid: pid) else { continue }
            total = ProcessUsage(cpuSeconds: (total?.cpuSeconds ?? 0) + usage.cpuSeconds,
                                 residentBytes: (total?.residentBytes ?? 0) + usage.residentBytes,
                                 descriptors: (total?.descriptors ?? 0) + (usage.descriptors ?? 0))
        }
        return total
    }
}

/// The whole machine's CPU time, from `/proc/stat`'s first line (clock ticks summed over every
/// CPU): how much of it went idle over a window tells whether the machine, not the server,
/// limited a level.
public struct MachineUsage: Sendable, Hashable {
    /// Ticks of every kind, and those spent idle or waiting for I/O.
    public var total: Int
    public var idle: Int

    public static func now() -> MachineUsage? {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
              let line = stat.split(separator: "\n").first, line.hasPrefix("cpu ") else { return nil }
        let ticks = line.split(separator: " ").dropFirst().compactMap { Int($0) }
        guard ticks.count >= 5 else { return nil }
        // user nice system idle iowait irq softirq steal (guest time is already in user).
        return MachineUsage(total: ticks.prefix(8).reduce(0, +), idle: ticks[3] + ticks[4])
    }

    /// The share of the machine left idle between two readings (nil if no time passed).
    public static func idleShare(from start: MachineUsage, to end: MachineUsage) -> Double? {
        let total = end.total - start.total
        guard total > 0 else { return nil }
        return Double(end.idle - start.idle) / Double(total)
    }
}

/// A child process the benchmark and the tests start: `ply serve`, or the raw TCP floor. It
/// prints `... listening on http://HOST:PORT` on its standard output once it accepts connections.
public final class ChildProcess: Sendable {
    public let pid: Int32
    public let port: Int
    private let process: Process
    private let exit: ExitSignal

    private init(process: Process, port: Int, exit: ExitSignal) {
        self.process = process
        pid = process.processIdentifier
        self.port = port
        self.exit = exit
    }

    /// The path of the running ply binary, to start children of the same build.
    public static var currentExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// Starts `executable arguments...` and waits, up to `timeout`, for its listening line; a
    /// child that has not said it listens by then is killed.
    public static func start(_ executable: String, _ arguments: [String], log: URL? = nil,
                             timeout: Duration = .seconds(30)) async throws -> ChildProcess {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        if let log {
            try FileManager.default.createDirectory(at: log.deletingLastPathComponent(), withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            process.standardError = try FileHandle(forWritingTo: log)
        } else {
            process.standardError = FileHandle.nullDevice
        }
        let exit = ExitSignal()
        process.terminationHandler = { _ in exit.fire() }
        try process.run()
        let reader = output.fileHandleForReading
        let port: Int? = await withCheckedContinuation { continuation in
            let answered = Atomic<Bool>(false)
            let answer = { @Sendable (port: Int?) in
                if !answered.exchange(true, ordering: .relaxed) { continuation.resume(returning: port) }
            }
            // Reading blocks, so it runs on a dispatch thread rather than one of Swift's few cooperative ones.
            DispatchQueue.global().async {
                var seen = ""
                while true {
                    let chunk = reader.availableData
                    if chunk.isEmpty { return answer(nil) }
                    seen += String(decoding: chunk, as: UTF8.self)
                    if let line = seen.split(separator: "\n").first(where: { $0.contains("listening on") }),
                       let port = line.split(separator: ":").last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) {
                        return answer(port)
                    }
                }
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout / .seconds(1)) { answer(nil) }
        }
        guard let port else {
            if process.isRunning { _ = Foundation.kill(process.processIdentifier, SIGKILL) }
            throw BenchError.childFailed("\(executable) \(arguments.joined(separator: " ")) did not listen within \(timeout)")
        }
        return ChildProcess(process: process, port: port, exit: exit)
    }

    public var usage: ProcessUsage? { ProcessUsage.of(pid: pid) }

    public var isRunning: Bool { process.isRunning }

    /// Sends a signal (SIGKILL to simulate a crash) and waits up to 10 s for the process to exit.
    public func kill(_ signal: Int32) async {
        guard process.isRunning else { return }
        _ = Foundation.kill(pid, signal)
        await exit.wait(within: .seconds(10))
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    public func stop(grace: Duration = .seconds(10)) async {
        guard process.isRunning else { return }
        process.terminate()
        if await !exit.wait(within: grace) {
            _ = Foundation.kill(pid, SIGKILL)
            await exit.wait(within: .seconds(5))
        }
    }

    /// Runs a shell command line (bash) to the end, as `run` does, with every descriptor past
    /// the first three closed first: Foundation's Process learns that a child exited when every
    /// copy of a descriptor it hands the child is closed, so a command that leaves something
    /// running in the background (a server started again, a stream's curl) must not keep one,
    /// nor hand on this process's sockets.
    public static func shell(_ command: String, timeout: Duration = .seconds(60)) async throws -> (status: Int32, output: String) {
        let closeInherited = #"for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null; done; "#
        return try await run("/bin/bash", ["-c", closeInherited + command], timeout: timeout)
    }

    /// Runs `executable arguments...` to the end, up to `timeout` (then kills it), and returns
    /// its exit status and everything it printed (standard output and error together). Nothing
    /// blocks a cooperative thread.
    public static func run(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(60)) async throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let exit = ExitSignal()
        process.terminationHandler = { _ in exit.fire() }
        try process.run()
        let reader = pipe.fileHandleForReading
        let output = await withCheckedContinuation { (continuation: CheckedContinuation<Data, Never>) in
            DispatchQueue.global().async { continuation.resume(returning: reader.readDataToEndOfFile()) }
        }
        if await !exit.wait(within: timeout) {
            _ = Foundation.kill(process.processIdentifier, SIGKILL)
            await exit.wait(within: .seconds(5))
            throw BenchError.childFailed("\(executable) \(arguments.joined(separator: " ")) did not finish within \(timeout)")
        }
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}

/// Fires once, when a child process exits; waiting on it never blocks a thread.
final class ExitSignal: Sendable {
    private let state = Mutex<(fired: Bool, waiters: [Int: CheckedContinuation<Bool, Never>], next: Int)>((false, [:], 0))

    func fire() {
        let waiters = state.withLock { state in
            state.fired = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: true) }
    }

    /// True once the process has exited, false if `limit` passed first.
    @discardableResult
    func wait(within limit: Duration) async -> Bool {
        let ticket = state.withLock { state in
            defer { state.next += 1 }
            return state.next
        }
        return await withCheckedContinuation { continuation in
            let fired = state.withLock { state in
                if !state.fired { state.waiters[ticket] = continuation }
                return state.fired
            }
            if fired { return continuation.resume(returning: true) }
            DispatchQueue.global().asyncAfter(deadline: .now() + limit / .seconds(1)) { [self] in
                state.withLock { $0.waiters.removeValue(forKey: ticket) }?.resume(returning: false)
            }
        }
    }
}

public enum BenchError: Error, CustomStringConvertible {
    case childFailed(String)
    case badPlan(String)

    public var description: String {
        switch self {
        case .childFailed(let message), .badPlan(let message): message
        }
    }
}
