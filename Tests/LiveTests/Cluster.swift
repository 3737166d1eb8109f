import Foundation
import PlyBench
import PlyClient
import Synchronization

/// The real parts of a deployment of several servers, for tests: a throwaway PostgreSQL
/// cluster, `ply serve` children on it, and nginx in front with the shipped `Assets/nginx.conf`.
enum ClusterTools {
    /// PostgreSQL's `initdb` and `pg_ctl` (Debian keeps them off the PATH, in its versioned
    /// folder), and nginx; nil where one is missing.
    static let initdb = find("initdb")
    static let pgCtl = find("pg_ctl")
    static let nginx = find("nginx")

    static var available: Bool { initdb != nil && pgCtl != nil && nginx != nil }
    static let missing = "PostgreSQL (initdb, pg_ctl) or nginx is not installed"

    private static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        var folders = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/local/sbin"]
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        folders += versions.sorted(by: >).map { "/usr/lib/postgresql/\($0)/bin" }
        return folders.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs a command to the end and throws with its output unless it succeeds.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(60)) async throws -> String {
        let (status, output) = try await ChildProcess.run(executable, arguments, timeout: timeout)
        guard status == 0 else { throw CommandFailure(command: ([executable] + arguments).joined(separator: " "), output: output) }
        return output
    }

    /// Runs a command to the end with its output in a file, and returns its exit status. It is
    /// spawned and waited for here rather than through Foundation's `Process`, which was seen
    /// never to notice the exit of `runuser … pg_ctl start` (the server it leaves behind).
    static func runToFile(_ executable: String, _ arguments: [String], output: String) async throws -> Int32 {
        var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else { throw CommandFailure(command: executable, output: "posix_spawn failed: \(spawned)") }
        let child = pid
        return await withCheckedContinuation { continuation in
            // waitpid blocks, so it runs on a dispatch thread rather than a cooperative one.
            DispatchQueue.global().async {
                var status: Int32 = 0
                while waitpid(child, &status, 0) == -1 && errno == EINTR {}
                continuation.resume(returning: (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f))
            }
        }
    }

    /// Waits until something accepts connections on a loopback port.
    static func waitForPort(_ port: Int, within limit: Duration = .seconds(15)) async throws {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if LoopbackPort.isListening(port) { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw CommandFailure(command: "connect 127.0.0.1:\(port)", output: "nothing listens after \(limit)")
    }

    static var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
}

struct CommandFailure: Error, CustomStringConvertible {
    let command: String
    let output: String
    var description: String { "\(command) failed: \(output)" }
}

/// A PostgreSQL cluster in a temporary directory on a free loopback port, owned by the
/// unprivileged `postgres` user when the tests run as root (PostgreSQL refuses to run as root).
final class PostgresCluster: Sendable {
    let directory: String
    let port: Int
    private let asPostgres: Bool

    var url: String { "postgres://ply@127.0.0.1:\(port)/ply?sslmode=disable" }

    private init(directory: String, port: Int, asPostgres: Bool) {
        self.directory = directory
        self.port = port
        self.asPostgres = asPostgres
    }

    static func start() async throws -> PostgresCluster {
        guard let initdb = ClusterTools.initdb else { throw CommandFailure(command: "initdb", output: ClusterTools.missing) }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ply-pg-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let asPostgres = getuid() == 0
        if asPostgres { try FileManager.default.setAttributes([.ownerAccountName: "postgres"], ofItemAtPath: directory) }
        let cluster = PostgresCluster(directory: directory, port: try LoopbackPort.free(), asPostgres: asPostgres)
        try await cluster.run(initdb, ["-D", "\(directory)/db", "-A", "trust", "-U", "ply", "--no-sync"])
        try await cluster.startServer()
        try await cluster.sql("CREATE DATABASE ply", database: "postgres")
        return cluster
    }

    /// `pg_ctl start`, waiting until it accepts connections.
    func startServer() async throws {
        guard let pgCtl = ClusterTools.pgCtl else { return }
        try await run(pgCtl, ["-D", "\(directory)/db", "-l", "\(directory)/log", "-w", "-t", "30",
                              "-o", "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off", "start"])
    }

    /// `pg_ctl stop -m fast`: every connection is cut, as when the database restarts.
    func stopServer() async throws {
        guard let pgCtl = ClusterTools.pgCtl else { return }
        try await run(pgCtl, ["-D", "\(directory)/db", "-m", "fast", "-w", "stop"])
    }

    /// Runs SQL with psql (PostgreSQL's client, installed with the server) and returns its rows.
    @discardableResult
    func sql(_ statement: String, database: String = "ply") async throws -> String {
        let psql = ["/usr/bin/psql", "/usr/local/bin/psql"].first { FileManager.default.isExecutableFile(atPath: $0) }
            ?? ClusterTools.pgCtl.map { URL(fileURLWithPath: $0).deletingLastPathComponent().appendingPathComponent("psql").path } ?? "psql"
        return try await ClusterTools.run(psql, ["-h", "127.0.0.1", "-p", "\(port)", "-U", "ply", "-d", database, "-At", "-c", statement])
    }

