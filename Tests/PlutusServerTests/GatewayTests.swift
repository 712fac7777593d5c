import Foundation
import PlutusCore
import PlutusGatewayTesting
import PlutusServer
import PlutusStore
import PlutusStoreTesting
import Synchronization
import Testing

/// A Plutus server whose gateway forwards to a fake upstream, and an organization with a key.
struct GatewayHarness: Sendable {
    static let upstreamKey = "sk-upstream-not-for-agents"

    let server: TestServer
    let fake: FakeUpstream
    let org: OrganizationID
    let key: String

    static func with(
        credit: String? = "10", allowUnpriced: Bool = false, _ body: @Sendable (GatewayHarness) async throws -> Void
    ) async throws {
        let fake = FakeUpstream(key: upstreamKey)
        try await fake.run { port in
            let upstream = GatewayConfiguration.Upstream(baseURL: "http://127.0.0.1:\(port)", key: upstreamKey)
            let gateway = GatewayConfiguration(openAI: upstream, anthropic: upstream, allowUnpricedModels: allowUnpriced)
            try await TestServer.with(gateway: gateway) { server in
                let (org, key) = try await server.organization(credit: credit)
                try await body(GatewayHarness(server: server, fake: fake, org: org, key: key))
            }
        }
    }

    func post(
        _ path: String, _ body: String, headers: [(String, String)] = [], anthropic: Bool = false
    ) async throws -> HTTPResult {
        var all = headers + [("Content-Type", "application/json")]
        all.append(anthropic ? ("x-api-key", key) : ("Authorization", "Bearer \(key)"))
        if anthropic { all.append(("anthropic-version", "2023-06-01")) }
        return try await LoopbackClient.send(port: server.port, "POST", path, headers: all, body: Array(body.utf8))
    }

    func events() async throws -> [UsageEventRecord] {
        try await server.store.exportUsageEvents(org, after: nil, from: nil, to: nil, limit: Limits.pageRowsMax)
    }

    /// The catalog's price of these tokens for the model.
    func price(_ provider: String, _ model: String, _ tokens: TokenCounts) async throws -> MicroDollars {
        try #require(
            try await server.store.priceCatalog().price(provider: provider, model: model, tokens: tokens, exactCost: nil)
        )
        .cost
    }

    /// The `data:` payloads of a streamed answer, in order.
    static func dataLines(_ result: HTTPResult) -> [String] {
        result.text.components(separatedBy: "\n").filter { $0.hasPrefix("data: ") }.map { String($0.dropFirst(6)) }
    }
}

@Suite("Gateway: metering and enforcing at the point of the call")
struct GatewayTests {
    static let words = (0..<FakeUpstream.words).map { $0 == 0 ? "Hello" : " word\($0)" }.joined()
    static let chat = #"{"model":"gpt-5-mini","messages":[{"role":"user","content":"Say hello"}],"max_completion_tokens":100}"#

    @Test func aChatCallIsHeldForwardedAndSettledFromTheProvidersUsage() async throws {
        try await GatewayHarness.with { gateway in
            let response = try await gateway.post(
                "/gateway/openai/v1/chat/completions", Self.chat,
                headers: [("X-Plutus-Workspace", "ci"), ("X-Plutus-Task", "review"), ("X-Plutus-Run", "run-7")])
            #expect(response.status == 200)
            #expect(response.json["choices"]?[0]?["message"]?["content"] == .string(Self.words))
            let prompt = try #require(Int64(response.json["usage"]?["prompt_tokens"]?.numberText ?? ""))
            let events = try await gateway.events()
            try #require(events.count == 1)
            let event = events[0]
            #expect(event.provider == "openai" && event.model == "gpt-5-mini" && event.source == "gateway")
            #expect(event.taskType == "review" && event.workspaceName == "ci")
            let tokens = TokenCounts(input: prompt - FakeUpstream.cachedTokens, output: 12, cacheRead: FakeUpstream.cachedTokens)
            #expect(event.tokens == tokens)
            #expect(event.cost == (try await gateway.price("openai", "gpt-5-mini", tokens)))
            #expect(response.headers["x-plutus-cost-usd"] == event.cost.decimalString)
            #expect(response.headers["x-plutus-event-id"] == event.id.rawValue)
            let balance = try await gateway.server.balance(gateway.org)
            #expect(response.headers["x-plutus-balance-usd"] == balance.decimalString)
            #expect(balance == MicroDollars.dollars(10)!.subtracting(event.cost)!)
            let holds = try await gateway.server.store.reservations(gateway.org, activeAt: nil, limit: 10)
            #expect(holds.count == 1 && holds[0].storedStatus == .settled && holds[0].runID == "run-7")
            #expect(gateway.fake.seen == FakeUpstream.Counts(calls: 1, unauthorized: 0, streamsCut: 0))
            #expect(try await gateway.server.store.verify().isClean)
        }
    }

