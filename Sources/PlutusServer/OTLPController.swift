import Foundation
import HTTPTypes
import Hummingbird
import PlutusCore
import PlutusOTLP
import PlutusStore

/// OTLP/HTTP: `POST /v1/traces` and `POST /v1/logs`, protobuf or JSON, plain or gzip,
/// authenticated by a Plutus API key (`OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer …`).
/// Spans and log records that describe a model call become usage events (docs/otlp.md);
/// the rest are ignored. An export partly refused answers with `partialSuccess` naming how
/// many items and why; one the store cannot take now is a 503 with `Retry-After`, and the
/// exporter's retry records nothing twice (each event's id is its span's or record's identity).
struct OTLPController<Store: BillingStore>: Sendable {
    let store: Store
    let configuration: ServerConfiguration
    let limiter: RateLimiter
    let metrics: ServerMetrics

    enum Signal {
        case traces
        case logs

        var itemName: String { self == .traces ? "spans" : "log records" }
    }

    enum Encoding {
        case protobuf
        case json
    }

    func register(on router: Router<PlutusRequestContext>) {
        router.post("/v1/traces") { request, context in try await export(request, context: context, signal: .traces) }
        router.post("/v1/logs") { request, context in try await export(request, context: context, signal: .logs) }
    }

    /// Messages kept in `errorMessage`; the count says how many were rejected in all.
    static var reasonsShownMax: Int { 5 }

    func export(_ request: Request, context: PlutusRequestContext, signal: Signal) async throws -> Response {
        let identity = try await APIKeyAuth.identity(request, store: store)
        if let retryAfter = limiter.acquire(identity.keyID, nowSeconds: Date().timeIntervalSince1970) {
            throw APIError.rateLimited(retryAfterSeconds: retryAfter)
        }
        let contentType = (request.headers[.contentType] ?? "").lowercased()
        let encoding: Encoding
        if contentType.hasPrefix("application/x-protobuf") || contentType.hasPrefix("application/protobuf") {
            encoding = .protobuf
        } else if contentType.hasPrefix("application/json") {
            encoding = .json
        } else {
            throw APIError(
                .unsupportedMediaType, "OTLP/HTTP bodies are application/x-protobuf or application/json, got '\(contentType)'",
                code: "unsupported_media_type")
        }
        var bytes = try await HTTPInput.body(request, limit: Limits.otlpBodyBytesMax)
        switch (request.headers[.contentEncoding] ?? "identity").lowercased() {
        case "gzip":
            do {
                bytes = try Gunzip.inflate(bytes)
            } catch .tooLarge {
                throw APIError(
                    .contentTooLarge, "the body inflates past \(Limits.otlpInflatedBytesMax) bytes", code: "body_too_large")
            } catch {
                throw APIError.badRequest(
                    "Content-Encoding is gzip but the body is not a whole gzip stream", code: "invalid_gzip")
            }
        case "identity", "":
            break
        case let other:
            throw APIError(
                .unsupportedMediaType, "Content-Encoding must be gzip or none, got '\(other)'", code: "unsupported_encoding")
        }
        let items: [OTLPUsageItem]
        switch Self.decode(bytes, signal: signal, encoding: encoding) {
        case .success(let decoded): items = decoded
        case .failure(let error): throw APIError.badRequest(error.message, code: "invalid_otlp")
        }
        let receivedAt = Timestamp.now()
        var rejections: [String] = []
        var events: [UsageEventInput] = []
        for item in items {
            switch item {
            case .ignored: continue
            case .rejected(let reason): rejections.append(reason)
            case .event(let event):
                do {
                    events.append(try event.input(now: receivedAt))
                } catch {
                    rejections.append(error.message)
                }
            }
        }
        rejections += try await record(events, identity: identity, receivedAt: receivedAt)
        let message = Self.summary(rejections, signal: signal)
        return Self.answer(signal: signal, encoding: encoding, rejected: rejections.count, message: message)
    }

    /// Records the events a batch at a time; a batch the hard stop or the quota refuses is
    /// recorded event by event, so one call past the credit does not hold back the others.
    /// Returns why each refused event was refused.
    func record(_ events: [UsageEventInput], identity: APIKeyIdentity, receivedAt: Timestamp) async throws -> [String] {
        var refused: [String] = []
        var start = 0
        while start < events.count {
            let chunk = Array(events[start..<min(events.count, start + Limits.batchEventsMax)])
            start += chunk.count
            let result = try await store.recordUsage(batch(chunk, identity: identity, receivedAt: receivedAt))
            count(result)
            // Each event is decided on its own, in order: the ones refused in a batch that
            // recorded others are named too.
            guard result.response.status != 200, chunk.count > 1 else {
                refused += Self.refusals(result)
                continue
            }
            for event in chunk {
                let alone = try await store.recordUsage(batch([event], identity: identity, receivedAt: receivedAt))
                count(alone)
                refused += Self.refusals(alone)
            }
        }
        return refused
    }

