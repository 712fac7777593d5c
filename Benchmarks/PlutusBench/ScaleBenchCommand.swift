import ArgumentParser
import Foundation
import Logging
import PlutusCore
import PlutusPostgres
import PlutusSQLite
import PlutusStore

#if canImport(Glibc)
import Glibc
#endif

struct ScaleBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale",
        abstract: "Ingest throughput on SQLite beside PostgreSQL with one and with three server processes.",
        discussion: """
            In one run: starts real `plutus serve` processes on 127.0.0.1 (one on a fresh SQLite file; one, then three, \
            on a fresh PostgreSQL database created on the server of --database-url and dropped afterwards) and drives \
            POST /v1/usage with single events at 64 connections and batches of 100 at 8 connections, spread evenly \
            over the servers. Afterwards checks that each database holds exactly the events acknowledged and verifies \
            its ledger. The load generator shares the machine with the servers.
            """)

    @Option(
        name: .customLong("database-url"),
        help: "A PostgreSQL server to create the bench database on; default $PLUTUS_DATABASE_URL.")
    var databaseURL: String?
    @Option(help: "Seconds per scenario (1–60).") var seconds: Double = 3

    struct Target {
        var name: String
        var arguments: [String]
        var processes: Int
        var store: any BillingStore
        var organization: OrganizationID
        var key: String
    }

    func run() async throws {
        guard (1...60).contains(seconds) else { throw CLIFailure.usage("--seconds must be between 1 and 60") }
        guard let server = databaseURL ?? ProcessInfo.processInfo.environment["PLUTUS_DATABASE_URL"], !server.isEmpty else {
            throw CLIFailure.usage("--database-url (or PLUTUS_DATABASE_URL) naming a PostgreSQL server is required")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("plutus-bench-scale-\(UUID().uuidString)")
        let sqlitePath = directory.appendingPathComponent("bench.db").path
        let sqlite = try SQLiteStore(path: sqlitePath)
        let name = "plutus_bench_\(UUID().uuidString.prefix(8).lowercased())"
        let url = try await PostgresAdmin.createDatabase(url: server, name: name)
        let postgres = try await PostgresStore.open(
            url: url, migrations: .apply,
            logger: {
                var logger = Logger(label: "plutus.postgres")
                logger.logLevel = .error
                return logger
            }())
        defer { try? FileManager.default.removeItem(at: directory) }
        let (sqliteOrg, sqliteKey) = try await Self.prepare(sqlite)
        let (postgresOrg, postgresKey) = try await Self.prepare(postgres)
        let targets = [
            Target(
                name: "SQLite", arguments: ["--db", sqlitePath], processes: 1, store: sqlite, organization: sqliteOrg,
                key: sqliteKey),
            Target(
                name: "PostgreSQL", arguments: ["--database-url", url], processes: 1, store: postgres, organization: postgresOrg,
                key: postgresKey),
            Target(
                name: "PostgreSQL", arguments: ["--database-url", url], processes: 3, store: postgres, organization: postgresOrg,
                key: postgresKey),
        ]
        print("plutus bench-scale — \(ProcessInfo.processInfo.activeProcessorCount) cores, \(Int(seconds)) s per scenario\n")
        var rows: [[String]] = []
        var acknowledged: [String: Int] = [:]
        for target in targets {
            let servers = try (0..<target.processes).map { _ in try ServerProcess(arguments: target.arguments) }
            defer { servers.forEach { $0.stop() } }
            for server in servers { try await server.waitUntilListening() }
            for (label, body, connections, events) in Self.scenarios {
                let result = await Self.drive(
                    servers.map(\.port), key: target.key, body: body, connections: connections, seconds: seconds)
                let ok = result.responses[200] ?? 0
                acknowledged[target.name, default: 0] += ok * events
                rows.append([
                    target.name, String(target.processes), label, String(connections),
                    String(format: "%.0f", Double(result.total) / result.seconds),
                    String(format: "%.0f", Double(ok * events) / result.seconds),
                    String(format: "%.2f", result.percentile(0.5)), String(format: "%.2f", result.percentile(0.99)),
                    String(result.total - ok), String(result.errors),
                ])
            }
        }
        print(
            TextTable.render(
                ["backend", "servers", "scenario", "conns", "req/s", "events/s", "p50 ms", "p99 ms", "non-2xx", "errors"], rows,
                numeric: [1, 3, 4, 5, 6, 7, 8, 9]))
        var clean = true
        for (label, store, org) in [("SQLite", sqlite as any BillingStore, sqliteOrg), ("PostgreSQL", postgres, postgresOrg)] {
            let recorded = try await store.balance(org, at: Timestamp.now()).monthEvents
            let report = try await store.verify()
            let matches = Int64(acknowledged[label] ?? 0) == recorded
            clean = clean && matches && report.isClean
            print(
                "\(label): acknowledged \(acknowledged[label] ?? 0) events, the database holds \(recorded)"
                    + (matches ? " ✓" : " ✗ MISMATCH")
                    + (report.isClean ? ", ledger verified ✓" : ", ledger problems: \(report.problems)"))
        }
        await postgres.close()
        try await PostgresAdmin.dropDatabase(url: server, name: name)
        if !clean { throw CLIFailure.runtime("recorded events differ from acknowledged ones") }
    }

    static let scenarios: [(String, [UInt8], Int, Int)] = [
        (
            "1 event",
            Array(#"{"provider":"anthropic","model":"claude-sonnet-4-5","input_tokens":1200,"output_tokens":300}"#.utf8), 64, 1
        ),
        (
            "batch of 100",
            Array(
                ("["
                    + Array(
                        repeating: #"{"provider":"openai","model":"gpt-5-mini","input_tokens":800,"output_tokens":200}"#,
                        count: 100
                    ).joined(separator: ",") + "]").utf8), 8, 100
        ),
    ]

    /// An organization with plenty of credit and a key.
    static func prepare(_ store: some BillingStore) async throws -> (OrganizationID, String) {
        let org = try await store.createOrganization(name: "Bench", plan: .enterprise, ownerEmail: nil)
        _ = try await store.postCredit(
            org.id, try CreditMovement(kind: .grant, amount: MicroDollars.dollars(1_000_000)!, reference: "bench", memo: nil),
            at: Timestamp.now())
        return (org.id, try await store.createAPIKey(org.id, name: "bench").secret)
    }

    /// `connections` spread evenly over the servers, all at once; results merged.
    static func drive(_ ports: [Int], key: String, body: [UInt8], connections: Int, seconds: Double) async -> LoadGenerator.Result
    {
        await withTaskGroup(of: LoadGenerator.Result.self) { group in
            for (index, port) in ports.enumerated() {
                let share = connections / ports.count + (index < connections % ports.count ? 1 : 0)
                let generator = LoadGenerator(
                    port: port, path: "/v1/usage", headers: [("Authorization", "Bearer \(key)")], body: body)
                // A thread per server's load: the concurrency pool has a thread per core, too
                // few to block one per server.
                group.addTask { await generator.runOnThread(connections: share, seconds: seconds) }
            }
            var merged = LoadGenerator.Result()
            for await result in group {
                merged.responses.merge(result.responses, uniquingKeysWith: +)
                merged.latenciesNanos += result.latenciesNanos
                merged.errors += result.errors
                merged.seconds = max(merged.seconds, result.seconds)
            }
            return merged
        }
    }
}

/// A `plutus serve` child process on a free loopback port.
final class ServerProcess: Sendable {
    let process: Process
    let port: Int

    init(arguments: [String]) throws {
        port = try Self.freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: PlutusBench.plutusBinary)
        process.arguments = ["serve", "--port", String(port)] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PLUTUS_INGEST_RATE_PER_MIN"] = "0"
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
    }

    func waitUntilListening() async throws {
        for _ in 0..<400 {
            if Self.accepts(port) { return }
            guard process.isRunning else {
                throw CLIFailure.runtime("plutus serve exited with status \(process.terminationStatus)")
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        throw CLIFailure.runtime("plutus serve did not start listening on port \(port)")
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }

    private static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = loopback(port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }

    private static func loopback(_ port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return address
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = loopback(0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw CLIFailure.runtime("no free loopback port") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
