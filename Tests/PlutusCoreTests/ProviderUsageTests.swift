import PlutusCore
import Testing

/// Provider-native usage, from the shapes of the providers' documented responses. Each case
/// gives the event as a client would send it, the tokens Plutus must bill by kind, and the
/// cost at the built-in catalog's rates worked out by hand (rate × tokens in micro-dollars,
/// rounded half to even once).
@Suite("Provider-native usage: every provider's usage object billed once, by kind")
struct ProviderUsageTests {
    let now = Timestamp.seconds(1_795_000_000)

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var json: String
        var tokens: TokenCounts
        var costMicros: Int64
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "OpenAI Chat Completions, plain",
            json: #"""
                {"provider": "openai", "model": "gpt-5", "usage": {"prompt_tokens": 19, "completion_tokens": 10,
                 "total_tokens": 29, "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                 "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                 "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}}
                """#,
            tokens: TokenCounts(input: 19, output: 10),
            // 19 × 1.25 + 10 × 10 = 123.75
            costMicros: 124),
        Case(
            name: "OpenAI Chat Completions, cached prompt and reasoning (both parts of their totals)",
            json: #"""
                {"provider": "openai", "model": "gpt-5", "usage": {"prompt_tokens": 2006, "completion_tokens": 300,
                 "total_tokens": 2306, "prompt_tokens_details": {"cached_tokens": 1920},
                 "completion_tokens_details": {"reasoning_tokens": 256}}}
                """#,
            tokens: TokenCounts(input: 86, output: 44, cacheRead: 1920, reasoning: 256),
            // 86 × 1.25 + 44 × 10 + 1920 × 0.125 + 256 × 10 = 107.5 + 440 + 240 + 2560 = 3347.5
            costMicros: 3348),
        Case(
            name: "OpenAI Chat Completions names at the top level",
            json: #"""
                {"provider": "openai", "model": "gpt-5", "prompt_tokens": 1000, "completion_tokens": 500,
                 "prompt_tokens_details": {"cached_tokens": 200}}
                """#,
            tokens: TokenCounts(input: 800, output: 500, cacheRead: 200),
            // 800 × 1.25 + 500 × 10 + 200 × 0.125 = 1000 + 5000 + 25
            costMicros: 6025),
        Case(
            name: "OpenAI Responses, reasoning",
            json: #"""
                {"provider": "openai", "model": "gpt-5", "usage": {"input_tokens": 75,
                 "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 1186,
                 "output_tokens_details": {"reasoning_tokens": 1024}, "total_tokens": 1261}}
                """#,
            tokens: TokenCounts(input: 75, output: 162, reasoning: 1024),
            // 75 × 1.25 + 162 × 10 + 1024 × 10 = 93.75 + 1620 + 10240
            costMicros: 11954),
        Case(
            name: "OpenAI Responses, cached input",
            json: #"""
                {"provider": "openai", "model": "gpt-5", "usage": {"input_tokens": 5000,
                 "input_tokens_details": {"cached_tokens": 4096}, "output_tokens": 20,
                 "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 5020}}
                """#,
            tokens: TokenCounts(input: 904, output: 20, cacheRead: 4096),
            // 904 × 1.25 + 20 × 10 + 4096 × 0.125 = 1130 + 200 + 512
            costMicros: 1842),
        Case(
            name: "Anthropic Messages, plain",
            json: #"""
                {"provider": "anthropic", "model": "claude-sonnet-4-5", "usage": {"input_tokens": 2095, "output_tokens": 503}}
                """#,
            tokens: TokenCounts(input: 2095, output: 503),
            // 2095 × 3 + 503 × 15 = 6285 + 7545
            costMicros: 13830),
        Case(
            name: "Anthropic Messages, cache write (input excludes the cache)",
            json: #"""
                {"provider": "anthropic", "model": "claude-sonnet-4-5", "usage": {"input_tokens": 21,
                 "cache_creation_input_tokens": 188086, "cache_read_input_tokens": 0, "output_tokens": 393,
                 "cache_creation": {"ephemeral_5m_input_tokens": 188086, "ephemeral_1h_input_tokens": 0},
                 "service_tier": "standard"}}
                """#,
            tokens: TokenCounts(input: 21, output: 393, cacheWrite: 188_086),
            // 21 × 3 + 393 × 15 + 188086 × 3.75 = 63 + 5895 + 705322.5 (even below)
            costMicros: 711_280),
        Case(
            name: "Anthropic cache names at the top level (billed, not dropped)",
            json: #"""
                {"provider": "anthropic", "model": "claude-sonnet-4-5", "input_tokens": 1000, "output_tokens": 210,
                 "cache_read_input_tokens": 90000, "cache_creation_input_tokens": 20000}
                """#,
            tokens: TokenCounts(input: 1000, output: 210, cacheRead: 90_000, cacheWrite: 20_000),
            // 1000 × 3 + 210 × 15 + 90000 × 0.30 + 20000 × 3.75 = 3000 + 3150 + 27000 + 75000
            costMicros: 108_150),
        Case(
            name: "Gemini usageMetadata, plain",
            json: #"""
                {"provider": "google", "model": "gemini-2.5-flash", "usage": {"promptTokenCount": 11,
                 "candidatesTokenCount": 85, "totalTokenCount": 96}}
                """#,
            tokens: TokenCounts(input: 11, output: 85),
            // 11 × 0.30 + 85 × 2.50 = 3.3 + 212.5
            costMicros: 216),
        Case(
            name: "Gemini usageMetadata, cached content and thoughts",
            json: #"""
                {"provider": "google", "model": "gemini-2.5-pro", "usage": {"promptTokenCount": 10000,
                 "cachedContentTokenCount": 8000, "candidatesTokenCount": 200, "thoughtsTokenCount": 1200,
                 "totalTokenCount": 11400}}
                """#,
            tokens: TokenCounts(input: 2000, output: 200, cacheRead: 8000, reasoning: 1200),
            // 2000 × 1.25 + 200 × 10 + 8000 × 0.31 + 1200 × 10 = 2500 + 2000 + 2480 + 12000
            costMicros: 18_980),
        Case(
            name: "Plutus's own counts beside an agreeing usage object count once",
            json: #"""
                {"provider": "anthropic", "model": "claude-sonnet-4-5", "input_tokens": 100, "output_tokens": 0,
                 "usage": {"input_tokens": 100, "output_tokens": 40}}
                """#,
            tokens: TokenCounts(input: 100, output: 40),
            costMicros: 900),
    ]

    @Test(arguments: cases) func billsEachKindOnce(_ example: Case) throws {
        let event = try UsageValidation.validate(JSONValue.parse(example.json), index: 0, now: now)
        #expect(event.tokens == example.tokens)
        let priced = try #require(
            PriceCatalog.builtin.price(provider: event.provider, model: event.model, tokens: event.tokens, exactCost: nil))
        #expect(priced.cost == MicroDollars(rawValue: example.costMicros))
        #expect(priced.kind == .estimated)
    }

    struct Refusal: Sendable, CustomTestStringConvertible {
        var json: String
        var field: String
        var code: UsageFieldError.Code
        var testDescription: String { "\(field): \(code.rawValue)" }
    }

    static let refusals: [Refusal] = [
        Refusal(
            json: #"{"provider": "openai", "usage": {"prompt_tokens": 10, "prompt_tokens_details": {"cached_tokens": 11}}}"#,
            field: "usage.prompt_tokens_details.cached_tokens", code: .invalidUsage),
        Refusal(
            json:
                #"{"provider": "openai", "usage": {"input_tokens": 5, "output_tokens": 3, "output_tokens_details": {"reasoning_tokens": 4}}}"#,
            field: "usage.output_tokens_details.reasoning_tokens", code: .invalidUsage),
        Refusal(json: #"{"provider": "openai", "usage": {"total_tokens": 29}}"#, field: "usage", code: .invalidUsage),
        Refusal(json: #"{"provider": "openai", "usage": [19, 10]}"#, field: "usage", code: .wrongType),
        Refusal(json: #"{"provider": "openai", "usage": {"prompt_tokens": -1}}"#, field: "usage.prompt_tokens", code: .negative),
        Refusal(
            json: #"{"provider": "openai", "usage": {"prompt_tokens": 1.5}}"#, field: "usage.prompt_tokens", code: .wrongType),
        Refusal(
            json: #"{"provider": "openai", "usage": {"prompt_tokens": 10, "prompt_tokens_details": 3}}"#,
            field: "usage.prompt_tokens_details", code: .wrongType),
        Refusal(
            json: #"{"provider": "anthropic", "cache_read_tokens": 5, "cache_read_input_tokens": 6}"#,
            field: "cache_read_input_tokens", code: .conflictingFields),
        Refusal(
            json: #"{"provider": "anthropic", "input_tokens": 99, "usage": {"input_tokens": 100, "output_tokens": 1}}"#,
            field: "usage.input_tokens", code: .conflictingFields),
        Refusal(
            json: #"{"provider": "openai", "prompt_tokens": 10, "usage": {"prompt_tokens": 12}}"#,
            field: "usage.prompt_tokens", code: .conflictingFields),
        Refusal(
            json: #"{"provider": "openai", "prompt_tokens_details": {"cached_tokens": 3}}"#,
            field: "prompt_tokens_details", code: .invalidUsage),
    ]

    @Test(arguments: refusals) func refusesWhatCannotBeBilledRight(_ refusal: Refusal) throws {
        let event = try JSONValue.parse(refusal.json)
        do {
            _ = try UsageValidation.validate(event, index: 2, now: now)
            Issue.record("accepted \(refusal.json)")
        } catch {
            #expect(error.field == refusal.field)
            #expect(error.code == refusal.code)
            #expect(error.index == 2)
            #expect(error.message.contains(refusal.field))
        }
    }

    @Test func theShapeIsToldByTheMembers() throws {
        func shape(_ json: String) throws -> ProviderUsage.Shape? {
            guard case .object(let members) = try JSONValue.parse(json) else { return nil }
            return ProviderUsage.shape(of: members)
        }
        #expect(try shape(#"{"prompt_tokens": 1}"#) == .openAIChat)
        #expect(try shape(#"{"input_tokens": 1, "input_tokens_details": {}}"#) == .openAIResponses)
        #expect(try shape(#"{"input_tokens": 1, "cache_read_input_tokens": 2}"#) == .anthropic)
        #expect(try shape(#"{"promptTokenCount": 1}"#) == .gemini)
        #expect(try shape(#"{"total_tokens": 1}"#) == nil)
        #expect(try shape(#"{"prompt_tokens": null}"#) == nil)
    }

    @Test func unknownFieldsAndEventsWithNothingToBillAreNamed() throws {
        let body = try JSONValue.parse(
            #"[{"provider": "openai", "input_tokens": 5, "latency_ms": 12}, {"provider": "openai", "modle": "gpt-5"}]"#)
        let (events, _, warnings) = try UsageValidation.validateBody(body, now: now)
        #expect(events.count == 2)
        #expect(
            warnings.map { "\($0.index) \($0.field) \($0.code.rawValue)" } == [
                "0 latency_ms unknown_field", "1 modle unknown_field", "1  nothing_to_bill",
            ])
        #expect(warnings[0].message.contains("'latency_ms'"))
        // A provider's usage and an exact cost are something to bill; nothing is said of them.
        let known = try JSONValue.parse(
            #"[{"provider": "openai", "usage": {"prompt_tokens": 3}}, {"provider": "x", "cost_usd": 0.5}]"#)
        #expect(try UsageValidation.validateBody(known, now: now).warnings.isEmpty)
    }

    @Test func anEventsWrapperIsABatch() throws {
        let body = try JSONValue.parse(#"{"events": [{"provider": "a"}, {"provider": "b"}]}"#)
        let (events, wasArray, _) = try UsageValidation.validateBody(body, now: now)
        #expect(events.map(\.provider) == ["a", "b"] && wasArray)
        #expect(throws: UsageBatchShapeError.self) {
            try UsageValidation.validateBody(JSONValue.parse(#"{"events": {"provider": "a"}}"#), now: now)
        }
    }

    @Test func readableMoneyKeepsFourSignificantDigitsBelowADollar() {
        #expect(MicroDollars(rawValue: 57_440_000).readable == "$57.44")
        #expect(MicroDollars(rawValue: 63_000).readable == "$0.06300")
        #expect(MicroDollars(rawValue: 6_150).readable == "$0.006150")
        #expect(MicroDollars(rawValue: 15).readable == "$0.000015")
        #expect(MicroDollars(rawValue: 0).readable == "$0.00")
        #expect(MicroDollars(rawValue: -6_150).readable == "-$0.006150")
    }

    @Test func refusalsSayWhatHappened() {
        #expect(
            Metering.refusalSentence(cost: MicroDollars(rawValue: 75_010_000), balance: MicroDollars(rawValue: 57_440_000))
                == "insufficient credit: this call costs $75.01, balance $57.44")
        #expect(
            Metering.refusalSentence(cost: MicroDollars(rawValue: 10_000), balance: .zero)
                == "prepaid credit exhausted: balance $0.00, this call costs $0.01000")
        let big = Alerting.hardStopAlert(
            balance: MicroDollars(rawValue: 57_440_000), cost: MicroDollars(rawValue: 75_010_000), at: now)
        #expect(big.kind == .callRefused)
        #expect(Alerting.hardStopAlert(balance: .zero, cost: MicroDollars(rawValue: 5), at: now).kind == .hardStop)
    }
}
