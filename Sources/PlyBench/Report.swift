import Foundation

/// Writes a run's results: tables for the terminal and Markdown, a CSV, JSON and SVG charts.
public struct Report: Sendable {
    public let results: BenchResults

    public init(_ results: BenchResults) {
        self.results = results
    }

    // MARK: Formatting

    static func ms(_ micros: Double?) -> String {
        guard let micros else { return "-" }
        return micros < 10_000 ? String(format: "%.3f", micros / 1000) : String(format: "%.1f", micros / 1000)
    }

    static func number(_ value: Double?, _ format: String = "%.0f") -> String {
        value.map { String(format: format, $0) } ?? "-"
    }

    /// The raw TCP floor's p50 at the same level, to read every latency as a multiple of it.
    func floorRatio(_ level: LevelResult) -> String {
        guard level.transport != .floor, let floor = floor(at: level.matches, round: level.round), floor.latency.p50 > 0,
              level.latency.count > 0 else { return "-" }
        return String(format: "%.1fx", level.latency.p50 / floor.latency.p50)
    }

    /// The raw TCP floor's level with this many matches, or (given `of`) that floor's, in the
    /// same round.
    func floor(at matches: Int, of transport: BenchTransport = .floor, round: Int? = nil) -> LevelResult? {
        results.levels.first { $0.transport == transport && $0.matches == matches && $0.round == round }
    }

    /// The same level with the memory store, in the same round, for a level on SQLite.
    func memoryStore(of level: LevelResult) -> LevelResult? {
        guard level.store == .sqlite else { return nil }
        return results.levels.first {
            $0.transport == level.transport && $0.matches == level.matches && $0.store == .memory && $0.compressed == level.compressed
                && $0.round == level.round
        }
    }

    /// A ply level's transport's own floor and the raw TCP floor, at its matches and in its round.
    func floors(of level: LevelResult) -> (own: LevelResult?, tcp: LevelResult?) {
        (level.transport.ownFloor.flatMap { floor(at: level.matches, of: $0, round: level.round) }, floor(at: level.matches, round: level.round))
    }

    /// The ratios of one ply level that the targets are stated in: server CPU a move against its
    /// transport's floor's (or the raw TCP floor's), against the memory store's, and the load
    /// generator's against the server's.
    func targetRatios(of level: LevelResult) -> (overFloor: Double?, overMemory: Double?, loadOverServer: Double?) {
        let (own, tcp) = floors(of: level)
        let base = own ?? tcp
        func over(_ value: Double?, _ base: Double?) -> Double? {
            guard let value, let base, base > 0 else { return nil }
            return value / base
        }
        return (over(level.serverMicrosPerMove, base?.serverMicrosPerMove),
                over(level.serverMicrosPerMove, memoryStore(of: level)?.serverMicrosPerMove),
                over(level.loadMicrosPerMove, level.serverMicrosPerMove))
    }

    /// With several rounds: each ply configuration's target ratios over the rounds, as their
    /// median and the lowest and highest round.
    public var roundRows: [[String]] {
        guard results.levels.contains(where: { $0.round != nil }) else { return [] }
        var configurations: [LevelResult] = []
        for level in results.levels where !level.transport.isFloor && !configurations.contains(where: { $0.isSameConfiguration(as: level) }) {
            configurations.append(level)
        }
        return configurations.map { configuration in
            let rounds = results.levels.filter { $0.isSameConfiguration(as: configuration) }.map(targetRatios)
            func spread(_ values: [Double]) -> String {
                guard !values.isEmpty else { return "-" }
                let sorted = values.sorted()
                let median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
                return String(format: "%.2fx (%.2f-%.2f)", median, sorted[0], sorted[sorted.count - 1])
            }
            return [configuration.configuration, "\(configuration.matches)", "\(rounds.count)",
                    spread(rounds.compactMap(\.overFloor)), spread(rounds.compactMap(\.overMemory)), spread(rounds.compactMap(\.loadOverServer))]
        }
    }

    public static let roundHeader = ["transport", "matches", "rounds", "ply ÷ its floor: median (lowest-highest)",
                                     "CPU/move ÷ memory store", "load gen ÷ server CPU/move"]

    static func ratio(_ value: Double?, _ base: Double?) -> String {
        guard let value, let base, base > 0 else { return "-" }
        return String(format: "%.2fx", value / base)
    }

