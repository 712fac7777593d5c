import ArgumentParser
import Foundation
import Logging
import PlutusCore
import PlutusSQLite
import PlutusServer
import PlutusStore

struct BenchDashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard",
        abstract: "Seed one organization with many events, then time the dashboard's summary and page.",
        discussion: """
            Seeds a fresh temporary database through the store (batches of 1,000, so the daily rollup stays \
            exact), checks `verify`, then times the month's usage summary in the store and GET / over \
            loopback HTTP. Figures, not assertions; only 127.0.0.1 is targeted.
            """)

    @Option(help: "Events to seed (1,000–5,000,000).") var events = 1_000_000
    @Option(help: "Summary renders to time.") var renders = 200
    @Option(help: "Seconds of GET / over loopback.") var seconds: Double = 3

    static let workloads: [(provider: String, model: String, task: String)] = [
        ("anthropic", "claude-opus-4-8", "code_review"), ("anthropic", "claude-sonnet-4-5-20250929", "chat"),
        ("anthropic", "claude-haiku-4-5-20251001", "classify"), ("google", "gemini-2.5-flash", "summarize"),
        ("google", "gemini-3.1-pro-preview", "research"), ("openai", "gpt-5-mini", "chat"),
        ("deepseek", "deepseek-v4-flash", "classify"),
    ]
    static let workspaces = ["support", "ci", "research", "pipeline", "sales"]
    static let daysSeeded: Int64 = 30

    func run() async throws {
        guard (1_000...5_000_000).contains(events), (1...100_000).contains(renders), (1...60).contains(seconds) else {
            throw CLIFailure.usage("--events 1,000–5,000,000, --renders 1–100,000, --seconds 1–60")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("plutus-bench-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let store = try SQLiteStore(path: directory.appendingPathComponent("bench.db").path)
        let org = try await store.createOrganization(name: "Bench", plan: .enterprise, ownerEmail: nil)
        _ = try await store.postCredit(
            org.id, try CreditMovement(kind: .grant, amount: MicroDollars.dollars(5_000_000)!, reference: "bench", memo: nil),
            at: Timestamp.now())
        let seedStart = ContinuousClock.now
        try await seed(store, org.id)
        let seeded = ContinuousClock.now - seedStart
        print("seeded \(events) events over \(Self.daysSeeded) days in \(Self.format(seeded, unit: 1)) s")
        let verifyStart = ContinuousClock.now
        let report = try await store.verify()
        print(
            "verify: \(report.isClean ? "clean" : "\(report.problems.count) problems") in \(Self.format(ContinuousClock.now - verifyStart, unit: 1)) s"
        )

        let now = Timestamp.now()
        var latencies: [Duration] = []
        for _ in 0..<renders {
            let begin = ContinuousClock.now
            _ = try await store.usageSummary(org.id, days: now.month.start.day..<now.day.adding(days: 1), workspace: nil)
            latencies.append(ContinuousClock.now - begin)
        }
        latencies.sort()
        print(
            "store usageSummary (month to date), \(renders) runs: median \(Self.format(latencies[latencies.count / 2], unit: 1e-3)) ms, p99 \(Self.format(latencies[min(latencies.count - 1, latencies.count * 99 / 100)], unit: 1e-3)) ms"
        )
        try await timePage(store, org.id)
    }

    /// Batches of 1,000 from 4 tasks, spread evenly over the last `daysSeeded` days.
    private func seed(_ store: SQLiteStore, _ org: OrganizationID) async throws {
        let batchSize = Limits.batchEventsMax
        let batches = (events + batchSize - 1) / batchSize
        let now = Timestamp.now()
        let spanMillis = Self.daysSeeded * 86_400_000 - 3_600_000
        let tasks = 4
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<tasks {
                group.addTask {
                    for batch in stride(from: task, to: batches, by: tasks) {
                        let count = min(batchSize, events - batch * batchSize)
                        let inputs = (0..<count).map { offset -> UsageEventInput in
                            let n = batch * batchSize + offset
                            let workload = Self.workloads[n % Self.workloads.count]
                            let age = spanMillis * Int64(events - n) / Int64(events)
                            return UsageEventInput(
                                provider: workload.provider, model: workload.model, taskType: workload.task,
                                workspace: Self.workspaces[n / 7 % Self.workspaces.count],
                                tokens: TokenCounts(input: Int64(200 + n % 4_000), output: Int64(50 + n % 900)),
                                timestamp: Timestamp(rawValue: now.millis - age))
                        }
                        _ = try await store.recordUsage(
                            UsageBatch(
                                organizationID: org, events: inputs,
                                policy: MeteringPolicy(blockOverBalance: false, lowBalanceThreshold: .zero),
                                receivedAt: now))
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// GET / (the whole dashboard page) back to back on one keep-alive connection.
    private func timePage(_ store: SQLiteStore, _ org: OrganizationID) async throws {
        let logger = ServerLogHandler.logger(label: "plutus-bench", level: .critical)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = buildApplication(
            configuration: ServerConfiguration(host: "127.0.0.1", port: 0, version: PlutusBench.version), store: store,
            logger: logger
        ) { continuation.yield($0) }
        await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { return }
            let request = Array("GET /?org=\(org.rawValue) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n\r\n".utf8)
            let seconds = self.seconds
            let result = await LoadGenerator(port: port) { _, _ in request }.runOnThread(connections: 1, seconds: seconds)
            print(
                "GET / (full dashboard page), \(result.total) requests over \(String(format: "%.1f", result.seconds)) s: "
                    + "median \(String(format: "%.2f", result.percentile(0.5))) ms, p99 \(String(format: "%.2f", result.percentile(0.99))) ms, "
                    + "non-200 \(result.total - (result.responses[200] ?? 0)), errors \(result.errors)")
            group.cancelAll()
        }
    }

    static func format(_ duration: Duration, unit: Double) -> String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return String(format: unit < 1 ? "%.2f" : "%.1f", seconds / unit)
    }
}
