import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PlutusCore
import PlutusStore

/// The requests a meter makes, in the terms of the HTTP API.
enum Endpoint: Sendable, Equatable {
    case usage
    case placeHold
    case settle(String)
    case release(String)

    var path: String {
        switch self {
        case .usage: "/v1/usage"
        case .placeHold: "/v1/reservations"
        case .settle(let id): "/v1/reservations/\(id)/settle"
        case .release(let id): "/v1/reservations/\(id)/release"
        }
    }
}

/// An answer: its status, its JSON body and, for 429 and 503, how long to wait.
struct Reply: Sendable {
    var status: Int
    var body: JSONValue
    var retryAfterSeconds: Double? = nil
}

/// A request that never got an answer (connection refused or reset, timeout): safe to send again.
struct TransportFailure: Error {
    var message: String
}

/// Where the meter's requests go: a Plutus server, or a store in this process.
protocol Transport: Sendable {
    func send(_ endpoint: Endpoint, body: JSONValue?, idempotencyKey: String?) async throws -> Reply
    func shutdown() async
}

/// Plutus over HTTP, with an API key.
final class RemoteTransport: Transport {
    let baseURL: String
    let apiKey: String
    let timeout: TimeAmount
    /// The process-wide client: its connection pool outlives any one meter and needs no
    /// shutdown, so a meter dropped without `shutdown()` leaks nothing.
    let client = HTTPClient.shared

    init(baseURL: String, apiKey: String, timeout: Duration) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.apiKey = apiKey
        let components = timeout.components
        self.timeout = .nanoseconds(components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000)
    }

    func send(_ endpoint: Endpoint, body: JSONValue?, idempotencyKey: String?) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + endpoint.path)
        request.method = .POST
        request.headers.add(name: "Authorization", value: "Bearer \(apiKey)")
        request.headers.add(name: "User-Agent", value: "plutus-swift/\(PlutusClientVersion.current)")
        if let idempotencyKey { request.headers.add(name: "Idempotency-Key", value: idempotencyKey) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            var bytes: [UInt8] = []
            body.write(into: &bytes)
            request.body = .bytes(ByteBuffer(bytes: bytes))
        }
        let response: HTTPClientResponse
        let collected: ByteBuffer
        do {
            response = try await client.execute(request, timeout: timeout)
            collected = try await response.body.collect(upTo: Limits.clientAnswerBytesMax)
        } catch let error as HTTPClientError where error == .invalidURL || error == .emptyHost || error == .emptyScheme {
            throw PlutusClientError.invalidCall(field: "url", message: "'\(baseURL)' is not a Plutus server URL")
        } catch {
            throw TransportFailure(message: Self.describe(error, url: baseURL))
        }
        let status = Int(response.status.code)
        let body = (try? JSONValue.parse(collected.readableBytesView)) ?? .object([("error", .string("HTTP \(status)"))])
        let retryAfter = response.headers.first(name: "Retry-After").flatMap(Double.init)
        return Reply(status: status, body: body, retryAfterSeconds: retryAfter)
    }

    func shutdown() async {}

    /// A sentence for a request that got no answer, without the libraries' type names.
    static func describe(_ error: any Error, url: String) -> String {
        let text = String(describing: error)
        let reason: String
        if text.localizedCaseInsensitiveContains("refused") {
            reason = "connection refused"
        } else if text.localizedCaseInsensitiveContains("timeout") || text.localizedCaseInsensitiveContains("timed out") {
            reason = "timed out"
        } else if text.localizedCaseInsensitiveContains("reset") || text.localizedCaseInsensitiveContains("closed")
            || text.localizedCaseInsensitiveContains("eof")
        {
            reason = "the connection closed before an answer"
        } else {
            reason = text.split(separator: "\n").first.map(String.init) ?? text
        }
        return "no answer from \(url) (\(reason))"
    }
}