    /// The ratios the targets are stated in, all within this run, server CPU per move first:
    /// for each ply level, its transport's floor against the raw TCP floor (what the transport
    /// costs) and ply against that floor (what ply adds); then moves per second and p99 against
    /// that floor, SQLite against the memory store, and the load generator against the server.
    /// `auto` and a transport without its floor in the run are held against the raw TCP floor.
    public var ratioRows: [[String]] {
        results.levels.filter { !$0.transport.isFloor }.map { level in
            let (own, tcp) = floors(of: level)
            let base = own ?? tcp
            let ratios = targetRatios(of: level)
            func times(_ ratio: Double?) -> String { ratio.map { String(format: "%.2fx", $0) } ?? "-" }
            return [level.label, "\(level.matches)",
                    Self.number(level.serverMicrosPerMove, "%.1f"),
                    own.map { Self.number($0.serverMicrosPerMove, "%.1f") } ?? "-",
                    Self.ratio(own?.serverMicrosPerMove, tcp?.serverMicrosPerMove),
                    times(ratios.overFloor) + (own == nil && tcp != nil ? " (TCP)" : ""),
                    base.map { String(format: "%.0f%%", level.movesPerSecond / max($0.movesPerSecond, 0.001) * 100) } ?? "-",
                    Self.ratio(level.latency.p99, base?.latency.p99),
                    times(ratios.overMemory), times(ratios.loadOverServer)]
        }
    }

    public static let ratioHeader = ["transport", "matches", "ply server µs CPU/move", "its floor's", "its floor ÷ TCP floor (the transport)",
                              "ply ÷ its floor (what ply adds)", "moves/s of its floor", "p99 ÷ its floor", "CPU/move ÷ memory store",
                              "load gen ÷ server CPU/move"]

    /// Through a middlebox: what each transport did there (games finished, where its seats
    /// ended, what was lost and made again, and what it cost on the wire).
    public var middleboxRows: [[String]] {
        guard results.plan.middlebox != nil else { return [] }
        return results.levels.filter { !$0.transport.isFloor }.map { level in
            let endedOn = (level.seatsEndedOn ?? [:]).sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            return [level.label, "\(level.matches)", level.games.map(String.init) ?? "-", endedOn.isEmpty ? "-" : endedOn,
                    Self.number(level.movesPerSecond), "\(level.errors)", level.reconnects.map(String.init) ?? "-",
                    Self.number(level.bytesUpPerMove), Self.number(level.bytesDownPerMove), Self.ms(level.latency.p50), Self.ms(level.latency.p99)]
        }
    }

    static let middleboxHeader = ["transport", "matches", "games", "seats ended on", "moves/s", "errors", "reconnects", "up B/move", "down B/move",
                                  "p50 ms", "p99 ms"]

    /// Each compressed level beside the same level uncompressed, in this run: what compression
    /// saved on the wire and what it cost in CPU (server and clients) and latency.
    var compressionRows: [[String]] {
        results.levels.filter { $0.compressed == true }.compactMap { level in
            guard let plain = results.levels.first(where: {
                $0.transport == level.transport && $0.store == level.store && $0.matches == level.matches && $0.compressed != true
                    && $0.round == level.round
            }) else { return nil }
            func change(_ off: Double?, _ on: Double?, _ format: String = "%.0f") -> String {
                guard let off, let on else { return "-" }
                return String(format: "\(format) → \(format)", off, on) + (off > 0 ? String(format: " (%+.0f%%)", (on / off - 1) * 100) : "")
            }
            return [level.transport.description + (level.store == .memory ? " (memory store)" : "") + level.roundSuffix,
                    "\(level.matches)", change(plain.bytesUpPerMove, level.bytesUpPerMove), change(plain.bytesDownPerMove, level.bytesDownPerMove),
                    change(plain.serverMicrosPerMove, level.serverMicrosPerMove, "%.1f"),
                    change(plain.loadMicrosPerMove, level.loadMicrosPerMove, "%.1f"),
                    change(plain.latency.p50 / 1000, level.latency.p50 / 1000, "%.3f"),
                    change(plain.serverBytesPerClient.map { $0 / 1024 }, level.serverBytesPerClient.map { $0 / 1024 }, "%.1f")]
        }
    }

    static let compressionHeader = ["transport", "matches", "up B/move off → on", "down B/move off → on", "server µs CPU/move",
                                    "load gen µs CPU/move", "p50 ms", "server KiB/client"]

