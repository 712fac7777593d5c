import PlutusCore
import Testing

@Suite("Pricing: the catalog, cost formula, overlays and LiteLLM import")
struct PricingTests {
    let catalog = PriceCatalog.builtin

    private func micros(_ dollars: String) -> MicroDollars { try! MicroDollars.parse(dollars).get() }

    @Test func referenceWorkedExampleCosts63Thousandths() {
        let priced = catalog.price(
            provider: "anthropic", model: "claude-opus-4-8",
            tokens: TokenCounts(input: 1_000, output: 500, cacheRead: 2_000, reasoning: 100), exactCost: nil)
        #expect(priced?.cost == micros("0.063"))
        #expect(priced?.kind == .estimated)
        #expect(priced?.catalogVersion == "builtin-2026-06-26")
    }

    @Test(
        arguments: [
            // provider, model, input, output, cacheRead, cacheWrite, reasoning, expected dollars
            ("anthropic", "claude-opus-4-8", 0, 0, 0, 1_000_000, 0, "18.75"),
            ("anthropic", "claude-haiku-4-5", 0, 0, 0, 1_000, 0, "0.00125"),
            ("openai", "gpt-5", 1_000_000, 1_000_000, 1_000_000, 0, 1_000_000, "21.375"),
            ("openai", "gpt-5-nano", 1, 0, 0, 0, 0, "0"),  // $0.00000005 rounds half-even to zero
            ("openai", "gpt-5-nano", 10, 0, 0, 0, 0, "0"),  // exactly half a micro: half to even → 0
            ("openai", "gpt-5-nano", 30, 0, 0, 0, 0, "0.000002"),  // 1.5 micros → 2
            ("deepseek", "deepseek-v4-flash", 0, 0, 0, 1_000_000, 0, "0.14"),  // cache write = input rate
            ("mistral", "mistral-small-3", 500_000, 250_000, 100, 0, 0, "0.25"),
            ("google", "gemini-2.5-flash", 2_000, 300, 0, 0, 0, "0.00135"),
        ] as [(String, String, Int64, Int64, Int64, Int64, Int64, String)])
    func estimatesFromTokens(
        provider: String, model: String, input: Int64, output: Int64, cacheRead: Int64, cacheWrite: Int64, reasoning: Int64,
        dollars: String
    ) {
        let tokens = TokenCounts(input: input, output: output, cacheRead: cacheRead, cacheWrite: cacheWrite, reasoning: reasoning)
        let priced = catalog.price(provider: provider, model: model, tokens: tokens, exactCost: nil)
        #expect(priced?.cost == micros(dollars))
    }

    @Test func unknownModelsUseFallbacksAndSaySo() {
        let tokens = TokenCounts(input: 1_000_000)
        let providerDefault = catalog.price(provider: "OpenAI", model: "gpt-9", tokens: tokens, exactCost: nil)
        #expect(providerDefault?.kind == .unpriced)
        #expect(providerDefault?.cost == micros("2.50"))
        let global = catalog.price(provider: "acme-llm", model: "x", tokens: tokens, exactCost: nil)
        #expect(global?.kind == .unpriced)
        #expect(global?.cost == micros("1.00"))
        let noModel = catalog.price(provider: "anthropic", model: nil, tokens: tokens, exactCost: nil)
        #expect(noModel?.kind == .unpriced)
    }

    @Test func providersMatchCaseInsensitivelyModelsCaseSensitively() {
        #expect(catalog.resolve(provider: "ANTHROPIC", model: "claude-opus-4-8").exact)
        #expect(!catalog.resolve(provider: "anthropic", model: "Claude-Opus-4-8").exact)
    }

    @Test func exactCostPassesThroughUnchanged() {
        let priced = catalog.price(
            provider: "anthropic", model: "claude-opus-4-8", tokens: TokenCounts(input: 5_000_000),
            exactCost: micros("0.0156"))
        #expect(priced == PricedCost(cost: micros("0.0156"), kind: .exact, catalogVersion: catalog.version))
    }

    @Test func estimatesAboveTheEventLimitAreRefused() {
        let huge = TokenCounts(output: Limits.tokensPerFieldMax)
        #expect(catalog.price(provider: "anthropic", model: "claude-opus-4-8", tokens: huge, exactCost: nil) == nil)
    }

    @Test func everyReferencePriceRowIsPresent() {
        #expect(catalog.rows.count == 36)
        #expect(catalog.resolve(provider: "openai", model: "text-embedding-3-small").price.input == micros("0.02"))
        #expect(catalog.resolve(provider: "xai", model: "grok-4-fast").price.input == micros("0.20"))
        #expect(catalog.resolve(provider: "openai", model: "gpt-5").price.cacheRead == micros("0.125"))
        #expect(catalog.resolve(provider: "meta", model: "llama-4-scout").price.output == micros("0.34"))
        #expect(catalog.resolve(provider: "anthropic", model: "claude-sonnet-4-6").price.cacheWrite == micros("3.75"))
        #expect(catalog.asOf == "2026-06-26")
    }

