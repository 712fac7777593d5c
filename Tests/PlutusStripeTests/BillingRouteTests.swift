import Foundation
import Logging
import PlutusCore
import PlutusSQLite
import PlutusServer
import PlutusStore
import PlutusStoreTesting
import PlutusStripe
import Testing

@Suite("Billing routes: checkout, portal and CSRF, against a local fake Stripe")
struct BillingRouteTests {
    struct Harness: Sendable {
        let port: Int
        let store: SQLiteStore
        let stripe: FakeStripe
        var origin: String { "http://127.0.0.1:\(port)" }

        func page(_ org: String) async throws -> (HTTPResult, String) {
            let page = try await LoopbackClient.send(port: port, "GET", "/billing?org=\(org)")
            let token = page.text.components(separatedBy: "name=\"_csrf\" value=\"").dropFirst().first?.prefix(64) ?? ""
            return (page, String(token))
        }

        func post(_ path: String, _ fields: [(String, String)], origin: String?? = .some(nil), referer: String? = nil)
            async throws -> HTTPResult
        {
            var headers = [("Content-Type", "application/x-www-form-urlencoded")]
            switch origin {
            case .some(.some(let value)): headers.append(("Origin", value))
            case .some(.none): headers.append(("Origin", self.origin))
            case .none: break
            }
            if let referer { headers.append(("Referer", referer)) }
            let body = fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" }.joined(
                separator: "&")
            return try await LoopbackClient.send(port: port, "POST", path, headers: headers, body: Array(body.utf8))
        }
    }

    static let csrfSecret: [UInt8] = Array("a test-only csrf secret".utf8)
    static var csrfToken: String { Digest.hex(HMACSHA256.code(key: csrfSecret, message: Array("plutus-csrf-v1".utf8))) }

    static func with(
        offline: Bool = false, proPrice: String? = "price_pro", adminToken: String? = nil,
        topUps: ClosedRange<MicroDollars> = MicroDollars.dollars(1)!...MicroDollars.dollars(10_000)!,
        _ body: @Sendable (Harness) async throws -> Void
    ) async throws {
        let stripe = FakeStripe()
        try await stripe.with { base in
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("plutus-billing-\(UUID().uuidString)/p.db")
                .path
            let store = try SQLiteStore(path: path)
            let configuration = ServerConfiguration(
                host: "127.0.0.1", port: 0, adminToken: adminToken, stripe: StripeSettings(proPriceID: proPrice),
                stripeAPI: offline
                    ? nil : StripeAPIConfiguration(secretKey: "sk_test_fake", baseURL: base, retryBaseDelayMillis: 5),
                csrfSecret: Self.csrfSecret, topUpRange: topUps)
            var logger = Logger(label: "billing-test")
            logger.logLevel = .critical
            let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
            let app = buildApplication(configuration: configuration, store: store, logger: logger) { continuation.yield($0) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await app.run() }
                var iterator = ports.makeAsyncIterator()
                guard let port = await iterator.next() else {
                    throw LoopbackClient.Failure(description: "the server never reported its port")
                }
                try await body(Harness(port: port, store: store, stripe: stripe))
                group.cancelAll()
            }
        }
    }

    @Test func creditCheckoutRedirectsToStripeWithTheChosenAmount() async throws {
        try await Self.with { h in
            let org = try await h.store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil)
            let (page, token) = try await h.page("acme")
            #expect(page.status == 200 && token == Self.csrfToken)
            #expect(page.header("content-security-policy")?.contains("unsafe-inline") == false)
            let redirect = try await h.post(
                "/billing/checkout/credit", [("org", org.id.rawValue), ("amount", "25"), ("_csrf", token)])
            #expect(redirect.status == 303)
            #expect(redirect.header("location")?.hasPrefix("https://checkout.stripe.com/") == true)
            #expect(redirect.header("x-content-type-options") == "nosniff")
            let checkout = try #require(h.stripe.recorded.last { $0.path == "/v1/checkout/sessions" })
            #expect(checkout.form["line_items[0][price_data][unit_amount]"] == "2500")
            #expect(checkout.form["success_url"] == h.origin + "/billing/success")
            #expect(checkout.headers["idempotency-key"]?.hasPrefix("plutus-credit-") == true)
            let linked = try await h.store.findOrganization(org.id.rawValue)?.stripeCustomerID
            #expect(linked?.hasPrefix("cus_fake") == true)
            // A second checkout reuses the customer.
            _ = try await h.post("/billing/checkout/credit", [("org", org.id.rawValue), ("amount", ""), ("_csrf", token)])
            #expect(h.stripe.recorded.filter { $0.path == "/v1/customers" }.count == 1)
            #expect(h.stripe.recorded.last?.form["line_items[0][price_data][unit_amount]"] == "5000")
            let portal = try await h.post("/billing/portal", [("org", org.id.rawValue), ("_csrf", token)])
            #expect(portal.status == 303 && portal.header("location")?.hasPrefix("https://billing.stripe.com/") == true)
            let pro = try await h.post("/billing/checkout/pro", [("org", org.id.rawValue), ("_csrf", token)])
            #expect(pro.status == 303)
            #expect(h.stripe.recorded.last?.form["line_items[0][price]"] == "price_pro")
        }
    }

    @Test func crossSiteAndTokenlessPostsAreRefused() async throws {
        try await Self.with { h in
            let org = try await h.store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil)
            let (_, token) = try await h.page("acme")
            let fields = [("org", org.id.rawValue), ("_csrf", token)]
            #expect(try await h.post("/billing/checkout/credit", fields, origin: .some("https://evil.example")).status == 403)
            #expect(try await h.post("/billing/checkout/credit", fields, origin: .none).status == 403)
            #expect(try await h.post("/billing/checkout/credit", [("org", org.id.rawValue)]).status == 403)
            #expect(
                try await h.post(
                    "/billing/checkout/credit", [("org", org.id.rawValue), ("_csrf", String(repeating: "0", count: 64))]
                ).status == 403)
            // Same-origin Referer without Origin is accepted.
            #expect(
                try await h.post("/billing/checkout/credit", fields, origin: .none, referer: h.origin + "/billing").status == 303)
            #expect(h.stripe.recorded.filter { $0.path == "/v1/checkout/sessions" }.count == 1)
        }
    }

    @Test(arguments: ["0.5", "10000.01", "12.345", "abc", "-5", "NaN", "1e9"])
    func amountsOutsideOneToTenThousandDollarsAreRefused(amount: String) async throws {
        try await Self.with { h in
            let org = try await h.store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil)
            let (_, token) = try await h.page("acme")
            let response = try await h.post(
                "/billing/checkout/credit", [("org", org.id.rawValue), ("amount", amount), ("_csrf", token)])
            #expect(response.status == 400)
            #expect(h.stripe.recorded.isEmpty)
        }
    }

    @Test func topUpBoundsComeFromConfiguration() async throws {
        try await Self.with(topUps: MicroDollars.dollars(5)!...MicroDollars.dollars(20)!) { h in
            let org = try await h.store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil)
            let (page, token) = try await h.page("acme")
            #expect(page.text.contains(#"min="5" max="20""#))
            let over = try await h.post(
                "/billing/checkout/credit", [("org", org.id.rawValue), ("amount", "25"), ("_csrf", token)])
            #expect(over.status == 400 && over.text.contains("between $5.00 and $20.00"))
            let blank = try await h.post(
                "/billing/checkout/credit", [("org", org.id.rawValue), ("amount", ""), ("_csrf", token)])
            #expect(blank.status == 303)
            #expect(h.stripe.recorded.last?.form["line_items[0][price_data][unit_amount]"] == "2000")
        }
    }

    @Test func everyUserSuppliedValueIsEscaped() async throws {
        try await Self.with { h in
            _ = try await h.store.createOrganization(name: "<script>alert(1)</script>", plan: .pro, ownerEmail: nil)
            let (page, token) = try await h.page("script-alert-1-script")
            #expect(page.status == 200)
            #expect(!page.text.contains("<script>") && page.text.contains("&lt;script&gt;"))
            let unknown = try await h.post(
                "/billing/checkout/credit", [("org", "<img src=x onerror=alert(1)>"), ("_csrf", token)])
            #expect(unknown.status == 400)
            #expect(!unknown.text.contains("<img") && unknown.text.contains("&lt;img"))
            let missing = try await LoopbackClient.send(port: h.port, "GET", "/billing?org=%3Cb%3Ex")
            #expect(missing.status == 404 && !missing.text.contains("<b>"))
        }
    }

    @Test func stripeOutagesAreAClearPageAndChargeNothing() async throws {
        try await Self.with { h in
            let org = try await h.store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil)
            let (_, token) = try await h.page("acme")
            h.stripe.failNext(Array(repeating: 500, count: 8))
            let response = try await h.post("/billing/checkout/credit", [("org", org.id.rawValue), ("_csrf", token)])
            #expect(response.status == 502)
            #expect(response.text.contains("nothing was charged"))
            let portal = try await h.post("/billing/portal", [("org", org.id.rawValue), ("_csrf", token)])
            #expect(portal.status == 400)
        }
    }

    /// With an admin token, billing is behind the dashboard sign-in: without it, no page (no
    /// balance shown) and no Stripe call, even with a valid CSRF token and origin.
    @Test func withAnAdminTokenBillingAsksForSignIn() async throws {
        let adminToken = "a test-only admin token"
        try await Self.with(adminToken: adminToken) { h in
            let org = try await h.store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil)
            _ = try await h.store.linkStripeCustomer(org.id, customer: "cus_fake_acme")
            let anonymous = try await LoopbackClient.send(port: h.port, "GET", "/billing?org=acme")
            #expect(anonymous.status == 303 && anonymous.header("location") == "/login")
            #expect(!anonymous.text.contains("Acme") && !anonymous.text.contains(Self.csrfToken))
            for path in ["/billing/portal", "/billing/checkout/credit", "/billing/checkout/pro"] {
                let refused = try await h.post(path, [("org", org.id.rawValue), ("amount", "25"), ("_csrf", Self.csrfToken)])
                #expect(refused.status == 303 && refused.header("location") == "/login", "\(path)")
            }
            #expect(h.stripe.recorded.isEmpty)
            // A wrong bearer token is no sign-in either.
            let wrong = try await LoopbackClient.send(
                port: h.port, "GET", "/billing?org=acme", headers: [("Authorization", "Bearer not the token")])
            #expect(wrong.status == 303)
            // Signed in (here with the token as a bearer; browsers carry the session cookie).
            let signedIn = [("Authorization", "Bearer \(adminToken)")]
            let page = try await LoopbackClient.send(port: h.port, "GET", "/billing?org=acme", headers: signedIn)
            #expect(page.status == 200 && page.text.contains("Acme"))
            let body = Array("org=\(org.id.rawValue)&_csrf=\(Self.csrfToken)".utf8)
            let portal = try await LoopbackClient.send(
                port: h.port, "POST", "/billing/portal",
                headers: signedIn + [("Content-Type", "application/x-www-form-urlencoded"), ("Origin", h.origin)], body: body)
            #expect(portal.status == 303 && portal.header("location")?.hasPrefix("https://billing.stripe.com/") == true)
            // Stripe's return pages stay open.
            #expect(try await LoopbackClient.send(port: h.port, "GET", "/billing/success").status == 200)
            #expect(try await LoopbackClient.send(port: h.port, "GET", "/billing/cancel").status == 200)
        }
    }

    @Test func offlineBillingSaysSo() async throws {
        try await Self.with(offline: true) { h in
            _ = try await h.store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil)
            let (page, _) = try await h.page("acme")
            #expect(page.text.contains("Stripe is offline"))
            let response = try await h.post("/billing/checkout/credit", [("org", "acme"), ("_csrf", Self.csrfToken)])
            #expect(response.status == 400 && response.text.contains("Stripe is not configured"))
            #expect(try await LoopbackClient.send(port: h.port, "GET", "/billing/success").status == 200)
        }
    }
}
