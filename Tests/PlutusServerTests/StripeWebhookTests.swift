import Foundation
import PlutusCore
import PlutusStore
import PlutusStoreTesting
import Testing

@Suite("POST /webhook/stripe over real loopback HTTP")
struct StripeWebhookTests {
    static func send(
        _ server: TestServer, _ json: String, secret: String = "whsec_test_current", timestamp: Int64? = nil,
        header: String? = nil
    ) async throws -> HTTPResult {
        let time = timestamp ?? Int64(Date().timeIntervalSince1970)
        let signature = header ?? StripeSignature.header(payload: Array(json.utf8), secret: secret, timestamp: time)
        return try await LoopbackClient.send(
            port: server.port, "POST", "/webhook/stripe",
            headers: [("Stripe-Signature", signature), ("Content-Type", "application/json")], body: Array(json.utf8))
    }

    static func checkout(_ org: OrganizationID, id: String = "evt_http_1", cents: String = "5000") -> String {
        StripeFixtures.event(
            id: id, type: "checkout.session.completed",
            object: StripeFixtures.checkoutSession(org: org.rawValue, amountCents: cents))
    }

    @Test func aSignedCheckoutCreditsOnceEvenWhenDeliveredFiftyTimesAtOnce() async throws {
        try await TestServer.with { server in
            let (org, _) = try await server.organization()
            let json = Self.checkout(org)
            let results = try await withThrowingTaskGroup(of: HTTPResult.self) { group in
                for _ in 0..<50 { group.addTask { try await Self.send(server, json) } }
                return try await group.reduce(into: [HTTPResult]()) { $0.append($1) }
            }
            #expect(results.allSatisfy { $0.status == 200 })
            let statuses = results.compactMap { $0.json["result"]?["status"]?.stringValue }
            #expect(statuses.filter { $0 == "credited" }.count == 1)
            #expect(statuses.filter { $0 == "duplicate" }.count == 49)
            #expect(try await server.balance(org) == MicroDollars.dollars(50))
        }
    }

    @Test func theRotatedOutSecretStillVerifies() async throws {
        try await TestServer.with { server in
            let (org, _) = try await server.organization()
            let response = try await Self.send(server, Self.checkout(org), secret: "whsec_test_previous")
            #expect(response.status == 200)
            #expect(response.json["result"]?["balance_after"] == .number("50"))
        }
    }

    @Test func badSignaturesAndBodiesAre400AndApplyNothing() async throws {
        try await TestServer.with { server in
            let (org, _) = try await server.organization()
            let json = Self.checkout(org)
            let now = Int64(Date().timeIntervalSince1970)
            let tamperedBody = json.replacingOccurrences(of: "5000", with: "9000")
            let validHeader = StripeSignature.header(payload: Array(json.utf8), secret: "whsec_test_current", timestamp: now)
            let cases: [HTTPResult] = [
                try await Self.send(server, json, secret: "whsec_wrong"),
                try await Self.send(server, json, timestamp: now - 301),
                try await Self.send(server, json, timestamp: now + 3_600),
                try await Self.send(server, tamperedBody, header: validHeader),
                try await Self.send(server, json, header: "t=\(now)"),
                try await LoopbackClient.send(port: server.port, "POST", "/webhook/stripe", body: Array(json.utf8)),
                try await Self.send(server, "{not json"),
                try await Self.send(server, #"{"id": "evt_1", "type": "x"}"#),
            ]
            for response in cases {
                #expect(response.status == 400)
                #expect(response.json["error"] == .string("invalid webhook signature or payload"))
            }
            #expect(try await server.balance(org) == .zero)
        }
    }

    @Test func negativeOrAbsurdAmountsInSignedEventsMoveNoMoney() async throws {
        try await TestServer.with { server in
            let (org, _) = try await server.organization()
            for (index, cents) in ["-5000", "0", "1e20", "99999999999999999999", "\"5000\""].enumerated() {
                let response = try await Self.send(server, Self.checkout(org, id: "evt_bad_\(index)", cents: cents))
                #expect(response.status == 200)
                #expect(response.json["result"]?["status"] == .string("ignored"))
            }
            let unknown = StripeFixtures.event(id: "evt_unknown", type: "customer.created", object: #"{"id": "cus_9"}"#)
            let recorded = try await Self.send(server, unknown)
            #expect(recorded.status == 200 && recorded.json["result"]?["status"] == .string("ignored"))
            #expect(try await server.balance(org) == .zero)
            let metrics = try await LoopbackClient.json(port: server.port, "GET", "/metrics")
            #expect(metrics.text.contains(#"plutus_webhook_deliveries_total{outcome="ignored"} 6"#))
        }
    }

    @Test func withoutASecretEveryDeliveryIsRefused() async throws {
        try await TestServer.with(webhookSecrets: []) { server in
            let (org, _) = try await server.organization()
            #expect(try await Self.send(server, Self.checkout(org)).status == 400)
            #expect(try await server.balance(org) == .zero)
        }
    }

    @Test func oversizedDeliveriesAre413() async throws {
        try await TestServer.with { server in
            let big = String(repeating: " ", count: Limits.bodyBytesMax + 1)
            let response = try await Self.send(server, big)
            #expect(response.status == 413)
        }
    }
}
