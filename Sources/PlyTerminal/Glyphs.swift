import Foundation
import PlyEngine

/// The characters the screen draws with: Unicode where the terminal's locale is UTF-8, ASCII
/// otherwise. Colour is a separate choice (`NO_COLOR`), so pieces differ by shape too.
public struct Glyphs: Sendable, Hashable {
    public var pieces: [String]
    public var empty: String
    public var legal: String
    /// A ship's square, and a hit on one (Battleship).
    public var ship: String
    public var hit: String
    public var cursorMark: String
    public var frame: Frame
    public var up: String
    public var down: String
    public var sent: String
    public var received: String
    public var separator: String
    /// A sparkline's levels, lowest first.
    public var sparks: [Character]

    public static let unicode = Glyphs(
        pieces: ["●", "○"], empty: "·", legal: "+", ship: "■", hit: "✕", cursorMark: "▼",
        frame: Frame(horizontal: "─", vertical: "│", topLeft: "┌", topRight: "┐", bottomLeft: "└", bottomRight: "┘"), up: "↑", down: "↓", sent: "→", received: "←", separator: " · ",
        sparks: Array("▁▂▃▄▅▆▇█")
    )

    public static let ascii = Glyphs(
        pieces: ["X", "O"], empty: ".", legal: "+", ship: "S", hit: "X", cursorMark: "v",
        frame: Frame(horizontal: "-", vertical: "|", topLeft: "+", topRight: "+", bottomLeft: "+", bottomRight: "+"), up: "up ", down: "down ", sent: ">", received: "<", separator: " | ",
        sparks: Array("_.-=+*#@")
    )

    /// Unicode when the locale says UTF-8 (`LC_ALL`, then `LC_CTYPE`, then `LANG`).
    public static func forEnvironment(_ environment: [String: String]) -> Glyphs {
        let locale = [environment["LC_ALL"], environment["LC_CTYPE"], environment["LANG"]]
            .compactMap { $0 }.first { !$0.isEmpty } ?? ""
        let utf8 = locale.lowercased().replacingOccurrences(of: "-", with: "").contains("utf8")
        return utf8 ? .unicode : .ascii
    }

    public func piece(_ seat: Seat) -> String { pieces[seat.rawValue] }

    /// A grid's mark: pieces as pieces; ships, misses, hits and sunk ships by shape.
    public func mark(_ mark: Mark) -> String {
        switch mark {
        case .empty: empty
        case .piece(let seat): piece(seat)
        case .ship: ship
        case .miss: "~"
        case .hit: hit
        case .sunk: "#"
        }
    }

    /// The box-drawing characters of the board's frame.
    public struct Frame: Sendable, Hashable {
        public var horizontal, vertical, topLeft, topRight, bottomLeft, bottomRight: String
    }
}
