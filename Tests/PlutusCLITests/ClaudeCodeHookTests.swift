import Foundation
import PlutusCore
import Testing

/// `plutus hook claude-code` as Claude Code runs it: the hook's JSON on stdin, a transcript
/// (committed test data in Claude Code's documented JSON Lines format) on disk.
@Suite("plutus hook claude-code", .serialized)
struct ClaudeCodeHookTests {
    static let sessionID = "6f1c2a8e-3b7d-4e59-9c41-0a5d7e2b8f13"

    /// A fixture with its `NOW-<n>s` placeholders as ISO 8601 times `n` seconds ago.
    static func fixture(_ name: String) throws -> String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)")
        let text = try String(contentsOf: url, encoding: .utf8)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let now = Date()
        return text.replacing(/NOW-(\d+)s/) { match in
            formatter.string(from: now.addingTimeInterval(-Double(Int(match.1)!)))
        }
    }

    static func payload(_ transcript: String, event: String = "Stop", extra: [(String, JSONValue)] = []) -> String {
        JSONValue.object(
            [
                ("session_id", .string(sessionID)), ("transcript_path", .string(transcript)),
                ("cwd", .string("/home/ada/code/billing-api")), ("hook_event_name", .string(event)),
                ("stop_hook_active", .bool(false)),
            ] + extra
        ).serialized()
    }

    static func append(_ text: String, to path: String) throws {
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        handle.write(Data(text.utf8))
        try handle.close()
    }

    /// The expected events: each assistant message once (its lines merged, the largest
    /// counts kept), no `<synthetic>` notice, priced from the catalog.
    static let expected: [(id: String, model: String, tokens: TokenCounts)] = [
        (
            "msg_01HcK7bT2wQm9xYz3LpN4vRs", "claude-sonnet-4-5-20250929",
            TokenCounts(input: 4, output: 96, cacheRead: 12_800, cacheWrite: 6_200)
        ),
        (
            "msg_01Jd8sR3vXn2Pq7Tk5WmB9Zc", "claude-sonnet-4-5-20250929",
            TokenCounts(input: 6, output: 412, cacheRead: 19_000, cacheWrite: 1_450)
        ),
        (
            "msg_01Lm4Qa7Zc1Vb8Nx6Ty2Ur3W", "claude-sonnet-4-5-20250929",
            TokenCounts(input: 3, output: 58, cacheRead: 20_400, cacheWrite: 820)
        ),
        ("msg_01Pq9Rw2Ex5Ty8Ui1Op4As7D", "claude-haiku-4-5-20251001", TokenCounts(input: 2_100, output: 35)),
        (
            "msg_01Zx3Cv6Bn9Mq2Wk5Er8Ty1U", "claude-sonnet-4-5-20250929",
            TokenCounts(input: 5, output: 64, cacheRead: 22_100, cacheWrite: 300)
        ),
    ]

    /// Checks the organization's events against `expected` (the first `count` of them) and
    /// its balance against $100 less their catalog prices.
    static func checkBooks(_ cli: CLI, count: Int, workspace: String = "billing-api") async throws {
        let page = try await cli.jsonAsync("events", "--limit", "100")
        guard case .array(let items)? = page["items"] else { throw CLIHarnessFailure("no items in \(page)") }
        #expect(items.count == count)
        var total: Int64 = 0
        for want in expected.prefix(count) {
            let event = try #require(items.first { $0["event_id"]?.stringValue == want.id }, "\(want.id) not recorded")
            func tokens(_ field: String) -> Int64? {
                if case .number(let text)? = event[field] { return Int64(text) }
                return nil
            }
            #expect(event["model"]?.stringValue == want.model)
            #expect(event["workspace"]?.stringValue == workspace)
            #expect(event["source"]?.stringValue == "claude-code")
            #expect(tokens("input_tokens") == want.tokens.input, "\(want.id)")
            #expect(tokens("output_tokens") == want.tokens.output, "\(want.id)")
            #expect(tokens("cache_read_tokens") == want.tokens.cacheRead, "\(want.id)")
            #expect(tokens("cache_write_tokens") == want.tokens.cacheWrite, "\(want.id)")
            let price = try #require(
                PriceCatalog.builtin.price(provider: "anthropic", model: want.model, tokens: want.tokens, exactCost: nil))
            guard case .number(let costText)? = event["cost_usd"], case .success(let cost) = MicroDollars.parse(costText) else {
                throw CLIHarnessFailure("no cost in \(event)")
            }
            #expect(cost == price.cost, "\(want.id)")
            total += price.cost.rawValue
        }
        let balance = try await cli.jsonAsync("balance")
        guard case .number(let text)? = balance["balance"], case .success(let amount) = MicroDollars.parse(text) else {
            throw CLIHarnessFailure("no balance in \(balance)")
        }
        #expect(amount.rawValue == 100_000_000 - total)
    }

    @Test func metersEachAssistantMessageOnceAcrossRuns() async throws {
        let cli = CLI()
        try await cli.runAsync("init", "--org", "acme", "--tier", "pro")
        try await cli.runAsync("topup", "--amount", "100")
        let transcript = cli.home + "/session.jsonl"
        try Self.append(try Self.fixture("claude_code_transcript_1.jsonl"), to: transcript)
        let payload = Self.payload(transcript)

        let first = try await cli.runAsync(arguments: ["hook", "claude-code"], stdin: payload)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("2 Claude Code calls metered to billing-api"), "\(first.stdout)")
        #expect(first.stderr.isEmpty, "\(first.stderr)")
        try await Self.checkBooks(cli, count: 2)

        // The same Stop again: the transcript has not grown, nothing is read or billed.
        let again = try await cli.runAsync(arguments: ["hook", "claude-code"], stdin: payload)
        #expect(again.status == 0)
        #expect(again.stdout.isEmpty, "\(again.stdout)")
        try await Self.checkBooks(cli, count: 2)

        // The session goes on (a subagent's turn included): only the new messages.
        try Self.append(try Self.fixture("claude_code_transcript_2.jsonl"), to: transcript)
        let second = try await cli.runAsync(
            arguments: ["hook", "claude-code"], stdin: Self.payload(transcript, event: "SubagentStop"))
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains("3 Claude Code calls metered"), "\(second.stdout)")
        try await Self.checkBooks(cli, count: 5)

        // The read position is lost: the whole transcript is read again, and the message ids
        // keep every message from being billed twice.
        try FileManager.default.removeItem(atPath: cli.home + "/hooks")
        let reread = try await cli.runAsync(arguments: ["hook", "claude-code"], stdin: payload)
        #expect(reread.status == 0, "\(reread.stderr)")
        #expect(reread.stdout.contains("0 Claude Code calls metered") && reread.stdout.contains("(5 already metered)"))
        try await Self.checkBooks(cli, count: 5)
        #expect(try await cli.runAsync("verify").status == 0)
    }

    @Test func neverFailsTheAgent() async throws {
        let cli = CLI()
        // Not the hook's JSON, a transcript that does not exist, no books: each says why on
        // stderr and exits 0.
        for (stdin, problem) in [
            ("not json", "stdin is not the hook's JSON"),
            (Self.payload(cli.home + "/missing.jsonl"), "cannot read the transcript"),
        ] {
            let result = try await cli.runAsync(arguments: ["hook", "claude-code"], stdin: stdin)
            #expect(result.status == 0)
            #expect(result.stderr.contains(problem), "\(result.stderr)")
        }
        let transcript = cli.home + "/session.jsonl"
        try Self.append(try Self.fixture("claude_code_transcript_1.jsonl"), to: transcript)
        let noBooks = try await cli.runAsync(arguments: ["hook", "claude-code"], stdin: Self.payload(transcript))
        #expect(noBooks.status == 0)
        #expect(noBooks.stderr.contains("no organizations"), "\(noBooks.stderr)")
        // A broken line in the transcript is skipped and named; the rest is billed.
        try await cli.runAsync("init", "--org", "acme", "--tier", "pro")
        try await cli.runAsync("topup", "--amount", "100")
        let broken = cli.home + "/broken.jsonl"
        try Self.append(
            "{\"type\": \"assistant\", \"message\": \n" + (try Self.fixture("claude_code_transcript_1.jsonl")), to: broken)
        let result = try await cli.runAsync(arguments: ["hook", "claude-code"], stdin: Self.payload(broken))
        #expect(result.status == 0)
        #expect(result.stderr.contains("not JSON was skipped"), "\(result.stderr)")
        #expect(result.stdout.contains("2 Claude Code calls metered"), "\(result.stdout)")
        // A project folder whose name is longer than a workspace label (in a script of three
        // bytes per character): the name is cut between characters, and the calls billed.
        let longName = String(repeating: "請", count: 50)
        let long = try await cli.runAsync(
            arguments: ["hook", "claude-code", "--state-dir", cli.home + "/long-state"],
            stdin: JSONValue.object([
                ("session_id", .string(Self.sessionID)), ("transcript_path", .string(broken)),
                ("cwd", .string("/home/ada/" + longName)), ("hook_event_name", .string("Stop")),
            ]).serialized())
        #expect(long.status == 0)
        #expect(long.stdout.contains("(2 already metered)"), "\(long.stdout) \(long.stderr)")
        #expect(!long.stdout.contains("skipped") && !long.stderr.contains("message"), "\(long.stdout) \(long.stderr)")
        // A bad configuration file is reported, and the agent still goes on.
        try "pricing: [\n".write(toFile: cli.home + "/config.yaml", atomically: true, encoding: .utf8)
        let badConfig = try await cli.runAsync(arguments: ["hook", "claude-code"], stdin: Self.payload(broken))
        #expect(badConfig.status == 0)
        #expect(badConfig.stderr.contains("configuration"), "\(badConfig.stderr)")
    }

    @Test func sendsToAServerAndKeepsItsPlaceWhenTheServerIsDown() async throws {
        let cli = CLI()
        try await cli.runAsync("init", "--org", "acme", "--tier", "pro")
        try await cli.runAsync("topup", "--amount", "100")
        let created = try await cli.jsonAsync("keys", "create", "--org", "acme")
        let key = try #require(created["secret"]?.stringValue, "\(created)")
        let port = try ServeTests.freePort()
        let remote = ["PLUTUS_REMOTE_URL": "http://127.0.0.1:\(port)", "PLUTUS_API_KEY": key]
        // The subagent's own transcript, as SubagentStop names it.
        let parent = cli.home + "/session.jsonl"
        let agent = cli.home + "/agent-1.jsonl"
        try Self.append(try Self.fixture("claude_code_transcript_1.jsonl"), to: parent)
        try Self.append(try Self.fixture("claude_code_transcript_1.jsonl"), to: agent)
        let payload = Self.payload(
            parent, event: "SubagentStop", extra: [("agent_id", .string("a1")), ("agent_transcript_path", .string(agent))])

        // No server yet: the hook says so, exits 0, and does not move its place.
        let down = try await cli.runAsync(
            arguments: ["hook", "claude-code", "--timeout", "1"], environment: remote, stdin: payload)
        #expect(down.status == 0)
        #expect(down.stderr.contains("2 calls not sent") && down.stderr.contains("connection refused"), "\(down.stderr)")

        let server = try ServeSession(cli, port: port)
        defer { server.stop() }
        try await server.waitUntilUp()
        let up = try await cli.runAsync(arguments: ["hook", "claude-code"], environment: remote, stdin: payload)
        #expect(up.status == 0, "\(up.stderr)")
        #expect(up.stdout.contains("2 Claude Code calls metered to billing-api"), "\(up.stdout)")
        let repeated = try await cli.runAsync(arguments: ["hook", "claude-code"], environment: remote, stdin: payload)
        #expect(repeated.stdout.isEmpty && repeated.status == 0)
        // The main transcript holds the same messages: read on Stop, billed nothing more.
        let stop = try await cli.runAsync(arguments: ["hook", "claude-code"], environment: remote, stdin: Self.payload(parent))
        #expect(stop.stdout.contains("(2 already metered)"), "\(stop.stdout)")
        try await Self.checkBooks(cli, count: 2)
        // A wrong key (read from a fresh place, so there is something to send): named on
        // stderr, exit 0.
        let wrong = try await cli.runAsync(
            arguments: ["hook", "claude-code", "--state-dir", cli.home + "/other-state"],
            environment: ["PLUTUS_REMOTE_URL": server.base, "PLUTUS_API_KEY": "plutus_sk_wrong"], stdin: Self.payload(parent))
        #expect(wrong.status == 0)
        #expect(wrong.stderr.contains("2 calls not sent: unauthorized"), "\(wrong.stderr)")
    }
}
