import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import PlutusCore
import PlutusStore

/// `/gateway/*`: an OpenAI- and Anthropic-compatible front for the providers. Each billed
/// call is read, held at its worst case (one transaction, every budget), forwarded with the
/// operator's key, answered as the upstream answers (streamed byte for byte), and settled
/// once from the provider's own usage; a call the customer cannot pay for is refused before
/// anything reaches the provider.
struct GatewayController<Store: BillingStore>: Sendable {
    let usage: UsageController<Store>
    var store: Store { usage.store }
    var configuration: ServerConfiguration { usage.configuration }
    var gateway: GatewayConfiguration { configuration.gateway }
    let logger: Logger

    func register(on router: Router<PlutusRequestContext>) {
        router.post("/gateway/openai/v1/chat/completions") { request, _ in try await call(request, .chatCompletions) }
        router.post("/gateway/openai/v1/responses") { request, _ in try await call(request, .responses) }
        router.post("/gateway/openai/v1/embeddings") { request, _ in try await call(request, .embeddings) }
        router.get("/gateway/openai/v1/models") { request, _ in try await passThrough(request, .openai, "/v1/models") }
        router.post("/gateway/anthropic/v1/messages") { request, _ in try await call(request, .messages) }
        router.post("/gateway/anthropic/v1/messages/count_tokens") { request, _ in
            try await passThrough(request, .anthropic, "/v1/messages/count_tokens")
        }
    }

    // MARK: the billed routes

