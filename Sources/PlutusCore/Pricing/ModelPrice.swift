/// Rates for one model, each per million tokens.
public struct ModelPrice: Hashable, Sendable {
    public var input: MicroDollars
    public var output: MicroDollars
    public var cacheRead: MicroDollars
    public var cacheWrite: MicroDollars
    public var reasoning: MicroDollars

    /// `cacheWrite` defaults to the input rate and `reasoning` to the output rate, as the
    /// providers bill them when they publish no separate rate.
    public init(
        input: MicroDollars, output: MicroDollars, cacheRead: MicroDollars,
        cacheWrite: MicroDollars? = nil, reasoning: MicroDollars? = nil
    ) {
        let rates = [input, output, cacheRead, cacheWrite ?? input, reasoning ?? output]
        precondition(rates.allSatisfy { !$0.isNegative && $0 <= Limits.pricePerMillionMax }, "rates must be validated")
        self.input = input
        self.output = output
        self.cacheRead = cacheRead
        self.cacheWrite = cacheWrite ?? input
        self.reasoning = reasoning ?? output
    }

    /// The cost of `tokens` at these rates, rounded half to even to the micro-dollar once,
    /// after summing. `nil` when it exceeds `Limits.eventCostMax`.
    ///
    /// Reasoning tokens are billed in addition to output tokens, and cache-read and
    /// cache-write tokens are assumed to be excluded from `input` (the providers' own
    /// accounting).
    public func cost(of tokens: TokenCounts) -> MicroDollars? {
        var total: Int128 = 0
        total += Int128(tokens.input) * Int128(input.rawValue)
        total += Int128(tokens.output) * Int128(output.rawValue)
        total += Int128(tokens.cacheRead) * Int128(cacheRead.rawValue)
        total += Int128(tokens.cacheWrite) * Int128(cacheWrite.rawValue)
        total += Int128(tokens.reasoning) * Int128(reasoning.rawValue)
        let perMillion: Int128 = 1_000_000
        var micros = total / perMillion
        let remainder = total % perMillion
        if remainder * 2 > perMillion || (remainder * 2 == perMillion && micros % 2 == 1) { micros += 1 }
        guard micros <= Int128(Limits.eventCostMax.rawValue) else { return nil }
        return MicroDollars(rawValue: Int64(micros))
    }
}
