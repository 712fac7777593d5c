import Foundation
import PlutusClient
import PlutusCore
import PlutusSQLite
import PlutusStoreTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `PlutusClient` against a real `plutus serve` over loopback, and embedded on a SQLite file.
/// One test at a time: each starts its own servers, and ten of them at once on 2 cores slowed
/// the rest of the run past the timeouts of its SMTP and browser tests.
@Suite("PlutusClient", .serialized)
struct PlutusClientTests {
    struct Books {
        let cli: CLI
        let key: String
    }

    /// An organization on the Pro plan with $100 and an API key.
    static func books() async throws -> Books {
        let cli = CLI()
        try await cli.runAsync("init", "--org", "acme", "--tier", "pro")
        try await cli.runAsync("topup", "--amount", "100")
        let created = try await cli.jsonAsync("keys", "create", "--org", "acme")
        return Books(cli: cli, key: try #require(created["secret"]?.stringValue))
    }

    static func call(_ id: String, input: Int64 = 1_000, output: Int64 = 100, workspace: String = "agents", run: String? = nil)
        -> Call
    {
        Call(
            provider: "openai", model: "gpt-5-mini", usage: .tokens(input: input, output: output), workspace: workspace,
            runID: run,
            eventID: id)
    }

    static func money(_ value: JSONValue?) throws -> MicroDollars {
        guard case .number(let text)? = value, case .success(let amount) = MicroDollars.parse(text) else {
            throw CLIHarnessFailure("not an amount: \(String(describing: value))")
        }
        return amount
    }

    /// The events recorded, by event id, with their costs; and the balance, which must be
    /// $100 less their sum.
    static func recorded(_ cli: CLI) async throws -> [String: MicroDollars] {
        var costs: [String: MicroDollars] = [:]
        var before: String?
        repeat {
            let page = try await cli.jsonAsync(
                arguments: ["events", "--limit", "500"] + (before.map { ["--before", $0] } ?? []))
            guard case .array(let items)? = page["items"] else { throw CLIHarnessFailure("no items") }
            for item in items {
                let id = try #require(item["event_id"]?.stringValue)
                #expect(costs[id] == nil, "\(id) recorded twice")
                costs[id] = try money(item["cost_usd"])
            }
            if case .number(let next)? = page["next_before"] { before = next } else { before = nil }
        } while before != nil
        let balance = try money(try await cli.jsonAsync("balance")["balance"])
        #expect(
            balance.rawValue == 100_000_000 - costs.values.reduce(0) { $0 + $1.rawValue }, "balance is not $100 less the events")
        return costs
    }

    /// The flaky proxy in front of `upstream`; its log lines.
    final class Proxy: @unchecked Sendable {
        let process = Process()
        let port: Int
        let log: String