/// A `BillingStore` in this process, decided as the server decides (the same rules, in the
/// same transactions), answered in the HTTP API's terms.
final class EmbeddedTransport: Transport {
    let store: any BillingStore
    let organizationID: OrganizationID
    let policy: MeteringPolicy

    init(store: any BillingStore, organizationID: OrganizationID, policy: MeteringPolicy) {
        self.store = store
        self.organizationID = organizationID
        self.policy = policy
    }

    func send(_ endpoint: Endpoint, body: JSONValue?, idempotencyKey: String?) async throws -> Reply {
        let now = Timestamp.now()
        let claim =
            idempotencyKey.map { key in body.map { UsageBatch.IdempotencyClaim(key: key, requestHash: RequestFingerprint.of($0)) }
            } ?? nil
        do {
            switch endpoint {
            case .usage:
                let events = try UsageValidation.validateBody(body ?? .null, now: now, defaultSource: "swift").events
                let result = try await store.recordUsage(
                    UsageBatch(
                        organizationID: organizationID, events: events, idempotency: claim, policy: policy, receivedAt: now))
                return try Self.reply(result.response)
            case .placeHold:
                let input = try HoldValidation.validate(body ?? .null)
                let amount = try HoldValidation.amount(input, catalog: try await store.priceCatalog())
                let result = try await store.placeHold(
                    HoldRequest(
                        organizationID: organizationID, amount: amount, workspace: input.workspace, taskType: input.taskType,
                        runID: input.runID, provider: input.provider, model: input.model, metadata: input.metadata,
                        ttlSeconds: input.ttlSeconds, idempotency: claim, policy: policy, receivedAt: now))
                switch result {
                case .placed(_, _, let response): return try Self.reply(response)
                case .replayed(let stored): return try Self.reply(stored)
                case .refused(let refusal): return try Self.reply(refusal.response)
                case .refusedByBudget(let refusal): return try Self.reply(Holds.budgetResponse(refusal))
                }
            case .settle(let id):
                let event = try UsageValidation.validate(body ?? .null, index: 0, now: now, defaultSource: "swift")
                let batch = UsageBatch(organizationID: organizationID, events: [event], policy: policy, receivedAt: now)
                switch try await store.settleHold(ReservationID(rawValue: id), batch) {
                case .settled(_, let response): return try Self.reply(response)
                case .replayed(let stored): return try Self.reply(stored)
                }
            case .release(let id):
                let (_, response) = try await store.releaseHold(organizationID, ReservationID(rawValue: id), at: now)
                return try Self.reply(response)
            }
        } catch let error as UsageFieldError {
            return Self.error(400, error.message, field: error.field)
        } catch let error as InputFieldError {
            return Self.error(400, error.message, field: error.field)
        } catch let error as UsageBatchShapeError {
            return Self.error(400, error.message, field: nil)
        } catch let error as StoreError {
            switch error {
            case .busy(let seconds):
                return Reply(
                    status: 503, body: .object([("error", .string(error.description))]), retryAfterSeconds: Double(seconds))
            case .reservationNotFound: return Self.error(404, error.description, field: nil)
            case .reservationClosed(_, let status):
                return Reply(
                    status: 409,
                    body: .object([("error", .string(error.description)), ("code", .string("reservation_\(status)"))]))
            case .invalid(let field, _): return Self.error(400, error.description, field: field)
            default: throw error
            }
        }
    }

    private static func reply(_ response: StoredResponse) throws -> Reply {
        Reply(status: response.status, body: try JSONValue.parse(response.body))
    }

    private static func error(_ status: Int, _ message: String, field: String?) -> Reply {
        var members: [(String, JSONValue)] = [("error", .string(message))]
        if let field { members.append(("field", .string(field))) }
        return Reply(status: status, body: .object(members))
    }

    func shutdown() async {}
}

/// The client library's version, sent as its User-Agent.
public enum PlutusClientVersion {
    public static let current = "0.1.0"
}
