import Foundation
import PlyBench
import Testing

/// Options a person could type: a value that is not finite, is negative or too large gets a
/// clear message and exit code 64 (usage), never a trap (`--commands-per-second inf` once died
/// with SIGILL, a Double turned into an Int), and values at the edge of what is allowed work.
@Suite(.timeLimit(.minutes(2)))
struct OptionTests {
    static let refused: [[String]] = [
        ["serve", "--commands-per-second", "inf"],
        ["serve", "--commands-per-second", "nan"],
        ["serve", "--commands-per-second", "1e300"],
        ["serve", "--commands-per-second", "-1"],
        ["serve", "--header-timeout", "inf"],
        ["serve", "--header-timeout", "nan"],
        ["serve", "--keep-alive-timeout", "-1"],
        ["serve", "--keep-alive-timeout", "1e20"],
        ["serve", "--max-fragmented-message-time", "0"],
        ["serve", "--stream-heartbeat", "0"],
        ["serve", "--stream-heartbeat", "nan"],
        ["serve", "--stream-retry", "1e9"],
        ["serve", "--ping-interval", "0"],
        ["serve", "--poll-wait", "61"],
        ["serve", "--idle-timeout", "0.1"],
        ["serve", "--idle-timeout", "inf"],
        ["bot", "--idle-timeout", "nan"],
        ["bench", "--idle-timeout", "0"],
        ["bench", "--middlebox", "idle-cut=0"],
        ["bench", "--middlebox", "strip"],
        ["bench", "--storm-restart", "true"],
        ["play", "--middlebox", "strip"],
        ["play", "--server", "http://127.0.0.1:1", "--middlebox", "buffer"],
        ["bench", "--storm", "10", "--storm-restart", "true"],
        ["bench", "--storm", "10", "--server", "http://127.0.0.1:1"],
        ["serve", "--max-message-bytes", "99999999999999"],
        ["serve", "--max-message-bytes", "0"],
        ["serve", "--creations-per-second", "inf"],
        ["serve", "--client-commands-per-second", "1e19"],
        ["serve", "--port", "70000"],
        ["serve", "--threads", "0"],
        ["serve", "--web-socket-send-buffer", "99999999999"],
        ["serve", "--idle-expiry", "-5"],
        ["serve", "--allow-origin", "page.example"],
        ["serve", "--allow-origin", "http://page.example/path"],
        ["bench", "--duration", "inf"],
        ["bench", "--warmup", "-1"],
        ["bench", "--attack", "nan"],
        ["bench", "--levels", "0"],
        ["bench", "--rounds", "0"],
        ["bench", "--rounds", "101"],
        ["bench", "--soak", "9999999999999999h"],
        ["bench", "--rtt", "99999999999999ms"],
        ["bot", "--think", "1-99999999999999"],
        ["bot", "--games", "0"],
        ["bot", "--depth", "40"],
    ]

    @Test(arguments: refused)
    func anOptionOutOfRangeIsRefusedWithExitCode64(_ arguments: [String]) async throws {
        let (status, output) = try await ChildProcess.run(TmuxTests.ply, arguments, timeout: .seconds(30))
        #expect(status == 64, "\(arguments.joined(separator: " ")): exit \(status): \(output)")
        #expect(output.contains("Error:"), "\(arguments.joined(separator: " ")): \(output)")
    }

    /// The most a limit allows is served: the server starts and answers.
    @Test func limitsAtTheirMostStillServe() async throws {
        let port = try LoopbackPort.free()
        let arguments = ["serve", "--store", "memory", "--port", "\(port)", "--commands-per-second", "1000000000000", "--header-timeout", "3600",
                         "--keep-alive-timeout", "86400", "--max-message-bytes", "16777216", "--creations-per-second", "1000000",
                         "--stream-heartbeat", "3600", "--stream-retry", "3600", "--ping-interval", "3600", "--poll-wait", "60",
                         "--idle-timeout", "0.2"]
        let child = try await ChildProcess.start(TmuxTests.ply, arguments)
        #expect(child.isRunning)
        await child.stop()
    }
}
