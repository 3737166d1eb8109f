import CNcurses

/// The terminal, through ncurses: the only code in ply that calls it, always on the main
/// actor. It starts and restores the terminal, reads keys without waiting, and draws lines.
@MainActor
final class Screen {
    private let colour: Bool
    private var started = false

    init(colour: Bool) {
        self.colour = colour
    }

    func start() {
        setlocale(LC_ALL, "")
        initscr()
        cbreak()
        noecho()
        keypad(ply_stdscr(), true)
        nodelay(ply_stdscr(), true)
        curs_set(0)
        set_escdelay(25)
        if colour, has_colors() {
            start_color()
            use_default_colors()
            init_pair(1, Int16(COLOR_RED), -1)
            init_pair(2, Int16(COLOR_YELLOW), -1)
            init_pair(3, Int16(COLOR_BLUE), -1)
            init_pair(4, Int16(COLOR_GREEN), -1)
            init_pair(5, Int16(COLOR_RED), -1)
        }
        started = true
    }

    /// Gives the terminal back as it was. Safe to call more than once.
    func stop() {
        guard started else { return }
        started = false
        endwin()
    }

    var size: (width: Int, height: Int) { (Int(ply_cols()), Int(ply_lines())) }

    /// The next key pressed, or nil if none is waiting.
    func readKey() -> Key? {
        var character: wint_t = 0
        let result = wget_wch(ply_stdscr(), &character)
        if result == ply_err() { return nil }
        if result == ply_key_code_yes() {
            switch Int32(character) {
            case ply_key_up(): return .up
            case ply_key_down(): return .down
            case ply_key_left(): return .left
            case ply_key_right(): return .right
            case ply_key_enter(): return .enter
            case ply_key_resize(): return .resize
            case ply_key_home(): return .home
            case ply_key_end(): return .end
            default: return nil
            }
        }
        switch character {
        case 10, 13: return .enter
        case 27: return .escape
        default:
            guard let scalar = Unicode.Scalar(UInt32(character)) else { return nil }
            return .character(Character(scalar))
        }
    }

    /// Replaces the screen with these lines; ncurses sends only what changed.
    func draw(_ lines: [Line]) {
        let window = ply_stdscr()
        werase(window)
        let (width, height) = size
        for (y, line) in lines.prefix(height).enumerated() {
            var x = 0
            // Never write the bottom-right cell: that would scroll the screen.
            let line = y == height - 1 ? line.clipped(to: width - 1) : line
            for span in line.spans {
                let attributes = self.attributes(for: span.style)
                ply_attr_on(window, attributes)
                mvwaddstr(window, Int32(y), Int32(x), span.text)
                ply_attr_off(window, attributes)
                x += span.text.count
            }
        }
        wrefresh(window)
    }

    private func attributes(for style: Style) -> attr_t {
        let coloured = colour && has_colors()
        func pair(_ number: Int16) -> attr_t { coloured ? ply_color_pair(number) : 0 }
        switch style {
        case .plain: return 0
        case .title: return ply_a_bold()
        case .dim: return ply_a_dim()
        case .piece(let seat): return pair(seat == 0 ? 1 : 2) | ply_a_bold()
        case .lastMove(let seat), .winning(let seat): return pair(seat == 0 ? 1 : 2) | ply_a_bold() | ply_a_reverse()
        case .frame: return pair(3)
        case .cursor, .status: return ply_a_reverse()
        case .legal: return pair(4) | ply_a_bold()
        case .good: return pair(4)
        case .warning: return pair(5) | ply_a_bold()
        }
    }
}
