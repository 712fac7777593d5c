import Foundation
import PlutusCore
import PlutusGatewayTesting
import PlutusStore
import PlutusStoreTesting
import Testing

/// The interpreter with the official `openai` and `anthropic` SDKs: `PLUTUS_TEST_PYTHON`
/// (set by `scripts/test`), else `.build/venv/bin/python` in the package.
enum SDKPython {
    static let path: String? = {
        if let configured = ProcessInfo.processInfo.environment["PLUTUS_TEST_PYTHON"], !configured.isEmpty {
            return configured
        }
        let candidate = packageRoot + "/.build/venv/bin/python"
        return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
    }()

    static var packageRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .path
    }

    /// Under CI the SDKs are required, so the suite runs (and fails without them).
    static var available: Bool { path != nil || ProcessInfo.processInfo.environment["CI"] == "true" }

    /// Runs `script` (beside this file) and returns its standard output; fails on a non-zero exit.
    static func run(_ script: String, environment: [String: String], timeoutSeconds: Double = 120) async throws -> String {
        let python = try #require(path, "needs Python with the openai and anthropic SDKs: set PLUTUS_TEST_PYTHON")
        let finished = try await ChildProcess.run(
            python, [URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(script).path],
            environment: ProcessInfo.processInfo.environment.merging(environment) { $1 }, timeoutSeconds: timeoutSeconds)
        try #require(finished.status == 0, "\(script) failed: \(finished.stderr)")
        return finished.stdout
    }
}

@Suite("Gateway: the official OpenAI and Anthropic SDKs", .enabled(if: SDKPython.available))
struct GatewaySDKTests {
    @Test func theSDKsCallThroughThePlutusGatewayUnchanged() async throws {
        try await GatewayHarness.with { gateway in
            let broke = try await gateway.server.organization("Broke", credit: "0.000001")
            let output = try await SDKPython.run(
                "gateway_sdks.py",
                environment: [
                    "PLUTUS_URL": "http://127.0.0.1:\(gateway.server.port)", "PLUTUS_KEY": gateway.key,
                    "PLUTUS_BROKE_KEY": broke.key,
                ])
            let result = try JSONValue.parse(output)
            let words = GatewayTests.words
            #expect(result["openai_plain"]?["content"] == .string(words))
            #expect(result["openai_plain"]?["completion_tokens"] == .number("12"))
            #expect(result["openai_stream"]?["content"] == .string(words))
            // The SDK asked for no usage chunk and saw none.
            #expect(result["openai_stream"]?["usage_chunks"] == .number("0"))
            #expect(result["openai_responses"]?["text"] == .string(words))
            #expect(result["openai_responses_stream"]?["output_tokens"] == .number("12"))
            #expect(result["openai_embeddings"]?["dimensions"] == .number("3"))
            #expect(result["anthropic_plain"]?["content"] == .string(words))
            #expect(result["anthropic_stream"]?["content"] == .string(words))
            #expect(result["anthropic_stream"]?["output_tokens"] == .number("12"))

            // Seven calls, seven events, each with the upstream's tokens and the catalog's cost.
            let events = try await gateway.events().sorted { $0.sequence < $1.sequence }
            try #require(events.count == 7)
            let catalog = try await gateway.server.store.priceCatalog()
            for event in events {
                #expect(event.source == "gateway")
                let priced = catalog.price(provider: event.provider, model: event.model, tokens: event.tokens, exactCost: nil)
                #expect(priced?.cost == event.cost)
            }
            let first = events[0]
            let prompt = try #require(result["openai_plain"]?["prompt_tokens"]?.numberText.flatMap { Int64($0) })
            #expect(
                first.tokens
                    == TokenCounts(input: prompt - FakeUpstream.cachedTokens, output: 12, cacheRead: FakeUpstream.cachedTokens))
            #expect(first.workspaceName == "sdk" && first.taskType == "greeting")
            #expect(result["openai_plain"]?["cost_header"] == .string(first.cost.decimalString))
            #expect(result["openai_plain"]?["event_header"] == .string(first.id.rawValue))
            let anthropicInput = try #require(result["anthropic_plain"]?["input_tokens"]?.numberText.flatMap { Int64($0) })
            #expect(events[5].tokens == TokenCounts(input: anthropicInput, output: 12, cacheRead: FakeUpstream.cachedTokens))
            #expect(events[5].provider == "anthropic")

            // An org without credit: the SDK's own error, carrying Plutus's message; nothing forwarded.
            #expect(result["openai_refused"]?["status"] == .number("402"))
            #expect(result["openai_refused"]?["message"]?.stringValue?.contains("insufficient credit") == true)
            #expect(result["anthropic_refused"]?["status"] == .number("402"))
            #expect(result["anthropic_refused"]?["message"]?.stringValue?.contains("insufficient credit") == true)
            #expect(gateway.fake.seen.calls == 7 && gateway.fake.seen.unauthorized == 0)
            #expect(try await gateway.server.store.verify().isClean)
        }
    }
}
