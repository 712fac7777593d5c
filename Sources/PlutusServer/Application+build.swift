import Hummingbird
import Logging
import PlutusCore
import PlutusStore

/// Builds the Plutus HTTP application on `store`. Used by `plutus serve` and by the tests.
/// `onServerRunning` receives the bound port (useful with port 0).
public func buildApplication(
    configuration: ServerConfiguration, store: some BillingStore, logger: Logger = Logger(label: "plutus"),
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let router = buildRouter(configuration: configuration, store: store)
    return Application(
        router: router,
        configuration: .init(
            address: .hostname(configuration.host, port: configuration.port), serverName: "Plutus/\(configuration.version)"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger)
}

/// Every route and its methods; kept beside the registrations below.
let allowedMethods: [String: [String]] = [
    "/healthz": ["GET"], "/metrics": ["GET"], "/v1/usage": ["POST"], "/v1/balance": ["GET"],
    "/v1/usage/export.json": ["GET"], "/v1/usage/export.csv": ["GET"], "/v1/admin/orgs": ["GET", "POST"],
    "/v1/admin/credits": ["POST"], "/webhook/stripe": ["POST"], "/billing": ["GET"],
    "/billing/checkout/credit": ["POST"], "/billing/checkout/pro": ["POST"], "/billing/portal": ["POST"],
    "/billing/success": ["GET"], "/billing/cancel": ["GET"], "/v1/admin/keys": ["GET", "POST"], "/v1/admin/keys/revoke": ["POST"],
    "/": ["GET"], "/pricing": ["GET"], "/report": ["GET"], "/login": ["GET", "POST"], "/logout": ["POST"],
    "/keys/create": ["POST"], "/keys/revoke": ["POST"], "/api/orgs": ["GET"], "/api/summary": ["GET"],
    "/api/events": ["GET"], "/api/ledger": ["GET"], "/v1/reservations": ["GET", "POST"],
    "/v1/reservations/*": ["GET"], "/v1/reservations/*/settle": ["POST"], "/v1/reservations/*/release": ["POST"],
    "/v1/admin/budgets": ["GET", "POST"], "/v1/admin/budgets/*/disable": ["POST"],
    "/gateway/openai/v1/chat/completions": ["POST"], "/gateway/openai/v1/responses": ["POST"],
    "/gateway/openai/v1/embeddings": ["POST"], "/gateway/openai/v1/models": ["GET"],
    "/gateway/anthropic/v1/messages": ["POST"], "/gateway/anthropic/v1/messages/count_tokens": ["POST"],
    "/auth/login": ["GET"], "/auth/callback": ["GET"], "/auth/logout": ["POST"], "/auth/invitation": ["GET"],
    "/members": ["GET"], "/members/invite": ["POST"], "/members/role": ["POST"], "/members/remove": ["POST"],
    "/audit": ["GET"], "/v1/admin/members": ["GET", "POST"], "/v1/admin/members/remove": ["POST"],
    "/v1/admin/invitations": ["POST"], "/budgets/create": ["POST"], "/budgets/disable": ["POST"],
]

func buildRouter(configuration: ServerConfiguration, store: some BillingStore) -> Router<PlutusRequestContext> {
    let metrics = ServerMetrics()
    let router = Router(context: PlutusRequestContext.self)
    router.add(middleware: ErrorMiddleware(metrics: metrics, allowedMethods: allowedMethods))
    router.get("/healthz") { _, _ in
        JSONResponse.make(
            .ok,
            .object([
                ("ok", .bool(true)), ("version", .string(configuration.version)), ("demo", .bool(configuration.demo)),
            ]))
    }
    router.get("/metrics") { _, _ in
        var buffer = ByteBuffer()
        buffer.writeBytes(metrics.exposition())
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: ResponseBody(byteBuffer: buffer))
    }
    let usage = UsageController(
        store: store, configuration: configuration,
        limiter: RateLimiter(ratePerMinute: configuration.ingestRatePerMinute, burst: configuration.ingestBurst),
        metrics: metrics)
    usage.register(on: router)
    OTLPController(store: store, configuration: configuration, limiter: usage.limiter, metrics: metrics).register(on: router)
    ReservationController(usage: usage).register(on: router)
    GatewayController(usage: usage, logger: Logger(label: "plutus.gateway")).register(on: router)
    AdminController(store: store, configuration: configuration).register(on: router)
    StripeWebhookController(store: store, configuration: configuration, metrics: metrics).register(on: router)
    BillingController(store: store, configuration: configuration).register(on: router)
    DashboardController(store: store, configuration: configuration).register(on: router)
    AuthController(store: store, configuration: configuration).register(on: router)
    TeamController(store: store, configuration: configuration).register(on: router)
    return router
}
