import Foundation
import PlyBench
import Testing

/// Runs a program and returns what it printed; throws if it fails. The output goes to a file
/// (a tmux server started by the command would hold a pipe open forever), and the child is
/// reaped with `waitpid` directly.
@discardableResult
func run(_ arguments: [String]) throws -> String {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("ply-run-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: file) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, file, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    let argv = (["/usr/bin/env"] + arguments).map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    guard posix_spawn(&pid, "/usr/bin/env", &actions, nil, argv, environ) == 0 else {
        throw CommandFailure(command: arguments.joined(separator: " "), output: "could not start")
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
    let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? ""
    guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
        throw CommandFailure(command: arguments.joined(separator: " "), output: text)
    }
    return text
}

struct CommandFailure: Error, CustomStringConvertible {
    let command: String
    let output: String
    var description: String { "\(command) failed: \(output)" }
}

let tmuxAvailable = (try? run(["tmux", "-V"])) != nil

/// tmux on a server of its own, so the tests never touch a person's sessions. It waits for the
/// command on a dispatch thread: blocking in `waitpid` on one of Swift's few cooperative threads
/// would stall every other test in the process.
///
/// The tests share that server, and tmux ends a server when its last session ends: a session
/// started by one test just as another test's last session ends reaches a server on its way
/// out and fails with "server exited unexpectedly" (or "lost server"). Nothing was started
/// then, so starting it again, on the next server, is safe; only `new-session` can meet this.
@discardableResult
func tmux(_ arguments: [String]) async throws -> String {
    var attempt = 0
    while true {
        do {
            return try await background(["tmux", "-L", "ply-tests"] + arguments)
        } catch let failure as CommandFailure where arguments.first == "new-session" && attempt < 5
            && tmuxServerWasEnding(failure.output) {
            attempt += 1
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

/// Whether tmux failed because the server it reached was exiting (see `tmux(_:)`).
func tmuxServerWasEnding(_ output: String) -> Bool {
    output.contains("server exited unexpectedly") || output.contains("lost server")
}

/// `ply play` as a person uses it: in a terminal (tmux), typing keys, reading the screen.
@Suite(.enabled(if: tmuxAvailable, "needs tmux"), .timeLimit(.minutes(2)))
struct TmuxTests {
    /// The `ply` binary that `swift test` built next to this test bundle.
    static let ply = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("ply").path

    /// Starts `ply ARGUMENTS` in a new tmux session of this size; the shell then prints
    /// `PLY-EXIT=status` and waits, so the last screen can be read.
    static func play(_ session: String, _ arguments: String, width: Int = 100, height: Int = 30) async throws {
        try await tmux(["new-session", "-d", "-s", session, "-x", "\(width)", "-y", "\(height)",
                        "env LANG=C.UTF-8 \(ply) \(arguments); echo PLY-EXIT=$?; sleep 30"])
    }

    static func kill(_ session: String) {
        _ = try? run(["tmux", "-L", "ply-tests", "kill-session", "-t", session])
    }

    /// The screen of a pane as text.
    static func capture(_ target: String) async throws -> String { try await tmux(["capture-pane", "-p", "-t", target]) }

    /// Reads the pane every 50 ms until `done` holds or `seconds` pass; returns the last screen.
    static func waitFor(_ target: String, seconds: Double = 5, until done: (String) -> Bool) async throws -> String {
        var screen = try await capture(target)
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while !done(screen), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
            screen = try await capture(target)
        }
        return screen
    }

    static func statusBar(_ screen: String) -> String {
        String(screen.split(separator: "\n").last { !$0.trimmingCharacters(in: .whitespaces).isEmpty } ?? "")
    }

    static let endings = ["You won", "You lost", "Draw ("]

    /// Plays Connect Four in the pane to the end of the game: on its turn, drops into the next
    /// column along (a full column is refused, and it goes on); `beforeMove` sees the column
    /// about to be played and the screen. Returns the last screen and the moves made.
    static func playToTheEnd(_ target: String, beforeMove: (Int, String) async throws -> Void = { _, _ in }) async throws -> (String, Int) {
        var screen = ""
        var column = 0
        var moves = 0
        for _ in 0..<600 {
            try await Task.sleep(for: .milliseconds(50))
            screen = try await capture(target)
            if endings.contains(where: screen.contains) { break }
            if screen.contains("Your turn") {
                column = column % 7 + 1
                try await beforeMove(column, screen)
                moves += 1
                try await tmux(["send-keys", "-t", target, "\(column)"])
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        return (screen, moves)
    }

    /// Presses `q` (or the given key) and returns the screen once the shell has printed ply's exit status.
    static func quit(_ target: String, key: String = "q") async throws -> String {
        try await tmux(["send-keys", "-t", target, key])
        return try await waitFor(target) { $0.contains("PLY-EXIT=") }
    }

    @Test(arguments: ["ws", "sse", "longpoll"])
    func aWholeGameAgainstTheEmbeddedBot(transport: String) async throws {
        let session = "ply-e2e-\(transport)-\(getpid())"
        try await Self.play(session, "play --transport \(transport) --bot random --bot-think 0-20 --seed 3")
        defer { Self.kill(session) }

        let (screen, moves) = try await Self.playToTheEnd(session)
        #expect(Self.endings.contains(where: screen.contains), "\(screen)")
        #expect(screen.contains("n: new game | q: quit") || screen.contains("n: new game · q: quit"))
        #expect(screen.contains("┌─────────────────────┐"))
        #expect(screen.contains("(you) vs ○ bot") || screen.contains("● bot vs ○"))
        let status = Self.statusBar(screen)
        #expect(status.contains(["ws": "WebSocket", "sse": "Server-Sent Events", "longpoll": "long-polling"][transport] ?? transport), "\(status)")
        #expect(status.contains("connected"))
        if transport != "ws" { #expect(!status.contains(" 0 HTTP requests") && !status.contains(" 0 req")) }
        let pieces = screen.filter { $0 == "●" || $0 == "○" }.count
        #expect(pieces >= 7 + 2, "a finished game has at least 7 pieces on the board, plus the two in the title")
        #expect(moves >= 4)

        let last = try await Self.quit(session)
        #expect(last.contains("PLY-EXIT=0"), "q leaves ply with status 0 and the shell's screen back: \(last)")
    }

    @Test func ctrlCRestoresTheTerminal() async throws {
        let session = "ply-e2e-sigint-\(getpid())"
        try await Self.play(session, "play --game reversi", width: 80, height: 24)
        defer { Self.kill(session) }
        let screen = try await Self.waitFor(session) { $0.contains("a  b  c  d  e  f  g  h") }
        #expect(screen.contains("Reversi"))
        let last = try await Self.quit(session, key: "C-c")
        #expect(last.contains("PLY-EXIT=130"))
        #expect(!last.contains("a  b  c  d"), "the game's screen is gone: the terminal is restored")
    }

    /// `t` in the middle of a game against the embedded bot: the status bar says long-polling,
    /// HTTP requests start counting, and the game goes on to its end with no event lost or
    /// repeated (a repeated or missing event would show as "does not add up").
    @Test func switchingTransportsMidGame() async throws {
        let session = "ply-e2e-switch-\(getpid())"
        try await Self.play(session, "play --transport ws --bot random --bot-think 0-20 --seed 5")
        defer { Self.kill(session) }
        var switched = 0
        // `t` walks the cycle WebSocket -> Server-Sent Events -> long-polling -> WebSocket: once
        // before the second move, the fourth and the sixth.
        let targets = ["Server-Sent Events", "long-polling", "WebSocket"]
        let (screen, _) = try await Self.playToTheEnd(session) { column, _ in
            guard switched < targets.count, column == 2 + 2 * switched else { return }
            let target = targets[switched]
            switched += 1
            try await tmux(["send-keys", "-t", session, "t"])
            let shown = try await Self.waitFor(session) { $0.contains("Now on \(target)") }
            #expect(shown.contains("Now on \(target)"), "\(shown)")
            let short = ["Server-Sent Events": "SSE"][target] ?? target
            #expect(Self.statusBar(shown).contains(target) || Self.statusBar(shown).contains(short), "\(Self.statusBar(shown))")
        }
        #expect(switched >= 2, "the game ended before two switches")
        #expect(Self.endings.contains(where: screen.contains), "\(screen)")
        #expect(!screen.contains("does not add up"))
        #expect(!Self.statusBar(screen).contains(" 0 HTTP requests"), "long-polling made requests: \(Self.statusBar(screen))")
        let last = try await Self.quit(session)
        #expect(last.contains("PLY-EXIT=0"), "\(last)")
    }

    /// `--rtt 200ms` puts a slow network between the player and the embedded server: the
    /// status bar's round trip shows it, on either transport.
    @Test(arguments: ["ws", "sse", "longpoll"])
    func aSimulatedNetworkIsFeltInTheRoundTrip(transport: String) async throws {
        let session = "ply-e2e-rtt-\(transport)-\(getpid())"
        try await Self.play(session, "play --transport \(transport) --rtt 200ms --bot random --bot-think 0-20", width: 120, height: 30)
        defer { Self.kill(session) }
        var screen = try await Self.waitFor(session, seconds: 10) { $0.contains("Your turn") }
        try await tmux(["send-keys", "-t", session, "4"])
        screen = try await Self.waitFor(session, seconds: 10) { !Self.statusBar($0).contains("rtt -") }
        let status = Self.statusBar(screen)
        let roundTrip = status.firstRange(of: "rtt ").flatMap { Double(status[$0.upperBound...].prefix { $0.isNumber || $0 == "." }) }
        #expect((roundTrip ?? 0) >= 200, "\(status)")
        let last = try await Self.quit(session)
        #expect(last.contains("PLY-EXIT=0"), "\(last)")
    }

    /// `--middlebox` puts a hostile proxy between the player and the embedded server: with
    /// `--transport auto` the game is played to the end wherever it settles, and the screen
    /// says where and why (a proxy that cuts each WebSocket soon after it opens, or that strips
    /// the upgrade, sends it to SSE; one that buffers responses leaves WebSocket alone).
    @Test(arguments: [("cut-upgrades=200", "Server-Sent Events", "On SSE: WS"), ("strip-upgrade", "Server-Sent Events", "On SSE: WS"),
                      ("buffer", "WebSocket", nil)])
    func aGameThroughAMiddleboxSettlesAndSaysWhy(middlebox: String, settled: String, note: String?) async throws {
        let session = "ply-e2e-box-\(middlebox.prefix(5))-\(getpid())"
        try await Self.play(session, "play --transport auto --middlebox \(middlebox) --bot random --bot-think 0-20", width: 120, height: 30)
        defer { Self.kill(session) }
        if let note {
            let screen = try await Self.waitFor(session, seconds: 20) { $0.contains(note) }
            #expect(screen.contains(note), "\(screen)")
        }
        let (screen, moves) = try await Self.playToTheEnd(session)
        #expect(Self.endings.contains(where: screen.contains), "\(screen)")
        #expect(moves >= 4)
        let status = Self.statusBar(screen)
        #expect(status.contains(settled) && status.contains("connected"), "\(status)")
        let last = try await Self.quit(session)
        #expect(last.contains("PLY-EXIT=0"), "\(last)")
    }

    /// `ply replay MATCH` in a terminal steps through a stored match; piped, it prints the
    /// transcript.
    @Test func anInteractiveReplay() async throws {
        let session = "ply-e2e-replay-\(getpid())"
        let port = try LoopbackPort.free()
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("ply-replay-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm", ".lock"] { try? FileManager.default.removeItem(atPath: data + suffix) } }
        try await tmux(["new-session", "-d", "-s", session, "-x", "80", "-y", "24",
                        "exec \(Self.ply) serve --data \(data) --port \(port) --log-level error"])
        defer { Self.kill(session) }
        for _ in 0..<200 where !LoopbackPort.isListening(port) { try await Task.sleep(for: .milliseconds(50)) }
        try await background([Self.ply, "bot", "--server", "http://127.0.0.1:\(port)", "--games", "1", "--strategy", "random", "--opponent", "random"])
        let serverPID = try await tmux(["display-message", "-p", "-t", "\(session):0", "#{pane_pid}"]).trimmingCharacters(in: .whitespacesAndNewlines)
        _ = try run(["kill", "-TERM", serverPID])
        for _ in 0..<200 where LoopbackPort.isListening(port) { try await Task.sleep(for: .milliseconds(50)) }
        try await Task.sleep(for: .milliseconds(300))
        let id = try await background([Self.ply, "replay", "--data", data]).split(separator: "\n").first.map(String.init) ?? ""
        #expect(id.count == 10, "\(id)")
        let transcript = try await background([Self.ply, "replay", id, "--data", data])
        #expect(transcript.contains("Result:"), "piped, the transcript: \(transcript)")

        let viewer = "ply-e2e-replay-view-\(getpid())"
        try await Self.play(viewer, "replay \(id) --data \(data)", width: 80, height: 24)
        defer { Self.kill(viewer) }
        var screen = try await Self.waitFor(viewer) { $0.contains("Version") }
        let total = screen.firstRange(of: "Version ").flatMap { range in Int(screen[range.upperBound...].prefix { $0.isNumber }) } ?? 0
        #expect(total > 10, "it opens on the last version: \(screen)")
        #expect(screen.contains("won (") || screen.contains("a draw ("), "\(screen)")
        try await tmux(["send-keys", "-t", viewer, "Home"])
        screen = try await Self.waitFor(viewer) { $0.contains("Version 1 of \(total):") }
        #expect(screen.contains("Version 1 of \(total): Connect Four created"), "\(screen)")
        try await tmux(["send-keys", "-t", viewer, "Right", "Right", "Right", "Right"])
        screen = try await Self.waitFor(viewer) { $0.contains("Version 5 of") }
        #expect(screen.contains("Version 5 of \(total):") && screen.contains("played"), "\(screen)")
        try await tmux(["send-keys", "-t", viewer, "Left"])
        screen = try await Self.waitFor(viewer) { $0.contains("Version 4 of") }
        #expect(screen.contains("Version 4 of \(total):"), "\(screen)")
        try await tmux(["send-keys", "-t", viewer, "End"])
        screen = try await Self.waitFor(viewer) { $0.contains("Version \(total) of") }
        #expect(screen.contains("Version \(total) of \(total):"), "\(screen)")
        let last = try await Self.quit(viewer)
        #expect(last.contains("PLY-EXIT=0"), "\(last)")
    }

    /// The crash of issue 12, as a person would meet it: two players on a real server, the
    /// server stalls (`kill -STOP`), one plays a move and presses `r` `y`. The client lives on,
    /// says why it waits, shows the move once the server resumes, can resign then, and quits
    /// cleanly.
    @Test func aStalledServerWithAMoveInFlightAndAResignation() async throws {
        let session = "ply-e2e-stall-\(getpid())"
        // A free port can be taken (by another test's outgoing connection) before the server
        // binds it; then the server exits, and another port is tried.
        var port = 0, serverPID = ""
        for _ in 0..<3 {
            port = try LoopbackPort.free()
            Self.kill(session)
            try await tmux(["new-session", "-d", "-s", session, "-x", "100", "-y", "30",
                            "exec \(Self.ply) serve --store memory --port \(port) --log-level error"])
            serverPID = try await tmux(["display-message", "-p", "-t", "\(session):0", "#{pane_pid}"]).trimmingCharacters(in: .whitespacesAndNewlines)
            for _ in 0..<200 where !LoopbackPort.isListening(port) { try await Task.sleep(for: .milliseconds(50)) }
            if LoopbackPort.isListening(port) { break }
        }
        let server = "http://127.0.0.1:\(port)"
        defer { Self.kill(session) }
        defer { _ = try? run(["kill", "-CONT", serverPID]) }
        #expect(LoopbackPort.isListening(port), "the server listens")
        for name in ["ann", "bob"] {
            try await tmux(["new-window", "-t", session, "-n", name,
                            "env LANG=C.UTF-8 \(Self.ply) play --server \(server) --name \(name); echo PLY-EXIT=$?; sleep 30"])
        }
        let ann = "\(session):ann", bob = "\(session):bob"
        func screen(_ target: String) async throws -> String { try await Self.capture(target) }
        func waitFor(_ target: String, _ text: String, seconds: Double = 10) async throws -> String {
            let shown = try await Self.waitFor(target, seconds: seconds) { $0.contains(text) }
            if !shown.contains(text) { Issue.record("waited for \(text) on \(target):\n\(shown)") }
            return shown
        }
        func keys(_ target: String, _ keys: String...) async throws {
            for key in keys {
                try await tmux(["send-keys", "-t", target, key])
                try await Task.sleep(for: .milliseconds(100))
            }
        }

        // ann creates a Connect Four match; bob sees it in his lobby and joins it.
        _ = try await waitFor(ann, "c: create")
        try await keys(ann, "c", "1")
        _ = try await waitFor(ann, "Waiting for an opponent")
        _ = try await waitFor(bob, "c: create")
        try await keys(bob, "r")
        _ = try await waitFor(bob, "waiting")
        try await keys(bob, "Enter")
        _ = try await waitFor(ann, "Your turn")

        // The server stalls; ann plays and then tries to resign while her move is on its way.
        _ = try run(["kill", "-STOP", serverPID])
        try await keys(ann, "4", "r", "y")
        var shown = try await waitFor(ann, "still on its way")
        #expect(!shown.contains("PLY-EXIT"), "\(shown)")
        try await Task.sleep(for: .seconds(1))
        shown = try await screen(ann)
        #expect(!shown.contains("PLY-EXIT"), "the client lives on while the server is stalled: \(shown)")

        // The server resumes: the move arrives, and a resignation now goes through.
        _ = try run(["kill", "-CONT", serverPID])
        _ = try await waitFor(bob, "Your turn")
        _ = try await waitFor(ann, "bob is thinking")
        try await keys(ann, "r", "y")
        shown = try await waitFor(ann, "You lost")
        #expect(shown.contains("resign"), "\(shown)")
        _ = try await waitFor(bob, "You won")

        try await keys(ann, "q")
        shown = try await waitFor(ann, "PLY-EXIT=")
        #expect(shown.contains("PLY-EXIT=0"), "\(shown)")

        // The terminal goes away under bob's finished game (the session killed): his ply ends
        // too, rather than drawing to no terminal for good (as it once did, found alive hours
        // after the tests).
        let bobPID = try await tmux(["display-message", "-p", "-t", bob, "#{pane_pid}"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let plyPID = ((try? run(["pgrep", "-P", bobPID])) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        try #require(Int(plyPID) != nil, "bob's ply runs under his pane's shell: '\(plyPID)'")
        Self.kill(session)
        var gone = false
        for _ in 0..<100 where !gone {
            try await Task.sleep(for: .milliseconds(50))
            gone = !FileManager.default.fileExists(atPath: "/proc/\(plyPID)")
                || ((try? String(contentsOfFile: "/proc/\(plyPID)/stat", encoding: .utf8))?.contains(") Z ") ?? true)
        }
        #expect(gone, "bob's ply (\(plyPID)) still runs with its terminal gone")
        if !gone { _ = try? run(["kill", "-9", plyPID]) }
    }
}

/// `run`, on a dispatch thread (see `tmux`).
@discardableResult
func background(_ arguments: [String]) async throws -> String {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try run(arguments) }) }
    }
}

