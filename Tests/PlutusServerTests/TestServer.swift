import Foundation
import Hummingbird
import Logging
import PlutusCore
import PlutusSQLite
import PlutusServer
import PlutusStore
import PlutusStoreTesting
import Testing

/// A real `plutus` HTTP server on an ephemeral loopback port over a fresh database file,
/// for the duration of `body`.
struct TestServer: Sendable {
    let port: Int
    let store: SQLiteStore
    static func with(
        rate: Int = 0, adminToken: String? = "test-admin-token",
        busyTimeoutSeconds: Double = SQLiteStore.busyTimeoutSecondsDefault,
        policy: MeteringPolicy = .standard, webhookSecrets: [String] = ["whsec_test_current", "whsec_test_previous"],
        strictEvents: Bool = false, gateway: GatewayConfiguration = GatewayConfiguration(), port: Int = 0,
        baseURL: String? = nil, signIn: SignInConfiguration? = nil, mailer: Mailer? = nil, databasePath: String? = nil,
        _ body: @Sendable (TestServer) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("plutus-server-\(UUID().uuidString)")
        let store = try SQLiteStore(
            path: databasePath ?? directory.appendingPathComponent("plutus.db").path, busyTimeoutSeconds: busyTimeoutSeconds)
        let configuration = ServerConfiguration(
            host: "127.0.0.1", port: port, adminToken: adminToken, ingestRatePerMinute: rate,
            ingestBurst: rate == 0 ? nil : 2, policy: policy, baseURL: baseURL, stripeWebhookSecrets: webhookSecrets,
            stripe: StripeSettings(proPriceID: "price_pro"), strictEvents: strictEvents, gateway: gateway, signIn: signIn,
            mailer: mailer)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        // The handler `plutus serve` uses; each test stops its server by cancellation, which logs noisily.
        let logger = ServerLogHandler.logger(label: "plutus-test", level: .critical)
        let app = buildApplication(configuration: configuration, store: store, logger: logger) { port in continuation.yield(port)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw LoopbackClient.Failure(description: "server did not start") }
            try await body(TestServer(port: port, store: store))
            group.cancelAll()
        }
    }

    // Helpers for the common requests.

    func organization(_ name: String = "Acme", plan: Plan = .pro, credit: String? = nil) async throws
        -> (id: OrganizationID, key: String)
    {
        let org = try await store.createOrganization(name: name, plan: plan, ownerEmail: nil)
        if let credit {
            _ = try await store.postCredit(
                org.id,
                try CreditMovement(
                    kind: .grant, amount: try MicroDollars.parse(credit).get(), reference: "g-\(org.id)", memo: nil),
                at: Timestamp.now())
        }
        return (org.id, try await store.createAPIKey(org.id, name: "test").secret)
    }

    func ingest(_ key: String?, _ body: String, idempotencyKey: String? = nil) async throws -> HTTPResult {
        try await LoopbackClient.json(
            port: port, "POST", "/v1/usage", bearer: key, headers: idempotencyKey.map { [("Idempotency-Key", $0)] } ?? [], body)
    }

    func admin(
        _ method: String, _ path: String, _ body: String? = nil, token: String? = "test-admin-token",
        headers: [(String, String)] = []
    )
        async throws -> HTTPResult
    {
        try await LoopbackClient.json(port: port, method, path, bearer: token, headers: headers, body)
    }

    func eventCount(_ org: OrganizationID) async throws -> Int {
        try await store.exportUsageEvents(org, after: nil, from: nil, to: nil, limit: Limits.pageRowsMax).count
    }

    func balance(_ org: OrganizationID) async throws -> MicroDollars {
        try await store.balance(org, at: Timestamp.now()).balance
    }
}