    private func call(_ request: Request, _ route: GatewayRoute) async throws -> Response {
        let provider = route.provider
        let admitted = try await admit(request, provider)
        guard case .success(let (identity, upstream)) = admitted else {
            if case .failure(let refusal) = admitted { return refusal.response }
            fatalError("unreachable")
        }
        let bytes: ByteBuffer
        do {
            bytes = try await request.body.collect(upTo: Limits.gatewayRequestBytesMax)
        } catch {
            return GatewayErrors.response(
                provider, .contentTooLarge, .tooLarge,
                "the request body is larger than the gateway's limit of \(Limits.gatewayRequestBytesMax) bytes")
        }
        let body: JSONValue
        do {
            body = try JSONValue.parse(bytes.readableBytesView)
        } catch {
            return GatewayErrors.response(provider, .badRequest, .invalidRequest, "the request body is not JSON: \(error)")
        }
        let attribution: Attribution
        let call: GatewayCall
        let amount: MicroDollars
        do {
            attribution = try Attribution(request)
            call = try GatewayCalls.read(
                body, bytes: bytes.readableBytes, route: route, defaultOutputTokens: gateway.outputTokensDefault)
            amount = try GatewayCalls.worstCase(
                call, catalog: try await store.priceCatalog(), allowUnpriced: gateway.allowUnpricedModels)
        } catch let refusal as GatewayRefusal {
            var field: String?
            if case .invalidRequest(let name) = refusal.kind { field = name }
            return GatewayErrors.response(
                provider, .badRequest, .invalidRequest, refusal.message,
                code: refusal.kind == .unpricedModel ? "model_not_priced" : nil, param: field)
        }
        let receivedAt = Timestamp.now()
        let placed = try await store.placeHold(
            HoldRequest(
                organizationID: identity.organizationID, amount: amount, workspace: attribution.workspace,
                taskType: attribution.taskType, runID: attribution.runID, apiKeyID: identity.keyID,
                provider: provider.catalogName, model: call.model, ttlSeconds: gateway.holdSeconds,
                policy: configuration.policy, receivedAt: receivedAt))
        let hold: Reservation
        switch placed {
        case .placed(let reservation, _, _): hold = reservation
        case .refused(let refusal):
            return GatewayErrors.response(
                provider, GatewayErrors.paymentRequired, .billing, refusal.sentence, code: "insufficient_credit")
        case .refusedByBudget(let refusal):
            return GatewayErrors.response(
                provider, GatewayErrors.paymentRequired, .billing, refusal.sentence, code: "budget_exceeded")
        case .replayed:
            // Holds placed here carry no Idempotency-Key, so none replays.
            return GatewayErrors.response(provider, .internalServerError, .upstream, "the gateway could not hold this call")
        }
        let settler = GatewaySettler(
            store: store, hold: hold, call: call, attribution: attribution, identity: identity, configuration: configuration,
            logger: logger)

        var outgoing = HTTPClientRequest(url: upstream.baseURL + route.upstreamPath)
        outgoing.method = .POST
        outgoing.headers = Self.upstreamHeaders(request, provider, upstream)
        if let rewritten = GatewayCalls.forwardedBody(body, call: call) {
            outgoing.headers.replaceOrAdd(name: "content-type", value: "application/json")
            outgoing.body = .bytes(ByteBuffer(bytes: rewritten))
        } else {
            outgoing.body = .bytes(bytes)
        }
        let deadline = ContinuousClock.now + .seconds(gateway.upstreamSeconds)
        let answer: HTTPClientResponse
        do {
            answer = try await GatewayHTTP.client.execute(
                outgoing, deadline: .now() + .seconds(gateway.upstreamSeconds), logger: logger)
        } catch {
            // Nothing reached the provider, or nothing came back: nothing to bill.
            await settler.release()
            logger.warning("gateway upstream unreachable", metadata: ["error": "\(error)"])
            return GatewayErrors.response(
                provider, .badGateway, .upstream, "Plutus could not reach the \(provider.rawValue) upstream; nothing was charged")
        }
        let headers = Self.responseHeaders(answer.headers)
        guard (200..<300).contains(answer.status.code) else {
            // The provider's error, unchanged (its Retry-After too); errors are not billed.
            let errorBody = (try? await answer.body.collect(upTo: Limits.gatewayResponseBytesMax)) ?? ByteBuffer()
            await settler.release()
            return Response(
                status: HTTPResponse.Status(code: Int(answer.status.code)), headers: headers,
                body: ResponseBody(byteBuffer: errorBody))
        }
        let streamed = answer.headers.first(name: "content-type")?.lowercased().hasPrefix("text/event-stream") ?? false
        if streamed {
            let relay = GatewayRelay(answer: answer, call: call, settler: settler, deadline: deadline, logger: logger)
            relay.start()
            return Response(
                status: HTTPResponse.Status(code: Int(answer.status.code)), headers: headers,
                body: ResponseBody { writer in
                    try await relay.deliver(to: &writer)
                })
        }
        var reader = GatewayUsageReader(route: route)
        let whole: ByteBuffer
        do {
            whole = try await answer.body.collect(upTo: Limits.gatewayResponseBytesMax)
        } catch {
            // The answer broke off, or is larger than the gateway reads whole: bill the estimate.
            let settled = await settler.settle(reader, ended: false)
            logger.warning("gateway answer unreadable", metadata: ["error": "\(error)"])
            return GatewayErrors.response(
                provider, .badGateway, .upstream,
                "the \(provider.rawValue) upstream's answer could not be read; the call was billed at an estimate"
                    + (settled.map { " of \($0.cost.formatted)" } ?? ""))
        }
        if let value = try? JSONValue.parse(whole.readableBytesView) { reader.read(answer: value) }
        var response = Response(
            status: HTTPResponse.Status(code: Int(answer.status.code)), headers: headers, body: ResponseBody(byteBuffer: whole))
        if let settled = await settler.settle(reader, ended: true) {
            response.headers[GatewayHeaders.cost] = settled.cost.decimalString
            if let balance = settled.balance { response.headers[GatewayHeaders.balance] = balance.decimalString }
            response.headers[GatewayHeaders.eventID] = settled.eventID
        }
        return response
    }

    // MARK: pass-through routes

