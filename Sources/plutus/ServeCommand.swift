import ArgumentParser
import Foundation
import Logging
import PlutusAlerts
import PlutusConfig
import PlutusCore
import PlutusPostgres
import PlutusSQLite
import PlutusServer
import PlutusStore
import ServiceLifecycle

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the HTTP API (ingest, balance, exports, admin, health, metrics) and the dashboard.",
        discussion: """
            Environment: PLUTUS_ADMIN_TOKEN (enables /v1/admin), PLUTUS_INGEST_RATE_PER_MIN (default 600; 0 disables), \
            PLUTUS_INGEST_BURST, PLUTUS_BASE_URL (public origin for upgrade_url), PLUTUS_PORT, PLUTUS_ALLOW_INSECURE, \
            PLUTUS_STRICT_EVENTS (refuse unknown event fields and events with nothing to bill instead of warning), \
            the alert channels of `plutus alerts` (delivered in the background when any is set), \
            and the metering settings of `plutus meter`. Stops gracefully on SIGTERM or SIGINT.
            """)

    @OptionGroup var database: DatabaseOptions
    @Option(help: "Address to bind (default server.host, 127.0.0.1).") var host: String?
    @Option(help: "Port to listen on (default $PLUTUS_PORT or 8420).") var port: Int?
    @Flag(help: "Serve a freshly seeded demo database ($PLUTUS_HOME/demo.db).") var demo = false
    @Flag(help: "Apply pending PostgreSQL migrations before serving (never done silently).") var migrate = false
    @Flag(name: .customLong("allow-insecure"), help: "Allow binding beyond loopback (needs PLUTUS_ADMIN_TOKEN too).")
    var allowInsecure = false

    func run() async throws {
        // The configuration (defaults, config file, environment), under its variables' names;
        // the flags win over it.
        let config = Config.current
        let environment = config.environment
        let host = self.host ?? config.string("server.host") ?? "127.0.0.1"
        let resolvedPort = port ?? config.integer("server.port").map(Int.init) ?? ServerConfiguration.defaultPort
        guard (0...65_535).contains(resolvedPort) else { throw CLIFailure.usage("--port must be 0–65535") }
        let rate = try Self.integer(environment, "PLUTUS_INGEST_RATE_PER_MIN", default: 600)
        let burst = try environment["PLUTUS_INGEST_BURST"].map { _ in
            try Self.integer(environment, "PLUTUS_INGEST_BURST", default: rate)
        }
        let adminToken = environment["PLUTUS_ADMIN_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        let consent = allowInsecure || config.bool("server.allow_insecure") == true
        if !ServerConfiguration.isLoopback(host) && !(consent && adminToken != nil) {
            throw CLIFailure.usage(
                "refusing to serve on host '\(host)': it would expose the billing API beyond this machine. "
                    + "Bind 127.0.0.1 behind a TLS proxy, or set PLUTUS_ADMIN_TOKEN and pass --allow-insecure.")
        }
        let topUpMin =
            try environment["PLUTUS_TOPUP_MIN_USD"].map { try money($0, option: "PLUTUS_TOPUP_MIN_USD") }
            ?? ServerConfiguration.topUpRangeDefault.lowerBound
        let topUpMax =
            try environment["PLUTUS_TOPUP_MAX_USD"].map { try money($0, option: "PLUTUS_TOPUP_MAX_USD") }
            ?? ServerConfiguration.topUpRangeDefault.upperBound
        guard topUpMin.isPositive, topUpMin <= topUpMax, topUpMax <= Limits.creditAmountMax else {
            throw CLIFailure.usage(
                "PLUTUS_TOPUP_MIN_USD and PLUTUS_TOPUP_MAX_USD must satisfy 0 < min ≤ max ≤ \(Limits.creditAmountMax.formatted)")
        }
        let configuration = ServerConfiguration(
            host: host, port: resolvedPort, adminToken: adminToken, ingestRatePerMinute: rate, ingestBurst: burst,
            policy: try Settings.policy(), baseURL: environment["PLUTUS_BASE_URL"] ?? config.string("auth.base_url"), demo: demo,
            version: Plutus.version,
            stripeWebhookSecrets: (environment["STRIPE_WEBHOOK_SECRET"] ?? "").split(separator: ",").map {
                $0.trimmingCharacters(in: .whitespaces)
            },
            stripeWebhookToleranceSeconds: Int64(
                max(1, try Self.integer(environment, "PLUTUS_WEBHOOK_TOLERANCE_SECONDS", default: 300))),
            stripe: StripeEnvironment.settings,
            stripeAPI: (try? StripeEnvironment.client())?.configuration, topUpRange: topUpMin...topUpMax,
            strictEvents: config.bool("ingest.strict_events") ?? false, gateway: Self.gateway(config),
            signIn: try Self.signIn(config, baseURL: environment["PLUTUS_BASE_URL"] ?? config.string("auth.base_url")),
            mailer: try Mailers.fromSettings())
        if demo && database.postgresURL != nil {
            throw CLIFailure.usage("--demo serves the embedded SQLite store; drop --database-url")
        }
        let alertChannels = try AlertsCommand.settings().channels(now: { Timestamp.now() })
        let store: any BillingStore
        if demo {
            store = try await DemoCommand.seedFreshDemo(at: DemoCommand.path(database.db)).store
        } else {
            store = try await database.open(migrations: migrate ? .apply : .refuse, lifecycle: .service)
        }
        if resolvedPort != 0, let problem = Self.bindProblem(host: host, port: resolvedPort) {
            throw CLIFailure.runtime(problem)
        }
        if let overrides = config.string("pricing.overrides") {
            try await Self.applyPriceOverrides(overrides, to: store)
        }
        let logger = ServerLogHandler.logger(label: "plutus")
        // Unbuffered, so the banner reaches a log file before the server blocks.
        func say(_ line: String) { FileHandle.standardOutput.write(Data((line + "\n").utf8)) }
        say("Plutus v\(Plutus.version) — http://\(host):\(resolvedPort)")
        say("  database   \(store.location)\(demo ? " (demo data)" : "")")
        say("  dashboard  http://\(host):\(resolvedPort)/\(adminToken == nil ? "" : " (sign in with PLUTUS_ADMIN_TOKEN)")")
        say("  admin API  \(adminToken == nil ? "off (set PLUTUS_ADMIN_TOKEN)" : "on")")
        say(
            "  webhooks   \(configuration.stripeWebhookSecrets.isEmpty ? "off (set STRIPE_WEBHOOK_SECRET)" : "on at /webhook/stripe")"
        )
        say(
            "  stripe     \(configuration.stripeAPI.map { $0.isTestMode ? "test mode" : "LIVE mode" } ?? "offline (no STRIPE_SECRET_KEY)")"
        )
        say("  plans      \(configuration.stripe.planRule)")
        say(
            "  ingest     \(rate == 0 ? "no rate limit" : "\(rate)/min per key")\(configuration.strictEvents ? ", strict events (unknown fields are refused)" : "")"
        )
        say("  gateway    \(Self.gatewayLine(configuration.gateway))")
        say(
            "  sign-in    \(configuration.signIn.map { "\($0.issuer) (customers at /auth/login)" } ?? "operator only (set PLUTUS_OIDC_ISSUER for customers)")"
        )
        say(
            "  alerts     \(alertChannels.isEmpty ? "logged only (no channel configured)" : alertChannels.map(\.name).joined(separator: ", "))"
        )
        let app = buildApplication(configuration: configuration, store: store, logger: logger)
        // With no channel configured, alerts still reach the operator: in this log.
        let channels: [any AlertChannel] = alertChannels.isEmpty ? [LogAlertChannel(logger: logger)] : alertChannels
        var services: [any Service] = [
            app, AlertDeliveryService(store: store, channels: channels, logger: logger, now: { Timestamp.now() }),
            ExpirySweeper(store: store, logger: logger),
        ]
        // PostgreSQL's pool runs first in the group, so it stops last: after the server has
        // answered the requests in flight and the alert deliveries have finished.
        if let postgres = store as? PostgresStore { services.insert(postgres, at: 0) }
        try await ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
        logger.notice("plutus stopped; the requests in flight were answered")
    }

    /// Why the server could not listen on `host:port`, found by binding a socket there and
    /// closing it again before any banner is printed; `nil` when it can.
    /// The gateway's settings: an upstream for each provider whose key is set.
    static func gateway(_ config: PlutusConfig) -> GatewayConfiguration {
        func upstream(_ name: String, _ fallback: String) -> GatewayConfiguration.Upstream? {
            guard let key = config.string("gateway.\(name)_key"), !key.isEmpty else { return nil }
            return GatewayConfiguration.Upstream(baseURL: config.string("gateway.\(name)_url") ?? fallback, key: key)
        }
        return GatewayConfiguration(
            openAI: upstream("openai", GatewayConfiguration.openAIURLDefault),
            anthropic: upstream("anthropic", GatewayConfiguration.anthropicURLDefault),
            allowUnpricedModels: config.bool("gateway.allow_unpriced") ?? false,
            outputTokensDefault: config.integer("gateway.max_output_tokens") ?? Limits.gatewayOutputTokensDefault,
            upstreamSeconds: config.integer("gateway.timeout_seconds") ?? Limits.gatewayUpstreamSecondsDefault)
    }

    /// Customer sign-in, on when an OpenID provider (or the original's Google client) is configured.
    static func signIn(_ config: PlutusConfig, baseURL: String?) throws -> SignInConfiguration? {
        let issuer: String
        let clientID: String
        let secret: String
        if let configured = config.string("auth.oidc_issuer"), !configured.isEmpty {
            guard let id = config.string("auth.oidc_client_id"), !id.isEmpty else {
                throw CLIFailure.usage(
                    "PLUTUS_OIDC_ISSUER is set but PLUTUS_OIDC_CLIENT_ID is not: set the client id the provider gave this Plutus")
            }
            (issuer, clientID, secret) = (configured, id, config.string("auth.oidc_client_secret") ?? "")
        } else if let id = config.string("auth.google_client_id"), !id.isEmpty {
            (issuer, clientID, secret) = (SignInConfiguration.googleIssuer, id, config.string("auth.google_client_secret") ?? "")
        } else {
            return nil
        }
        guard let scheme = URL(string: issuer)?.scheme, ["http", "https"].contains(scheme) else {
            throw CLIFailure.usage("PLUTUS_OIDC_ISSUER must be the provider's http(s) issuer URL, got '\(issuer)'")
        }
        guard let baseURL, let base = URL(string: baseURL), ["http", "https"].contains(base.scheme ?? "") else {
            throw CLIFailure.usage(
                "sign-in needs PLUTUS_BASE_URL, the address browsers reach this Plutus at: the provider returns them to <PLUTUS_BASE_URL>/auth/callback"
            )
        }
        let ttl = config.integer("auth.session_ttl_hours") ?? 168
        let idle = config.integer("auth.session_idle_hours") ?? 12
        guard idle <= ttl else {
            throw CLIFailure.usage(
                "PLUTUS_AUTH_SESSION_IDLE_HOURS (\(idle)) must not exceed PLUTUS_AUTH_SESSION_TTL_HOURS (\(ttl))")
        }
        return SignInConfiguration(
            issuer: issuer, clientID: clientID, clientSecret: secret,
            rules: SignInRules(
                allowedEmails: config.list("auth.allowed_emails"), allowedDomain: config.string("auth.allowed_domain"),
                allowSignup: config.bool("auth.allow_signup") ?? false),
            provisionOrganization: config.string("auth.provision_org_id").flatMap { $0.isEmpty ? nil : $0 },
            sessions: SessionPolicy(idleSeconds: idle * 3_600, absoluteSeconds: ttl * 3_600),
            newOrganizationsPerDayMax: Int(config.integer("auth.max_new_orgs_per_day") ?? 50),
            signupsPerAddressPerDayMax: Int(config.integer("auth.max_signups_per_ip_per_day") ?? 3),
            trustForwardedFor: config.bool("auth.trust_forwarded_for") ?? false)
    }

    static func gatewayLine(_ gateway: GatewayConfiguration) -> String {
        let on = [("openai", gateway.openAI), ("anthropic", gateway.anthropic)].compactMap { name, upstream in
            upstream.map { "/gateway/\(name) → \($0.baseURL)" }
        }
        return on.isEmpty ? "off (set PLUTUS_GATEWAY_OPENAI_KEY or PLUTUS_GATEWAY_ANTHROPIC_KEY)" : on.joined(separator: ", ")
    }

    static func bindProblem(host: String, port: Int) -> String? {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        let name = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        guard getaddrinfo(name.isEmpty ? nil : name, String(port), &hints, &found) == 0, let first = found else {
            return "cannot listen on '\(host)': not an address or a name this machine resolves — pass --host"
        }
        defer { freeaddrinfo(found) }
        let descriptor = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var reuse: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        guard bind(descriptor, first.pointee.ai_addr, first.pointee.ai_addrlen) != 0 else { return nil }
        switch errno {
        case EADDRINUSE: return "port \(port) is in use — pass --port (or stop what is listening there)"
        case EACCES: return "port \(port) needs privileges this user lacks — pass --port above 1023"
        case EADDRNOTAVAIL: return "'\(host)' is not an address of this machine — pass --host"
        default: return "cannot listen on \(host):\(port): \(String(cString: strerror(errno)).lowercased())"
        }
    }

    /// `pricing.overrides` from the configuration, laid over the active catalog when it would
    /// change it (a new catalog version, as `plutus pricing import` makes); a restart with the
    /// same overrides changes nothing.
    static func applyPriceOverrides(_ text: String, to store: any BillingStore) async throws {
        let overlay: PriceOverlay
        do {
            overlay = try PriceOverlay.parse(try JSONValue.parse(text), format: .plutus)
        } catch {
            throw CLIFailure.usage("configuration: pricing.overrides: \(error)")
        }
        let current = try await store.priceCatalog()
        let candidate = current.overlaid(with: overlay, version: current.version)
        guard candidate != current else { return }
        _ = try await store.importPrices(overlay, label: "config.yaml", at: Timestamp.now())
    }

    static func integer(_ environment: [String: String], _ name: String, default value: Int) throws -> Int {
        guard let text = environment[name], !text.isEmpty else { return value }
        guard let parsed = Int(text), parsed >= 0 else { throw CLIFailure.usage("\(name) must be a non-negative integer") }
        return parsed
    }
}
