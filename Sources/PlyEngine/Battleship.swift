/// Battleship: each seat has a 10x10 grid (columns `a`-`j`, rows `1`-`10`, row 1 at the top)
/// and a fleet of five ships, of 5, 4, 3, 3 and 2 squares. Both seats place their fleets
/// secretly, each in one go; then they take turns firing at a square of the other's grid, each
/// shot answered `miss`, `hit` or `sunk` (with the ship's length). The first to sink the whole
/// fleet of the other wins.
///
/// A game of hidden information: the rules work on the whole state (the server's), and on a
/// seat's or a spectator's view of it, in which a fleet it may not see is unknown. Applied to
/// a view, a shot at an unknown fleet takes the result it is told; applied to the whole state,
/// it decides the result.
public struct Battleship: Hashable, Sendable {
    public static let size = 10
    /// The lengths of the ships of a fleet.
    public static let fleetLengths = [5, 4, 3, 3, 2]
    /// Squares a fleet covers: hits that sink it.
    public static let fleetSquares = fleetLengths.reduce(0, +)

    public init() {}

    // MARK: Squares and ships

    /// A square of a grid.
    public struct Square: Hashable, Sendable, Comparable, CustomStringConvertible {
        /// 0 (`a`) to 9 (`j`).
        public let column: Int
        /// 0 (row `1`, the top) to 9 (row `10`).
        public let row: Int

        public init?(column: Int, row: Int) {
            guard (0..<Battleship.size).contains(column), (0..<Battleship.size).contains(row) else { return nil }
            self.column = column
            self.row = row
        }

        /// A square's name: a column letter and a row number (`e5`, `J10`; case and surrounding
        /// spaces do not matter).
        public init(notation text: String) throws(RuleViolation) {
            let trimmed = text.trimmingWhitespace.lowercased()
            guard let letter = trimmed.unicodeScalars.first, ("a"..."z").contains(letter),
                  trimmed.count >= 2, trimmed.dropFirst().allSatisfy({ $0.isASCII && $0.isNumber }),
                  let number = Int(trimmed.dropFirst()) else {
                throw .unreadableMove(text)
            }
            let column = Int(letter.value) - Int(("a" as Unicode.Scalar).value)
            guard let square = Square(column: column, row: number - 1) else { throw .outOfRange(text) }
            self = square
        }

        public var notation: String {
            String(UnicodeScalar(UInt8(ascii: "a") + UInt8(column))) + String(row + 1)
        }

        public var description: String { notation }

        public static func < (a: Square, b: Square) -> Bool { (a.row, a.column) < (b.row, b.column) }

        /// The squares next to this one on the grid: up, left, right and down, and with
        /// `diagonal` the four corners too.
        public func neighbours(diagonal: Bool) -> [Square] {
            let steps = diagonal
                ? [(-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)]
                : [(0, -1), (-1, 0), (1, 0), (0, 1)]
            return steps.compactMap { Square(column: column + $0.0, row: row + $0.1) }
        }

        /// Every square of a grid, row by row.
        public static let all: [Square] = (0..<Battleship.size).flatMap { row in
            (0..<Battleship.size).compactMap { Square(column: $0, row: row) }
        }
    }

    /// A ship: its top or left end, its length, and whether it lies across a row or down a column.
    public struct Ship: Hashable, Sendable, CustomStringConvertible {
        public let start: Square
        public let length: Int
        public let across: Bool

        /// A ship that fits the grid, or nil.
        public init?(start: Square, length: Int, across: Bool) {
            guard length >= 1, (across ? start.column : start.row) + length <= Battleship.size else { return nil }
            self.start = start
            self.length = length
            self.across = across
        }

        /// A ship named by its two end squares, `a1-a5` or `e3-b3` (in either order).
        public init(notation text: String) throws(RuleViolation) {
            let ends = text.split(separator: "-", omittingEmptySubsequences: false)
            guard ends.count == 2 else { throw .unreadableMove(text) }
            // A ship off the grid breaks a placement rule (rule/invalid_fleet, as a shot off
            // the grid is rule/out_of_range).
            let offGrid = RuleViolation.invalidFleet("\(text.trimmingWhitespace) is off the grid: squares go from a1 to j10")
            let a: Square, b: Square
            do {
                a = try Square(notation: String(ends[0]))
                b = try Square(notation: String(ends[1]))
            } catch .outOfRange {
                throw offGrid
            }
            guard a.row == b.row || a.column == b.column else {
                throw .invalidFleet("\(text.trimmingWhitespace) is not straight: a ship lies across a row or down a column")
            }
            let start = min(a, b), end = max(a, b)
            let across = a.row == b.row && a != b
            let length = across ? end.column - start.column + 1 : end.row - start.row + 1
            guard let ship = Ship(start: start, length: length, across: across) else { throw offGrid }
            self = ship
        }

