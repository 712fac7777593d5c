import Foundation
import PlutusCore
import Testing

@testable import PlutusStripe

@Suite("The outgoing Stripe client against a local fake Stripe")
struct StripeClientTests {
    func client(_ base: String, key: String = "sk_test_fake") -> StripeClient {
        StripeClient(
            configuration: StripeAPIConfiguration(secretKey: key, baseURL: base, retriesMax: 3, retryBaseDelayMillis: 10))
    }

    let org = OrganizationID(rawValue: "org_00000000000000aa")

    @Test func creditCheckoutSendsTheDocumentedForm() async throws {
        let stripe = FakeStripe()
        try await stripe.with { base in
            let session = try await client(base).createCreditCheckout(
                organizationID: org, customer: "cus_1", amount: MicroDollars.dollars(50)!,
                successURL: "http://localhost:8420/billing/success", cancelURL: "http://localhost:8420/billing/cancel",
                idempotencyKey: "checkout-1")
            #expect(session.url.hasPrefix("https://checkout.stripe.com/"))
            let sent = try #require(stripe.recorded.last)
            #expect(sent.path == "/v1/checkout/sessions")
            #expect(sent.headers["idempotency-key"] == "checkout-1")
            #expect(sent.headers["stripe-version"] == StripeAPIConfiguration.pinnedAPIVersion)
            #expect(sent.headers["content-type"] == "application/x-www-form-urlencoded")
            #expect(sent.form["mode"] == "payment")
            #expect(sent.form["line_items[0][price_data][unit_amount]"] == "5000")
            #expect(sent.form["line_items[0][price_data][currency]"] == "usd")
            #expect(sent.form["client_reference_id"] == org.rawValue)
            #expect(sent.form["success_url"] == "http://localhost:8420/billing/success")
        }
    }

    @Test func retriesServerErrorsWithTheSameIdempotencyKeyThenSucceeds() async throws {
        let stripe = FakeStripe()
        try await stripe.with { base in
            stripe.failNext([500, 429])
            let customer = try await client(base).createCustomer(organizationID: org, name: "Acme é&=", email: "a@acme.example")
            #expect(customer.hasPrefix("cus_fake"))
            let attempts = stripe.recorded
            #expect(attempts.count == 3)
            #expect(Set(attempts.compactMap { $0.headers["idempotency-key"] }) == ["plutus-customer-\(org.rawValue)"])
            #expect(attempts.last?.form["name"] == "Acme é&=")
        }
    }

    @Test func givesUpAfterBoundedRetriesAndDoesNotRetryClientErrors() async throws {
        let stripe = FakeStripe()
        try await stripe.with { base in
            stripe.failNext([503, 503, 503, 503, 503])
            await #expect(throws: StripeAPIError.self) {
                try await client(base).createPortalSession(customer: "cus_1", returnURL: "http://x", idempotencyKey: "p1")
            }
            #expect(stripe.recorded.count == 4)
            stripe.failNext([])
            do {
                _ = try await client(base, key: "sk_test_wrong").findPrice(lookupKey: "plutus_pro_monthly")
                Issue.record("a bad key must fail")
            } catch let error as StripeAPIError {
                #expect(error.status == 401)
                #expect(error.message == "Invalid API Key provided")
            }
            #expect(stripe.recorded.count == 5)
        }
    }

    @Test func setupAndEventListing() async throws {
        let stripe = FakeStripe()
        try await stripe.with { base in
            let api = client(base)
            #expect(try await api.findPrice(lookupKey: "plutus_pro_monthly") == nil)
            #expect(stripe.recorded.last?.query.contains("lookup_keys[]=plutus_pro_monthly") == true)
            let product = try await api.createProduct(name: "Plutus Pro", description: "d", idempotencyKey: "prod")
            let price = try await api.createMonthlyPrice(
                product: product, unitAmountCents: 2000, lookupKey: "plutus_pro_monthly", idempotencyKey: "price")
            #expect(price.hasPrefix("price_fake"))
            #expect(stripe.recorded.last?.form["recurring[interval]"] == "month")
            stripe.events.withLock {
                $0 = [
                    #"{"id": "evt_listed_1", "object": "event", "type": "checkout.session.completed", "created": 1795000000, "data": {"object": {}}}"#
                ]
            }
            let page = try await api.listEvents(
                types: ["checkout.session.completed", "charge.refunded"], createdSince: 1_794_000_000, startingAfter: nil)
            #expect(page.events.count == 1 && !page.hasMore)
            #expect(stripe.recorded.last?.query.contains("types[]=charge.refunded") == true)
        }
    }

    @Test func formEncodingEscapesEverythingButUnreservedCharacters() {
        #expect(StripeClient.formEncode([("metadata[a b]", "x&y=z é/")]) == "metadata[a%20b]=x%26y%3Dz%20%C3%A9%2F")
    }
}
