import PlyWire
import Foundation

/// SVG charts of a run: latency percentile curves per level (one line per transport, on
/// HdrHistogram's "log of the tail" axis), bytes per move by transport, and a soak over time.
struct Charts {
    let results: BenchResults

    /// The raw TCP floor grey, each transport a colour of its own (in the order of
    /// `Transport.allCases`) and its floor a lighter shade of it.
    static let colours: [BenchTransport: String] = {
        var colours: [BenchTransport: String] = [.floor: "#888888"]
        let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
        let lighter = ["#9ecae1", "#f4a6a6", "#98df8a", "#c5b0d5", "#ffbb78"]
        for (index, transport) in Transport.allCases.enumerated() {
            colours[.ply(transport)] = palette[index % palette.count]
            colours[.floorOf(transport)] = lighter[index % lighter.count]
        }
        colours[.auto] = palette[Transport.allCases.count % palette.count]
        return colours
    }()

    /// The levels drawn: with several rounds, the first (the tables give every round).
    private var levels: [LevelResult] { results.levels.filter { ($0.round ?? 1) == 1 } }

    var all: [(String, String)] {
        var charts = Set(levels.map(\.matches)).sorted().map { ("latency-\($0).svg", latency(matches: $0)) }
        if !levels.isEmpty { charts.append(("bytes-per-move.svg", bytesPerMove())) }
        if levels.contains(where: { $0.serverMicrosPerMove != nil }) { charts.append(("cpu-per-move.svg", cpuPerMove())) }
        if let soak = results.soak { charts.append(("soak.svg", self.soak(soak))) }
        if let storm = results.storm { charts.append(("storm.svg", self.storm(storm))) }
        return charts
    }

