/// A rectangular grid of cells, each empty or holding a seat's piece, top row first.
/// It is how any game's position is shown, whatever its internal representation.
public struct Board: Hashable, Sendable {
    public let rows: Int
    public let columns: Int
    /// Row-major cells, top row first.
    public private(set) var cells: [Seat?]

    public init(rows: Int, columns: Int, cells: [Seat?]? = nil) {
        precondition(rows > 0 && columns > 0)
        self.rows = rows
        self.columns = columns
        self.cells = cells ?? Array(repeating: nil, count: rows * columns)
        precondition(self.cells.count == rows * columns)
    }

    public subscript(row: Int, column: Int) -> Seat? {
        get { cells[row * columns + column] }
        set { cells[row * columns + column] = newValue }
    }

    /// The number of pieces each seat has on the board.
    public func count(of seat: Seat) -> Int { cells.lazy.filter { $0 == seat }.count }

    /// Rows as text: `.` empty, `x` the first seat, `o` the second.
    public var textRows: [String] {
        (0..<rows).map { row in
            String((0..<columns).map { column in
                switch self[row, column] {
                case .none: "."
                case .first: "x"
                case .second: "o"
                }
            })
        }
    }

    /// The inverse of `textRows`; nil when the text is not a board of this shape.
    public init?(textRows: [String]) {
        guard let columns = textRows.first?.count, columns > 0 else { return nil }
        var cells: [Seat?] = []
        cells.reserveCapacity(columns * textRows.count)
        for row in textRows {
            guard row.count == columns else { return nil }
            for character in row {
                switch character {
                case ".": cells.append(nil)
                case "x": cells.append(.first)
                case "o": cells.append(.second)
                default: return nil
                }
            }
        }
        self.init(rows: textRows.count, columns: columns, cells: cells)
    }
}
