import ArgumentParser
import Foundation
import PlutusCore
import PlutusGatewayTesting
import PlutusSQLite
import PlutusServer
import PlutusStore

/// `plutus-bench gateway`: a chat call sent to the fake upstream directly and through the
/// gateway, in the same run, at 1 and 64 connections, plain and streamed. The gateway's
/// holds and settles are durable (SQLite, synchronous=FULL).
struct GatewayBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway",
        abstract: "Chat calls to a fake upstream directly and through the gateway: requests/s and the latency it adds.",
        discussion: """
            Runs in one process: a fake OpenAI upstream (the tests' own), and plutus's server on a \
            fresh durable SQLite database with its gateway pointed at the fake. wrk sends the same \
            chat call (a short prompt, max_completion_tokens 100) to the fake and to the gateway, \
            plain and streamed, at 1 and 64 connections. Afterwards checks that every call the \
            gateway answered is on the ledger. Only 127.0.0.1 is targeted.
            """)

    @Option(help: "Seconds per scenario (1–60).")
    var seconds: Double = 3

    static let upstreamKey = "sk-bench-upstream"

    static func chat(stream: Bool) -> [UInt8] {
        Array(
            #"{"model":"gpt-5-mini","max_completion_tokens":100,"stream":\#(stream),"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello to the benchmark."}]}"#
                .utf8)
    }

    func run() async throws {
        guard (1...60).contains(seconds) else { throw CLIFailure.usage("--seconds must be between 1 and 60") }
        guard let wrk = WrkLoad.executable else { throw CLIFailure.usage("the gateway bench needs wrk (apt-get install wrk)") }
        let books = try await BenchBooks.make()
        defer { books.remove() }
        let (store, org, key) = (books.store, books.organization, books.key)
        let fake = FakeUpstream(key: Self.upstreamKey)
        let seconds = self.seconds
        try await fake.run { upstreamPort in
            let configuration = ServerConfiguration(
                host: "127.0.0.1", port: 0, ingestRatePerMinute: 0, version: PlutusBench.version,
                gateway: GatewayConfiguration(
                    openAI: .init(baseURL: "http://127.0.0.1:\(upstreamPort)", key: Self.upstreamKey)))
            let logger = ServerLogHandler.logger(label: "plutus-bench", level: .critical)
            let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
            let app = buildApplication(configuration: configuration, store: store, logger: logger) { continuation.yield($0) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await app.run() }
                var iterator = ports.makeAsyncIterator()
                guard let plutusPort = await iterator.next() else { return }
                try await Self.measure(
                    wrk: wrk, upstreamPort: upstreamPort, plutusPort: plutusPort, key: key, seconds: seconds, store: store,
                    org: org)
                group.cancelAll()
            }
        }
    }

    static func measure(
        wrk: String, upstreamPort: Int, plutusPort: Int, key: String, seconds: Double, store: SQLiteStore,
        org: OrganizationID
    ) async throws {
        print("plutus bench gateway — 2 cores, \(Int(seconds)) s per scenario, SQLite synchronous=FULL, load from wrk\n")
        var rows: [[String]] = []
        var answered = 0
        var unanswered = 0
        var notes: [String] = []
        for stream in [false, true] {
            for connections in [1, 64] {
                let direct = try WrkLoad(
                    executable: wrk, port: upstreamPort, path: "/v1/chat/completions",
                    headers: [("Authorization", "Bearer \(upstreamKey)")], body: chat(stream: stream)
                ).run(connections: connections, seconds: seconds).result
                let gateway = try WrkLoad(
                    executable: wrk, port: plutusPort, path: "/gateway/openai/v1/chat/completions",
                    headers: [("Authorization", "Bearer \(key)")], body: chat(stream: stream)
                ).run(connections: connections, seconds: seconds).result
                answered += gateway.responses[200] ?? 0
                unanswered += gateway.unanswered
                let directRate = Double(direct.responses[200] ?? 0) / direct.seconds
                let gatewayRate = Double(gateway.responses[200] ?? 0) / gateway.seconds
                let label = stream ? "streamed" : "plain"
                rows.append([
                    label, String(connections), String(format: "%.0f", directRate), String(format: "%.0f", gatewayRate),
                    directRate > 0 ? String(format: "%.0f%%", gatewayRate / directRate * 100) : "-",
                    String(format: "%.2f / %.2f", direct.percentile(0.5), direct.percentile(0.99)),
                    String(format: "%.2f / %.2f", gateway.percentile(0.5), gateway.percentile(0.99)),
                    String(
                        format: "%.2f / %.2f", gateway.percentile(0.5) - direct.percentile(0.5),
                        gateway.percentile(0.99) - direct.percentile(0.99)),
                    String(gateway.total - (gateway.responses[200] ?? 0) + direct.total - (direct.responses[200] ?? 0)),
                ])
                if connections == 1 {
                    let added50 = gateway.percentile(0.5) - direct.percentile(0.5)
                    let added99 = gateway.percentile(0.99) - direct.percentile(0.99)
                    notes.append(
                        String(
                            format:
                                "%@ at 1 connection: the gateway adds %.2f ms at p50 (target ≤ 1) and %.2f ms at p99 (target ≤ 5) %@",
                            label, added50, added99, added50 <= 1 && added99 <= 5 ? "✓" : "✗"))
                } else if directRate > 0 {
                    notes.append(
                        String(
                            format: "%@ at 64 connections: the gateway does %.0f%% of the direct rate (target ≥ 40%%) %@", label,
                            gatewayRate / directRate * 100, gatewayRate / directRate >= 0.4 ? "✓" : "✗"))
                }
            }
        }
        print(
            TextTable.render(
                [
                    "call", "conns", "direct req/s", "gateway req/s", "share", "direct p50/p99 ms", "gateway p50/p99 ms",
                    "added p50/p99 ms", "non-200",
                ], rows, numeric: [1, 2, 3, 4]))
        print("")
        for note in notes { print(note) }
        let recorded = try await store.balance(org, at: Timestamp.now()).monthEvents
        let held = try await store.heldAmount(org, at: Timestamp.now())
        print(
            "gateway calls answered \(answered); events recorded \(recorded) (\(unanswered) more were unanswered when wrk stopped) "
                + (recorded >= answered && recorded <= answered + unanswered ? "✓" : "✗"))
        print(
            "still held after the runs: \(held.formatted) "
                + (held == .zero ? "✓" : "(calls unanswered when wrk stopped may still be settling)"))
        print("ledger \(try await store.verify().isClean ? "verified ✓" : "NOT clean ✗")")
    }
}
