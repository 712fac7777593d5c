import PlutusCore

/// Customer sign-in with an OpenID Connect provider; `nil` in `ServerConfiguration` keeps
/// the dashboard to the operator's token.
public struct SignInConfiguration: Sendable {
    /// The provider's issuer URL; its discovery document is at
    /// `<issuer>/.well-known/openid-configuration`.
    public var issuer: String
    public var clientID: String
    public var clientSecret: String
    public var rules: SignInRules
    /// The organization allow-listed people join (id, slug or name); the only one when unset.
    public var provisionOrganization: String?
    public var sessions: SessionPolicy
    /// Open signups: organizations created in 24 h, per address in 24 h, and in any hour (0: no cap).
    public var newOrganizationsPerDayMax: Int
    public var signupsPerAddressPerDayMax: Int
    public var signupsPerHourMax: Int
    /// Take the client's address from the first `X-Forwarded-For` entry.
    public var trustForwardedFor: Bool

    public static let googleIssuer = "https://accounts.google.com"

    /// `<issuer>/.well-known/openid-configuration`, without doubling a trailing slash.
    public var discoveryURL: String {
        (issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer) + "/.well-known/openid-configuration"
    }
    /// How long a sign-in may take at the provider.
    public static let stateSeconds: Int64 = 600

    public init(
        issuer: String, clientID: String, clientSecret: String, rules: SignInRules = SignInRules(),
        provisionOrganization: String? = nil, sessions: SessionPolicy = .standard, newOrganizationsPerDayMax: Int = 50,
        signupsPerAddressPerDayMax: Int = 3, signupsPerHourMax: Int = 5, trustForwardedFor: Bool = false
    ) {
        // Kept exactly as given: it must equal the discovery document's and the tokens' `iss`
        // (Auth0's and Authentik's end with a slash).
        self.issuer = issuer
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.rules = rules
        self.provisionOrganization = provisionOrganization
        self.sessions = sessions
        self.newOrganizationsPerDayMax = newOrganizationsPerDayMax
        self.signupsPerAddressPerDayMax = signupsPerAddressPerDayMax
        self.signupsPerHourMax = signupsPerHourMax
        self.trustForwardedFor = trustForwardedFor
    }
}