    private func batch(_ events: [UsageEventInput], identity: APIKeyIdentity, receivedAt: Timestamp) -> UsageBatch {
        UsageBatch(
            organizationID: identity.organizationID, events: events, idempotency: nil, policy: configuration.policy,
            receivedAt: receivedAt, upgradeURL: configuration.upgradeURL, apiKeyID: identity.keyID, rendersResponse: false)
    }

    private func count(_ result: UsageBatchResult) {
        guard case .committed(let outcome, _) = result else { return }
        metrics.events(
            recorded: outcome.recordedCount, overBalance: outcome.overBalanceBlockedCount,
            freeLimit: outcome.freeLimitBlockedCount, duplicates: outcome.duplicateCount)
    }

    /// Why each refused event of a result was refused, in a sentence.
    static func refusals(_ result: UsageBatchResult) -> [String] {
        guard case .committed(let outcome, _) = result else { return [] }
        return outcome.events.compactMap { event in
            switch event.status {
            case .recorded, .duplicate: nil
            case .rejected(.overBalance):
                Metering.refusalSentence(cost: event.cost, balance: event.balanceAfter, held: event.held)
            case .rejected(.overBudget): event.budgetRefusal?.sentence ?? "budget exceeded"
            case .rejected(.overFreeLimit): "free-tier token quota reached"
            }
        }
    }

    static func decode(_ bytes: [UInt8], signal: Signal, encoding: Encoding) -> Result<[OTLPUsageItem], OTLPDecodeError> {
        do {
            switch (signal, encoding) {
            case (.traces, .protobuf):
                let spans = try OTLPWire.spans(bytes)
                return .success(spans.map { OTLPUsage.event($0) })
            case (.logs, .protobuf):
                let records = try OTLPProtobuf.logRecords(bytes)
                return .success(records.map { OTLPUsage.event($0) })
            case (.traces, .json):
                let spans = try OTLPJSON.spans(try json(bytes))
                return .success(spans.map { OTLPUsage.event($0) })
            case (.logs, .json):
                let records = try OTLPJSON.logRecords(try json(bytes))
                return .success(records.map { OTLPUsage.event($0) })
            }
        } catch {
            return .failure(error)
        }
    }

    static func json(_ bytes: [UInt8]) throws(OTLPDecodeError) -> JSONValue {
        do {
            return try JSONValue.parse(bytes)
        } catch {
            throw OTLPDecodeError("the body is not JSON")
        }
    }

    /// "2 spans rejected: …; …" with the first few distinct reasons.
    static func summary(_ rejections: [String], signal: Signal) -> String {
        guard !rejections.isEmpty else { return "" }
        var distinct: [String] = []
        for reason in rejections where !distinct.contains(reason) {
            distinct.append(reason)
            if distinct.count == reasonsShownMax { break }
        }
        return "\(rejections.count) \(signal.itemName) rejected: " + distinct.joined(separator: "; ")
    }

    static func answer(signal: Signal, encoding: Encoding, rejected: Int, message: String) -> Response {
        switch encoding {
        case .protobuf:
            let bytes =
                signal == .traces
                ? OTLPProtobuf.traceResponse(rejected: rejected, message: message)
                : OTLPProtobuf.logsResponse(rejected: rejected, message: message)
            return Response(
                status: .ok, headers: [.contentType: "application/x-protobuf"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        case .json:
            var members: [(String, JSONValue)] = []
            if rejected > 0 {
                let countName = signal == .traces ? "rejectedSpans" : "rejectedLogRecords"
                members.append(
                    ("partialSuccess", .object([(countName, .string(String(rejected))), ("errorMessage", .string(message))])))
            }
            return JSONResponse.make(.ok, .object(members))
        }
    }
}

/// The organization of a request's Plutus API key (`Authorization: Bearer`), or 401.
enum APIKeyAuth {
    static func identity(_ request: Request, store: some BillingStore) async throws -> APIKeyIdentity {
        guard let secret = HTTPInput.bearer(request), APIKeySecret.isWellFormed(secret),
            let identity = try await store.authenticateAPIKey(secret: secret)
        else { throw APIError.invalidAPIKey }
        return identity
    }
}