        public var squares: [Square] {
            (0..<length).compactMap { step in
                across ? Square(column: start.column + step, row: start.row) : Square(column: start.column, row: start.row + step)
            }
        }

        public var end: Square { squares.last ?? start }

        /// `a1-a5`: its top or left end first.
        public var notation: String { "\(start.notation)-\(end.notation)" }

        public var description: String { notation }
    }

    public typealias ShotResult = PlyEngine.ShotResult

    public struct Shot: Hashable, Sendable {
        public let square: Square
        public let result: ShotResult

        public init(square: Square, result: ShotResult) {
            self.square = square
            self.result = result
        }
    }

    // MARK: State

    /// The game as the server knows it, or as one seat or a spectator may see it.
    public struct State: Hashable, Sendable {
        /// Each seat's fleet, once placed and when it may be seen; nil otherwise.
        public internal(set) var fleets: [[Ship]?] = [nil, nil]
        /// Whether each seat has placed its fleet (known even where the fleet is not).
        public internal(set) var placed: [Bool] = [false, false]
        /// The shots each seat fired, in order.
        public internal(set) var shots: [[Shot]] = [[], []]

        public init() {}

        public var bothPlaced: Bool { placed.allSatisfy { $0 } }

        /// The seat to fire: seat 0 first, then each in turn.
        public var turn: Seat { shots[0].count > shots[1].count ? .second : .first }

        /// Ships of a seat's fleet sunk so far (known from the shots at it, fleet seen or not).
        public func sunk(of seat: Seat) -> Int {
            shots[seat.opponent.rawValue].lazy.filter { if case .sunk = $0.result { true } else { false } }.count
        }

        /// The seat whose whole fleet is sunk, if one is.
        public var sunkFleet: Seat? {
            Seat.allCases.first { sunk(of: $0) == Battleship.fleetLengths.count }
        }

        /// This state as a seat (or, for nil, a spectator) may see it: the other fleets hidden,
        /// unless the game is over.
        public func view(for viewer: Seat?) -> State {
            guard sunkFleet == nil else { return self }
            var view = self
            for seat in Seat.allCases where seat != viewer { view.fleets[seat.rawValue] = nil }
            return view
        }
    }

    public var initialState: State { State() }

    // MARK: Placing

    /// Checks a fleet: the five ships' lengths, each on the grid, none overlapping or touching
    /// another, not even at a corner.
    public static func check(_ fleet: [Ship]) throws(RuleViolation) {
        guard fleet.map(\.length).sorted(by: >) == fleetLengths else {
            // The lengths sent, said back only while they are few (a message is at most 4 KiB).
            let lengths = fleet.count <= fleetLengths.count * 2
                ? fleet.map { String($0.length) }.joined(separator: ", ") : "\(fleet.count) ships"
            throw .invalidFleet("a fleet is ships of 5, 4, 3, 3 and 2 squares, not \(lengths.isEmpty ? "none" : lengths)")
        }
        for (index, ship) in fleet.enumerated() {
            if let conflict = conflict(placing: ship, beside: fleet[..<index]) { throw conflict }
        }
    }

    /// Why a ship may not join ships already placed (it overlaps or touches one), or nil.
    public static func conflict(placing ship: Ship, beside fleet: some Collection<Ship>) -> RuleViolation? {
        var taken: [Square: Ship] = [:]
        for other in fleet {
            for square in other.squares { taken[square] = other }
        }
        for square in ship.squares {
            if let other = taken[square] { return .invalidFleet("\(ship) and \(other) overlap at \(square)") }
        }
        for square in ship.squares {
            if let other = square.neighbours(diagonal: true).lazy.compactMap({ taken[$0] }).first {
                return .invalidFleet("\(ship) and \(other) touch; ships keep a square apart, even at corners")
            }
        }
        return nil
    }

    /// A fleet in notation, the ships separated by spaces or commas: `a1-a5 c1-c4 e1-e3 g1-g3 i1-i2`.
    public static func fleet(notation text: String) throws(RuleViolation) -> [Ship] {
        var ships: [Ship] = []
        for part in text.split(whereSeparator: { $0 == " " || $0 == "," }) {
            ships.append(try Ship(notation: String(part)))
        }
        try check(ships)
        return ships
    }

    /// A fleet's notation, ships from the longest, then by position.
    public static func notation(_ fleet: [Ship]) -> String {
        fleet.sorted { ($0.length, $1.start) > ($1.length, $0.start) }.map(\.notation).joined(separator: " ")
    }

    /// Places a seat's fleet (checked), once, before any shot.
    public func place(_ fleet: [Ship], by seat: Seat, in state: State) throws(RuleViolation) -> State {
        guard !state.placed[seat.rawValue] else { throw .alreadyPlaced }
        try Self.check(fleet)
        var next = state
        next.fleets[seat.rawValue] = fleet
        next.placed[seat.rawValue] = true
        return next
    }

