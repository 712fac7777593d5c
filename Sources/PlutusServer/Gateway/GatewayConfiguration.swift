import PlutusCore

/// The LLM gateway's settings: an upstream per provider (off without its key), and how calls
/// are held.
public struct GatewayConfiguration: Sendable {
    /// One provider's upstream: its base URL (no `/v1`) and the operator's key for it.
    public struct Upstream: Sendable, Equatable {
        public var baseURL: String
        public var key: String

        public init(baseURL: String, key: String) {
            self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
            self.key = key
        }
    }

    public static let openAIURLDefault = "https://api.openai.com"
    public static let anthropicURLDefault = "https://api.anthropic.com"

    public var openAI: Upstream?
    public var anthropic: Upstream?
    /// Forward calls to models the catalog does not name, held and billed at the fallback rate.
    public var allowUnpricedModels: Bool
    /// Output tokens a call that names no cap is held for.
    public var outputTokensDefault: Int64
    /// Time one upstream call may take, from sending it to the end of its answer; its hold
    /// lives a minute longer, so it is still there to settle.
    public var upstreamSeconds: Int64

    public init(
        openAI: Upstream? = nil, anthropic: Upstream? = nil, allowUnpricedModels: Bool = false,
        outputTokensDefault: Int64 = Limits.gatewayOutputTokensDefault,
        upstreamSeconds: Int64 = Limits.gatewayUpstreamSecondsDefault
    ) {
        precondition(outputTokensDefault > 0 && outputTokensDefault <= Limits.tokensPerFieldMax, "output cap")
        precondition(upstreamSeconds > 0 && upstreamSeconds + 60 <= Limits.holdTTLSeconds.upperBound, "upstream time")
        self.openAI = openAI
        self.anthropic = anthropic
        self.allowUnpricedModels = allowUnpricedModels
        self.outputTokensDefault = outputTokensDefault
        self.upstreamSeconds = upstreamSeconds
    }

    func upstream(_ provider: GatewayProvider) -> Upstream? {
        switch provider {
        case .openai: openAI
        case .anthropic: anthropic
        }
    }

    /// The hold's lifetime: the longest call, and a minute to settle it.
    var holdSeconds: Int64 { upstreamSeconds + 60 }
}