    /// An unbilled route: the agent's key is checked, the call forwarded, the answer returned.
    private func passThrough(_ request: Request, _ provider: GatewayProvider, _ path: String) async throws -> Response {
        let admitted = try await admit(request, provider)
        guard case .success(let (_, upstream)) = admitted else {
            if case .failure(let refusal) = admitted { return refusal.response }
            fatalError("unreachable")
        }
        var outgoing = HTTPClientRequest(url: upstream.baseURL + path)
        outgoing.method = request.method == .get ? .GET : .POST
        outgoing.headers = Self.upstreamHeaders(request, provider, upstream)
        if request.method != .get {
            do {
                outgoing.body = .bytes(try await request.body.collect(upTo: Limits.gatewayRequestBytesMax))
            } catch {
                return GatewayErrors.response(
                    provider, .contentTooLarge, .tooLarge,
                    "the request body is larger than the gateway's limit of \(Limits.gatewayRequestBytesMax) bytes")
            }
        }
        do {
            let answer = try await GatewayHTTP.client.execute(
                outgoing, deadline: .now() + .seconds(gateway.upstreamSeconds), logger: logger)
            let body = try await answer.body.collect(upTo: Limits.gatewayResponseBytesMax)
            return Response(
                status: HTTPResponse.Status(code: Int(answer.status.code)), headers: Self.responseHeaders(answer.headers),
                body: ResponseBody(byteBuffer: body))
        } catch {
            return GatewayErrors.response(
                provider, .badGateway, .upstream, "Plutus could not reach the \(provider.rawValue) upstream")
        }
    }

    // MARK: admission

    struct Refusal: Error {
        let response: Response
    }

    /// The agent's Plutus key (where its SDK puts the provider's key), within its rate limit,
    /// and the provider's upstream if the gateway is on for it.
    private func admit(_ request: Request, _ provider: GatewayProvider) async throws -> Result<
        (APIKeyIdentity, GatewayConfiguration.Upstream), Refusal
    > {
        guard let upstream = gateway.upstream(provider) else {
            let variable = provider == .openai ? "PLUTUS_GATEWAY_OPENAI_KEY" : "PLUTUS_GATEWAY_ANTHROPIC_KEY"
            return .failure(
                Refusal(
                    response: GatewayErrors.response(
                        provider, .notFound, .notFound,
                        "the \(provider.rawValue) gateway is off on this server: the operator sets \(variable) to turn it on")))
        }
        let secret = HTTPInput.bearer(request) ?? HTTPInput.header(request, GatewayHeaders.apiKey)
        guard let secret, APIKeySecret.isWellFormed(secret), let identity = try await store.authenticateAPIKey(secret: secret)
        else {
            return .failure(
                Refusal(
                    response: GatewayErrors.response(
                        provider, .unauthorized, .authentication,
                        "a valid Plutus API key is required (plutus_sk_…), sent where the SDK sends the provider's key")))
        }
        if let retryAfter = usage.limiter.acquire(identity.keyID, nowSeconds: Date().timeIntervalSince1970) {
            return .failure(
                Refusal(
                    response: GatewayErrors.response(
                        provider, .tooManyRequests, .rateLimited, "too many requests for this API key; retry later",
                        headers: [.retryAfter: String(retryAfter)])))
        }
        return .success((identity, upstream))
    }

    static func upstreamHeaders(_ request: Request, _ provider: GatewayProvider, _ upstream: GatewayConfiguration.Upstream)
        -> HTTPHeaders
    {
        var headers = HTTPHeaders()
        for field in request.headers where GatewayForwarding.requestHeaders.contains(field.name.canonicalName) {
            headers.add(name: field.name.canonicalName, value: field.value)
        }
        switch provider {
        case .openai: headers.add(name: "authorization", value: "Bearer \(upstream.key)")
        case .anthropic:
            headers.add(name: "x-api-key", value: upstream.key)
            if !headers.contains(name: "anthropic-version") { headers.add(name: "anthropic-version", value: "2023-06-01") }
        }
        return headers
    }

