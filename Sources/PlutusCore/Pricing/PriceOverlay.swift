/// An operator's own prices, laid over the built-in catalog.
///
/// Two input formats:
/// - **plutus**: `{"as_of": "YYYY-MM-DD"?, "prices": {provider: {model | "_default": {"input",
///   "output", "cache_read"?, "cache_write"?, "reasoning"?}}}}`, USD per million tokens.
///   The bare provider map (the original's `pricing.overrides`) is accepted too.
/// - **litellm**: the community `model_prices_and_context_window.json`, whose rates are USD
///   per token (`input_cost_per_token`, `output_cost_per_token`,
///   `cache_read_input_token_cost`, `cache_creation_input_token_cost`,
///   `output_cost_per_reasoning_token`) under each model name with its `litellm_provider`.
public struct PriceOverlay: Sendable, Equatable {
    public struct Row: Sendable, Equatable {
        public var provider: String
        public var model: String
        public var price: ModelPrice

        public init(provider: String, model: String, price: ModelPrice) {
            self.provider = provider
            self.model = model
            self.price = price
        }
    }

    public enum Format: String, Sendable, CaseIterable {
        case plutus
        case litellm
    }

    public var rows: [Row]
    public var asOf: String?

    public init(rows: [Row], asOf: String?) {
        self.rows = rows
        self.asOf = asOf
    }

    public struct ImportError: Error, Equatable, Sendable, CustomStringConvertible {
        public var path: String
        public var problem: String
        public var description: String { path.isEmpty ? problem : "\(path): \(problem)" }
    }

    public static func parse(_ document: JSONValue, format: Format) throws(ImportError) -> PriceOverlay {
        let overlay: PriceOverlay
        switch format {
        case .plutus: overlay = try parsePlutus(document)
        case .litellm: overlay = try parseLiteLLM(document)
        }
        guard !overlay.rows.isEmpty else { throw ImportError(path: "", problem: "no prices found") }
        guard overlay.rows.count <= Limits.catalogModelsMax else {
            throw ImportError(path: "", problem: "more than \(Limits.catalogModelsMax) models")
        }
        return overlay
    }

    // MARK: plutus format

    private static func parsePlutus(_ document: JSONValue) throws(ImportError) -> PriceOverlay {
        guard case .object = document else { throw ImportError(path: "", problem: "must be a JSON object") }
        var asOf: String?
        var providerMap = document
        if let prices = document["prices"] {
            providerMap = prices
            if let date = document["as_of"] {
                guard let text = date.stringValue, CivilMonth(text: String(text.prefix(7))) != nil else {
                    throw ImportError(path: "as_of", problem: "must be a date string YYYY-MM-DD")
                }
                asOf = text
            }
        }
        guard case .object(let providers) = providerMap else {
            throw ImportError(path: "prices", problem: "must be an object of providers")
        }
        var rows: [Row] = []
        for (provider, models) in providers {
            let providerKey = provider.lowercased()
            guard !providerKey.isEmpty, providerKey.utf8.count <= Limits.providerBytesMax else {
                throw ImportError(path: provider, problem: "provider name must be 1–\(Limits.providerBytesMax) bytes")
            }
            guard case .object(let entries) = models else {
                throw ImportError(path: provider, problem: "must be an object of models")
            }
            for (model, rates) in entries {
                let path = "\(provider).\(model)"
                guard !model.isEmpty, model.utf8.count <= Limits.labelBytesMax else {
                    throw ImportError(path: path, problem: "model name must be 1–\(Limits.labelBytesMax) bytes")
                }
                func rate(_ field: String, required: Bool) throws(ImportError) -> MicroDollars? {
                    try readRate(rates[field], path: "\(path).\(field)", required: required, scale: 6)
                }
                guard case .object = rates else { throw ImportError(path: path, problem: "must be an object of rates") }
                let price = ModelPrice(
                    input: try rate("input", required: true)!,
                    output: try rate("output", required: true)!,
                    cacheRead: try rate("cache_read", required: false) ?? .zero,
                    cacheWrite: try rate("cache_write", required: false),
                    reasoning: try rate("reasoning", required: false))
                rows.append(Row(provider: providerKey, model: model, price: price))
            }
        }
        return PriceOverlay(rows: rows, asOf: asOf)
    }

    // MARK: LiteLLM format

    /// LiteLLM provider names that Plutus files under another provider.
    private static let litellmProviderAliases: [String: String] = [
        "gemini": "google",
        "vertex_ai-language-models": "google",
        "cohere_chat": "cohere",
        "text-completion-openai": "openai",
    ]

