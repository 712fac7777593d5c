/// One setting: its key in `config.yaml`, its environment variable, its type and default.
/// The keys of the original Plutus keep their names and meanings, so an existing
/// `config.yaml` works unchanged; keys it had that this Plutus does not use yet are accepted
/// and shown as such.
public struct ConfigKey: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case string
        /// An integer within the range.
        case integer(ClosedRange<Int64>)
        case boolean
        /// Dollars, as a decimal.
        case money
        /// A list of strings: a YAML sequence, or comma-separated text.
        case list
        /// A nested mapping kept as JSON (`pricing.overrides`).
        case mapping
        /// One of these words.
        case choice([String])
    }

    public let name: String
    public let kind: Kind
    /// The effective value when nothing sets it; `nil` for unset.
    public let defaultValue: String?
    /// The environment variable that sets it (beats the file).
    public let environment: String
    public let secret: Bool
    /// `false` for a key of the original that this Plutus accepts but does not act on.
    public let used: Bool
    public let help: String

    init(
        _ name: String, _ kind: Kind, default defaultValue: String? = nil, env: String? = nil, secret: Bool = false,
        used: Bool = true, _ help: String
    ) {
        self.name = name
        self.kind = kind
        self.defaultValue = defaultValue
        self.environment = env ?? "PLUTUS_" + name.uppercased().replacingDots()
        self.secret = secret
        self.used = used
        self.help = help
    }
}

extension String {
    fileprivate func replacingDots() -> String { String(map { $0 == "." ? "_" : $0 }) }
}

extension ConfigKey {
    static let port: ClosedRange<Int64> = 0...65_535
    static let count: ClosedRange<Int64> = 0...1_000_000_000