    /// Rows of the latency table.
    var latencyRows: [[String]] {
        results.levels.map { level in
            [level.label, "\(level.matches)", Self.number(level.movesPerSecond),
             Self.ms(level.latency.p50), Self.ms(level.latency.p90), Self.ms(level.latency.p99),
             Self.ms(level.latency.p999), Self.ms(level.latency.max), floorRatio(level),
             Self.ms(level.acknowledgement?.p50), Self.ms(level.acknowledgement?.p99), Self.ms(level.sendLag.p50), "\(level.errors)",
             level.reconnects.map(String.init) ?? "-"]
        }
    }

    static let latencyHeader = ["transport", "matches", "moves/s", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms",
                                "p50 / floor", "ack p50 ms", "ack p99 ms", "send lag p50 ms", "errors", "reconnects"]

    /// Rows of the cost table: bytes, requests and connections per move, server CPU and memory.
    var costRows: [[String]] {
        results.levels.map { level in
            func bytes(_ total: Double?, _ overhead: Double?) -> String {
                guard let total, let overhead else { return "-" }
                return String(format: "%.0f (%.0f + %.0f)", total, overhead, total - overhead)
            }
            return [level.label, "\(level.matches)",
                    bytes(level.bytesUpPerMove, level.overheadUpPerMove), bytes(level.bytesDownPerMove, level.overheadDownPerMove),
                    Self.number(level.requestsPerMove, "%.2f"), Self.number(level.connectionsPerMove, "%.3f"),
                    Self.number(level.serverMicrosPerMove, "%.1f"), Self.number(level.serverCPUShare.map { $0 * 100 }, "%.0f%%"),
                    Self.number(level.serverBytesPerClient.map { $0 / 1024 }, "%.1f"),
                    Self.number(level.loadMicrosPerMove, "%.1f"), Self.number(level.loadCPUShare.map { $0 * 100 }, "%.0f%%"),
                    Self.number(level.machineIdleShare.map { $0 * 100 }, "%.0f%%")]
        }
    }

    static let costHeader = ["transport", "matches", "up B/move (overhead + payload)", "down B/move (overhead + payload)",
                             "HTTP req/move", "TCP conn/move", "server µs CPU/move", "server CPU", "server KiB/client",
                             "load gen µs CPU/move", "load gen CPU", "machine idle"]

    /// Said for each level whose figures may show the machine or the load generator rather than
    /// the server (`LevelResult.limitedBy`).
    var limitWarnings: [String] {
        results.levels.compactMap { level in
            level.limitedBy.map { "Warning: \(level.label) at \(level.matches) matches: \($0); its figures may show that more than the server." }
        }
    }

    public var holdRows: [[String]] {
        results.holds.map { hold in
            let retried = hold.retriedOpens ?? 0
            let failed = retried > 0 ? "\(hold.failures) (\(retried) tried again)" : "\(hold.failures)"
            return [hold.label, "\(hold.held) of \(hold.requested)", String(format: "%.1f", hold.secondsToConnect),
             Self.number(hold.serverBytesPerClient.map { $0 / 1024 }, "%.1f"), Self.ratio(hold.serverBytesPerClient, floorHold(of: hold)?.serverBytesPerClient), failed,
             hold.leftoverDescriptors.map(String.init) ?? "-", hold.leftoverPolls.map(String.init) ?? "-",
             hold.leftoverConnections.map(String.init) ?? "-"]
        }
    }

    /// The hold of a ply hold's transport's floor, in the same run: its memory per client is
    /// what the transport's connection costs a bare server.
    public func floorHold(of hold: HoldResult) -> HoldResult? {
        guard let own = hold.transport.ownFloor else { return nil }
        return results.holds.first { $0.transport == own }
    }

    static let holdHeader = ["transport", "idle clients held", "s to connect", "server KiB/client", "÷ its floor", "failed to connect",
                             "descriptors left", "polls left", "connections left"]

