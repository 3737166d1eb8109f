import Foundation

/// CPU time and resident memory of a process, read from /proc.
public struct ProcessUsage: Sendable, Hashable, Codable {
    /// User plus system CPU time, in seconds.
    public var cpuSeconds: Double
    /// Resident set size, in bytes.
    public var residentBytes: Int

    /// Reads `/proc/PID/stat` (fields 14 and 15: utime and stime, in clock ticks) and
    /// `/proc/PID/statm` (field 2: resident pages).
    public static func of(pid: Int32) -> ProcessUsage? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let statm = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after the command name, which may contain spaces: state is field 3.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]),
              let pages = statm.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return nil }
        return ProcessUsage(cpuSeconds: (user + system) / ticks, residentBytes: pages * Int(sysconf(Int32(_SC_PAGESIZE))))
    }
}

/// A child process the benchmark starts: `ply serve`, or the raw TCP floor. It prints
/// `... listening on http://HOST:PORT` on its standard output once it accepts connections.
public final class ChildProcess: Sendable {
    public let pid: Int32
    public let port: Int
    private let process: Process

    private init(process: Process, port: Int) {
        self.process = process
        pid = process.processIdentifier
        self.port = port
    }

    /// The path of the running ply binary, to start children of the same build.
    public static var currentExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// Starts `executable arguments...` and waits (up to 30 s) for its listening line.
    public static func start(_ executable: String, _ arguments: [String], log: URL? = nil) async throws -> ChildProcess {
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
        try process.run()
        let reader = output.fileHandleForReading
        // Reading blocks, so it runs on a dispatch thread rather than one of Swift's few cooperative ones.
        let port: Int? = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var seen = ""
                while true {
                    let chunk = reader.availableData
                    if chunk.isEmpty { return continuation.resume(returning: nil) }
                    seen += String(decoding: chunk, as: UTF8.self)
                    if let line = seen.split(separator: "\n").first(where: { $0.contains("listening on") }),
                       let port = line.split(separator: ":").last.flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) {
                        return continuation.resume(returning: port)
                    }
                }
            }
        }
        guard let port else {
            process.terminate()
            throw BenchError.childFailed("\(executable) \(arguments.joined(separator: " ")) exited before it listened")
        }
        return ChildProcess(process: process, port: port)
    }

    public var usage: ProcessUsage? { ProcessUsage.of(pid: pid) }

    /// Sends a signal (SIGKILL to simulate a crash) and waits up to 10 s for the process to exit.
    public func kill(_ signal: Int32) async {
        guard process.isRunning else { return }
        _ = Foundation.kill(pid, signal)
        await waitForExit(within: .seconds(10))
    }

    private func waitForExit(within limit: Duration) async {
        let deadline = ContinuousClock.now + limit
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited within `grace`.
    public func stop(grace: Duration = .seconds(10)) async {
        guard process.isRunning else { return }
        process.terminate()
        await waitForExit(within: grace)
        if process.isRunning { _ = Foundation.kill(pid, SIGKILL) }
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
