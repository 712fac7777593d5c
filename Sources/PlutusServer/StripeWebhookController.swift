import Hummingbird
import PlutusCore
import PlutusStore

/// `POST /webhook/stripe`: verifies the signature over the raw body, then applies the event
/// exactly once. Every failure to verify or parse is the same 400 (details go to the log
/// only) and applies nothing; a signed event of a type Plutus does not act on is recorded
/// and answered 200, so Stripe stops retrying it.
struct StripeWebhookController<Store: BillingStore>: Sendable {
    let store: Store
    let configuration: ServerConfiguration
    let metrics: ServerMetrics

    static var rejected: APIError { APIError(.badRequest, "invalid webhook signature or payload", code: "invalid_webhook") }

    func register(on router: Router<PlutusRequestContext>) {
        router.post("/webhook/stripe", use: receive)
    }

    @Sendable func receive(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let payload = try await HTTPInput.body(request)
        let now = Timestamp.now()
        let verdict = StripeSignature.verify(
            header: HTTPInput.header(request, HTTPInput.stripeSignatureField), payload: payload,
            secrets: configuration.stripeWebhookSecrets, now: now,
            toleranceSeconds: configuration.stripeWebhookToleranceSeconds)
        if case .failure(let failure) = verdict {
            context.logger.warning("stripe webhook refused: \(failure)")
            metrics.webhook(outcome: "rejected_signature")
            throw Self.rejected
        }
        let event: StripeEvent
        do {
            event = try StripeEvent.parse(try JSONValue.parse(payload))
        } catch {
            context.logger.warning("stripe webhook refused: \(error)")
            metrics.webhook(outcome: "rejected_payload")
            throw Self.rejected
        }
        let action = StripeDecision.action(for: event, settings: configuration.stripe)
        let outcome = try await store.applyStripeEvent(
            event, action: action, payload: String(decoding: payload, as: UTF8.self), at: now)
        context.logger.info("stripe webhook id=\(event.id) type=\(event.type) status=\(outcome.status.rawValue)")
        metrics.webhook(outcome: outcome.status.rawValue)
        var result: [(String, JSONValue)] = [
            ("status", .string(outcome.status.rawValue)), ("type", .string(event.type)), ("id", .string(event.id)),
        ]
        if let org = outcome.organizationID { result.append(("org_id", .string(org.rawValue))) }
        if let amount = outcome.amount { result.append(("amount_usd", .money(amount))) }
        if let balance = outcome.balanceAfter { result.append(("balance_after", .money(balance))) }
        if let detail = outcome.detail { result.append(("detail", .string(detail))) }
        return JSONResponse.make(.ok, .object([("received", .bool(true)), ("result", .object(result))]))
    }
}
