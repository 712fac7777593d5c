import Foundation
import HTTPTypes
import Hummingbird
import PlutusCore
import PlutusStore

/// `/v1/usage`, `/v1/balance` and the exports: everything an API key can reach.
struct UsageController<Store: BillingStore>: Sendable {
    let store: Store
    let configuration: ServerConfiguration
    let limiter: RateLimiter
    let metrics: ServerMetrics

    func register(on router: Router<PlutusRequestContext>) {
        router.post("/v1/usage", use: ingest)
        router.get("/v1/balance", use: balance)
        router.get("/v1/usage/export.json") { request, context in try await export(request, context: context, csv: false) }
        router.get("/v1/usage/export.csv") { request, context in try await export(request, context: context, csv: true) }
    }

    /// The organization of the request's API key, or 401.
    func authenticate(_ request: Request) async throws -> APIKeyIdentity {
        guard let secret = HTTPInput.bearer(request), APIKeySecret.isWellFormed(secret),
            let identity = try await store.authenticateAPIKey(secret: secret)
        else { throw APIError.invalidAPIKey }
        return identity
    }

    @Sendable func ingest(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let identity = try await authenticate(request)
        if let retryAfter = limiter.acquire(identity.keyID, nowSeconds: Date().timeIntervalSince1970) {
            throw APIError.rateLimited(retryAfterSeconds: retryAfter)
        }
        let body = try await HTTPInput.json(request)
        let receivedAt = Timestamp.now()
        let events: [UsageEventInput]
        let warnings: [UsageWarning]
        do {
            (events, _, warnings) = try UsageValidation.validateBody(body, now: receivedAt)
        } catch let error as UsageBatchShapeError {
            throw APIError.badRequest(error.message, code: "invalid_batch")
        }
        if configuration.strictEvents, let first = warnings.first { throw APIError.event(first.asError) }
        let key = try HTTPInput.idempotencyKey(request)
        let result = try await store.recordUsage(
            UsageBatch(
                organizationID: identity.organizationID, events: events,
                idempotency: key.map { .init(key: $0, requestHash: RequestFingerprint.of(body)) },
                policy: configuration.policy, receivedAt: receivedAt, upgradeURL: configuration.upgradeURL,
                apiKeyID: identity.keyID))
        if case .committed(let outcome, _) = result {
            metrics.events(
                recorded: outcome.recordedCount, overBalance: outcome.overBalanceBlockedCount,
                freeLimit: outcome.freeLimitBlockedCount, duplicates: outcome.duplicateCount)
        }
        let response = result.response
        return JSONResponse.make(
            HTTPResponse.Status(code: response.status), text: Self.appendingWarnings(warnings, to: response.body))
    }

    /// The response object with `warnings` added (each ignored field and each event with
    /// nothing to bill, by event index); the text itself when there are none.
    static func appendingWarnings(_ warnings: [UsageWarning], to body: String) -> String {
        guard !warnings.isEmpty, body.hasSuffix("}") else { return body }
        let list = JSONValue.array(
            warnings.map { warning in
                .object([
                    ("index", .int(warning.index)), ("field", .string(warning.field)),
                    ("code", .string(warning.code.rawValue)), ("message", .string(warning.message)),
                ])
            })
        return String(body.dropLast()) + (body == "{}" ? "" : ",") + "\"warnings\":" + list.serialized() + "}"
    }

    @Sendable func balance(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let identity = try await authenticate(request)
        let snapshot = try await store.balance(identity.organizationID, at: Timestamp.now())
        return JSONResponse.make(.ok, RecordJSON.balance(snapshot))
    }

    /// The key's organization's events, newest recorded first as in the original (`order=asc`
    /// for oldest first), filtered by `since`/`from` (inclusive) and `until`/`to` (exclusive;
    /// a date includes that whole day). Without `limit` every matching row is streamed; with
    /// `limit`, one page and `next_cursor` (JSON) / `X-Next-Cursor` (CSV) to pass back as
    /// `cursor`, which continues in the same order.
    func export(_ request: Request, context: PlutusRequestContext, csv: Bool) async throws -> Response {
        let identity = try await authenticate(request)
        let from = try HTTPInput.time(request, "since", "from")
        let to = try HTTPInput.time(request, "until", "to", dayEnd: true)
        let order: SequenceOrder
        switch request.uri.queryParameters.get("order") {
        case nil, "desc": order = .descending
        case "asc": order = .ascending
        case let other?: throw APIError.badRequest("'order' must be asc or desc, got '\(other)'", field: "order")
        }
        let cursor = try HTTPInput.integer(request, "cursor", in: 0...Int64.max)
        let limit = try HTTPInput.integer(request, "limit", in: 1...Limits.exportPageRowsMax)
        let format: ExportFormat = csv ? .csv : .json(organizationID: identity.organizationID)
        var headers: HTTPFields = [.contentType: format.contentType]
        if csv { headers[.contentDisposition] = "attachment; filename=\"usage.csv\"" }
        let store = self.store
        let organizationID = identity.organizationID
        if let limit {
            var rows: [UsageEventRecord] = []
            var after = cursor
            while rows.count < Int(limit) {
                let wanted = min(Limits.pageRowsMax, Int(limit) - rows.count)
                let page = try await store.exportUsageEvents(
                    organizationID, after: after, from: from, to: to, limit: wanted, order: order)
                rows += page
                guard page.count == wanted, let last = page.last else { break }
                after = last.sequence
            }
            let next = rows.count == Int(limit) ? rows.last?.sequence : nil
            if csv, let next { headers[.init("X-Next-Cursor")!] = String(next) }
            var buffer = ByteBuffer()
            buffer.writeString(format.prefix)
            for (offset, row) in rows.enumerated() { buffer.writeString(format.row(row, first: offset == 0)) }
            buffer.writeString(format.suffix(count: rows.count, nextCursor: next))
            return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: buffer))
        }
        let body = ResponseBody { writer in
            var buffer = ByteBuffer()
            buffer.writeString(format.prefix)
            var after = cursor
            var count = 0
            while true {
                let page = try await store.exportUsageEvents(
                    organizationID, after: after, from: from, to: to, limit: Limits.pageRowsMax, order: order)
                for row in page {
                    buffer.writeString(format.row(row, first: count == 0))
                    count += 1
                }
                try await writer.write(buffer)
                buffer.clear()
                guard page.count == Limits.pageRowsMax, let last = page.last else { break }
                after = last.sequence
            }
            buffer.writeString(format.suffix(count: count, nextCursor: nil))
            try await writer.write(buffer)
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: headers, body: body)
    }
}
