import PlutusCore
import PlutusStripe

/// Everything `buildApplication` needs besides the store.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Bearer token for `/v1/admin/*`; `nil` turns the admin API off (404).
    public var adminToken: String?
    /// Ingest requests per minute per API key; 0 disables the limiter.
    public var ingestRatePerMinute: Int
    /// Token-bucket capacity per API key.
    public var ingestBurst: Int
    public var policy: MeteringPolicy
    /// Public origin (e.g. `https://billing.example.com`), used for `upgrade_url`.
    public var baseURL: String?
    public var demo: Bool
    public var version: String
    /// Webhook signing secrets; several are accepted while one is rotated out.
    public var stripeWebhookSecrets: [String]
    public var stripeWebhookToleranceSeconds: Int64
    public var stripe: StripeSettings
    /// Outgoing Stripe API access; `nil` runs billing offline (the pages say so).
    public var stripeAPI: StripeAPIConfiguration?
    /// Key for CSRF tokens; random per process unless configured.
    public var csrfSecret: [UInt8]
    /// Bounds of one credit top-up at checkout.
    public var topUpRange: ClosedRange<MicroDollars>
    /// Refuse (400) an ingest request with anything Plutus would only warn about: a field it
    /// does not know, or an event with no tokens and no cost.
    public var strictEvents: Bool
    /// The LLM gateway (`/gateway/*`); off for a provider without an upstream key.
    public var gateway: GatewayConfiguration
    /// Customer sign-in with an OpenID provider; `nil` keeps the dashboard to the operator.
    public var signIn: SignInConfiguration?
    /// Sends invitations; `nil` when no SMTP server is configured.
    public var mailer: Mailer?

    public static let topUpRangeDefault = MicroDollars.dollars(1)!...MicroDollars.dollars(10_000)!

    public static let defaultPort = 8420

    public init(
        host: String = "127.0.0.1", port: Int = defaultPort, adminToken: String? = nil, ingestRatePerMinute: Int = 600,
        ingestBurst: Int? = nil, policy: MeteringPolicy = .standard, baseURL: String? = nil, demo: Bool = false,
        version: String = "0.1.0", stripeWebhookSecrets: [String] = [],
        stripeWebhookToleranceSeconds: Int64 = StripeSignature.toleranceSecondsDefault, stripe: StripeSettings = StripeSettings(),
        stripeAPI: StripeAPIConfiguration? = nil, csrfSecret: [UInt8]? = nil,
        topUpRange: ClosedRange<MicroDollars> = topUpRangeDefault, strictEvents: Bool = false,
        gateway: GatewayConfiguration = GatewayConfiguration(), signIn: SignInConfiguration? = nil, mailer: Mailer? = nil
    ) {
        self.mailer = mailer
        self.strictEvents = strictEvents
        self.gateway = gateway
        self.signIn = signIn
        precondition(topUpRange.lowerBound.isPositive && topUpRange.upperBound <= Limits.creditAmountMax, "top-up bounds")
        self.topUpRange = topUpRange
        self.stripeAPI = stripeAPI
        var generator = SystemRandomNumberGenerator()
        // Every server of one deployment must issue the same token, so a form rendered by one
        // is accepted by another: the key comes from a secret they share (the admin token, else
        // the OpenID client secret), and is random only for a lone server with neither.
        let shared = adminToken ?? signIn.flatMap { $0.clientSecret.isEmpty ? nil : $0.clientID + ":" + $0.clientSecret }
        self.csrfSecret =
            csrfSecret ?? shared.map { HMACSHA256.code(key: Array($0.utf8), message: Array("plutus-csrf-key-v1".utf8)) }
            ?? (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        precondition(stripeWebhookToleranceSeconds > 0, "tolerance must be positive")
        self.stripeWebhookSecrets = stripeWebhookSecrets.filter { !$0.isEmpty }
        self.stripeWebhookToleranceSeconds = stripeWebhookToleranceSeconds
        self.stripe = stripe
        precondition(ingestRatePerMinute >= 0, "rate must not be negative")
        self.host = host
        self.port = port
        self.adminToken = adminToken.flatMap { $0.isEmpty ? nil : $0 }
        self.ingestRatePerMinute = ingestRatePerMinute
        self.ingestBurst = max(1, ingestBurst ?? ingestRatePerMinute)
        self.policy = policy
        self.baseURL = baseURL.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.demo = demo
        self.version = version
    }

    var upgradeURL: String { (baseURL ?? "") + "/pricing" }

    /// Hosts that only this machine can reach.
    public static func isLoopback(_ host: String) -> Bool {
        ["127.0.0.1", "localhost", "::1", "[::1]", ""].contains(host.lowercased()) || host.hasPrefix("127.")
    }
}
