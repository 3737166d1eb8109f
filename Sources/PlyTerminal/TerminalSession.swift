import Foundation
import Synchronization

/// Set by SIGINT, SIGTERM and SIGHUP (the terminal went away); a session sees it at its next
/// message or tick and gives the terminal back before it returns.
private let interrupted = Atomic<Bool>(false)

/// The terminal for one run of a full-screen program (a game, a replay): it starts ncurses and
/// gives the terminal back however the run ends, and turns everything that happens into one
/// stream of messages: keys (read when the terminal has some), ticks, and the program's own.
@MainActor
final class TerminalSession<Custom: Sendable> {
    enum Message: Sendable {
        case custom(Custom)
        /// A key pressed (or a resize, which ncurses reports as a key).
        case key(Key)
        /// Time passed (every 200 ms).
        case tick
    }

    private enum Raw: Sendable {
        case custom(Custom)
        case keys
        case tick
    }

    /// Whether a signal ended the last session.
    static var wasInterrupted: Bool { interrupted.load(ordering: .relaxed) }

    private let colour: Bool
    private let raw: AsyncStream<Raw>
    private let continuation: AsyncStream<Raw>.Continuation

    init(colour: Bool) {
        self.colour = colour
        (raw, continuation) = AsyncStream.makeStream(of: Raw.self)
    }

    /// Posts a message of the program's own, from anywhere.
    nonisolated func post(_ message: Custom) {
        continuation.yield(.custom(message))
    }

    /// Draws `lines`, then hands each message to `handle` and draws again, until `handle`
    /// returns false or a signal arrives. The terminal is given back either way.
    func run(lines: (_ width: Int, _ height: Int) -> [Line], handle: (Message) -> Bool) async {
        signal(SIGINT) { _ in interrupted.store(true, ordering: .relaxed) }
        signal(SIGTERM) { _ in interrupted.store(true, ordering: .relaxed) }
        signal(SIGHUP) { _ in interrupted.store(true, ordering: .relaxed) }
        let screen = Screen(colour: colour)
        screen.start()
        defer { screen.stop() }
        let keys = KeyWatcher { [continuation] in continuation.yield(.keys) }
        keys.start()
        defer { keys.stop() }
        let ticker = Task { [continuation] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(200))
                continuation.yield(.tick)
            }
        }
        defer { ticker.cancel() }

        func draw() {
            let (width, height) = screen.size
            screen.draw(lines(width, height))
        }
        /// Every key ncurses has (a resize shows as one when it is next asked), then `extra`.
        func handleKeys(then extra: Message?) -> Bool {
            while let key = screen.readKey() {
                guard handle(.key(key)) else { return false }
            }
            return extra.map(handle) ?? true
        }
        draw()
        loop: for await message in raw {
            let goOn = switch message {
            case .custom(let custom): handle(.custom(custom))
            case .keys: handleKeys(then: nil)
            case .tick: handleKeys(then: .tick)
            }
            if case .keys = message { keys.resume() }
            if !goOn || interrupted.load(ordering: .relaxed) { break loop }
            draw()
        }
    }
}

/// Watches standard input on a thread of its own and says when keys are waiting; it then
/// waits until they have been read (`resume`), so one arrival makes one message. ncurses
/// itself is only ever called on the main actor.
final class KeyWatcher: @unchecked Sendable {
    private let ready: @Sendable () -> Void
    private let read = DispatchSemaphore(value: 0)
    private let stopped = Atomic<Bool>(false)
    private var thread: Thread?

    init(ready: @escaping @Sendable () -> Void) {
        self.ready = ready
    }

    func start() {
        let thread = Thread { [self] in watch() }
        thread.name = "ply-keys"
        self.thread = thread
        thread.start()
    }

    func resume() { read.signal() }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        read.signal()
    }

    private func watch() {
        var descriptor = pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0)
        while !stopped.load(ordering: .relaxed) {
            // A timeout, so that `stop` is seen even when no key comes.
            let result = poll(&descriptor, 1, 100)
            guard result > 0 else { continue }
            if descriptor.revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 {
                // The terminal is gone: nothing more will come. The loop is told as by SIGHUP,
                // which does not always come (a tmux session killed under a finished game
                // left ply drawing to no terminal for good).
                interrupted.store(true, ordering: .relaxed)
                ready()
                return
            }
            ready()
            read.wait()
        }
    }
}