    var attackRows: [[String]] {
        results.holds.compactMap { hold in
            guard let attack = hold.attack else { return nil }
            let figures = attack.figures
            return [hold.label, String(format: "%.0f", attack.seconds),
                    "\(figures.slowlorisOpened) / \(figures.slowlorisClosed) (\(Self.number(figures.slowlorisMedianSeconds, "%.1f")) s)",
                    "\(figures.fragmentBombs): \(figures.closedTooMany) / \(figures.closedTooSlow) / \(figures.closedOtherwise) / \(figures.notClosed)",
                    "\(figures.fragmentsSent)", "\(figures.pingsSent)", "\(figures.connectFailures)",
                    "\(attack.gamesFinished) (\(attack.moves), \(attack.errors))",
                    "\(Self.ms(attack.latency.p50)) / \(Self.ms(attack.latency.p99))", "\(attack.heldAfter) of \(hold.held)"]
        }
    }

    static let attackHeader = ["transport", "attack s", "slowloris opened / closed by server (median life)",
                               "fragment bombs: closed 1009 / 1008 / otherwise / not", "fragments sent", "pings sent", "attacks refused at connect",
                               "games finished (moves, errors)", "move p50 / p99 ms", "held clients after"]

    var recoveryRows: [[String]] {
        results.holds.compactMap { hold in
            guard let memory = hold.attack?.memory else { return nil }
            func mebibytes(_ bytes: Int) -> String { String(format: "%.1f", Double(bytes) / 1_048_576) }
            return [hold.label, mebibytes(memory.before), mebibytes(memory.peak), mebibytes(memory.after),
                    String(format: "%+.1f%%", (Double(memory.after) / Double(max(memory.before, 1)) - 1) * 100),
                    memory.secondsToRecover.map { String(format: "%.1f s", $0) } ?? "not within 30 s"]
        }
    }

    static let recoveryHeader = ["transport", "server MiB before attack", "peak", "30 s after", "change", "back within 10% after"]

    // MARK: Soak

    static func mebibytes(_ bytes: Int?) -> String { bytes.map { String(format: "%.1f", Double($0) / 1_048_576) } ?? "-" }

    static func percent(_ fraction: Double?) -> String { fraction.map { String(format: "%+.1f%%", $0 * 100) } ?? "-" }

    var soakSummaryRows: [[String]] {
        guard let soak = results.soak else { return [] }
        let seconds = soak.samples.last?.seconds ?? 0
        let beyond = soak.beyondNeed
        return [[soak.plan.transports.argument, "\(soak.plan.matches)", String(format: "%.0f", seconds),
                 "\(soak.gamesFinished) (\(soak.moves), \(soak.errors), \(soak.abandoned))",
                 Self.number(seconds > 0 ? Double(soak.moves) / seconds : nil),
                 "\(Self.mebibytes(soak.idle?.residentBytes)) / \(Self.mebibytes(soak.warm?.residentBytes)) / \(Self.mebibytes(soak.samples.last?.residentBytes))",
                 "\(Self.percent(soak.growth)) (\(Self.percent(soak.peakGrowth)))",
                 "\(beyond.webSockets) / \(beyond.polls) / \(beyond.connections)",
                 "\(soak.idle?.descriptors.map(String.init) ?? "-") / \(soak.after?.descriptors.map(String.init) ?? "-")"
                    + (soak.secondsToIdle.map { String(format: " (%.1f s)", $0) } ?? " (not within 30 s)")]]
    }

    static let soakSummaryHeader = ["transports", "games at once", "s", "games finished (moves, errors, abandoned)", "moves/s",
                                    "server MiB idle / warm / end", "growth after warm-up: end (peak)",
                                    "most beyond live seats' need: WebSockets / polls / connections", "descriptors idle / after (to idle)"]

    /// About twenty samples, evenly spread, the last always among them.
    var soakSampleRows: [[String]] {
        guard let soak = results.soak, !soak.samples.isEmpty else { return [] }
        let every = max(1, soak.samples.count / 20)
        let chosen = soak.samples.enumerated().filter { $0.offset % every == 0 || $0.offset == soak.samples.count - 1 }.map(\.element)
        return chosen.map { sample in
            [String(format: "%.0f", sample.seconds), Self.mebibytes(sample.residentBytes), sample.descriptors.map(String.init) ?? "-",
             "\(sample.connections)", "\(sample.webSockets)", "\(sample.waitingPolls)", "\(sample.liveMatches)",
             "\(sample.gamesFinished)", Self.number(sample.movesPerSecond)]
        }
    }

    static let soakSampleHeader = ["s", "server MiB", "descriptors", "connections", "WebSockets", "waiting polls", "unfinished matches",
                                   "games finished", "moves/s"]

    // MARK: Tables