    private static func parseLiteLLM(_ document: JSONValue) throws(ImportError) -> PriceOverlay {
        guard case .object(let models) = document else { throw ImportError(path: "", problem: "must be a JSON object") }
        var rows: [Row] = []
        for (name, spec) in models where name != "sample_spec" {
            guard case .object = spec, let rawProvider = spec["litellm_provider"]?.stringValue else { continue }
            let path = name
            // Per-token USD × 10^12 = micro-dollars per million tokens.
            func rate(_ field: String, required: Bool) throws(ImportError) -> MicroDollars? {
                try readRate(spec[field], path: "\(path).\(field)", required: required, scale: 12)
            }
            guard spec["input_cost_per_token"] != nil, spec["output_cost_per_token"] != nil else { continue }
            let provider = litellmProviderAliases[rawProvider.lowercased()] ?? rawProvider.lowercased()
            var model = name
            if let slash = name.firstIndex(of: "/"), name[..<slash].lowercased() == rawProvider.lowercased() {
                model = String(name[name.index(after: slash)...])
            }
            guard !provider.isEmpty, provider.utf8.count <= Limits.providerBytesMax, !model.isEmpty,
                model.utf8.count <= Limits.labelBytesMax
            else { continue }
            let price = ModelPrice(
                input: try rate("input_cost_per_token", required: true)!,
                output: try rate("output_cost_per_token", required: true)!,
                cacheRead: try rate("cache_read_input_token_cost", required: false) ?? .zero,
                cacheWrite: try rate("cache_creation_input_token_cost", required: false),
                reasoning: try rate("output_cost_per_reasoning_token", required: false))
            rows.append(Row(provider: provider, model: model, price: price))
        }
        rows.sort { ($0.provider, $0.model) < ($1.provider, $1.model) }
        return PriceOverlay(rows: rows, asOf: nil)
    }

    private static func readRate(
        _ value: JSONValue?, path: String, required: Bool, scale: Int
    ) throws(ImportError) -> MicroDollars? {
        guard let value, value != .null else {
            if required { throw ImportError(path: path, problem: "is required") }
            return nil
        }
        let text: String
        switch value {
        case .number(let literal): text = literal
        case .string(let literal): text = literal
        default: throw ImportError(path: path, problem: "must be a number, got \(value.kindName)")
        }
        switch DecimalText.scaled(text, scale: scale) {
        case .success(let micros):
            guard micros >= 0 else { throw ImportError(path: path, problem: "must not be negative") }
            guard micros <= Limits.pricePerMillionMax.rawValue else {
                throw ImportError(path: path, problem: "is above the \(Limits.pricePerMillionMax.formatted) per million limit")
            }
            return MicroDollars(rawValue: micros)
        case .failure(.notANumber): throw ImportError(path: path, problem: "must be a finite decimal number")
        case .failure(.outOfRange): throw ImportError(path: path, problem: "is out of range")
        }
    }
}

extension PriceOverlay {
    /// This overlay in the plutus format, with exact decimal rates.
    public func plutusJSON() -> JSONValue {
        var providers: [(String, [(String, JSONValue)])] = []
        for row in rows.sorted(by: { ($0.provider, $0.model) < ($1.provider, $1.model) }) {
            let rates: JSONValue = .object([
                ("input", .money(row.price.input)), ("output", .money(row.price.output)),
                ("cache_read", .money(row.price.cacheRead)), ("cache_write", .money(row.price.cacheWrite)),
                ("reasoning", .money(row.price.reasoning)),
            ])
            if let last = providers.indices.last, providers[last].0 == row.provider {
                providers[last].1.append((row.model, rates))
            } else {
                providers.append((row.provider, [(row.model, rates)]))
            }
        }
        var members: [(String, JSONValue)] = []
        if let asOf { members.append(("as_of", .string(asOf))) }
        members.append(("prices", .object(providers.map { ($0.0, JSONValue.object($0.1)) })))
        return .object(members)
    }

    /// `self` with `newer` laid over it: rows of `newer` replace rows with the same
    /// provider and model.
    public func merged(with newer: PriceOverlay) -> PriceOverlay {
        var byKey: [String: Row] = [:]
        for row in rows + newer.rows { byKey["\(row.provider)\u{0}\(row.model)"] = row }
        let merged = byKey.values.sorted { ($0.provider, $0.model) < ($1.provider, $1.model) }
        return PriceOverlay(rows: merged, asOf: newer.asOf ?? asOf)
    }
}
