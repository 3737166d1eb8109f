import Foundation
import PlyBench
import PlyWire
import Testing

/// docs/protocol.md's examples, run as written against a live server: every `console` block
/// (the commands after `$ `, each followed by the output it must print) in one shell session,
/// and the Python WebSocket session with the output shown under it. Match ids and seat tokens
/// differ from run to run: each one the document shows is mapped to the live one the first
/// time an answer names it, and the commands after use the live ones.
@Suite(.timeLimit(.minutes(2)))
struct DocExampleTests {
    static let document = (try? String(contentsOf: ClusterTools.repository.appendingPathComponent("docs/protocol.md"), encoding: .utf8)) ?? ""

    struct Step {
        let command: String
        let output: [String]
    }

    /// The code blocks of a language, in order, with the text after each (up to the next block).
    static func blocks(_ language: String) -> [String] {
        document.components(separatedBy: "```\(language)\n").dropFirst().map { $0.components(separatedBy: "\n```").first ?? "" }
    }

    static var steps: [Step] {
        blocks("console").flatMap { block in
            var steps: [Step] = []
            for line in block.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
                if line.hasPrefix("$ ") {
                    steps.append(Step(command: String(line.dropFirst(2)), output: []))
                } else if let last = steps.popLast() {
                    steps.append(Step(command: last.command, output: last.output + [line]))
                }
            }
            return steps
        }
    }

    /// What the document shows that differs from run to run, mapped to what this run has.
    final class Names {
        var live: [String: String] = [:]

        func apply(_ text: String) -> String {
            live.reduce(text) { $0.replacingOccurrences(of: $1.key, with: $1.value) }
        }

        /// Learns the ids and tokens an answer names where the document shows others.
        func learn(expected: String, actual: String) {
            if let a = try? JSONSerialization.jsonObject(with: Data(expected.utf8), options: .fragmentsAllowed),
               let b = try? JSONSerialization.jsonObject(with: Data(actual.utf8), options: .fragmentsAllowed) {
                walk(a, b)
            } else {
                // A match id, or a seat token or stream ticket, printed alone on its line.
                for pattern in ["^[a-z2-9]{10}$", "^[A-Za-z0-9_-]{32}$"]
                where expected.range(of: pattern, options: .regularExpression) != nil
                    && actual.range(of: pattern, options: .regularExpression) != nil && live[expected] == nil {
                    live[expected] = actual
                }
            }
        }

        private func walk(_ a: Any, _ b: Any) {
            if let a = a as? [String: Any], let b = b as? [String: Any] {
                for (key, value) in a {
                    guard let other = b[key] else { continue }
                    if ["id", "match", "token", "ticket"].contains(key), let shown = value as? String, let got = other as? String, shown != got, live[shown] == nil {
                        live[shown] = got
                    } else {
                        walk(value, other)
                    }
                }
            } else if let a = a as? [Any], let b = b as? [Any] {
                for (x, y) in zip(a, b) { walk(x, y) }
            }
        }
    }

    /// An answer as compared: the time a clock has left differs from run to run.
    static func normalized(_ text: String) -> String {
        text.replacingOccurrences(of: #""turnTimeLeft":[0-9.]+"#, with: #""turnTimeLeft":_"#, options: .regularExpression)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/curl"), "needs curl"))
    func theCurlSessionsRunAsWritten() async throws {
        let steps = Self.steps
        #expect(steps.count > 30, "the document's curl sessions were found")
        try await LiveServer.run { server in
            let names = Names()
            names.live["http://127.0.0.1:8080"] = "http://127.0.0.1:\(server.port)"
            var variables: [(String, String)] = []
            for step in steps {
                let command = names.apply(step.command)
                if let equals = command.firstIndex(of: "="), command[..<equals].allSatisfy({ $0.isUppercase }), !command.contains(" ") || command.contains("='") {
                    var value = String(command[command.index(after: equals)...])
                    if value.hasPrefix("'"), value.hasSuffix("'") { value = String(value.dropFirst().dropLast()) }
                    variables.append((String(command[..<equals]), value))
                    continue
                }
                let exports = variables.map { "export \($0.0)='\($0.1.replacingOccurrences(of: "'", with: "'\\''"))'; " }.joined()
                // A command left running in the background (the stream's curl) keeps no descriptor.
                let (status, output) = try await ChildProcess.shell(exports + command, timeout: .seconds(30))
                #expect(status == 0, "\(command): exit \(status)")
                let actual = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty }
                let expected = step.output.filter { !$0.isEmpty }
                for (shown, got) in zip(expected, actual) { names.learn(expected: shown, actual: got) }
                #expect(actual.map(Self.normalized) == expected.map { Self.normalized(names.apply($0)) }, "\(step.command)")
            }
        }
    }

    @Test(.enabled(if: IndependentClients.webSockets, "\(IndependentClients.missing)"))
    func theWebSocketSessionRunsAsWritten() async throws {
        let code = try #require(Self.blocks("python").first { $0.contains("websockets.connect") })
        let shownAfter = Self.document.components(separatedBy: code).last ?? ""
        let expected = try #require(shownAfter.components(separatedBy: "```text\n").dropFirst().first?.components(separatedBy: "\n```").first)
        try await LiveServer.run { server in
            let (id, ann, _) = try await server.startedMatch()
            let script = code.replacingOccurrences(of: "8080", with: "\(server.port)")
                .replacingOccurrences(of: "9w9hk8hasq", with: id).replacingOccurrences(of: "u_XJsYOA4MAoMcDQsyV2rX5aJ1qbv0qr", with: ann.token)
            let python = try #require(IndependentClients.python)
            let (status, output) = try await ChildProcess.run(python, ["-c", script], timeout: .seconds(30))
            #expect(status == 0, "\(output)")
            #expect(output.trimmingCharacters(in: .newlines) == expected.trimmingCharacters(in: .newlines))
        }
    }
}