        init(upstream: String, mode: String, directory: String) throws {
            port = try ServeTests.freePort()
            log = directory + "/proxy-\(mode).log"
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("flaky_proxy.py").path
            process.executableURL = URL(
                fileURLWithPath: ProcessInfo.processInfo.environment["PLUTUS_TEST_PYTHON"] ?? "/usr/bin/python3")
            process.arguments = [script, String(port), upstream, mode, log]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        var base: String { "http://127.0.0.1:\(port)" }

        func waitUntilUp() async throws {
            for _ in 0..<300 {
                if try ServeTests.curlStatus("-X", "POST", base + "/ping").status != "000" { return }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw CLIHarnessFailure("the proxy did not start")
        }

        /// The logged requests to /v1/usage: their Idempotency-Keys and event counts.
        func usagePosts() throws -> [(key: String?, events: Int)] {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            return try text.split(separator: "\n").compactMap { line in
                let entry = try JSONValue.parse(String(line))
                guard entry["path"]?.stringValue == "/v1/usage" else { return nil }
                guard case .number(let count)? = entry["events"] else { return (entry["key"]?.stringValue, 0) }
                return (entry["key"]?.stringValue, Int(count) ?? 0)
            }
        }

        func stop() {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    @Test func batchesInTheBackgroundAndOnFlush() async throws {
        let books = try await Self.books()
        let server = try ServeSession(books.cli)
        defer { server.stop() }
        try await server.waitUntilUp()
        let proxy = try Proxy(upstream: server.base, mode: "pass", directory: books.cli.home)
        defer { proxy.stop() }
        try await proxy.waitUntilUp()

        let meter = Meter(
            url: proxy.base, apiKey: books.key, configuration: .init(batchSize: 10, flushInterval: .seconds(3_600)))
        for index in 0..<25 { try await meter.track(Self.call("batch-\(index)")) }
        try await meter.flush()
        #expect(await meter.pendingCount == 0)
        #expect(await meter.totals.recorded == 25)
        let posts = try proxy.usagePosts()
        #expect(posts.reduce(0) { $0 + $1.events } == 25)
        #expect(posts.allSatisfy { $0.events <= 10 && $0.key != nil }, "\(posts)")
        #expect(posts.count < 25)
        #expect(try await Self.recorded(books.cli).count == 25)

        // A meter left alone sends its queue on its own, every flushInterval.
        let ticking = Meter(url: server.base, apiKey: books.key, configuration: .init(flushInterval: .milliseconds(200)))
        for index in 0..<3 { try await ticking.track(Self.call("tick-\(index)")) }
        var seen = 0
        for _ in 0..<50 where seen < 28 {
            try await Task.sleep(for: .milliseconds(200))
            guard case .array(let items)? = try await books.cli.jsonAsync("events", "--limit", "500")["items"] else { continue }
            seen = items.count
        }
        #expect(seen == 28)
        try await ticking.shutdown()
        #expect(try await Self.recorded(books.cli).count == 28)
        try await meter.shutdown()
        await #expect(throws: PlutusClientError.shutDown) { try await meter.track(Self.call("late")) }
    }

    @Test func retriesWithTheSameIdempotencyKey() async throws {
        let books = try await Self.books()
        let server = try ServeSession(books.cli)
        defer { server.stop() }
        try await server.waitUntilUp()

        // The first request is recorded by Plutus, but its answer is lost on the way back.
        let dropping = try Proxy(upstream: server.base, mode: "drop", directory: books.cli.home)
        defer { dropping.stop() }
        try await dropping.waitUntilUp()
        let meter = Meter(url: dropping.base, apiKey: books.key, configuration: .init(flushInterval: .seconds(3_600)))
        for index in 0..<5 { try await meter.track(Self.call("drop-\(index)")) }
        try await meter.shutdown()
        let posts = try dropping.usagePosts()
        #expect(posts.count == 2 && posts[0].key == posts[1].key && posts[0].key != nil, "\(posts)")
        let totals = await meter.totals
        let charged = try await Self.recorded(books.cli).values.reduce(0) { $0 + $1.rawValue }
        #expect(totals.recorded == 5 && totals.duplicates == 0 && totals.refused == 0 && totals.cost.rawValue == charged)
        #expect(try await Self.recorded(books.cli).count == 5)

        // 429, then 503, then through: one call, sent three times under one key, recorded once.
        let busy = try Proxy(upstream: server.base, mode: "busy", directory: books.cli.home)
        defer { busy.stop() }
        try await busy.waitUntilUp()
        let patient = Meter(url: busy.base, apiKey: books.key)
        let recorded = try await patient.record(Self.call("busy-1"))
        #expect(recorded.eventID == "busy-1" && !recorded.duplicate && recorded.cost.isPositive)
        let busyPosts = try busy.usagePosts()
        #expect(busyPosts.count == 3 && Set(busyPosts.map(\.key)).count == 1, "\(busyPosts)")
        #expect(try await Self.recorded(books.cli).count == 6)
        // The same call again (same event id): recorded before, nothing charged.
        let again = try await patient.record(Self.call("busy-1"))
        #expect(again.duplicate)
        #expect(try await Self.recorded(books.cli).count == 6)
        try await patient.shutdown()
    }

    @Test func survivesAKilledAndRestartedServer() async throws {
        let books = try await Self.books()
        let port = try ServeTests.freePort()
        var server = try ServeSession(books.cli, port: port)
        try await server.waitUntilUp()
        let meter = Meter(
            url: server.base, apiKey: books.key,
            configuration: .init(batchSize: 20, flushInterval: .seconds(3_600), retryFor: .seconds(60)))
        for index in 0..<30 { try await meter.track(Self.call("before-\(index)")) }
        try await meter.flush()
        #expect(try await Self.recorded(books.cli).count == 30)

        // SIGKILL: the server dies with no chance to finish anything.
        kill(server.process.processIdentifier, SIGKILL)
        server.stop()
        for index in 0..<30 { try await meter.track(Self.call("during-\(index)")) }
        let flushing = Task { try await meter.flush() }
        try await Task.sleep(for: .seconds(1.5))
        #expect(await meter.pendingCount == 30, "nothing is dropped while the server is down")
        server = try ServeSession(books.cli, port: port)
        defer { server.stop() }
        try await server.waitUntilUp()
        try await flushing.value
        #expect(await meter.pendingCount == 0)
        let costs = try await Self.recorded(books.cli)
        #expect(costs.count == 60)
        #expect((0..<30).allSatisfy { costs["before-\($0)"] != nil && costs["during-\($0)"] != nil })
        #expect(await meter.totals.recorded == 60)
        try await meter.shutdown()
        #expect(try await books.cli.runAsync("verify").status == 0)
    }

    struct AgentFailed: Error {}

    @Test func holdsSettleOrRelease() async throws {
        let books = try await Self.books()
        let server = try ServeSession(books.cli)
        defer { server.stop() }
        try await server.waitUntilUp()
        let meter = Meter(url: server.base, apiKey: books.key)

        // Settled with what the call used, at the catalog's price.
        var held = MicroDollars.zero
        let answer = try await meter.withHold(
            .worstCase(provider: "anthropic", model: "claude-sonnet-4-5", inputTokens: 2_000, maxOutputTokens: 1_024),
            workspace: "research"
        ) { hold in
            held = hold.amount
            hold.record(usage: .tokens(input: 2_000, output: 500))
            return "done"
        }
        #expect(answer == "done")
        let price = try #require(
            PriceCatalog.builtin.price(
                provider: "anthropic", model: "claude-sonnet-4-5", tokens: TokenCounts(input: 2_000, output: 500), exactCost: nil)
        )
        let worst = try #require(
            PriceCatalog.builtin.price(
                provider: "anthropic", model: "claude-sonnet-4-5", tokens: TokenCounts(input: 2_000, output: 1_024),
                exactCost: nil))
        #expect(held == worst.cost)
        var costs = try await Self.recorded(books.cli)
        #expect(costs.count == 1 && costs.values.first == price.cost)

        // The body fails before the call: released, the error passed on, nothing charged.
        await #expect(throws: AgentFailed.self) {
            try await meter.withHold(.amount(MicroDollars.dollars(5)!)) { _ in throw AgentFailed() }
        }
        // The call happened, then the body failed: still settled.
        await #expect(throws: AgentFailed.self) {
            try await meter.withHold(.amount(MicroDollars.dollars(5)!)) { hold in
                hold.record(Self.call("after-call"))
                throw AgentFailed()
            }
        }
        costs = try await Self.recorded(books.cli)
        #expect(costs.count == 2 && costs["after-call"] != nil)
        let holds = try await books.cli.jsonAsync("holds", "--all")
        guard case .array(let list)? = holds["reservations"] else { throw CLIHarnessFailure("no holds") }
        #expect(list.map { $0["status"]?.stringValue ?? "" }.sorted() == ["released", "settled", "settled"])
        #expect(try Self.money(try await books.cli.jsonAsync("balance")["held_usd"]) == .zero)

