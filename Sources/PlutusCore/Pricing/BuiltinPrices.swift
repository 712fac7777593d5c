/// The provider list prices Plutus ships with (USD per million tokens).
///
/// Anthropic's cache writes are billed at 1.25× input; every other provider's cache
/// writes at the input rate; reasoning tokens at the output rate.
extension PriceCatalog {
    public static let builtinAsOf = "2026-06-26"

    public static let builtin: PriceCatalog = {
        // provider, model, input, output, cache read, cache write (nil = input rate)
        let table: [(String, String, String, String, String, String?)] = [
            ("anthropic", "_default", "3.00", "15.00", "0.30", "3.75"),
            ("anthropic", "claude-fable-5", "15.00", "75.00", "1.50", "18.75"),
            ("anthropic", "claude-opus-4-8", "15.00", "75.00", "1.50", "18.75"),
            ("anthropic", "claude-sonnet-4-6", "3.00", "15.00", "0.30", "3.75"),
            ("anthropic", "claude-sonnet-4-5-20250929", "3.00", "15.00", "0.30", "3.75"),
            ("anthropic", "claude-sonnet-4-5", "3.00", "15.00", "0.30", "3.75"),
            ("anthropic", "claude-haiku-4-5-20251001", "1.00", "5.00", "0.10", "1.25"),
            ("anthropic", "claude-haiku-4-5", "1.00", "5.00", "0.10", "1.25"),
            ("openai", "_default", "2.50", "10.00", "1.25", nil),
            ("openai", "gpt-5", "1.25", "10.00", "0.125", nil),
            ("openai", "gpt-5-mini", "0.25", "2.00", "0.025", nil),
            ("openai", "gpt-5-nano", "0.05", "0.40", "0.005", nil),
            ("openai", "o4", "2.50", "10.00", "0.625", nil),
            ("openai", "o4-mini", "1.10", "4.40", "0.275", nil),
            ("openai", "text-embedding-3-small", "0.02", "0.00", "0.00", nil),
            ("openai", "text-embedding-3-large", "0.13", "0.00", "0.00", nil),
            ("google", "_default", "1.25", "5.00", "0.31", nil),
            ("google", "gemini-3.1-pro-preview", "1.25", "10.00", "0.31", nil),
            ("google", "gemini-3.1-pro", "1.25", "10.00", "0.31", nil),
            ("google", "gemini-2.5-pro", "1.25", "10.00", "0.31", nil),
            ("google", "gemini-2.5-flash", "0.30", "2.50", "0.075", nil),
            ("deepseek", "_default", "0.27", "1.10", "0.027", nil),
            ("deepseek", "deepseek-v4-pro", "0.55", "2.19", "0.055", nil),
            ("deepseek", "deepseek-v4-flash", "0.14", "0.28", "0.014", nil),
            ("xai", "_default", "3.00", "15.00", "0.75", nil),
            ("xai", "grok-4", "3.00", "15.00", "0.75", nil),
            ("xai", "grok-4-fast", "0.20", "0.50", "0.05", nil),
            ("mistral", "_default", "2.00", "6.00", "0.00", nil),
            ("mistral", "mistral-large-2", "2.00", "6.00", "0.00", nil),
            ("mistral", "mistral-small-3", "0.20", "0.60", "0.00", nil),
            ("cohere", "_default", "2.50", "10.00", "0.00", nil),
            ("cohere", "command-a", "2.50", "10.00", "0.00", nil),
            ("meta", "_default", "0.35", "0.40", "0.00", nil),
            ("meta", "llama-4-maverick", "0.35", "1.15", "0.00", nil),
            ("meta", "llama-4-scout", "0.11", "0.34", "0.00", nil),
        ]
        func rate(_ text: String) -> MicroDollars {
            guard case .success(let value) = MicroDollars.parse(text) else { preconditionFailure("bad built-in price \(text)") }
            return value
        }
        var providers: [String: ProviderRates] = [:]
        for (provider, model, input, output, cacheRead, cacheWrite) in table {
            let price = ModelPrice(
                input: rate(input), output: rate(output), cacheRead: rate(cacheRead), cacheWrite: cacheWrite.map(rate))
            var rates = providers[provider] ?? ProviderRates(models: [:], fallback: nil)
            if model == "_default" { rates.fallback = price } else { rates.models[model] = price }
            providers[provider] = rates
        }
        return PriceCatalog(
            version: "builtin-\(builtinAsOf)", asOf: builtinAsOf, providers: providers,
            globalFallback: ModelPrice(input: rate("1.00"), output: rate("3.00"), cacheRead: rate("0.10")))
    }()
}