    private static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
    }

    /// Percentile p maps to -log10(1 - p/100): 90% at 1, 99% at 2, 99.9% at 3; 100% sits at 5.
    private static func tail(_ percentile: Double) -> Double {
        percentile >= 100 ? 5 : min(5, -log10(1 - percentile / 100))
    }

    func latency(matches: Int) -> String {
        let levels = levels.filter { $0.matches == matches && !$0.latency.curve.isEmpty }
        let width = 720.0, height = 420.0, left = 70.0, right = 170.0, top = 40.0, bottom = 50.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let values = levels.flatMap { $0.latency.curve.map { $0[1] } }.filter { $0 > 0 }
        let low = floor(log10(max(values.min() ?? 10, 1))), high = ceil(log10(max(values.max() ?? 1000, 10)))
        func x(_ percentile: Double) -> Double { left + Self.tail(percentile) / 5 * plotWidth }
        func y(_ micros: Double) -> Double {
            top + plotHeight - (log10(max(micros, 1)) - low) / max(high - low, 1) * plotHeight
        }
        var svg = [
            ##"<svg xmlns="http://www.w3.org/2000/svg" width="\##(Int(width))" height="\##(Int(height))" font-family="sans-serif" font-size="12">"##,
            ##"<rect width="100%" height="100%" fill="white"/>"##,
            ##"<text x="\##(left)" y="22" font-size="15" font-weight="bold">Move latency at \##(matches) concurrent match\##(matches == 1 ? "" : "es")</text>"##,
        ]
        for (label, percentile) in [("0%", 0.0), ("90%", 90), ("99%", 99), ("99.9%", 99.9), ("99.99%", 99.99), ("max", 100)] {
            svg.append(##"<line x1="\##(x(percentile))" y1="\##(top)" x2="\##(x(percentile))" y2="\##(top + plotHeight)" stroke="#dddddd"/>"##)
            svg.append(##"<text x="\##(x(percentile))" y="\##(top + plotHeight + 18)" text-anchor="middle">\##(label)</text>"##)
        }
        for exponent in Int(low)...Int(high) {
            let micros = pow(10, Double(exponent))
            let label = micros >= 1000 ? "\(Int(micros / 1000)) ms" : micros >= 1 ? "\(Int(micros)) µs" : ""
            svg.append(##"<line x1="\##(left)" y1="\##(y(micros))" x2="\##(left + plotWidth)" y2="\##(y(micros))" stroke="#dddddd"/>"##)
            svg.append(##"<text x="\##(left - 8)" y="\##(y(micros) + 4)" text-anchor="end">\##(label)</text>"##)
        }
        svg.append(##"<text x="\##(left + plotWidth / 2)" y="\##(height - 8)" text-anchor="middle">percentile</text>"##)
        for (index, level) in levels.enumerated() {
            let colour = Self.colours[level.transport] ?? "black"
            let dash = level.store == .memory ? ##" stroke-dasharray="6,4""## : ""
            let points = level.latency.curve.map { String(format: "%.1f,%.1f", x($0[0]), y($0[1])) }.joined(separator: " ")
            svg.append(##"<polyline fill="none" stroke="\##(colour)" stroke-width="2"\##(dash) points="\##(points)"/>"##)
            let legendY = top + 20 + Double(index) * 22
            svg.append(##"<line x1="\##(width - right + 15)" y1="\##(legendY)" x2="\##(width - right + 40)" y2="\##(legendY)" stroke="\##(colour)" stroke-width="3"\##(dash)/>"##)
            svg.append(##"<text x="\##(width - right + 46)" y="\##(legendY + 4)">\##(Self.escape(level.label))</text>"##)
        }
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }

    /// Bytes per move up and down, overhead and payload, for each transport at the busiest level
    /// where both transports ran.
    func bytesPerMove() -> String {
        let candidates = levels.filter { $0.bytesUpPerMove != nil && $0.moves > 0 }
        let matches = candidates.map(\.matches).max() ?? 0
        let levels = candidates.filter { $0.matches == matches && $0.store != .memory }
        let width = 720.0, height = 360.0, left = 70.0, top = 50.0, bottom = 60.0
        let plotHeight = height - top - bottom
        let largest = levels.flatMap { [$0.bytesUpPerMove ?? 0, $0.bytesDownPerMove ?? 0] }.max() ?? 1
        let scale = plotHeight / (ceil(largest / 100) * 100)
        var svg = [
            ##"<svg xmlns="http://www.w3.org/2000/svg" width="\##(Int(width))" height="\##(Int(height))" font-family="sans-serif" font-size="12">"##,
            ##"<rect width="100%" height="100%" fill="white"/>"##,
            ##"<text x="\##(left)" y="22" font-size="15" font-weight="bold">Bytes on the wire per move (\##(matches) matches)</text>"##,
            ##"<text x="\##(left)" y="40" fill="#555555">dark: overhead (HTTP lines and headers, WebSocket framing); light: JSON payload</text>"##,
        ]
        var x = left + 20
        for level in levels {
            let colour = Self.colours[level.transport] ?? "black"
            for (label, total, overhead) in [("up", level.bytesUpPerMove ?? 0, level.overheadUpPerMove ?? 0),
                                             ("down", level.bytesDownPerMove ?? 0, level.overheadDownPerMove ?? 0)] {
                let base = top + plotHeight
                svg.append(##"<rect x="\##(x)" y="\##(base - overhead * scale)" width="50" height="\##(overhead * scale)" fill="\##(colour)"/>"##)
                svg.append(##"<rect x="\##(x)" y="\##(base - total * scale)" width="50" height="\##((total - overhead) * scale)" fill="\##(colour)" fill-opacity="0.35"/>"##)
                svg.append(##"<text x="\##(x + 25)" y="\##(base - total * scale - 6)" text-anchor="middle">\##(Int(total.rounded()))</text>"##)
                svg.append(##"<text x="\##(x + 25)" y="\##(base + 16)" text-anchor="middle">\##(label)</text>"##)
                x += 60
            }
            svg.append(##"<text x="\##(x - 65)" y="\##(top + plotHeight + 36)" text-anchor="middle">\##(Self.escape(level.transport.description))</text>"##)
            x += 60
        }
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }
}

extension Charts {
    /// CPU per move at the busiest level, uncompressed: for each floor and each ply level, the
    /// server's (solid) beside the load generator's (outlined), so that what each transport
    /// costs, what ply adds to it and what measuring it cost read off one axis.
    func cpuPerMove() -> String {
        let candidates = levels.filter { $0.serverMicrosPerMove != nil && $0.compressed != true }
        let matches = candidates.map(\.matches).max() ?? 0
        let levels = candidates.filter { $0.matches == matches }
        let width = max(720.0, 90 + Double(levels.count) * 72), height = 420.0, left = 70.0, top = 50.0, bottom = 130.0
        let plotHeight = height - top - bottom
        let high = Self.niceCeiling(max(levels.flatMap { [$0.serverMicrosPerMove ?? 0, $0.loadMicrosPerMove ?? 0] }.max() ?? 1, 1))
        func y(_ micros: Double) -> Double { top + plotHeight - micros / high * plotHeight }
        var svg = [
            ##"<svg xmlns="http://www.w3.org/2000/svg" width="\##(Int(width))" height="\##(Int(height))" font-family="sans-serif" font-size="12">"##,
            ##"<rect width="100%" height="100%" fill="white"/>"##,
            ##"<text x="\##(left)" y="22" font-size="15" font-weight="bold">CPU per move, µs (\##(matches) matches)</text>"##,
            ##"<text x="\##(left)" y="40" fill="#555555">solid: the server (or floor); outlined: the load generator driving it</text>"##,
        ]
        for step in 0...5 {
            let value = high * Double(step) / 5
            svg.append(##"<line x1="\##(left)" y1="\##(y(value))" x2="\##(width - 20)" y2="\##(y(value))" stroke="#dddddd"/>"##)
            svg.append(##"<text x="\##(left - 8)" y="\##(y(value) + 4)" text-anchor="end">\##(String(format: "%.0f", value))</text>"##)
        }
        var x = left + 12
        for level in levels {
            let colour = Self.colours[level.transport] ?? "black"
            let server = level.serverMicrosPerMove ?? 0
            svg.append(##"<rect x="\##(x)" y="\##(y(server))" width="28" height="\##(y(0) - y(server))" fill="\##(colour)"/>"##)
            svg.append(##"<text x="\##(x + 14)" y="\##(y(server) - 5)" text-anchor="middle" font-size="10">\##(Int(server.rounded()))</text>"##)
            if let load = level.loadMicrosPerMove {
                svg.append(##"<rect x="\##(x + 30)" y="\##(y(load))" width="28" height="\##(y(0) - y(load))" fill="white" stroke="\##(colour)" stroke-width="2"/>"##)
                svg.append(##"<text x="\##(x + 44)" y="\##(y(load) - 5)" text-anchor="middle" font-size="10">\##(Int(load.rounded()))</text>"##)
            }
            let labelX = x + 29, labelY = y(0) + 14
            svg.append(##"<text x="\##(labelX)" y="\##(labelY)" text-anchor="end" transform="rotate(-35 \##(labelX) \##(labelY))">\##(Self.escape(level.label))</text>"##)
            x += 72
        }
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }

    /// The soak over time, three panels sharing the time axis: the server's resident memory
    /// (the warm-up marked), what it held (connections, WebSockets, waiting polls, unfinished
    /// matches), and moves per second.
    func soak(_ soak: SoakResult) -> String {
        let samples = soak.samples
        let width = 760.0, panelHeight = 170.0, left = 70.0, right = 190.0, top = 65.0, gap = 45.0
        let plotWidth = width - left - right
        let height = top + 3 * panelHeight + 2 * gap + 40
        let end = max(samples.last?.seconds ?? 1, 1)
        let minutes = end >= 180
        func x(_ seconds: Double) -> Double { left + seconds / end * plotWidth }
        var svg = [
            ##"<svg xmlns="http://www.w3.org/2000/svg" width="\##(Int(width))" height="\##(Int(height))" font-family="sans-serif" font-size="12">"##,
            ##"<rect width="100%" height="100%" fill="white"/>"##,
            ##"<text x="\##(left)" y="22" font-size="15" font-weight="bold">Soak: \##(soak.plan.matches) bot games at a time, \##(Self.escape(soak.plan.transports.description))</text>"##,
        ]
        let panels: [(String, [(String, String, (SoakSample) -> Double?)])] = [
            ("server resident memory, MiB", [("resident memory", "#1f77b4", { $0.residentBytes.map { Double($0) / 1_048_576 } })]),
            ("held by the server", [("connections", "#444444", { Double($0.connections) }),
                                    ("WebSockets", "#1f77b4", { Double($0.webSockets) }),
                                    ("waiting polls", "#d62728", { Double($0.waitingPolls) }),
                                    ("unfinished matches", "#2ca02c", { Double($0.liveMatches) })]),
            ("moves per second", [("moves/s", "#9467bd", { $0.movesPerSecond })]),
        ]
        for (index, (title, lines)) in panels.enumerated() {
            let panelTop = top + Double(index) * (panelHeight + gap)
            let values = lines.flatMap { line in samples.compactMap(line.2) }
            let high = Self.niceCeiling(max(values.max() ?? 1, 1))
            func y(_ value: Double) -> Double { panelTop + panelHeight - value / high * panelHeight }
            svg += Self.panelAxes(title: title, top: panelTop, height: panelHeight, left: left, width: plotWidth, high: high, ticks: 5,
                                  end: end, x: x) { String(format: "%.0f", minutes ? $0 / 60 : $0) }
            let warmup = soak.plan.warmup / .seconds(1)
            if warmup < end {
                svg.append(##"<line x1="\##(x(warmup))" y1="\##(panelTop)" x2="\##(x(warmup))" y2="\##(panelTop + panelHeight)" stroke="#999999" stroke-dasharray="4,4"/>"##)
            }
            for (number, (label, colour, value)) in lines.enumerated() {
                let points = samples.compactMap { sample in value(sample).map { String(format: "%.1f,%.1f", x(sample.seconds), y($0)) } }
                svg.append(##"<polyline fill="none" stroke="\##(colour)" stroke-width="2" points="\##(points.joined(separator: " "))"/>"##)
                let legendY = panelTop + 12 + Double(number) * 20
                svg.append(##"<line x1="\##(width - right + 15)" y1="\##(legendY)" x2="\##(width - right + 40)" y2="\##(legendY)" stroke="\##(colour)" stroke-width="3"/>"##)
                svg.append(##"<text x="\##(width - right + 46)" y="\##(legendY + 4)">\##(label)</text>"##)
            }
        }
        svg.append(##"<text x="\##(left + plotWidth / 2)" y="\##(height - 8)" text-anchor="middle">\##(minutes ? "minutes" : "seconds") since the bots started (dashed: end of warm-up)</text>"##)
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }

    /// A panel's title, its horizontal grid lines with their values (0 to `high`), and its
    /// time axis's labels (0 to `end` seconds, each placed by `x` and written by `label`).
    static func panelAxes(title: String, top: Double, height: Double, left: Double, width: Double, high: Double, ticks: Int,
                          end: Double, x: (Double) -> Double, label: (Double) -> String) -> [String] {
        func y(_ value: Double) -> Double { top + height - value / high * height }
        var svg = [##"<text x="\##(left)" y="\##(top - 8)" font-weight="bold">\##(title)</text>"##]
        for step in 0...ticks {
            let value = high * Double(step) / Double(ticks)
            svg.append(##"<line x1="\##(left)" y1="\##(y(value))" x2="\##(left + width)" y2="\##(y(value))" stroke="#dddddd"/>"##)
            svg.append(##"<text x="\##(left - 8)" y="\##(y(value) + 4)" text-anchor="end">\##(String(format: value >= 10 ? "%.0f" : "%.1f", value))</text>"##)
        }
        for step in 0...6 {
            let seconds = end * Double(step) / 6
            svg.append(##"<text x="\##(x(seconds))" y="\##(top + height + 16)" text-anchor="middle">\##(label(seconds))</text>"##)
        }
        return svg
    }

    /// 1, 2 or 5 times a power of ten, at or above a value.
    static func niceCeiling(_ value: Double) -> Double {
        let power = pow(10, floor(log10(value)))
        return [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= value } ?? value
    }
}