    /// In a view: the seat placed a fleet this view may not see.
    public func placeUnseen(by seat: Seat, in state: State) throws(RuleViolation) -> State {
        guard !state.placed[seat.rawValue] else { throw .alreadyPlaced }
        var next = state
        next.placed[seat.rawValue] = true
        return next
    }

    /// Shows a seat's fleet where it was unseen (the end of a game reveals both): a legal fleet
    /// that agrees with every shot fired at it.
    public func reveal(_ fleet: [Ship], of seat: Seat, in state: State) throws(RuleViolation) -> State {
        try Self.check(fleet)
        var earlier: [Shot] = []
        for shot in state.shots[seat.opponent.rawValue] {
            guard Self.result(of: shot.square, at: fleet, after: earlier) == shot.result else {
                throw .invalidFleet("\(Self.notation(fleet)) does not agree with the shot at \(shot.square)")
            }
            earlier.append(shot)
        }
        var next = state
        next.fleets[seat.rawValue] = fleet
        next.placed[seat.rawValue] = true
        return next
    }

    /// A fleet drawn at random, every legal fleet possible.
    public static func randomFleet(using random: inout some RandomNumberGenerator) -> [Ship] {
        while true {
            var fleet: [Ship] = []
            var blocked = Set<Square>()
            for length in fleetLengths {
                let choices = Square.all.flatMap { start in
                    [true, false].compactMap { across -> Ship? in
                        guard let ship = Ship(start: start, length: length, across: across),
                              ship.squares.allSatisfy({ !blocked.contains($0) }) else { return nil }
                        return ship
                    }
                }
                guard let ship = choices.randomElement(using: &random) else { break }
                fleet.append(ship)
                for square in ship.squares { blocked.formUnion([square] + square.neighbours(diagonal: true)) }
            }
            if fleet.count == fleetLengths.count { return fleet }
        }
    }

    // MARK: Firing

    /// The squares the seat to fire has not fired at yet; none before both fleets are placed or
    /// once the game is over.
    public func legalShots(_ state: State) -> [Square] {
        guard state.bothPlaced, state.sunkFleet == nil else { return [] }
        let fired = Set(state.shots[state.turn.rawValue].map(\.square))
        return Square.all.filter { !fired.contains($0) }
    }

    /// What a shot by the seat to fire at a square would find, or nil where the target fleet
    /// is unseen (in a view: the result is then what the server says).
    public func result(of square: Square, in state: State) -> ShotResult? {
        let seat = state.turn
        return state.fleets[seat.opponent.rawValue].map { Self.result(of: square, at: $0, after: state.shots[seat.rawValue]) }
    }

    /// Records the seat to fire's shot at a square with its result: once both fleets are placed,
    /// before the game is over, at a square it has not fired at.
    public func fire(at square: Square, result: ShotResult, in state: State) throws(RuleViolation) -> State {
        guard state.bothPlaced else { throw .fleetsNotPlaced }
        guard state.sunkFleet == nil else { throw .gameOver }
        let seat = state.turn
        guard !state.shots[seat.rawValue].contains(where: { $0.square == square }) else { throw .alreadyShot(square.notation) }
        var next = state
        next.shots[seat.rawValue].append(Shot(square: square, result: result))
        return next
    }

    /// The seat to fire fires at a square, the target fleet in the state deciding the result.
    public func fire(at square: Square, in state: State) throws(RuleViolation) -> (State, ShotResult) {
        guard state.bothPlaced else { throw .fleetsNotPlaced }
        guard let result = result(of: square, in: state) else {
            throw .invalidFleet("the fleet at \(square) is unseen here, so the shot cannot be decided")
        }
        return (try fire(at: square, result: result, in: state), result)
    }

    /// The hits of the ship hit at a square, from a grid's hits: ships never touch, so hits
    /// next to each other (not diagonally) are one ship's.
    public static func shipHits(at square: Square, among hits: Set<Square>) -> [Square] {
        var ship: [Square] = [], frontier = [square], seen: Set = [square]
        while let next = frontier.popLast() {
            ship.append(next)
            for near in next.neighbours(diagonal: false) where hits.contains(near) && seen.insert(near).inserted {
                frontier.append(near)
            }
        }
        return ship
    }

    /// What a shot at a fleet finds, given the shots already fired at it.
    static func result(of square: Square, at fleet: [Ship], after shots: [Shot]) -> ShotResult {
        guard let ship = fleet.first(where: { $0.squares.contains(square) }) else { return .miss }
        let hit = Set(shots.filter(\.result.isHit).map(\.square)).union([square])
        return ship.squares.allSatisfy(hit.contains) ? .sunk(length: ship.length) : .hit
    }

    /// Over once a whole fleet is sunk: the other seat wins.
    public func outcome(_ state: State) -> Outcome {
        guard let sunk = state.sunkFleet else { return .ongoing }
        return .over(GameResult(winner: sunk.opponent, reason: .fleetSunk))
    }
}