    @Test func aStreamedChatCallPassesTheEventsOnAndDropsTheUsageChunkItAskedFor() async throws {
        try await GatewayHarness.with { gateway in
            let streamed = Self.chat.replacingOccurrences(of: "}]", with: #"}],"stream":true"#)
            let response = try await gateway.post("/gateway/openai/v1/chat/completions", streamed)
            #expect(response.status == 200)
            #expect(response.headers["content-type"]?.hasPrefix("text/event-stream") == true)
            let data = GatewayHarness.dataLines(response)
            #expect(data.last == "[DONE]")
            // The agent did not ask for usage: no chunk carries it, not even as null.
            #expect(!data.contains { $0.contains(#""usage""#) })
            #expect(data.count == FakeUpstream.words + 3)
            let text = data.dropLast().compactMap { try? JSONValue.parse($0) }.compactMap {
                $0["choices"]?[0]?["delta"]?["content"]?.stringValue
            }.joined()
            #expect(text == Self.words)
            let events = try await gateway.events()
            try #require(events.count == 1)
            #expect(events[0].tokens.output == 12 && events[0].tokens.cacheRead == FakeUpstream.cachedTokens)
            #expect(events[0].source == "gateway")

            let asked = streamed.replacingOccurrences(
                of: #""stream":true"#, with: #""stream":true,"stream_options":{"include_usage":true}"#)
            let withUsage = GatewayHarness.dataLines(try await gateway.post("/gateway/openai/v1/chat/completions", asked))
            #expect(withUsage.contains { $0.contains(#""choices":[],"usage":{"#) })
            #expect(try await gateway.events().count == 2)
        }
    }

    @Test func responsesAndEmbeddingsAreBilledFromTheirUsage() async throws {
        try await GatewayHarness.with { gateway in
            let body = #"{"model":"gpt-5-mini","input":"Say hello","max_output_tokens":50}"#
            let plain = try await gateway.post("/gateway/openai/v1/responses", body)
            #expect(plain.status == 200 && plain.json["usage"]?["output_tokens"] == .number("12"))
            let streamed = try await gateway.post(
                "/gateway/openai/v1/responses", body.replacingOccurrences(of: "}", with: #","stream":true}"#))
            #expect(streamed.status == 200 && streamed.text.contains("event: response.completed"))
            let embedded = try await gateway.post(
                "/gateway/openai/v1/embeddings", #"{"model":"text-embedding-3-small","input":"hello"}"#)
            #expect(embedded.status == 200)
            let events = try await gateway.events().sorted { $0.sequence < $1.sequence }
            try #require(events.count == 3)
            #expect(events[0].tokens.output == 12 && events[1].tokens.output == 12)
            #expect(events[0].tokens.cacheRead == FakeUpstream.cachedTokens)
            let inputTokens = try #require(Int64(embedded.json["usage"]?["prompt_tokens"]?.numberText ?? ""))
            #expect(events[2].model == "text-embedding-3-small" && events[2].tokens == TokenCounts(input: inputTokens))
        }
    }

    @Test func anthropicMessagesKeepTheLatestCumulativeUsage() async throws {
        try await GatewayHarness.with { gateway in
            let body = #"{"model":"claude-sonnet-4-6","max_tokens":200,"messages":[{"role":"user","content":"Say hello"}]}"#
            let plain = try await gateway.post("/gateway/anthropic/v1/messages", body, anthropic: true)
            #expect(plain.status == 200 && plain.json["content"]?[0]?["text"] == .string(Self.words))
            let streamed = try await gateway.post(
                "/gateway/anthropic/v1/messages",
                body.replacingOccurrences(of: #""max_tokens":200"#, with: #""max_tokens":200,"stream":true"#),
                anthropic: true)
            #expect(
                streamed.status == 200 && streamed.text.hasSuffix("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"))
            let events = try await gateway.events()
            try #require(events.count == 2)
            // message_start says output 1, message_delta 12: the latest, not the sum.
            for event in events {
                #expect(event.tokens.output == 12 && event.tokens.cacheRead == FakeUpstream.cachedTokens)
                #expect(event.provider == "anthropic" && event.model == "claude-sonnet-4-6")
            }
            let input = try #require(Int64(plain.json["usage"]?["input_tokens"]?.numberText ?? ""))
            #expect(events.contains { $0.tokens.input == input })
        }
    }

    @Test func aHardBudgetRefusesACallItCannotCoverInTheProvidersShape() async throws {
        try await GatewayHarness.with { gateway in
            _ = try await gateway.server.store.createBudget(
                BudgetRequest(
                    organizationID: gateway.org, scope: .workspace, scopeReference: "research",
                    limit: MicroDollars(rawValue: 100),
                    period: .month, mode: .hard),
                at: Timestamp.now())
            let refused = try await gateway.post(
                "/gateway/anthropic/v1/messages",
                #"{"model":"claude-sonnet-4-6","max_tokens":200,"messages":[{"role":"user","content":"hi"}]}"#,
                headers: [("X-Plutus-Workspace", "research")], anthropic: true)
            #expect(refused.status == 402 && refused.json["error"]?["type"] == .string("billing_error"))
            #expect(refused.json["error"]?["message"]?.stringValue?.hasPrefix("budget exceeded: workspace research") == true)
            // Elsewhere the same call goes through.
            let elsewhere = try await gateway.post(
                "/gateway/anthropic/v1/messages",
                #"{"model":"claude-sonnet-4-6","max_tokens":200,"messages":[{"role":"user","content":"hi"}]}"#, anthropic: true)
            #expect(elsewhere.status == 200)
            #expect(gateway.fake.seen.calls == 1)
        }
    }

    @Test func modelsAndTokenCountsPassThroughUnbilled() async throws {
        try await GatewayHarness.with { gateway in
            let models = try await LoopbackClient.json(
                port: gateway.server.port, "GET", "/gateway/openai/v1/models", bearer: gateway.key)
            #expect(models.status == 200 && models.json["object"] == .string("list"))
            let body = #"{"model":"claude-sonnet-4-6","messages":[{"role":"user","content":"count me"}]}"#
            let counted = try await gateway.post("/gateway/anthropic/v1/messages/count_tokens", body, anthropic: true)
            #expect(counted.status == 200 && counted.json["input_tokens"] == .number(String(body.utf8.count / 4)))
            let anonymous = try await LoopbackClient.json(port: gateway.server.port, "GET", "/gateway/openai/v1/models")
            #expect(anonymous.status == 401)
            #expect(try await gateway.events().isEmpty)
            #expect(try await gateway.server.store.reservations(gateway.org, activeAt: nil, limit: 10).isEmpty)
            #expect(gateway.fake.seen.unauthorized == 0)
        }
    }

    @Test func anEventIdSentTwiceIsBilledOnce() async throws {
        try await GatewayHarness.with { gateway in
            let first = try await gateway.post(
                "/gateway/openai/v1/chat/completions", Self.chat, headers: [("X-Plutus-Event-Id", "call-42")])
            let retry = try await gateway.post(
                "/gateway/openai/v1/chat/completions", Self.chat, headers: [("X-Plutus-Event-Id", "call-42")])
            #expect(first.status == 200 && retry.status == 200)
            let events = try await gateway.events()
            try #require(events.count == 1)
            #expect(events[0].clientEventID == "call-42")
            #expect(try await gateway.server.balance(gateway.org) == MicroDollars.dollars(10)!.subtracting(events[0].cost)!)
            #expect(retry.headers["x-plutus-cost-usd"] == "0")
            let holds = try await gateway.server.store.reservations(gateway.org, activeAt: nil, limit: 10)
            #expect(holds.count == 2 && holds.allSatisfy { $0.storedStatus == .settled })
            let bad = try await gateway.post(
                "/gateway/openai/v1/chat/completions", Self.chat,
                headers: [("X-Plutus-Workspace", String(repeating: "w", count: 200))])
            #expect(bad.status == 400 && bad.json["error"]?["param"] == .string("X-Plutus-Workspace"))
        }
    }

    @Test func callsACustomerCannotPayForNeverReachTheProvider() async throws {
        try await GatewayHarness.with(credit: "0.000001") { gateway in
            // A first credit makes the hard stop apply; a millionth of a dollar covers no call.
            let openAI = try await gateway.post("/gateway/openai/v1/chat/completions", Self.chat)
            #expect(openAI.status == 402)
            #expect(openAI.json["error"]?["type"] == .string("insufficient_quota"))
            #expect(openAI.json["error"]?["code"] == .string("insufficient_credit"))
            #expect(openAI.json["error"]?["message"]?.stringValue?.contains("insufficient credit") == true)
            let anthropic = try await gateway.post(
                "/gateway/anthropic/v1/messages",
                #"{"model":"claude-sonnet-4-6","max_tokens":200,"messages":[{"role":"user","content":"hi"}]}"#, anthropic: true)
            #expect(anthropic.status == 402)
            #expect(anthropic.json["type"] == .string("error") && anthropic.json["error"]?["type"] == .string("billing_error"))
            #expect(gateway.fake.seen.calls == 0)
            #expect(try await gateway.events().isEmpty)
        }
    }

    @Test func unknownModelsBadKeysAndAnOffGatewayAreRefusedClearly() async throws {
        try await GatewayHarness.with { gateway in
            let unknown = try await gateway.post(
                "/gateway/openai/v1/chat/completions", Self.chat.replacingOccurrences(of: "gpt-5-mini", with: "gpt-unknown"))
            #expect(unknown.status == 400 && unknown.json["error"]?["code"] == .string("model_not_priced"))
            let noKey = try await LoopbackClient.json(
                port: gateway.server.port, "POST", "/gateway/openai/v1/chat/completions", bearer: "sk-not-plutus", Self.chat)
            #expect(noKey.status == 401 && noKey.json["error"]?["type"] == .string("authentication_error"))
            let notJSON = try await gateway.post("/gateway/openai/v1/chat/completions", "{nope")
            #expect(notJSON.status == 400)
            let badCap = try await gateway.post(
                "/gateway/openai/v1/chat/completions", Self.chat.replacingOccurrences(of: "100}", with: #""many"}"#))
            #expect(badCap.status == 400 && badCap.json["error"]?["param"] == .string("max_completion_tokens"))
            #expect(gateway.fake.seen.calls == 0)
        }
        try await GatewayHarness.with(allowUnpriced: true) { gateway in
            let unknown = try await gateway.post(
                "/gateway/openai/v1/chat/completions", Self.chat.replacingOccurrences(of: "gpt-5-mini", with: "gpt-unknown"))
            #expect(unknown.status == 200)
            #expect(try await gateway.events().first?.costKind == .unpriced)
        }
        try await TestServer.with { server in
            let (_, key) = try await server.organization(credit: "10")
            let off = try await LoopbackClient.json(
                port: server.port, "POST", "/gateway/openai/v1/chat/completions", bearer: key, Self.chat)
            #expect(
                off.status == 404 && off.json["error"]?["message"]?.stringValue?.contains("PLUTUS_GATEWAY_OPENAI_KEY") == true)
        }
    }

    @Test func upstreamErrorsPassThroughAndReleaseTheHold() async throws {
        try await GatewayHarness.with { gateway in
            let limited = try await gateway.post(
                "/gateway/openai/v1/chat/completions", Self.chat.replacingOccurrences(of: "Say hello", with: "[fail:429]"))
            #expect(limited.status == 429 && limited.headers["retry-after"] == "7")
            #expect(limited.json["error"]?["message"] == .string("Rate limit reached (fake)"))
            let failed = try await gateway.post(
                "/gateway/anthropic/v1/messages",
                #"{"model":"claude-sonnet-4-6","max_tokens":10,"messages":[{"role":"user","content":"[fail:500]"}]}"#,
                anthropic: true)
            #expect(failed.status == 500 && failed.json["error"]?["type"] == .string("api_error"))
            #expect(try await gateway.events().isEmpty)
            let holds = try await gateway.server.store.reservations(gateway.org, activeAt: nil, limit: 10)
            #expect(holds.count == 2 && holds.allSatisfy { $0.storedStatus == .released })
            #expect(try await gateway.server.balance(gateway.org) == MicroDollars.dollars(10)!)
        }
    }

    @Test func aStreamThatBreaksOffIsBilledAtTheDocumentedEstimate() async throws {
        try await GatewayHarness.with { gateway in
            let body = Self.chat.replacingOccurrences(of: "Say hello", with: "[interrupt]")
                .replacingOccurrences(of: "}]", with: #"}],"stream":true"#)
            let response = try await gateway.post("/gateway/openai/v1/chat/completions", body)
            #expect(response.status == 200)
            let events = try await gateway.events()
            try #require(events.count == 1)
            #expect(events[0].source == "gateway-estimated")
            // The input bound (the body's bytes) and one token per content delta passed on.
            #expect(events[0].tokens == TokenCounts(input: Int64(body.utf8.count), output: 3))
        }
    }

    @Test func anAgentThatHangsUpMidStreamIsStillBilledForWhatTheProviderReports() async throws {
        try await GatewayHarness.with { gateway in
            let body =
                #"{"model":"claude-sonnet-4-6","max_tokens":200,"stream":true,"messages":[{"role":"user","content":"[slow] hi"}]}"#
            var request = "POST /gateway/anthropic/v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            request += "x-api-key: \(gateway.key)\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            let read = try await LoopbackClient.hangUp(
                port: gateway.server.port, Array(request.utf8), after: "content_block_delta")
            #expect(String(decoding: read, as: UTF8.self).contains("message_start"))
            // The rest of the answer is read without the agent, and settled from its usage.
            var events: [UsageEventRecord] = []
            for _ in 0..<100 where events.isEmpty {
                try await Task.sleep(nanoseconds: 50_000_000)
                events = try await gateway.events()
            }
            try #require(events.count == 1)
            #expect(events[0].source == "gateway" && events[0].tokens.output == 12)
            #expect(try await gateway.server.store.verify().isClean)
        }
    }

    @Test func concurrentCallsNeverSpendMoreThanTheCredit() async throws {
        // Credit for ten worst cases of this call, and 64 of them at once.
        try await GatewayHarness.with(credit: nil) { gateway in
            // The answers wait at the fake until every call has been decided, so no settle can
            // give credit back before the last hold is placed.
            let body = Self.chat.replacingOccurrences(of: "}]", with: #"}],"stream":true"#)
                .replacingOccurrences(of: "Say hello", with: "[gate] Say hello")
            let call = try GatewayCalls.read(
                try JSONValue.parse(body), bytes: body.utf8.count, route: .chatCompletions,
                defaultOutputTokens: Limits.gatewayOutputTokensDefault)
            let worst = try GatewayCalls.worstCase(
                call, catalog: try await gateway.server.store.priceCatalog(), allowUnpriced: false)
            _ = try await gateway.server.store.postCredit(
                gateway.org,
                try CreditMovement(
                    kind: .grant, amount: MicroDollars(rawValue: worst.rawValue * 10), reference: "ten", memo: nil),
                at: Timestamp.now())
            let refused = Tally()
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<64 {
                    group.addTask {
                        let status = try await gateway.post("/gateway/openai/v1/chat/completions", body).status
                        if status == 402 { refused.add() }
                        return status
                    }
                }
                for _ in 0..<600 where refused.count + gateway.fake.seen.calls < 64 {
                    try await Task.sleep(nanoseconds: 10_000_000)
                }
                gateway.fake.openGate()
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 200 }.count == 10)
            #expect(statuses.filter { $0 == 402 }.count == 54)
            #expect(gateway.fake.seen.calls == 10)
            #expect(try await gateway.events().count == 10)
            #expect(try await gateway.server.store.verify().isClean)
        }
    }
}

/// A count shared by concurrent tasks.
final class Tally: Sendable {
    private let value = Mutex(0)
    func add() { value.withLock { $0 += 1 } }
    var count: Int { value.withLock { $0 } }
}

extension JSONValue {
    subscript(index: Int) -> JSONValue? {
        guard case .array(let elements) = self, elements.indices.contains(index) else { return nil }
        return elements[index]
    }

    var numberText: String? {
        if case .number(let text) = self { return text }
        return nil
    }
}
