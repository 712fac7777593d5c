/// The token counts of one metered call. Each is in `0...Limits.tokensPerFieldMax`.
public struct TokenCounts: Hashable, Sendable {
    public var input: Int64
    public var output: Int64
    public var cacheRead: Int64
    public var cacheWrite: Int64
    public var reasoning: Int64

    public init(input: Int64 = 0, output: Int64 = 0, cacheRead: Int64 = 0, cacheWrite: Int64 = 0, reasoning: Int64 = 0) {
        precondition(
            [input, output, cacheRead, cacheWrite, reasoning].allSatisfy { (0...Limits.tokensPerFieldMax).contains($0) },
            "token counts must be validated before construction")
        self.input = input
        self.output = output
        self.cacheRead = cacheRead
        self.cacheWrite = cacheWrite
        self.reasoning = reasoning
    }

    public static let zero = TokenCounts()

    /// Tokens that count toward a plan's monthly quota: every kind, summed.
    public var tracked: Int64 { input + output + cacheRead + cacheWrite + reasoning }
}

/// How an event's cost was arrived at.
public enum CostKind: String, Sendable, CaseIterable, Codable {
    /// The caller supplied the cost.
    case exact
    /// Priced from the catalog with an exact provider/model match.
    case estimated
    /// Priced with a fallback (`_default`) rate because the model is not in the catalog.
    case unpriced

    public var isEstimated: Bool { self != .exact }
}