        // More than the organization has: refused before the body runs.
        var ran = false
        await #expect {
            try await meter.withHold(.amount(MicroDollars.dollars(1_000)!)) { _ in ran = true }
        } throws: { error in
            guard case .insufficientCredit(let message, let required, _) = error as? PlutusClientError else { return false }
            return required == MicroDollars.dollars(1_000) && message.contains("insufficient credit")
        }
        #expect(!ran)

        // A hard budget on the run: the refusal names it.
        let budget = try await books.cli.jsonAsync(
            "budget", "create", "--scope", "run", "--scope-id", "nightly", "--limit", "0.1", "--period", "day")
        await #expect {
            try await meter.record(Self.call("big", input: 800_000, output: 0, run: "nightly"))
        } throws: { error in
            guard case .budgetExceeded(let exceeded) = error as? PlutusClientError else { return false }
            return exceeded.id == budget["budget_id"]?.stringValue && exceeded.limit == MicroDollars(rawValue: 100_000)
                && exceeded.scope == "run" && exceeded.message.hasPrefix("budget exceeded")
        }
        // In a background batch the refusal is reported, and the rest recorded.
        let refusals = RefusalLog()
        let batching = Meter(
            url: server.base, apiKey: books.key,
            configuration: .init(flushInterval: .seconds(3_600), onRefusal: { refusals.append($0) }))
        try await batching.track(Self.call("small", run: "nightly"))
        try await batching.track(Self.call("too-big", input: 800_000, output: 0, run: "nightly"))
        try await batching.flush()
        #expect(refusals.all.map(\.eventID) == ["too-big"])
        if case .budgetExceeded(let exceeded) = refusals.all.first?.reason {
            #expect(exceeded.id == budget["budget_id"]?.stringValue)
        } else {
            Issue.record("not a budget refusal: \(refusals.all)")
        }
        let batchTotals = await batching.totals
        #expect(batchTotals.recorded == 1 && batchTotals.refused == 1)
        #expect(try await Self.recorded(books.cli)["small"] != nil)
        try await batching.shutdown()

        // A wrong key.
        let stranger = Meter(url: server.base, apiKey: "plutus_sk_not-a-key")
        await #expect {
            try await stranger.record(Self.call("x"))
        } throws: { error in
            if case .unauthorized = error as? PlutusClientError { return true }
            return false
        }
        // A call Plutus would refuse as malformed is refused before anything is sent.
        await #expect(throws: PlutusClientError.self) {
            try await meter.track(Call(provider: "", usage: .tokens(input: 1)))
        }
        try await stranger.shutdown()
        try await meter.shutdown()
    }

    @Test func holdsOutlivedCancelledOrMisusedStillBillOrFree() async throws {
        let books = try await Self.books()
        let server = try ServeSession(books.cli)
        defer { server.stop() }
        try await server.waitUntilUp()
        let meter = Meter(url: server.base, apiKey: books.key)

        // The call outlives its hold (1 s): the settle is refused, so the call is recorded
        // on its own. It happened; it is paid for.
        try await meter.withHold(.amount(MicroDollars.dollars(1)!), ttl: .seconds(1)) { hold in
            try await Task.sleep(for: .seconds(2.5))
            hold.record(Self.call("outlived"))
        }
        #expect(try await Self.recorded(books.cli)["outlived"] != nil)

        // The caller is cancelled after the call: the settle still goes through.
        let started = Flag()
        let cancelled = Task {
            try await meter.withHold(.amount(MicroDollars.dollars(1)!)) { hold in
                hold.record(Self.call("cancelled-after-call"))
                started.raise()
                try await Task.sleep(for: .seconds(30))
            }
        }
        while !started.isRaised { try await Task.sleep(for: .milliseconds(20)) }
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }
        #expect(try await Self.recorded(books.cli)["cancelled-after-call"] != nil)

        // A hold of an amount names no provider: usage alone cannot settle it; it is
        // released, and the error says what is missing.
        await #expect {
            try await meter.withHold(.amount(MicroDollars.dollars(1)!)) { hold in hold.record(usage: .tokens(input: 5)) }
        } throws: { error in
            if case .invalidCall(let field, _) = error as? PlutusClientError { return field == "provider" }
            return false
        }
        #expect(try Self.money(try await books.cli.jsonAsync("balance")["held_usd"]) == .zero)
        #expect(try await Self.recorded(books.cli).count == 2)
        try await meter.shutdown()
    }

    /// A batch past the server's body limit (1 MiB) is sent again call by call, all recorded.
    @Test func aBatchTooLargeIsSentCallByCall() async throws {
        let books = try await Self.books()
        let server = try ServeSession(books.cli)
        defer { server.stop() }
        try await server.waitUntilUp()
        let meter = Meter(
            url: server.base, apiKey: books.key, configuration: .init(batchSize: 1_000, flushInterval: .seconds(3_600)))
        // Each call carries the provider's usage object with 2 KB of fields Plutus ignores.
        let usage = try Usage.native(
            json: #"{"input_tokens": 100, "output_tokens": 20, "note": "\#(String(repeating: "x", count: 2_000))"}"#)
        for index in 0..<600 {
            try await meter.track(Call(provider: "anthropic", model: "claude-haiku-4-5", usage: usage, eventID: "big-\(index)"))
        }
        try await meter.shutdown()
        #expect(await meter.totals.recorded == 600)
        #expect(try await Self.recorded(books.cli).count == 600)
    }

    @Test func embeddedOnASQLiteFile() async throws {
        let books = try await Self.books()
        let store = try SQLiteStore(path: books.cli.database)
        let meter = try await Meter.embedded(
            store: store, organization: "acme", configuration: .init(batchSize: 2, flushInterval: .seconds(3_600)))
        for index in 0..<3 { try await meter.track(Self.call("embedded-\(index)")) }
        try await meter.flush()
        let usage = try Usage.native(json: #"{"input_tokens": 1200, "output_tokens": 80, "cache_read_input_tokens": 3000}"#)
        let recorded = try await meter.record(
            Call(provider: "anthropic", model: "claude-haiku-4-5", usage: usage, eventID: "native"))
        let price = try #require(
            PriceCatalog.builtin.price(
                provider: "anthropic", model: "claude-haiku-4-5", tokens: TokenCounts(input: 1_200, output: 80, cacheRead: 3_000),
                exactCost: nil))
        #expect(recorded.cost == price.cost)
        try await meter.withHold(.amount(MicroDollars.dollars(2)!)) { hold in hold.record(Self.call("held")) }
        await #expect {
            try await meter.withHold(.amount(MicroDollars.dollars(500)!)) { _ in }
        } throws: { error in
            if case .insufficientCredit = error as? PlutusClientError { return true }
            return false
        }
        try await meter.shutdown()
        let costs = try await Self.recorded(books.cli)
        #expect(Set(costs.keys) == ["embedded-0", "embedded-1", "embedded-2", "native", "held"])
        await #expect {
            _ = try await Meter.embedded(store: store, organization: "nobody")
        } throws: { error in
            if case .invalidCall(let field, _) = error as? PlutusClientError { return field == "organization" }
            return false
        }
    }

    @Test func theExampleRuns() async throws {
        let books = try await Self.books()
        let server = try ServeSession(books.cli)
        defer { server.stop() }
        try await server.waitUntilUp()
        let example = URL(fileURLWithPath: CLI.binary).deletingLastPathComponent().appendingPathComponent("agent-meter-example")
            .path
        var environment = ProcessInfo.processInfo.environment
        environment["PLUTUS_REMOTE_URL"] = server.base
        environment["PLUTUS_API_KEY"] = books.key
        let result = try await ChildProcess.run(example, [], environment: environment, timeoutSeconds: 60)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("sent: 5 recorded, 0 duplicates, 0 refused"), "\(result.stdout)")
        #expect(try await Self.recorded(books.cli).count == 5)
    }
}

/// Set once, from any thread.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false

    func raise() { lock.withLock { raised = true } }
    var isRaised: Bool { lock.withLock { raised } }
}

/// Refusals reported by a meter's callback, from any thread.
final class RefusalLog: @unchecked Sendable {
    private let lock = NSLock()
    private var refusals: [Refusal] = []

    func append(_ refusal: Refusal) { lock.withLock { refusals.append(refusal) } }
    var all: [Refusal] { lock.withLock { refusals } }
}