    @Test func plutusOverlayReplacesAndAddsModels() throws {
        let document = try JSONValue.parse(
            #"""
            {"as_of": "2026-11-01", "prices": {
              "Anthropic": {"claude-opus-4-8": {"input": 12, "output": 60, "cache_read": "1.2"}},
              "acme": {"_default": {"input": 0.5, "output": 1}, "acme-1": {"input": 2, "output": 4, "reasoning": 8}}}}
            """#)
        let overlay = try PriceOverlay.parse(document, format: .plutus)
        let merged = catalog.overlaid(with: overlay, version: "test-1")
        #expect(merged.version == "test-1")
        #expect(merged.resolve(provider: "anthropic", model: "claude-opus-4-8").price.input == micros("12"))
        #expect(merged.resolve(provider: "anthropic", model: "claude-sonnet-4-5").price.input == micros("3"))
        #expect(merged.resolve(provider: "acme", model: "acme-1").price.reasoning == micros("8"))
        #expect(
            merged.resolve(provider: "acme", model: "other") == (
                ModelPrice(input: micros("0.5"), output: micros("1"), cacheRead: .zero), false
            ))
        // The original's bare `pricing.overrides` shape is accepted too.
        let bare = try PriceOverlay.parse(try JSONValue.parse(#"{"x": {"m": {"input": 1, "output": 2}}}"#), format: .plutus)
        #expect(bare.rows.count == 1)
    }

    @Test(arguments: [
        (#"{"prices": {"a": {"m": {"output": 1}}}}"#, "a.m.input: is required"),
        (#"{"prices": {"a": {"m": {"input": -1, "output": 1}}}}"#, "a.m.input: must not be negative"),
        (#"{"prices": {"a": {"m": {"input": true, "output": 1}}}}"#, "a.m.input: must be a number, got a boolean"),
        (#"{"prices": {"a": {"m": {"input": "NaN", "output": 1}}}}"#, "a.m.input: must be a finite decimal number"),
        (
            #"{"prices": {"a": {"m": {"input": 2000000, "output": 1}}}}"#,
            "a.m.input: is above the $1,000,000.00 per million limit"
        ),
        (#"{"prices": {}}"#, "no prices found"),
        (#"[1]"#, "must be a JSON object"),
    ])
    func overlayErrorsNameThePath(document: String, message: String) throws {
        let parsed = try JSONValue.parse(document)
        #expect(throws: PriceOverlay.ImportError.self) { try PriceOverlay.parse(parsed, format: .plutus) }
        do {
            _ = try PriceOverlay.parse(parsed, format: .plutus)
        } catch {
            #expect(error.description == message)
        }
    }

    @Test func importsLiteLLMPerTokenPrices() throws {
        let document = try JSONValue.parse(
            #"""
            {
              "sample_spec": {"input_cost_per_token": 0, "output_cost_per_token": 0, "litellm_provider": "x"},
              "claude-opus-4-8": {"input_cost_per_token": 1.5e-05, "output_cost_per_token": 7.5e-05,
                "cache_read_input_token_cost": 1.5e-06, "cache_creation_input_token_cost": 1.875e-05,
                "litellm_provider": "anthropic", "mode": "chat"},
              "gemini/gemini-2.5-flash": {"input_cost_per_token": 3e-07, "output_cost_per_token": 2.5e-06,
                "litellm_provider": "gemini"},
              "o4-mini": {"input_cost_per_token": 0.0000011, "output_cost_per_token": 0.0000044,
                "output_cost_per_reasoning_token": 0.0000044, "litellm_provider": "openai"},
              "text-embedding-x": {"input_cost_per_token": 1e-07, "litellm_provider": "openai"},
              "no-provider": {"input_cost_per_token": 1e-07, "output_cost_per_token": 1e-07}
            }
            """#)
        let overlay = try PriceOverlay.parse(document, format: .litellm)
        #expect(overlay.rows.map(\.model) == ["claude-opus-4-8", "gemini-2.5-flash", "o4-mini"])
        let opus = overlay.rows[0].price
        #expect(
            opus
                == ModelPrice(
                    input: micros("15"), output: micros("75"), cacheRead: micros("1.5"), cacheWrite: micros("18.75")))
        #expect(overlay.rows[1].provider == "google")
        #expect(overlay.rows[1].price.output == micros("2.5"))
        #expect(overlay.rows[2].price.reasoning == micros("4.4"))
    }

    @Test func overlaysMergeNewerRowsOverOlder() throws {
        let old = PriceOverlay(
            rows: [
                .init(provider: "a", model: "m", price: ModelPrice(input: micros("1"), output: micros("1"), cacheRead: .zero)),
                .init(provider: "a", model: "n", price: ModelPrice(input: micros("2"), output: micros("2"), cacheRead: .zero)),
            ], asOf: "2026-01-01")
        let newer = PriceOverlay(
            rows: [
                .init(provider: "a", model: "m", price: ModelPrice(input: micros("5"), output: micros("5"), cacheRead: .zero))
            ], asOf: nil)
        let merged = old.merged(with: newer)
        #expect(merged.rows.count == 2)
        #expect(merged.rows[0].price.input == micros("5"))
        #expect(merged.asOf == "2026-01-01")
        #expect(try PriceOverlay.parse(merged.plutusJSON(), format: .plutus) == merged)
    }
}
