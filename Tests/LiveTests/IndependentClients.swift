import Foundation
import PlyBench
import Testing

/// Clients no one on this project wrote (Python `websockets` and `aiohttp`, curl), run as child
/// processes against a live server: ply's own client reconnects and hides what they would see.
/// Their scripts are in Tests/Clients; each prints one JSON object as its last line.
enum IndependentClients {
    static let folder = ClusterTools.repository.appendingPathComponent("Tests/Clients")

    /// The python3 on the PATH (where pip installs), else the system's.
    static let python: String? = which("python3")
        ?? ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Whether Python can import every module named (`.ci/run` installs them with pip).
    static func pythonHas(_ modules: String...) -> Bool {
        guard let python else { return false }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", modules.map { "import \($0)" }.joined(separator: "; ")]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    static let webSockets = pythonHas("websockets")
    static let aiohttp = pythonHas("aiohttp")
    static let missing = "needs Python with websockets and aiohttp (.ci/run installs them with pip)"

    /// Runs a script of Tests/Clients with its arguments and decodes the JSON it printed last.
    static func run<T: Decodable>(_ script: String, _ arguments: [String], as type: T.Type = T.self,
                                  timeout: Duration = .seconds(60)) async throws -> T {
        let python = try #require(python, "python3 is not installed")
        let (status, output) = try await ChildProcess.run(python, [folder.appendingPathComponent(script).path] + arguments, timeout: timeout)
        let last = output.split(separator: "\n").last.map(String.init) ?? ""
        guard status == 0, let data = last.data(using: .utf8), let value = try? JSONDecoder().decode(T.self, from: data) else {
            throw CommandFailure(command: "python3 \(script) \(arguments.joined(separator: " "))", output: "exit \(status): \(output)")
        }
        return value
    }

    private static func which(_ name: String) -> String? {
        (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/\(name)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// A JSON value as a script reports it, to compare without a type for every shape.
enum JSONValue: Decodable, Equatable, Sendable, CustomStringConvertible {
    case null, bool(Bool), number(Double), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    var string: String? { if case .string(let value) = self { value } else { nil } }
    var int: Int? { if case .number(let value) = self { Int(value) } else { nil } }
    var array: [JSONValue] { if case .array(let value) = self { value } else { [] } }

    var description: String {
        switch self {
        case .null: "null"
        case .bool(let value): "\(value)"
        case .number(let value): value == value.rounded() ? "\(Int(value))" : "\(value)"
        case .string(let value): "\"\(value)\""
        case .array(let values): "[" + values.map(\.description).joined(separator: ",") + "]"
        case .object(let object): "{" + object.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",") + "}"
        }
    }
}
