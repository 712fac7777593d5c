import ArgumentParser
import Foundation
import Logging
import PlutusCore
import PlutusSQLite
import PlutusServer
import PlutusStore

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Measure ingest throughput and latency over loopback HTTP, beside a trivial-route ceiling.",
        discussion: """
            Runs in one process on a fresh temporary database (synchronous=FULL): the ceilings (a trivial \
            Hummingbird POST route at 64 connections; the same with one row per request written through \
            the store's group committer and answered once durable; plain SQLite inserts on the same disk \
            with one and 100 rows per durable commit; and usage event rows into the store's own table, 100 \
            and 1,000 per commit), then POST /v1/usage with single events at 1, 8 and 64 connections and batches \
            of 100 at 8 and 32; then three more pairs of the trivial route and single events at 64 connections, back \
            to back, for the share of the ceiling at one moment. Afterwards checks that the events recorded \
            equal the events acknowledged. Figures, not assertions; only 127.0.0.1 is targeted.
            """)

    @Option(help: "Seconds per scenario (1–60).") var seconds: Double = 3

    enum Generator: String, ExpressibleByArgument, CaseIterable {
        /// wrk when it is installed, else the built-in one.
        case auto, wrk, builtin
    }

    @Option(help: "Load generator for the HTTP scenarios: auto (wrk if installed), wrk, or builtin (a thread per connection).")
    var loadGenerator: Generator = .auto

    static let webhookSecret = "whsec_bench"

    /// A signed `checkout.session.completed` for $1, unique per connection and number.
    static func webhookRequest(port: Int, org: OrganizationID, connection: Int, n: Int) -> [UInt8] {
        let id = "\(connection)_\(n)"
        let body = Array(
            #"{"id": "evt_bench_\#(id)", "object": "event", "type": "checkout.session.completed", "created": 1795000000, "data": {"object": {"id": "cs_bench_\#(id)", "mode": "payment", "amount_total": 100, "currency": "usd", "payment_status": "paid", "payment_intent": "pi_bench_\#(id)", "client_reference_id": "\#(org.rawValue)"}}}"#
                .utf8)
        let signature = StripeSignature.header(
            payload: body, secret: webhookSecret, timestamp: Int64(Date().timeIntervalSince1970))
        return LoadGenerator.request(port: port, path: "/webhook/stripe", headers: [("Stripe-Signature", signature)], body: body)
    }

    /// A pair's hold: the call's worst case, priced from the catalog; its settle sends the
    /// bench's single event.
    static let holdBody = #"{"provider":"anthropic","model":"claude-sonnet-4-5","input_tokens":1200,"max_output_tokens":1000}"#
    static let settleBody = #"{"provider":"anthropic","model":"claude-sonnet-4-5","input_tokens":1200,"output_tokens":300}"#

    /// The next request of a hold + settle pair: a settle when the previous answer on this
    /// connection placed a hold, else a new hold.
    static func holdOrSettle(port: Int, key: String, previous: [UInt8]) -> [UInt8] {
        let auth = [("Authorization", "Bearer \(key)")]
        let marker = Array(#""reservation_id":""#.utf8)
        if previous.count > marker.count + 20, Array(previous.prefix(marker.count + 1)) == [UInt8(ascii: "{")] + marker {
            let id = String(decoding: previous[(marker.count + 1)..<(marker.count + 21)], as: UTF8.self)
            return LoadGenerator.request(
                port: port, path: "/v1/reservations/\(id)/settle", headers: auth, body: Array(settleBody.utf8))
        }
        return LoadGenerator.request(port: port, path: "/v1/reservations", headers: auth, body: Array(holdBody.utf8))
    }

    func run() async throws {
        guard (1...60).contains(seconds) else { throw CLIFailure.usage("--seconds must be between 1 and 60") }
        let books = try await BenchBooks.make()
        let (directory, store, key) = (books.directory, books.store, books.key)
        let configuration = ServerConfiguration(
            host: "127.0.0.1", port: 0, ingestRatePerMinute: 0, version: PlutusBench.version,
            stripeWebhookSecrets: [Self.webhookSecret])
        // The handler `plutus serve` logs with; stopping the servers at the end logs cancellations.
        let logger = ServerLogHandler.logger(label: "plutus-bench", level: .critical)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = buildApplication(configuration: configuration, store: store, logger: logger) { continuation.yield($0) }
        let durable = try SQLiteCeiling.GroupCommittedRows(directory: directory.path)
        let ceiling = buildCeilingApplication(logger: logger, durableWrite: { try await durable.write() }) {
            continuation.yield($0)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            var iterator = ports.makeAsyncIterator()
            guard let plutusPort = await iterator.next() else { return }
            group.addTask { try await ceiling.run() }
            guard let ceilingPort = await iterator.next() else { return }
            try await measure(
                plutusPort: plutusPort, ceilingPort: ceilingPort, key: key, store: store, org: books.organization,
                durable: durable)
            group.cancelAll()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// CPU time per request, in µs: the whole process (server, writer and the built-in load
    /// generator) plus wrk's own, when wrk drives the load.
    static func cpuPerRequest(_ seconds: Double, _ requests: Int) -> String {
        requests > 0 ? String(format: "%.0f", seconds * 1e6 / Double(requests)) : "-"
    }

    /// Write requests the store's group committer carried per transaction between two readings.
    static func requestsPerCommit(_ before: GroupCommitCounts, _ after: GroupCommitCounts) -> String {
        let transactions = after.transactions - before.transactions
        guard transactions > 0 else { return "-" }
        return String(format: "%.1f", Double(after.requests - before.requests) / Double(transactions))
    }

    /// Requests of `events` events straight into the store from `tasks` tasks: the cost of
    /// the metering transaction itself, without HTTP or JSON.
    private func storeOnly(store: SQLiteStore, org: OrganizationID, events: Int, tasks: Int, acknowledged: inout Int)
        async throws -> [String]
    {
        let event = UsageEventInput(
            provider: "openai", model: "gpt-5-mini", tokens: TokenCounts(input: 800, output: 200))
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        let start = ContinuousClock.now
        let before = store.groupCommitCounts
        let cpuBefore = ProcessCPU.seconds()
        let results = try await withThrowingTaskGroup(of: [Duration].self) { group in
            for _ in 0..<tasks {
                group.addTask {
                    var latencies: [Duration] = []
                    while ContinuousClock.now < deadline {
                        let begin = ContinuousClock.now
                        _ = try await store.recordUsage(
                            UsageBatch(
                                organizationID: org, events: Array(repeating: event, count: events), receivedAt: Timestamp.now()))
                        latencies.append(ContinuousClock.now - begin)
                    }
                    return latencies
                }
            }
            return try await group.reduce(into: [Duration]()) { $0 += $1 }
        }
        let elapsed = ContinuousClock.now - start
        let cpu = ProcessCPU.seconds() - cpuBefore
        let after = store.groupCommitCounts
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        acknowledged += results.count * events
        let sorted = results.sorted()
        func milliseconds(_ fraction: Double) -> String {
            let value = sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
            return String(format: "%.2f", Double(value.components.attoseconds) / 1e15 + Double(value.components.seconds) * 1000)
        }
        return [
            events == 1 ? "store only (no HTTP): 1 event" : "store only (no HTTP): batch of \(events)", String(tasks),
            String(format: "%.0f", Double(results.count) / seconds),
            String(format: "%.0f", Double(results.count * events) / seconds), milliseconds(0.5), milliseconds(0.99),
            Self.cpuPerRequest(cpu, results.count), Self.requestsPerCommit(before, after), "0", "0",
        ]
    }

    /// Plain inserts on the same disk: one row per durable commit, and 100 rows per commit;
    /// then usage event rows into the store's own table, indexes and all, 100 and 1,000 per
    /// commit (a group of batches commits several hundred).
    private static let eventRowCeilingLabel = "ceiling: raw SQLite event rows, 1000/commit"

    private func sqliteCeilings(directory: String) throws -> [[String]] {
        let runs: [(SQLiteCeiling.Rows, Int, String)] = [
            (.plain, 1, "ceiling: raw SQLite insert, 1 row/commit"),
            (.plain, 100, "ceiling: raw SQLite insert, 100 rows/commit"),
            (.usageEvents, 100, "ceiling: raw SQLite event rows, 100/commit"),
            (.usageEvents, 1000, Self.eventRowCeilingLabel),
        ]
        return try runs.map { rows, rowsPerCommit, label in
            let figures = try SQLiteCeiling.measure(
                directory: directory, rows: rows, rowsPerCommit: rowsPerCommit, seconds: seconds)
            return [
                label, "1",
                String(format: "%.0f", figures.commitsPerSecond), String(format: "%.0f", figures.rowsPerSecond), "-", "-", "-",
                "1", "0", "0",
            ]
        }
    }

    private typealias Scenario = (name: String, port: Int, path: String, bodies: [[UInt8]], connections: Int, events: Int)

    /// Adjacent (trivial route, single events at 64 connections) pairs measured after the table.
    static let sharePairs = 3

    /// The memory target for the server: 200 MB.
    static let peakMemoryTargetBytes: Int64 = 200_000_000

    /// The HTTP ceilings' labels, for their rows and the summary lines.
    private static let trivialCeilingLabel = "ceiling: trivial Hummingbird POST"
    private static let durableCeilingLabel = "ceiling: POST + 1 durable row, group commit"
    /// The ingest rows' labels, which the summary lines look up.
    private static let singleEventLabel = "POST /v1/usage, 1 event"
    private static let batchLabel = "POST /v1/usage, batch of 100"
    private static let realisticSingleLabel = "POST /v1/usage, 1 event, realistic mix"
    private static let realisticBatchLabel = "POST /v1/usage, batch of 100, realistic mix"
    private static let workspaceBatchLabel = "POST /v1/usage, batch of 100, + workspace"

    private func measure(
        plutusPort: Int, ceilingPort: Int, key: String, store: SQLiteStore, org: OrganizationID,
        durable: SQLiteCeiling.GroupCommittedRows
    ) async throws {
        let single = Array(#"{"provider":"anthropic","model":"claude-sonnet-4-5","input_tokens":1200,"output_tokens":300}"#.utf8)
        let batch = Array(
            ("["
                + Array(
                    repeating: #"{"provider":"openai","model":"gpt-5-mini","input_tokens":800,"output_tokens":200}"#, count: 100
                )
                .joined(separator: ",") + "]").utf8)
        let auth = [("Authorization", "Bearer \(key)")]
        // What agents send: several providers, models, workspaces and task types, a fifth with
        // an exact cost, half with an event id (unique per request); beside the bare rows.
        let realisticSingles = RealisticEvents.bodies(count: 64, events: 1, seed: 1)
        let realisticBatches = RealisticEvents.bodies(count: 8, events: 100, seed: 2)
        let workspaceBatches = RealisticEvents.bodies(count: 8, events: 100, seed: 3, workspaceOnly: true)
        let trivialRoute: Scenario = (Self.trivialCeilingLabel, ceilingPort, "/echo", [single], 64, 0)
        let singlesAt64: Scenario = (Self.singleEventLabel, plutusPort, "/v1/usage", [single], 64, 1)
        let scenarios: [Scenario] = [
            trivialRoute,
            (Self.durableCeilingLabel, ceilingPort, "/durable", [single], 64, 0),
            (Self.singleEventLabel, plutusPort, "/v1/usage", [single], 1, 1),
            (Self.singleEventLabel, plutusPort, "/v1/usage", [single], 8, 1),
            singlesAt64,
            (Self.realisticSingleLabel, plutusPort, "/v1/usage", realisticSingles, 64, 1),
            (Self.batchLabel, plutusPort, "/v1/usage", [batch], 8, 100),
            (Self.batchLabel, plutusPort, "/v1/usage", [batch], 32, 100),
            (Self.workspaceBatchLabel, plutusPort, "/v1/usage", workspaceBatches, 8, 100),
            (Self.realisticBatchLabel, plutusPort, "/v1/usage", realisticBatches, 8, 100),
            (Self.realisticBatchLabel, plutusPort, "/v1/usage", realisticBatches, 32, 100),
        ]
        var runs = 0
        let wrk: String?
        switch loadGenerator {
        case .builtin: wrk = nil
        case .auto: wrk = WrkLoad.executable
        case .wrk:
            guard let found = WrkLoad.executable else { throw CLIFailure.usage("wrk is not installed (apt-get install wrk)") }
            wrk = found
        }
        print(
            "plutus bench — \(ProcessInfo.processInfo.activeProcessorCount) cores, \(Int(seconds)) s per scenario, SQLite synchronous=FULL, "
                + "load from \(wrk.map { "wrk (\($0))" } ?? "the built-in generator (a thread per connection)")\n")
        let header = [
            "scenario", "conns", "req/s", "events/s", "p50 ms", "p99 ms", "cpu µs/req", "req/commit", "non-2xx", "errors",
        ]
        var rows: [[String]] = []
        var acknowledged = 0
        /// Events of requests that were sent but whose answer the load generator did not wait for.
        var unanswered = 0
        var ceilingRates: [String: Double] = [:]
        var unexpected: [String] = []
        var pairSummary: String?
        /// Runs one load, counts what it acknowledged, and returns its table row and rate.
        func load(_ scenario: Scenario) async throws -> (row: [String], rate: Double) {
            let headers = scenario.port == plutusPort ? auth : []
            let commits = { scenario.path == "/durable" ? durable.counts : store.groupCommitCounts }
            let before = commits()
            let cpuBefore = ProcessCPU.seconds()
            let result: LoadGenerator.Result
            var clientCPU = 0.0
            runs += 1
            if let wrk {
                let load = WrkLoad(
                    executable: wrk, port: scenario.port, path: scenario.path, headers: headers, bodies: scenario.bodies,
                    run: runs)
                (result, clientCPU) = try await onThread { try load.run(connections: scenario.connections, seconds: seconds) }
            } else {
                let generator = LoadGenerator(
                    port: scenario.port, path: scenario.path, headers: headers, bodies: scenario.bodies, run: runs)
                result = await generator.runOnThread(connections: scenario.connections, seconds: seconds)
            }
            let cpu = ProcessCPU.seconds() - cpuBefore + clientCPU
            let after = commits()
            let ok = result.responses[200] ?? 0
            acknowledged += ok * scenario.events
            unanswered += result.unanswered * scenario.events
            if result.total != ok {
                let statuses = result.responses.filter { $0.key != 200 }.sorted { $0.key < $1.key }.map {
                    "\($0.value) × \($0.key)"
                }
                unexpected.append("\(scenario.name) at \(scenario.connections) connections: " + statuses.joined(separator: ", "))
            }
            let rate = Double(result.total) / result.seconds
            let row = [
                scenario.name, String(scenario.connections), String(format: "%.0f", rate),
                scenario.events == 0 ? "-" : String(format: "%.0f", Double(ok * scenario.events) / result.seconds),
                String(format: "%.2f", result.percentile(0.5)), String(format: "%.2f", result.percentile(0.99)),
                Self.cpuPerRequest(cpu, result.total), Self.requestsPerCommit(before, after), String(result.total - ok),
                String(result.errors),
            ]
            return (row, rate)
        }
        for scenario in scenarios {
            let measured = try await load(scenario)
            if scenario.events == 0 { ceilingRates[scenario.name] = measured.rate }
            rows.append(measured.row)
        }
        // The target is a ratio, and this VM's speed drifts over a run: the trivial route and
        // single events are also measured in adjacent pairs, so each share compares the two
        // at the same moment.
        var pairedShares: [Double] = []
        for _ in 0..<Self.sharePairs {
            let trivial = try await load(trivialRoute).rate
            let singles = try await load(singlesAt64).rate
            if trivial > 0 { pairedShares.append(singles / trivial) }
        }
        // Holds: a hold, then its settle, back to back on each connection, from the built-in
        // generator (the settle needs the hold's id), beside single events from the same
        // generator at 64 connections, measured right before.
        let builtinSingles = LoadGenerator(port: plutusPort, path: "/v1/usage", headers: auth, body: single)
        let singlesBuiltin = await builtinSingles.runOnThread(connections: 64, seconds: seconds)
        acknowledged += singlesBuiltin.responses[200] ?? 0
        let singleBuiltinRate = Double(singlesBuiltin.responses[200] ?? 0) / singlesBuiltin.seconds
        rows.append([
            "POST /v1/usage, 1 event (built-in generator)", "64", String(format: "%.0f", singleBuiltinRate),
            String(format: "%.0f", singleBuiltinRate), String(format: "%.2f", singlesBuiltin.percentile(0.5)),
            String(format: "%.2f", singlesBuiltin.percentile(0.99)), "-", "-",
            String(singlesBuiltin.total - (singlesBuiltin.responses[200] ?? 0)), String(singlesBuiltin.errors),
        ])
        var pairRates: [Int: Double] = [:]
        for connections in [1, 8, 64] {
            let pairs = LoadGenerator(port: plutusPort) { _, _, previous in
                Self.holdOrSettle(port: plutusPort, key: key, previous: previous)
            }
            let commitsBefore = store.groupCommitCounts
            let cpuBefore = ProcessCPU.seconds()
            let result = await pairs.runOnThread(connections: connections, seconds: seconds)
            let cpu = ProcessCPU.seconds() - cpuBefore
            let settled = result.responses[200] ?? 0
            acknowledged += settled
            pairRates[connections] = Double(settled) / result.seconds
            let refused = result.total - settled - (result.responses[201] ?? 0)
            if refused > 0 { unexpected.append("hold + settle at \(connections) connections: \(refused) answers not 200/201") }
            rows.append([
                "POST /v1/reservations + settle (pairs/s)", String(connections),
                String(format: "%.0f", Double(result.total) / result.seconds), String(format: "%.0f", pairRates[connections]!),
                String(format: "%.2f", result.percentile(0.5)), String(format: "%.2f", result.percentile(0.99)),
                Self.cpuPerRequest(cpu, result.total), Self.requestsPerCommit(commitsBefore, store.groupCommitCounts),
                String(refused), String(result.errors),
            ])
        }
        if singleBuiltinRate > 0, let pairs64 = pairRates[64] {
            pairSummary = String(
                format:
                    "hold + settle pairs at 64 connections: %.0f pairs/s, %.0f%% of single-event ingest from the same generator (%.0f events/s)",
                pairs64, pairs64 / singleBuiltinRate * 100, singleBuiltinRate)
        }
        rows.append(try await storeOnly(store: store, org: org, events: 1, tasks: 64, acknowledged: &acknowledged))
        rows.append(try await storeOnly(store: store, org: org, events: 100, tasks: 8, acknowledged: &acknowledged))
        // After the two HTTP ceilings.
        rows.insert(contentsOf: try sqliteCeilings(directory: (store.location as NSString).deletingLastPathComponent), at: 2)
        let balanceBefore = try await store.balance(org, at: Timestamp.now()).balance
        let webhooks = LoadGenerator(port: plutusPort) { connection, n in
            Self.webhookRequest(port: plutusPort, org: org, connection: connection, n: n)
        }
        let webhooksBefore = store.groupCommitCounts
        let webhooksCPUBefore = ProcessCPU.seconds()
        let delivered = await webhooks.runOnThread(connections: 8, seconds: seconds)
        let webhooksCPU = ProcessCPU.seconds() - webhooksCPUBefore
        let webhooksAfter = store.groupCommitCounts
        let credited = delivered.responses[200] ?? 0
        rows.append([
            "POST /webhook/stripe, signed, unique", "8", String(format: "%.0f", Double(delivered.total) / delivered.seconds), "-",
            String(format: "%.2f", delivered.percentile(0.5)), String(format: "%.2f", delivered.percentile(0.99)),
            Self.cpuPerRequest(webhooksCPU, delivered.total), Self.requestsPerCommit(webhooksBefore, webhooksAfter),
            String(delivered.total - credited), String(delivered.errors),
        ])
        let creditedDollars = try await store.balance(org, at: Timestamp.now()).balance.subtracting(balanceBefore) ?? .zero
        print(TextTable.render(header, rows, numeric: [1, 2, 3, 4, 5, 6, 7, 8, 9]))
        for line in unexpected { print("non-2xx answers — \(line)") }
        if let pairSummary { print("\n" + pairSummary) }
        if let single64 = rows.first(where: { $0[0] == Self.singleEventLabel && $0[1] == "64" }), let rate = Double(single64[2]),
            let trivial = ceilingRates[Self.trivialCeilingLabel], trivial > 0
        {
            print(String(format: "\nsingle events at 64 connections: %.0f%% of the trivial-route ceiling", rate / trivial * 100))
            if !pairedShares.isEmpty {
                let percents = pairedShares.map { String(format: "%.0f%%", $0 * 100) }.joined(separator: ", ")
                let median = String(format: "%.0f%%", pairedShares.sorted()[pairedShares.count / 2] * 100)
                print(
                    "the same in \(pairedShares.count) adjacent pairs, each measured right after the trivial route: \(percents); median \(median)"
                )
            }
            if let durableRate = ceilingRates[Self.durableCeilingLabel], durableRate > 0 {
                print(
                    String(
                        format:
                            "one durable row per request at 64 connections: %.0f%% of the trivial-route ceiling; single events reach %.0f%% of it",
                        durableRate / trivial * 100, rate / durableRate * 100))
            }
        }
        // Batches are measured at two loads: more requests in flight make bigger commit groups.
        let batchRates = rows.filter { $0[0] == Self.batchLabel }.compactMap { row in
            Double(row[3]).map { (connections: row[1], eventRate: $0) }
        }
        if let best = batchRates.max(by: { $0.eventRate < $1.eventRate }),
            let rowCeiling = rows.first(where: { $0[0] == Self.eventRowCeilingLabel }),
            let rowRate = Double(rowCeiling[3]), rowRate > 0
        {
            let rates = batchRates.map { String(format: "%.0f", $0.eventRate) + " events/s at \($0.connections) connections" }
            print(
                "batches of 100: \(rates.joined(separator: ", ")); the best is "
                    + String(
                        format: "%.0f%% of the raw event-row ceiling (1,000 rows per commit)", best.eventRate / rowRate * 100))
        }
        // What agents send, against the bare rows of the same load.
        func eventRate(_ label: String, _ connections: String) -> Double? {
            rows.first { $0[0] == label && $0[1] == connections }.flatMap { Double($0[3]) }
        }
        if let realistic8 = eventRate(Self.realisticBatchLabel, "8"), let realistic32 = eventRate(Self.realisticBatchLabel, "32"),
            let bare8 = eventRate(Self.batchLabel, "8"), let workspace8 = eventRate(Self.workspaceBatchLabel, "8"), bare8 > 0
        {
            print(
                String(
                    format:
                        "realistic batches of 100: %.0f events/s at 8 connections, %.0f at 32; a workspace on every event costs %.0f%% against the bare batch at 8, the realistic mix %.0f%%",
                    realistic8, realistic32, (1 - workspace8 / bare8) * 100, (1 - realistic8 / bare8) * 100))
        }
        if let realisticSingle = eventRate(Self.realisticSingleLabel, "64"),
            let bareSingle = eventRate(Self.singleEventLabel, "64"),
            let trivial = ceilingRates[Self.trivialCeilingLabel], trivial > 0, bareSingle > 0
        {
            print(
                String(
                    format:
                        "realistic single events at 64 connections: %.0f%% of the trivial-route ceiling (the bare event: %.0f%%)",
                    realisticSingle / trivial * 100, bareSingle / trivial * 100))
        }
        print(
            "webhooks: \(credited) deliveries acknowledged, the ledger gained \(creditedDollars.formatted)"
                + (creditedDollars == MicroDollars.dollars(Int64(credited)) ? " ✓" : " ✗ MISMATCH"))
        let peak = ProcessMemory.peakResidentBytes()
        print(
            String(
                format: "peak memory: %.0f MiB resident in this process (the server, its store and the bench's own ",
                Double(peak) / 1_048_576)
                + "bookkeeping; wrk runs apart); the target is at most \(Self.peakMemoryTargetBytes / 1_000_000) MB"
                + (peak <= Self.peakMemoryTargetBytes ? " ✓" : " ✗ over"))
        let recorded = try await store.balance(org, at: Timestamp.now()).monthEvents
        // Every acknowledged event must be there; beyond them, at most the events of requests
        // still unanswered when the load stopped (recorded, but their answer never read).
        let accounted = Int64(acknowledged) <= recorded && recorded <= Int64(acknowledged + unanswered)
        print(
            "acknowledged \(acknowledged) events; the database holds \(recorded)"
                + (unanswered > 0
                    ? " (\(recorded - Int64(acknowledged)) more, of \(unanswered) in requests unanswered when wrk stopped)" : "")
                + (accounted ? " ✓" : " ✗ MISMATCH"))
        let report = try await store.verify()
        print(report.isClean ? "ledger verified ✓" : "ledger problems: \(report.problems)")
        if !accounted || !report.isClean || creditedDollars != MicroDollars.dollars(Int64(credited)) {
            throw CLIFailure.runtime("recorded events differ from acknowledged ones")
        }
    }
}
