/// The prices Plutus estimates costs with: the built-in table, optionally overlaid with an
/// operator's own prices. Every usage event records the catalog `version` it was priced
/// with.
public struct PriceCatalog: Sendable, Equatable {
    /// Rates of one provider: named models and an optional `_default` fallback.
    public struct ProviderRates: Sendable, Equatable {
        public var models: [String: ModelPrice]
        public var fallback: ModelPrice?
    }

    public var version: String
    /// The date the prices were read from the providers' price pages.
    public var asOf: String
    public var providers: [String: ProviderRates]
    public var globalFallback: ModelPrice

    /// The rate for a call, and whether it matched a named model exactly. Providers are
    /// matched case-insensitively, models case-sensitively.
    public func resolve(provider: String, model: String?) -> (price: ModelPrice, exact: Bool) {
        let key = provider.lowercased()
        if let rates = providers[key.isEmpty ? "_default" : key] {
            if let model, let price = rates.models[model] { return (price, true) }
            if let fallback = rates.fallback { return (fallback, false) }
        }
        return (globalFallback, false)
    }

    /// Every (provider, model, price) row, sorted, with `_default` for fallbacks.
    public var rows: [(provider: String, model: String, price: ModelPrice)] {
        var out: [(String, String, ModelPrice)] = []
        for provider in providers.keys.sorted() {
            let rates = providers[provider]!
            if let fallback = rates.fallback { out.append((provider, "_default", fallback)) }
            for model in rates.models.keys.sorted() { out.append((provider, model, rates.models[model]!)) }
        }
        out.append(("*", "_default", globalFallback))
        return out
    }

    /// This catalog with `overlay` laid over it: overlay rows replace or add models.
    public func overlaid(with overlay: PriceOverlay, version: String) -> PriceCatalog {
        var copy = self
        copy.version = version
        for row in overlay.rows {
            var rates = copy.providers[row.provider] ?? ProviderRates(models: [:], fallback: nil)
            if row.model == "_default" {
                rates.fallback = row.price
            } else {
                rates.models[row.model] = row.price
            }
            copy.providers[row.provider] = rates
        }
        return copy
    }

    /// The cost of an event and how it was arrived at. An `exactCost` from the caller is
    /// passed through; otherwise the cost is estimated from the tokens.
    public func price(
        provider: String, model: String?, tokens: TokenCounts, exactCost: MicroDollars?
    ) -> PricedCost? {
        if let exactCost { return PricedCost(cost: exactCost, kind: .exact, catalogVersion: version) }
        let (rate, exact) = resolve(provider: provider, model: model)
        guard let cost = rate.cost(of: tokens) else { return nil }
        return PricedCost(cost: cost, kind: exact ? .estimated : .unpriced, catalogVersion: version)
    }
}

public struct PricedCost: Sendable, Hashable {
    public var cost: MicroDollars
    public var kind: CostKind
    public var catalogVersion: String

    public init(cost: MicroDollars, kind: CostKind, catalogVersion: String) {
        self.cost = cost
        self.kind = kind
        self.catalogVersion = catalogVersion
    }
}
