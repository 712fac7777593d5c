import Foundation
import HTTPTypes
import Hummingbird
import PlutusCore
import PlutusStore

/// `/v1/reservations`: holds an API key places before a call, settles with the call's usage
/// afterwards, or releases.
struct ReservationController<Store: BillingStore>: Sendable {
    let usage: UsageController<Store>
    var store: Store { usage.store }
    var configuration: ServerConfiguration { usage.configuration }

    func register(on router: Router<PlutusRequestContext>) {
        router.post("/v1/reservations", use: place)
        router.get("/v1/reservations", use: list)
        router.get("/v1/reservations/{id}", use: show)
        router.post("/v1/reservations/{id}/settle", use: settle)
        router.post("/v1/reservations/{id}/release", use: release)
    }

    /// The API key's identity, within its rate limit (holds count against it like ingest).
    private func admit(_ request: Request) async throws -> APIKeyIdentity {
        let identity = try await usage.authenticate(request)
        if let retryAfter = usage.limiter.acquire(identity.keyID, nowSeconds: Date().timeIntervalSince1970) {
            throw APIError.rateLimited(retryAfterSeconds: retryAfter)
        }
        return identity
    }

    /// The `{id}` of the path; an id that is not one of ours is simply not found.
    private func reservationID(_ context: PlutusRequestContext) throws -> ReservationID {
        let text = context.parameters.get("id") ?? ""
        guard ReservationID.isWellFormed(text) else { throw APIError.from(StoreError.reservationNotFound(text))! }
        return ReservationID(rawValue: text)
    }

    @Sendable func place(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let identity = try await admit(request)
        let body = try await HTTPInput.object(request)
        let receivedAt = Timestamp.now()
        let input: HoldInput
        let amount: MicroDollars
        do {
            input = try HoldValidation.validate(body)
            amount = try HoldValidation.amount(input, catalog: try await store.priceCatalog())
        } catch let error as InputFieldError {
            throw APIError.badRequest(error.message, code: "invalid_hold", field: error.field.isEmpty ? nil : error.field)
        }
        let key = try HTTPInput.idempotencyKey(request)
        let result = try await store.placeHold(
            HoldRequest(
                organizationID: identity.organizationID, amount: amount, workspace: input.workspace,
                taskType: input.taskType, runID: input.runID, apiKeyID: identity.keyID, provider: input.provider,
                model: input.model, metadata: input.metadata, ttlSeconds: input.ttlSeconds,
                idempotency: key.map { .init(key: $0, requestHash: RequestFingerprint.of(body)) },
                policy: configuration.policy, receivedAt: receivedAt))
        switch result {
        case .placed(_, _, let response): return Self.make(response)
        case .replayed(let stored): return Self.make(UsageResponse.replay(stored))
        case .refused(let refusal): return Self.make(refusal.response)
        case .refusedByBudget(let refusal): return Self.make(Holds.budgetResponse(refusal))
        }
    }

    /// Settles with one usage event, in the fields of `/v1/usage`.
    @Sendable func settle(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let identity = try await admit(request)
        let id = try reservationID(context)
        let body = try await HTTPInput.object(request)
        let receivedAt = Timestamp.now()
        var warnings: [UsageWarning] = []
        let event: UsageEventInput
        do {
            event = try UsageValidation.validate(body, index: 0, now: receivedAt, warnings: &warnings)
        } catch {
            throw APIError.event(error)
        }
        if configuration.strictEvents, let first = warnings.first { throw APIError.event(first.asError) }
        let batch = UsageBatch(
            organizationID: identity.organizationID, events: [event], policy: configuration.policy, receivedAt: receivedAt,
            upgradeURL: configuration.upgradeURL, apiKeyID: identity.keyID)
        switch try await store.settleHold(id, batch) {
        case .settled(_, let response):
            return Self.make(response, text: UsageController<Store>.appendingWarnings(warnings, to: response.body))
        case .replayed(let stored):
            return Self.make(UsageResponse.replay(stored))
        }
    }

    @Sendable func release(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let identity = try await admit(request)
        let id = try reservationID(context)
        let (_, response) = try await store.releaseHold(identity.organizationID, id, at: Timestamp.now())
        return Self.make(response)
    }

    @Sendable func show(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let identity = try await usage.authenticate(request)
        let id = try reservationID(context)
        guard let reservation = try await store.reservation(identity.organizationID, id) else {
            throw APIError.from(StoreError.reservationNotFound(id.rawValue))!
        }
        var out = JSONObjectWriter(capacity: 512)
        Holds.describe(reservation, now: Timestamp.now(), into: &out)
        return JSONResponse.make(.ok, text: out.finish())
    }

    /// Holds newest first: `?active=true` for those still held; `limit` up to `Limits.holdListMax`.
    @Sendable func list(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let identity = try await usage.authenticate(request)
        let activeOnly: Bool
        switch request.uri.queryParameters.get("active") {
        case nil, "false", "0": activeOnly = false
        case "true", "1": activeOnly = true
        case let other?: throw APIError.badRequest("'active' must be true or false, got '\(other)'", field: "active")
        }
        let limit = try HTTPInput.integer(request, "limit", in: 1...Int64(Limits.holdListMax)) ?? Int64(Limits.pageRowsDefault)
        let now = Timestamp.now()
        let holds = try await store.reservations(identity.organizationID, activeAt: activeOnly ? now : nil, limit: Int(limit))
        return JSONResponse.make(.ok, text: Holds.listing(holds, organizationID: identity.organizationID, now: now))
    }

    private static func make(_ response: StoredResponse, text: String? = nil) -> Response {
        JSONResponse.make(HTTPResponse.Status(code: response.status), text: text ?? response.body)
    }
}