    /// A table with aligned columns, for the terminal.
    static func textTable(_ header: [String], _ rows: [[String]]) -> String {
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { column, cell in
                column == 0 ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[column] - cell.count) + cell
            }.joined(separator: "  ")
        }
        return ([line(header), widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")] + rows.map(line))
            .joined(separator: "\n")
    }

    static func markdownTable(_ header: [String], _ rows: [[String]]) -> String {
        let lines = ["| " + header.joined(separator: " | ") + " |", "|" + header.indices.map { $0 == 0 ? " --- |" : " ---: |" }.joined()]
            + rows.map { "| " + $0.joined(separator: " | ") + " |" }
        return lines.joined(separator: "\n")
    }

    /// What the terminal shows at the end of a run.
    public var terminalText: String {
        var parts: [String] = []
        if !results.levels.isEmpty {
            parts += [
                "Move latency: from when a move was due to when the opponent's client had its event",
                Self.textTable(Self.latencyHeader, latencyRows),
                "",
                "Cost per move (bytes counted at the clients' sockets; server CPU from its CPU clock, memory from /proc; the floor's CPU is its relay's; the load generator's is this process's; machine idle from /proc/stat)",
                Self.textTable(Self.costHeader, costRows),
            ]
        }
        if !ratioRows.isEmpty {
            parts += ["", "Ratios within this run" + (roundRows.isEmpty ? "" : ", each within its round"), Self.textTable(Self.ratioHeader, ratioRows)]
        }
        if !roundRows.isEmpty {
            parts += ["", "Ratios over the rounds", Self.textTable(Self.roundHeader, roundRows)]
        }
        if !compressionRows.isEmpty {
            parts += ["", "Compression: each transport off and on, in this run", Self.textTable(Self.compressionHeader, compressionRows)]
        }
        if !results.holds.isEmpty {
            parts += ["", "Idle clients (then let go: what the server still held)", Self.textTable(Self.holdHeader, holdRows)]
        }
        if !attackRows.isEmpty {
            parts += ["", "Door attack while the clients were held, a normal game alongside", Self.textTable(Self.attackHeader, attackRows)]
            if !recoveryRows.isEmpty { parts += ["", "Server memory around the attack", Self.textTable(Self.recoveryHeader, recoveryRows)] }
        }
        if let soak = results.soak {
            parts += ["", "Soak: bot games against one server (SQLite), sampled as they went",
                      Self.textTable(Self.soakSummaryHeader, soakSummaryRows), "", Self.textTable(Self.soakSampleHeader, soakSampleRows)]
            if !soak.errorSamples.isEmpty { parts += ["", "Soak errors (first few)"] + soak.errorSamples }
        }
        parts += stormText
        if let middlebox = results.plan.middlebox {
            parts += ["", "Every ply transport ran through \(middlebox)", Self.textTable(Self.middleboxHeader, middleboxRows)]
        }
        if let idle = results.plan.idleTimeoutMilliseconds { parts += ["", "Keep-alive timers fitted under an idle timeout of \(idle) ms."] }
        if let warning = limiterWarning { parts += ["", warning] }
        if !limitWarnings.isEmpty { parts += [""] + limitWarnings }
        let errors = results.levels.flatMap { level in level.errorSamples.map { "\(level.label) \(level.matches): \($0)" } }
        if !errors.isEmpty { parts += ["", "Errors (first few)"] + errors }
        return parts.joined(separator: "\n")
    }

    /// Said when the server's rate limiter refused anything: then a figure measured the limiter.
    var limiterWarning: String? {
        let limited = results.levels.reduce(0) { $0 + ($1.rateLimited ?? 0) }
        guard limited > 0 else { return nil }
        return "Warning: the server's rate limiter refused \(limited) commands; the figures above include a limiter, not only the transports."
    }

    /// `report.md`: the plan, the machine, the tables and the charts.
    public func markdown(chartPrefix: String = "") -> String {
        let formatter = ISO8601DateFormatter()
        var lines = [
            "## Results: \(formatter.string(from: results.date))",
            "",
            "- Command: `\(results.command)`",
            "- Machine: \(results.machine.cpu), \(results.machine.cores) cores, \(String(format: "%.0f", results.machine.memoryGiB)) GiB, Linux \(results.machine.kernel)",
        ]
        if !results.levels.isEmpty { lines += levelMarkdown(chartPrefix: chartPrefix) }
        lines += holdMarkdown()
        if let soak = results.soak { lines += soakMarkdown(soak, chartPrefix: chartPrefix) }
        lines += stormMarkdown(chartPrefix: chartPrefix)
        return lines.joined(separator: "\n") + "\n"
    }

    private func soakMarkdown(_ soak: SoakResult, chartPrefix: String) -> [String] {
        [
            "", "### Soak", "",
            "`ply bot`'s fleet (greedy against random, \(results.plan.thinkDescription)) played \(soak.plan.matches) games at a time,",
            "\(soak.plan.transports.description), against one `ply serve` on SQLite for \(format(soak.plan.duration)), starting a new game",
            "as each ended; the server was sampled every \(format(soak.plan.interval)) (resident memory and descriptors from /proc, the rest from",
            "its `/health`). Growth is measured from the first sample after the \(format(soak.plan.warmup)) warm-up. A live seat needs a WebSocket",
            "(WebSocket seats), at most one waiting poll and two HTTP connections (long-polling seats: its poll's and its commands');",
            "`most beyond` is the largest excess over that need in any sample (the fleet's own create/join connections count in it).",
            "Once the bots stopped (games under way abandoned), `after` is the server's descriptors when they were back to idle.",
            "", Self.markdownTable(Self.soakSummaryHeader, soakSummaryRows), "",
            "![The soak over time](\(chartPrefix)soak.svg)", "",
            Self.markdownTable(Self.soakSampleHeader, soakSampleRows),
        ] + (soak.errorSamples.isEmpty ? [] : ["", "Errors (first few): " + soak.errorSamples.joined(separator: "; ")])
    }

    private func levelMarkdown(chartPrefix: String) -> [String] {
        let plan = results.plan
        var lines = [
            "- Workload: \(plan.game.title), seeded random moves (seed \(plan.seed)), \(plan.thinkDescription), "
                + "\(plan.spectators) spectators per match, \(format(plan.warmup)) warm-up then \(format(plan.duration)) measured per level"
                + (plan.rttMilliseconds > 0 ? ", simulated network: \(plan.rttMilliseconds) ms RTT ± \(plan.jitterMilliseconds) ms" : "")
                + (plan.middlebox.map { ", through \($0) (ply's relay, in front of every ply transport)" } ?? "")
                + (plan.idleTimeoutMilliseconds.map { ", keep-alive timers fitted under an idle timeout of \($0) ms" } ?? ""),
            "",
            "### Move latency",
            "",
            "From the moment a move was due (the mover saw its turn, plus its think time) to the moment",
            "the opponent's client had the event; `p50 / floor` divides by the raw TCP floor's p50 at the same level;",
            "`send lag` is how late the load generator itself sent moves after they were due, which is part of every latency;",
            "`reconnects` counts client connections lost and made again during the window.",
            "",
            Self.markdownTable(Self.latencyHeader, latencyRows),
            "",
        ]
        for level in Set(results.levels.map(\.matches)).sorted() {
            lines.append("![Latency percentiles at \(level) matches](\(chartPrefix)latency-\(level).svg)")
        }
        lines += [
            "",
            "### Cost per move",
            "",
            Self.markdownTable(Self.costHeader, costRows),
            "",
            "![Bytes per move](\(chartPrefix)bytes-per-move.svg)",
        ]
        if results.levels.contains(where: { $0.serverMicrosPerMove != nil }) {
            lines += ["", "![Server and load generator CPU per move](\(chartPrefix)cpu-per-move.svg)"]
        }
        if !ratioRows.isEmpty {
            lines += ["", "### Ratios within this run" + (roundRows.isEmpty ? "" : ", each within its round"), "",
                      Self.markdownTable(Self.ratioHeader, ratioRows)]
        }
        if !roundRows.isEmpty {
            lines += ["", "### Ratios over the rounds", "",
                      "Each round measured every level once before the next began; a ratio is read within its round. The charts draw the first round.", "",
                      Self.markdownTable(Self.roundHeader, roundRows)]
        }
        if !compressionRows.isEmpty {
            lines += ["", "### Compression off and on", "",
                      "`ply serve --compression on`, the clients asking for it (permessage-deflate on WebSocket; gzip for",
                      "event streams and long-poll answers of 128 bytes or more), against the same level uncompressed.",
                      "", Self.markdownTable(Self.compressionHeader, compressionRows)]
        }
        if let middlebox = results.plan.middlebox {
            lines += ["", "### Through \(middlebox)", "",
                      "Games finished in the measured window, the transports their seats' connections ended on (where `auto` settled),",
                      "and what was lost and made again.", "", Self.markdownTable(Self.middleboxHeader, middleboxRows)]
        }
        if let warning = limiterWarning { lines += ["", "**\(warning)**"] }
        if !limitWarnings.isEmpty { lines += [""] + limitWarnings.map { "- \($0)" } }
        return lines
    }

    /// The idle clients held and the attack on the door, if the run held any (with or without
    /// levels).
    private func holdMarkdown() -> [String] {
        var lines: [String] = []
        if !results.holds.isEmpty {
            lines += ["", "### Idle clients held", "",
                      "Each transport's floor (a bare server of the same swift-nio parts) held as many idle readers first, one",
                      "connection each, as ply's spectators are: `÷ its floor` is ply's server memory per client over its floor's.",
                      "Once they were let go, `descriptors left` is the server's open descriptors beyond its count before",
                      "they came; `polls left` and `connections left` are what its `/health` still counted (its own request included).",
                      "", Self.markdownTable(Self.holdHeader, holdRows)]
        }
        if !attackRows.isEmpty {
            lines += ["", "### Door attack", "",
                      "While the clients were held: slowloris connections (a request head, one byte a second), fragment bombs",
                      "(a message in endless empty or one-byte fragments, as fast as the socket takes them), slow fragments",
                      "(one a second) and ping floods, each reconnecting when closed, alongside a normal game over the same transport.",
                      "", Self.markdownTable(Self.attackHeader, attackRows)]
            if !recoveryRows.isEmpty { lines += ["", Self.markdownTable(Self.recoveryHeader, recoveryRows)] }
        }
        return lines
    }

    private func format(_ duration: Duration) -> String {
        String(format: "%g s", duration / .seconds(1))
    }

    /// `results.csv`: one row per transport and level (and round, the last column, empty when
    /// the run had one).
    public var csv: String {
        let header = "transport,store,compressed,matches,clients,seconds,moves,moves_per_s,errors,p50_us,p90_us,p99_us,p999_us,max_us,mean_us,"
            + "ack_p50_us,ack_p99_us,up_bytes_per_move,down_bytes_per_move,up_overhead_per_move,down_overhead_per_move,"
            + "requests_per_move,connections_per_move,server_us_per_move,server_cpu_share,server_rss_bytes,server_bytes_per_client,"
            + "load_us_per_move,load_cpu_share,machine_idle_share,round"
        func value(_ number: Double?) -> String { number.map { String(format: "%.3f", $0) } ?? "" }
        let rows = results.levels.map { level in
            [level.transport.argument, level.store?.rawValue ?? "", level.compressed.map { $0 ? "on" : "off" } ?? "", "\(level.matches)", "\(level.clients)", value(level.seconds), "\(level.moves)",
             value(level.movesPerSecond), "\(level.errors)", value(level.latency.p50), value(level.latency.p90),
             value(level.latency.p99), value(level.latency.p999), value(level.latency.max), value(level.latency.mean),
             value(level.acknowledgement?.p50), value(level.acknowledgement?.p99), value(level.bytesUpPerMove),
             value(level.bytesDownPerMove), value(level.overheadUpPerMove), value(level.overheadDownPerMove),
             value(level.requestsPerMove), value(level.connectionsPerMove), value(level.serverMicrosPerMove),
             value(level.serverCPUShare), level.serverResidentBytes.map(String.init) ?? "", value(level.serverBytesPerClient),
             value(level.loadMicrosPerMove), value(level.loadCPUShare), value(level.machineIdleShare), level.round.map(String.init) ?? ""]
                .joined(separator: ",")
        }
        return ([header] + rows).joined(separator: "\n") + "\n"
    }

    /// Writes results.json, results.csv, report.md and the charts into `directory`.
    public func write(to directory: URL) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        try encoder.encode(results).write(to: directory.appendingPathComponent("results.json"))
        try csv.write(to: directory.appendingPathComponent("results.csv"), atomically: true, encoding: .utf8)
        try markdown().write(to: directory.appendingPathComponent("report.md"), atomically: true, encoding: .utf8)
        for (name, svg) in Charts(results: results).all {
            try svg.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
    }
}