    func destroy() async {
        try? await stopServer()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs a PostgreSQL tool as the cluster's owner. Its output goes to a file, not a pipe:
    /// the server `pg_ctl` starts would hold a pipe open for as long as it runs.
    private func run(_ executable: String, _ arguments: [String]) async throws {
        let (command, all) = asPostgres ? ("/usr/sbin/runuser", ["-u", "postgres", "--", executable] + arguments) : (executable, arguments)
        let output = "\(directory)/tool.out"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        let status = try await ClusterTools.runToFile(command, all, output: output)
        guard status == 0 else {
            throw CommandFailure(command: ([command] + all).joined(separator: " "), output: (try? String(contentsOfFile: output, encoding: .utf8)) ?? "")
        }
    }
}

/// nginx in the foreground with the shipped site file, its upstream rewritten to the given
/// instances and its `listen` to a free port.
final class Nginx: Sendable {
    let port: Int
    private let process: Process
    private let directory: String

    private init(port: Int, process: Process, directory: String) {
        self.port = port
        self.process = process
        self.directory = directory
    }

    static func start(upstream ports: [Int]) async throws -> Nginx {
        guard let nginx = ClusterTools.nginx else { throw CommandFailure(command: "nginx", output: ClusterTools.missing) }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ply-nginx-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let port = try LoopbackPort.free()
        let site = try String(contentsOf: ClusterTools.repository.appendingPathComponent("Assets/nginx.conf"), encoding: .utf8)
        var lines: [String] = []
        var inServers = false
        for line in site.split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            // Each upstream's run of server lines becomes one line per instance.
            if trimmed.hasPrefix("server 127.0.0.1:") {
                if !inServers { lines += ports.map { "    server 127.0.0.1:\($0) max_fails=1 fail_timeout=2s;" } }
                inServers = true
                continue
            }
            inServers = false
            if trimmed.hasPrefix("listen ") {
                lines.append("    listen 127.0.0.1:\(port);")
            } else {
                lines.append(String(line))
            }
        }
        try lines.joined(separator: "\n").write(toFile: "\(directory)/ply.conf", atomically: true, encoding: .utf8)
        let main = """
            daemon off;
            worker_processes 1;
            \(getuid() == 0 ? "user root;" : "")
            pid \(directory)/nginx.pid;
            error_log \(directory)/error.log warn;
            events { worker_connections 1024; }
            http {
                access_log off;
                client_body_temp_path \(directory)/body;
                proxy_temp_path \(directory)/proxy;
                fastcgi_temp_path \(directory)/fastcgi;
                uwsgi_temp_path \(directory)/uwsgi;
                scgi_temp_path \(directory)/scgi;
                include \(directory)/ply.conf;
            }
            """
        try main.write(toFile: "\(directory)/nginx.conf", atomically: true, encoding: .utf8)
        try await ClusterTools.run(nginx, ["-t", "-q", "-p", directory, "-c", "\(directory)/nginx.conf"])
        let process = Process()
        process.executableURL = URL(fileURLWithPath: nginx)
        process.arguments = ["-p", directory, "-c", "\(directory)/nginx.conf"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let started = Nginx(port: port, process: process, directory: directory)
        do {
            try await ClusterTools.waitForPort(port)
        } catch {
            await started.stop()
            throw error
        }
        return started
    }

    func stop() async {
        if process.isRunning {
            process.terminate()
            for _ in 0..<100 where process.isRunning { try? await Task.sleep(for: .milliseconds(20)) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// PostgreSQL, `ply serve` instances on it, and nginx in front: one test's deployment.
final class Deployment: Sendable {
    let database: PostgresCluster
    let instances: Children
    let ports: [Int]
    let children: [ChildProcess]
    let nginx: Nginx

    var proxy: Endpoint { Endpoint(host: "127.0.0.1", port: nginx.port) }
    func instance(_ index: Int) -> Endpoint { Endpoint(host: "127.0.0.1", port: ports[index]) }

    private init(database: PostgresCluster, instances: Children, children: [ChildProcess], nginx: Nginx) {
        self.database = database
        self.instances = instances
        self.children = children
        ports = children.map(\.port)
        self.nginx = nginx
    }

    /// Runs a test body against a fresh deployment of `count` instances, and takes it all down
    /// afterwards, whatever the body did.
    static func run<T: Sendable>(instances count: Int = 2, arguments: [String] = [], _ body: (Deployment) async throws -> T) async throws -> T {
        let database = try await PostgresCluster.start()
        let instances = Children()
        var deployment: Deployment?
        do {
            var children: [ChildProcess] = []
            // PLY_CLUSTER_LOGS=DIR keeps each instance's debug log there.
            let logs = ProcessInfo.processInfo.environment["PLY_CLUSTER_LOGS"].map { URL(fileURLWithPath: $0) }
            for index in 0..<count {
                children.append(try await instances.start(DurabilityTests.ply, [
                    "serve", "--port", "0", "--store", database.url, "--log-level", ProcessInfo.processInfo.environment["PLY_CLUSTER_LOG_LEVEL"] ?? (logs == nil ? "warning" : "debug"), "--trusted-proxy", "127.0.0.1",
                ] + arguments, log: logs?.appendingPathComponent("instance-\(index)-\(UUID().uuidString.prefix(8)).log")))
            }
            let nginx = try await Nginx.start(upstream: children.map(\.port))
            let started = Deployment(database: database, instances: instances, children: children, nginx: nginx)
            deployment = started
            let result = try await body(started)
            await started.tearDown()
            return result
        } catch {
            if let deployment { await deployment.tearDown() } else {
                await instances.stopAll()
                await database.destroy()
            }
            throw error
        }
    }

    private func tearDown() async {
        await nginx.stop()
        await instances.stopAll()
        await database.destroy()
    }
}