    static func responseHeaders(_ headers: HTTPHeaders) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in headers where !GatewayForwarding.droppedResponseHeaders.contains(name.lowercased()) {
            if let name = HTTPField.Name(name) { fields.append(HTTPField(name: name, value: value)) }
        }
        return fields
    }
}

/// Which headers cross the gateway.
enum GatewayForwarding {
    /// Settle attempts when the store is busy, and the pause before the next.
    static let settleAttemptsMax = 5
    static let settleRetryPauseMilliseconds: UInt64 = 200

    /// Request headers passed on to the upstream; everything else (the agent's Plutus key,
    /// `X-Plutus-*`, hop-by-hop headers, `Accept-Encoding`) stays here.
    static let requestHeaders: Set<String> = [
        "content-type", "accept", "anthropic-version", "anthropic-beta", "openai-beta", "user-agent",
    ]
    /// Response headers not passed back (hop by hop, or recomputed here).
    static let droppedResponseHeaders: Set<String> = [
        "connection", "keep-alive", "transfer-encoding", "content-length", "te", "trailer", "upgrade",
        "proxy-authenticate", "proxy-authorization", "set-cookie",
    ]
}

/// The `X-Plutus-*` headers of the gateway.
enum GatewayHeaders {
    static let workspace = HTTPField.Name("X-Plutus-Workspace")!
    static let task = HTTPField.Name("X-Plutus-Task")!
    static let run = HTTPField.Name("X-Plutus-Run")!
    static let eventIDRequest = HTTPField.Name("X-Plutus-Event-Id")!
    static let cost = HTTPField.Name("X-Plutus-Cost-USD")!
    static let balance = HTTPField.Name("X-Plutus-Balance-USD")!
    static let eventID = HTTPField.Name("X-Plutus-Event-Id")!
    static let apiKey = HTTPField.Name("x-api-key")!
}

/// Who a call is for, from its `X-Plutus-*` headers, checked as `/v1/usage` checks the same fields.
struct Attribution: Sendable {
    var workspace: String?
    var taskType: String?
    var runID: String?
    var eventID: String?

    init(_ request: Request) throws(GatewayRefusal) {
        workspace = try Self.label(request, GatewayHeaders.workspace, "workspace", Limits.labelBytesMax)
        taskType = try Self.label(request, GatewayHeaders.task, "task_type", Limits.labelBytesMax)
        runID = try Self.label(request, GatewayHeaders.run, "run_id", Limits.runIDBytesMax)
        eventID = try Self.label(request, GatewayHeaders.eventIDRequest, "event_id", Limits.clientEventIDBytesMax)
    }

    private static func label(_ request: Request, _ name: HTTPField.Name, _ field: String, _ bytesMax: Int) throws(GatewayRefusal)
        -> String?
    {
        guard let value = request.headers[name], !value.isEmpty else { return nil }
        do {
            try UsageValidation.checkLabel(value, field: field, bytesMax: bytesMax, index: 0)
        } catch {
            throw GatewayRefusal(.invalidRequest(field: name.rawName), "\(name.rawName): \(error.rule) (found \(error.found))")
        }
        return value
    }
}

/// The gateway's one HTTP client for the process: pooled connections per upstream host
/// (enough for every concurrent call), HTTP/2 where the upstream offers it, certificate
/// verification on, answers not decompressed (none is asked for compressed).
enum GatewayHTTP {
    static let connectionsPerHostMax = 1_024

    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.httpVersion = .automatic
        configuration.decompression = .disabled
        configuration.connectionPool = HTTPClient.Configuration.ConnectionPool(
            idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: connectionsPerHostMax)
        configuration.timeout = HTTPClient.Configuration.Timeout(connect: .seconds(10), read: .seconds(300))
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()
}
