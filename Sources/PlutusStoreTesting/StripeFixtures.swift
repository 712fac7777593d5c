import PlutusCore

/// Stripe event payloads in the shapes Stripe documents (API objects trimmed to the fields
/// Plutus reads plus a few it ignores), for tests.
public enum StripeFixtures {
    public static let created: Int64 = 1_795_000_000

    public static func event(id: String, type: String, created: Int64 = created, object: String) -> String {
        #"{"id": "\#(id)", "object": "event", "api_version": "2024-06-20", "created": \#(created), "livemode": false, "pending_webhooks": 1, "type": "\#(type)", "data": {"object": \#(object)}}"#
    }

    public static func checkoutSession(
        org: String?, amountCents: String = "5000", currency: String = "usd", paymentStatus: String = "paid",
        paymentIntent: String = "pi_1", mode: String = "payment", metadataAmount: String = "50.00", customer: String = "cus_1"
    ) -> String {
        let reference = org.map { #""\#($0)""# } ?? "null"
        return
            #"{"id": "cs_test_1", "object": "checkout.session", "mode": "\#(mode)", "amount_total": \#(amountCents), "amount_subtotal": \#(amountCents), "currency": "\#(currency)", "customer": "\#(customer)", "client_reference_id": \#(reference), "payment_intent": "\#(paymentIntent)", "payment_status": "\#(paymentStatus)", "status": "complete", "metadata": {"plutus_org_id": \#(reference), "kind": "credit", "amount_usd": "\#(metadataAmount)"}}"#
    }

    public static func charge(
        id: String = "ch_1", paymentIntent: String = "pi_1", refundedCents: Int64, customer: String = "cus_1"
    )
        -> String
    {
        #"{"id": "\#(id)", "object": "charge", "amount": 5000, "amount_refunded": \#(refundedCents), "currency": "usd", "customer": "\#(customer)", "payment_intent": "\#(paymentIntent)", "refunded": \#(refundedCents >= 5000)}"#
    }

    public static func dispute(id: String = "dp_1", paymentIntent: String = "pi_1", amountCents: Int64 = 5000, status: String)
        -> String
    {
        #"{"id": "\#(id)", "object": "dispute", "amount": \#(amountCents), "charge": "ch_1", "currency": "usd", "payment_intent": "\#(paymentIntent)", "reason": "fraudulent", "status": "\#(status)"}"#
    }

    public static func subscription(status: String, price: String = "price_pro", customer: String = "cus_1", org: String? = nil)
        -> String
    {
        let metadata = org.map { #"{"plutus_org_id": "\#($0)"}"# } ?? "{}"
        return
            #"{"id": "sub_1", "object": "subscription", "customer": "\#(customer)", "status": "\#(status)", "metadata": \#(metadata), "items": {"object": "list", "data": [{"id": "si_1", "price": {"id": "\#(price)", "unit_amount": 2000, "currency": "usd"}}]}}"#
    }
}