    /// Every key, in the order `plutus config show` and the documentation list them.
    public static let all: [ConfigKey] =
        [
            ConfigKey("server.host", .string, default: "127.0.0.1", env: "PLUTUS_HOST", "address `serve` binds (`--host` wins)"),
            ConfigKey(
                "server.port", .integer(port), default: "8420", env: "PLUTUS_PORT", "port `serve` listens on (`--port` wins)"),
            ConfigKey(
                "server.allow_insecure", .boolean, default: "false", env: "PLUTUS_ALLOW_INSECURE",
                "allow a non-loopback host (needs `admin.token` too)"),
            ConfigKey(
                "database.path", .string, env: "PLUTUS_DB",
                "the SQLite file (default `$PLUTUS_HOME/plutus.db`; `--db` wins)"),
            ConfigKey(
                "database.url", .string, env: "PLUTUS_DATABASE_URL", secret: true,
                "PostgreSQL instead of SQLite (`--database-url` wins)"),
            ConfigKey(
                "admin.token", .string, env: "PLUTUS_ADMIN_TOKEN", secret: true,
                "enables `/v1/admin` and asks the dashboard for sign-in"),
            ConfigKey(
                "ingest.rate_per_min", .integer(count), default: "600", "ingest requests per minute per API key (0 disables)"),
            ConfigKey("ingest.burst", .integer(count), "token-bucket capacity per API key (default: the rate)"),
            ConfigKey(
                "ingest.strict_events", .boolean, default: "false", env: "PLUTUS_STRICT_EVENTS",
                "refuse unknown event fields and events with nothing to bill (else warn)"),
            ConfigKey(
                "gateway.openai_url", .string, default: "https://api.openai.com", env: "PLUTUS_GATEWAY_OPENAI_URL",
                "the OpenAI-compatible upstream the gateway forwards to"),
            ConfigKey(
                "gateway.openai_key", .string, env: "PLUTUS_GATEWAY_OPENAI_KEY", secret: true,
                "the operator's key for that upstream; turns `/gateway/openai` on"),
            ConfigKey(
                "gateway.anthropic_url", .string, default: "https://api.anthropic.com", env: "PLUTUS_GATEWAY_ANTHROPIC_URL",
                "the Anthropic upstream the gateway forwards to"),
            ConfigKey(
                "gateway.anthropic_key", .string, env: "PLUTUS_GATEWAY_ANTHROPIC_KEY", secret: true,
                "the operator's key for that upstream; turns `/gateway/anthropic` on"),
            ConfigKey(
                "gateway.allow_unpriced", .boolean, default: "false", env: "PLUTUS_GATEWAY_ALLOW_UNPRICED",
                "forward calls to models the catalog does not price (held and billed at the fallback rate)"),
            ConfigKey(
                "gateway.max_output_tokens", .integer(1...1_000_000_000), default: "16384",
                env: "PLUTUS_GATEWAY_MAX_OUTPUT_TOKENS",
                "output tokens a call that names no cap is held for"),
            ConfigKey(
                "gateway.timeout_seconds", .integer(1...86_000), default: "600", env: "PLUTUS_GATEWAY_TIMEOUT_SECONDS",
                "time one upstream call may take, to the end of its answer"),
            ConfigKey(
                "pricing.block_over_balance", .boolean, default: "true", env: "PLUTUS_BLOCK_OVER_BALANCE",
                "the prepaid hard stop"),
            ConfigKey(
                "pricing.block_over_free_limit", .boolean, default: "false", env: "PLUTUS_BLOCK_OVER_FREE_LIMIT",
                "refuse events past the free tier's monthly quota"),
            ConfigKey(
                "pricing.overrides", .mapping, env: "PLUTUS_PRICING_OVERRIDES",
                "prices laid over the catalog by `serve` at start, `{provider: {model or _default: {input, output, cache_read, …}}}` USD per million tokens"
            ),
            ConfigKey(
                "auth.base_url", .string, env: "PLUTUS_BASE_URL", "public origin (upgrade links, checkout returns, CSRF origin)"),
            ConfigKey(
                "auth.oidc_issuer", .string, env: "PLUTUS_OIDC_ISSUER",
                "the OpenID provider customers sign in with (its issuer URL); turns sign-in on"),
            ConfigKey("auth.oidc_client_id", .string, env: "PLUTUS_OIDC_CLIENT_ID", "this Plutus's client id at the provider"),
            ConfigKey(
                "auth.oidc_client_secret", .string, env: "PLUTUS_OIDC_CLIENT_SECRET", secret: true, "its client secret"),
            ConfigKey(
                "auth.google_client_id", .string, env: "PLUTUS_GOOGLE_CLIENT_ID",
                "the original's Google sign-in: the same as the issuer https://accounts.google.com with this client id"),
            ConfigKey("auth.google_client_secret", .string, env: "PLUTUS_GOOGLE_CLIENT_SECRET", secret: true, "its secret"),
            ConfigKey(
                "auth.allowed_emails", .list, env: "PLUTUS_AUTH_ALLOWED_EMAILS",
                "emails that may sign in without an invitation, provisioned as members"),
            ConfigKey(
                "auth.allowed_domain", .string, env: "PLUTUS_AUTH_ALLOWED_DOMAIN", "an email domain allowed the same way"),
            ConfigKey(
                "auth.provision_org_id", .string, env: "PLUTUS_AUTH_PROVISION_ORG_ID",
                "the organization allowed people join (default: the only one, if there is one)"),
            ConfigKey(
                "auth.allow_signup", .boolean, default: "false", env: "PLUTUS_AUTH_ALLOW_SIGNUP",
                "anyone else who signs in gets a Free organization of their own"),
            ConfigKey(
                "auth.max_new_orgs_per_day", .integer(count), default: "50", env: "PLUTUS_AUTH_MAX_NEW_ORGS_PER_DAY",
                "signups stop after this many organizations in 24 h (0: no cap)"),
            ConfigKey(
                "auth.max_signups_per_ip_per_day", .integer(count), default: "3", env: "PLUTUS_AUTH_MAX_SIGNUPS_PER_IP_PER_DAY",
                "signups from one address in 24 h (0: no cap)"),
            ConfigKey(
                "auth.trust_forwarded_for", .boolean, default: "false", env: "PLUTUS_AUTH_TRUST_FORWARDED_FOR",
                "take the client's address from X-Forwarded-For (behind a proxy)"),
            ConfigKey(
                "auth.session_ttl_hours", .integer(1...8_760), default: "168", env: "PLUTUS_AUTH_SESSION_TTL_HOURS",
                "a sign-in ends this long after it began"),
            ConfigKey(
                "auth.session_idle_hours", .integer(1...8_760), default: "12", env: "PLUTUS_AUTH_SESSION_IDLE_HOURS",
                "and this long after its last request"),
            ConfigKey(
                "alerts.low_balance_usd", .money, default: "10", env: "PLUTUS_LOW_BALANCE_USD", "low-balance alert threshold"),
            ConfigKey(
                "alerts.enabled", .boolean, env: "PLUTUS_ALERTS_ENABLED",
                "`false` turns email alerts off even with an SMTP host (unset: on when `alerts.smtp_host` is set)"),
            ConfigKey("alerts.smtp_host", .string, env: "PLUTUS_SMTP_HOST", "email alerts through this SMTP server"),
            ConfigKey("alerts.smtp_port", .integer(port), env: "PLUTUS_SMTP_PORT", "587, or 465 with implicit TLS"),
            ConfigKey(
                "alerts.smtp_tls", .choice(["starttls", "implicit", "none"]), env: "PLUTUS_SMTP_TLS",
                "`starttls` (default; refuses a server without it), `implicit` (default on 465) or `none`"),
            ConfigKey("alerts.smtp_user", .string, env: "PLUTUS_SMTP_USERNAME", "SMTP user (AUTH PLAIN or LOGIN)"),
            ConfigKey("alerts.smtp_password", .string, env: "PLUTUS_SMTP_PASSWORD", secret: true, "SMTP password"),
            ConfigKey(
                "alerts.smtp_allow_plaintext_auth", .boolean, env: "PLUTUS_SMTP_ALLOW_PLAINTEXT_AUTH",
                "send credentials without TLS (a relay on a trusted network only)"),
            ConfigKey(
                "alerts.smtp_ca_file", .string, env: "PLUTUS_SMTP_CA_FILE", "PEM CA certificates to trust instead of the system's"
            ),
            ConfigKey("alerts.smtp_helo", .string, env: "PLUTUS_SMTP_HELO", "name given in EHLO (default `localhost`)"),
            ConfigKey("alerts.from_addr", .string, env: "PLUTUS_SMTP_FROM", "sender of email alerts"),
            ConfigKey("alerts.to_addrs", .list, env: "PLUTUS_SMTP_TO", "recipients of email alerts"),
            ConfigKey(
                "alerts.require_tls", .boolean, env: "PLUTUS_SMTP_REQUIRE_TLS", used: false,
                "the original's switch; Plutus always refuses an unencrypted server unless `alerts.smtp_tls` is `none`"),
            ConfigKey(
                "alerts.budget_warn_pct", .integer(1...100), env: "PLUTUS_BUDGET_WARN_PCT", used: false,
                "the original's budget warning share; Plutus warns at 50, 80 and 100 %"),
            ConfigKey("alerts.webhook_url", .string, env: "PLUTUS_ALERT_WEBHOOK_URL", "POST signed JSON alerts here"),
            ConfigKey(
                "alerts.webhook_secret", .string, env: "PLUTUS_ALERT_WEBHOOK_SECRET", secret: true, "the webhook's signing secret"
            ),
            ConfigKey("alerts.slack_url", .string, env: "PLUTUS_ALERT_SLACK_URL", secret: true, "Slack incoming webhook"),
            ConfigKey("alerts.discord_url", .string, env: "PLUTUS_ALERT_DISCORD_URL", secret: true, "Discord webhook"),
            ConfigKey("alerts.ntfy_url", .string, env: "PLUTUS_ALERT_NTFY_URL", "ntfy topic URL"),
            ConfigKey(
                "billing.stripe_secret_key", .string, env: "STRIPE_SECRET_KEY", secret: true, "Stripe API key (billing pages)"),
            ConfigKey(
                "billing.stripe_webhook_secret", .list, env: "STRIPE_WEBHOOK_SECRET", secret: true,
                "Stripe webhook signing secrets (two while rotating)"),
            ConfigKey("billing.stripe_price_pro", .string, env: "STRIPE_PRICE_PRO", "the Pro plan's Stripe price"),
            ConfigKey(
                "billing.stripe_publishable_key", .string, env: "STRIPE_PUBLISHABLE_KEY", used: false,
                "the original's; Plutus's checkout needs no publishable key"),
            ConfigKey(
                "billing.currency", .string, default: "usd", env: "PLUTUS_STRIPE_CURRENCY", "the one currency credit is bought in"
            ),
            ConfigKey("billing.topup_min_usd", .money, default: "1", env: "PLUTUS_TOPUP_MIN_USD", "smallest top-up at checkout"),
            ConfigKey(
                "billing.topup_max_usd", .money, default: "10000", env: "PLUTUS_TOPUP_MAX_USD", "largest top-up at checkout"),
            ConfigKey(
                "billing.webhook_tolerance_seconds", .integer(1...86_400), default: "300",
                env: "PLUTUS_WEBHOOK_TOLERANCE_SECONDS",
                "how old a signed webhook may be"),
            ConfigKey("billing.stripe_api_base", .string, env: "PLUTUS_STRIPE_API_BASE", "another Stripe API origin (tests)"),
            ConfigKey(
                "billing.success_url", .string, env: "PLUTUS_BILLING_SUCCESS_URL", used: false,
                "the original's; Plutus returns to `<auth.base_url>/billing/success`"),
            ConfigKey(
                "billing.cancel_url", .string, env: "PLUTUS_BILLING_CANCEL_URL", used: false,
                "the original's; Plutus returns to `<auth.base_url>/billing/cancel`"),
        ] + originalOnly

    /// Keys of the original's that this Plutus does not act on, accepted so its `config.yaml`
    /// loads: the legacy monitor, `auth.enabled` (sign-in is on when a provider is configured)
    /// and `auth.allow_unsigned_tokens` (an unsigned ID token is never accepted).
    static let originalOnly: [ConfigKey] = [
        ("auth.enabled", Kind.boolean, false), ("auth.allow_unsigned_tokens", .boolean, false),
        ("monitor.enabled", .boolean, false), ("monitor.command", .string, false), ("monitor.allowed_binaries", .list, false),
    ].map { name, kind, secret in
        ConfigKey(name, kind, secret: secret, used: false, "the original's; accepted, not used by this Plutus")
    }

    public static func named(_ name: String) -> ConfigKey? { all.first { $0.name == name } }
}
