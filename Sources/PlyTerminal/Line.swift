/// What a piece of text on the screen means; the screen maps roles to colours and attributes.
public enum Style: Sendable, Hashable {
    case plain
    case title
    case dim
    /// A seat's piece.
    case piece(seat: Int)
    /// The board's frame and labels.
    case frame
    /// The cell under the cursor, or the cursor's column.
    case cursor
    /// A legal move's marker.
    case legal
    /// The last move played.
    case lastMove(seat: Int)
    /// A piece of the line that won the game.
    case winning(seat: Int)
    case good
    case warning
    /// The status bar.
    case status
}

/// A run of text in one style.
public struct Span: Sendable, Hashable {
    public var text: String
    public var style: Style

    public init(_ text: String, _ style: Style = .plain) {
        self.text = text
        self.style = style
    }
}

/// One screen line: spans side by side, starting at column 0.
public struct Line: Sendable, Hashable, ExpressibleByStringLiteral {
    public var spans: [Span]

    public init(_ spans: [Span] = []) { self.spans = spans }
    public init(_ text: String, _ style: Style = .plain) { spans = [Span(text, style)] }
    public init(stringLiteral text: String) { self.init(text) }

    /// The line as plain text, as a test reads it.
    public var text: String { spans.map(\.text).joined() }

    /// Its width in terminal columns (every glyph ply draws is one column wide).
    public var width: Int { spans.reduce(0) { $0 + $1.text.count } }

    public static func + (a: Line, b: Line) -> Line { Line(a.spans + b.spans) }

    /// The line cut to `width` columns.
    public func clipped(to width: Int) -> Line {
        var remaining = width
        var clipped: [Span] = []
        for span in spans where remaining > 0 {
            let text = String(span.text.prefix(remaining))
            remaining -= text.count
            clipped.append(Span(text, span.style))
        }
        return Line(clipped)
    }

    /// The line padded with spaces (in `style`) to `width` columns.
    public func padded(to width: Int, _ style: Style = .plain) -> Line {
        self.width >= width ? self : self + Line(String(repeating: " ", count: width - self.width), style)
    }
}
