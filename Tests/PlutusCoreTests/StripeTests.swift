import Foundation
import PlutusCore
import Testing

@Suite("Stripe: webhook signatures and event decisions")
struct StripeTests {
    let payload = Array(#"{"id":"evt_1","type":"ping"}"#.utf8)
    let now = Timestamp.seconds(1_795_000_000)

    @Test func matchesStripesDocumentedScheme() {
        // HMAC-SHA256 over "t.payload", hex — computed independently with Python's hmac module.
        let header = StripeSignature.header(payload: Array("{}".utf8), secret: "whsec_test", timestamp: 1_700_000_000)
        #expect(header == "t=1700000000,v1=35495024f4ef3f94e5a93e22221544c4b75e9a42300cd965ab81cb85cd994e91")
        #expect(
            StripeSignature.verify(
                header: header, payload: Array("{}".utf8), secrets: ["whsec_test"], now: .seconds(1_700_000_100))
                == .success(1_700_000_000))
    }

    @Test func acceptsAnyConfiguredSecretAndAnyV1() {
        let header = StripeSignature.header(payload: payload, secret: "whsec_new", timestamp: now.seconds)
        #expect(
            StripeSignature.verify(header: header, payload: payload, secrets: ["whsec_old", "whsec_new"], now: now)
                == .success(now.seconds))
        let twoSignatures = "t=\(now.seconds),v1=\(String(repeating: "0", count: 64)),v0=abc," + header.split(separator: ",")[1]
        #expect(
            StripeSignature.verify(header: twoSignatures, payload: payload, secrets: ["whsec_new"], now: now)
                == .success(now.seconds))
    }

    @Test(
        arguments: [
            (nil, StripeSignature.Failure.missingHeader), ("", .missingHeader), ("garbage", .malformedHeader),
            ("t=abc,v1=00", .malformedHeader), ("v1=\(String(repeating: "a", count: 64))", .malformedHeader),
            ("t=1795000000", .malformedHeader),
            ("t=1795000000,v1=\(String(repeating: "a", count: 64))", .noMatchingSignature),
        ] as [(String?, StripeSignature.Failure)])
    func refusesBadHeaders(header: String?, failure: StripeSignature.Failure) {
        #expect(StripeSignature.verify(header: header, payload: payload, secrets: ["whsec_x"], now: now) == .failure(failure))
    }

    @Test func refusesTamperedStaleFutureAndUnconfigured() {
        let header = StripeSignature.header(payload: payload, secret: "whsec_x", timestamp: now.seconds)
        var tampered = payload
        tampered[tampered.count - 2] ^= 1
        #expect(
            StripeSignature.verify(header: header, payload: tampered, secrets: ["whsec_x"], now: now)
                == .failure(.noMatchingSignature))
        #expect(
            StripeSignature.verify(header: header, payload: payload, secrets: ["whsec_y"], now: now)
                == .failure(.noMatchingSignature))
        #expect(StripeSignature.verify(header: header, payload: payload, secrets: [], now: now) == .failure(.noSecretConfigured))
        #expect(
            StripeSignature.verify(header: header, payload: payload, secrets: ["whsec_x"], now: now.adding(seconds: 300))
                == .success(now.seconds))
        #expect(
            StripeSignature.verify(header: header, payload: payload, secrets: ["whsec_x"], now: now.adding(seconds: 301))
                == .failure(.timestampOutsideTolerance))
        #expect(
            StripeSignature.verify(header: header, payload: payload, secrets: ["whsec_x"], now: now.adding(seconds: -301))
                == .failure(.timestampOutsideTolerance))
        #expect(
            StripeSignature.verify(
                header: header, payload: payload, secrets: ["whsec_x"], now: now.adding(seconds: 301), toleranceSeconds: 600)
                == .success(now.seconds))
    }

    private func decide(_ type: String, _ object: String, settings: StripeSettings = StripeSettings(proPriceID: "price_pro"))
        throws -> StripeAction
    {
        let json = #"{"id": "evt_9", "type": "\#(type)", "created": 1795000000, "data": {"object": \#(object)}}"#
        return StripeDecision.action(for: try StripeEvent.parse(try JSONValue.parse(json)), settings: settings)
    }

    @Test func checkoutCreditsAmountTotalNeverMetadata() throws {
        let action = try decide(
            "checkout.session.completed",
            #"{"id": "cs_1", "mode": "payment", "amount_total": 2500, "currency": "USD", "payment_status": "paid", "payment_intent": "pi_7", "client_reference_id": "org_1", "metadata": {"amount_usd": "9999.00"}}"#
        )
        #expect(
            action
                == .credit(
                    StripeOrganizationHint(organization: "org_1", customer: nil, paymentIntent: "pi_7"),
                    amount: MicroDollars.dollars(25)!, payment: "pi_7"))
    }

    @Test(arguments: [
        (#"{"mode": "payment", "amount_total": 2500, "currency": "eur", "payment_status": "paid"}"#, "currency"),
        (#"{"mode": "payment", "amount_total": -100, "currency": "usd", "payment_status": "paid"}"#, "amount_total"),
        (#"{"mode": "payment", "amount_total": 0, "currency": "usd", "payment_status": "paid"}"#, "amount_total"),
        (#"{"mode": "payment", "amount_total": 99999999999999, "currency": "usd", "payment_status": "paid"}"#, "amount_total"),
        (#"{"mode": "payment", "amount_total": 12.5, "currency": "usd", "payment_status": "paid"}"#, "amount_total"),
        (#"{"mode": "payment", "amount_total": "2500", "currency": "usd", "payment_status": "paid"}"#, "amount_total"),
        (#"{"mode": "setup", "currency": "usd"}"#, "not a credit purchase"),
    ])
    func checkoutsThatMoveNoMoney(object: String, reason: String) throws {
        guard case .ignore(let detail) = try decide("checkout.session.completed", object) else {
            Issue.record("expected ignore")
            return
        }
        #expect(detail.contains(reason))
    }

    @Test func unpaidCheckoutWaitsForTheAsyncResult() throws {
        let object =
            #"{"id": "cs_1", "mode": "payment", "amount_total": 2500, "currency": "usd", "payment_status": "unpaid", "payment_intent": "pi_7"}"#
        guard case .awaitingPayment = try decide("checkout.session.completed", object) else {
            Issue.record("not awaiting")
            return
        }
        guard case .credit(_, let amount, _) = try decide("checkout.session.async_payment_succeeded", object) else {
            Issue.record("not credited")
            return
        }
        #expect(amount == MicroDollars.dollars(25))
        guard case .paymentFailed = try decide("checkout.session.async_payment_failed", object) else {
            Issue.record("not failed")
            return
        }
    }

    @Test func subscriptionsFollowOnlyTheProPrice() throws {
        let active =
            #"{"id": "sub_1", "customer": "cus_1", "status": "active", "items": {"data": [{"price": {"id": "price_pro"}}]}}"#
        guard case .setPlan(_, let plan, _) = try decide("customer.subscription.updated", active) else {
            Issue.record("no plan")
            return
        }
        #expect(plan == .pro)
        let pastDue = active.replacingOccurrences(of: "active", with: "past_due")
        guard case .setPlan(_, let downgraded, _) = try decide("customer.subscription.updated", pastDue) else {
            Issue.record("no plan")
            return
        }
        #expect(downgraded == .free)
        guard case .setPlan(_, let deleted, _) = try decide("customer.subscription.deleted", active) else {
            Issue.record("no plan")
            return
        }
        #expect(deleted == .free)
        let other = active.replacingOccurrences(of: "price_pro", with: "price_other")
        #expect(try decide("customer.subscription.updated", other) == .ignore("subscription is not for the Pro price"))
        // With no Pro price configured, any subscription moves the plan, as in the original.
        guard case .setPlan(_, let anyPrice, _) = try decide("customer.subscription.updated", other, settings: StripeSettings())
        else {
            Issue.record("no plan without a Pro price")
            return
        }
        #expect(anyPrice == .pro)
    }

    @Test func disputesReverseUntilWon() throws {
        let lost = #"{"id": "dp_1", "amount": 5000, "payment_intent": "pi_1", "status": "needs_response"}"#
        guard case .dispute(_, _, _, let reversed) = try decide("charge.dispute.created", lost) else {
            Issue.record("no dispute")
            return
        }
        #expect(reversed)
        let won = lost.replacingOccurrences(of: "needs_response", with: "won")
        guard case .dispute(_, _, _, let stillReversed) = try decide("charge.dispute.closed", won) else {
            Issue.record("no dispute")
            return
        }
        #expect(!stillReversed)
    }

    @Test func eventsNeedAnIDATypeAndAnObject() {
        for json in [
            #"{"type": "x", "created": 1, "data": {"object": {}}}"#, #"{"id": "evt_1", "created": 1, "data": {"object": {}}}"#,
            #"{"id": "evt_1", "type": "x", "created": 1}"#, #"{"id": "evt_1", "type": "x", "data": {"object": {}}}"#, "[]",
        ] {
            #expect(throws: StripeEvent.Invalid.self) { try StripeEvent.parse(try JSONValue.parse(json)) }
        }
    }
}
