/// A Stripe event as delivered to the webhook: the fields Plutus acts on, and the object.
public struct StripeEvent: Sendable, Equatable {
    public var id: String
    public var type: String
    /// Seconds since the epoch when Stripe created the event; orders subscription updates.
    public var created: Int64
    public var object: JSONValue

    public init(id: String, type: String, created: Int64, object: JSONValue) {
        self.id = id
        self.type = type
        self.created = created
        self.object = object
    }

    public struct Invalid: Error, Equatable, Sendable {
        public var problem: String
    }

    public static func parse(_ document: JSONValue) throws(Invalid) -> StripeEvent {
        guard case .object = document else { throw Invalid(problem: "not a JSON object") }
        guard let id = document["id"]?.stringValue, id.hasPrefix("evt_"), id.utf8.count <= Limits.referenceBytesMax,
            !UsageValidation.containsControlCharacter(id)
        else { throw Invalid(problem: "no event id") }
        guard let type = document["type"]?.stringValue, !type.isEmpty, type.utf8.count <= 128 else {
            throw Invalid(problem: "no event type")
        }
        guard case .number(let createdText)? = document["created"], let created = Int64(createdText) else {
            throw Invalid(problem: "no creation time")
        }
        guard let object = document["data"]?["object"], case .object = object else { throw Invalid(problem: "no data.object") }
        return StripeEvent(id: id, type: type, created: created, object: object)
    }
}

/// How Stripe payments map onto Plutus.
public struct StripeSettings: Sendable, Equatable {
    /// The only currency credited (Plutus's ledger is USD).
    public var currency: String
    /// The Stripe Price of the Pro plan; subscription events for other prices are ignored.
    public var proPriceID: String?

    /// Which subscriptions move an organization's plan, in a sentence for the start-up banner.
    public var planRule: String {
        proPriceID.map { "Pro while a subscription to \($0) is active or trialing" }
            ?? "any subscription makes the organization Pro while active (no STRIPE_PRICE_PRO, as the original)"
    }

    public init(currency: String = "usd", proPriceID: String? = nil) {
        self.currency = currency.lowercased()
        self.proPriceID = proPriceID
    }
}

/// Who an event is about, as far as the event itself says.
public struct StripeOrganizationHint: Sendable, Equatable {
    /// `client_reference_id` or `metadata.plutus_org_id`.
    public var organization: String?
    public var customer: String?
    /// For reversals: the payment whose top-up they reverse.
    public var paymentIntent: String?

    public init(organization: String?, customer: String?, paymentIntent: String?) {
        self.organization = organization
        self.customer = customer
        self.paymentIntent = paymentIntent
    }
}

/// What an event asks of the ledger, decided from the event alone.
public enum StripeAction: Sendable, Equatable {
    /// A paid one-time checkout: credit exactly what Stripe collected, once per payment.
    case credit(StripeOrganizationHint, amount: MicroDollars, payment: String)
    /// A checkout that completed without payment yet (delayed methods): record, credit later.
    case awaitingPayment(StripeOrganizationHint)
    /// A failed payment: raise an alert.
    case paymentFailed(StripeOrganizationHint)
    /// Remember the Stripe customer of an organization (subscription checkout).
    case linkCustomer(StripeOrganizationHint)
    /// A subscription that decides the plan changed state (to the Pro price, or any when no
    /// Pro price is configured); the organization's Stripe customer is remembered too.
    case setPlan(StripeOrganizationHint, plan: Plan, subscription: String)
    /// Refunds of a charge: converge its reversal to the refunded total.
    case refund(StripeOrganizationHint, charge: String, refundedTotal: MicroDollars)
    /// A dispute: converge its reversal to the disputed amount (`reversed`) or to zero (won).
    case dispute(StripeOrganizationHint, dispute: String, amount: MicroDollars, reversed: Bool)
    /// Recorded, nothing moves.
    case ignore(String)
}

public enum StripeDecision {
    /// The event types Plutus acts on (also what `reconcile-webhooks` lists).
    public static let handledTypes = [
        "checkout.session.completed", "checkout.session.async_payment_succeeded", "checkout.session.async_payment_failed",
        "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted",
        "invoice.payment_failed", "charge.refunded", "charge.dispute.created", "charge.dispute.funds_withdrawn",
        "charge.dispute.funds_reinstated", "charge.dispute.closed",
    ]

    public static func action(for event: StripeEvent, settings: StripeSettings) -> StripeAction {
        let object = event.object
        switch event.type {
        case "checkout.session.completed", "checkout.session.async_payment_succeeded":
            return checkout(object, settings: settings, asyncSuccess: event.type.hasSuffix("succeeded"))
        case "checkout.session.async_payment_failed":
            return .paymentFailed(hint(object))
        case "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted":
            return subscription(object, settings: settings, deleted: event.type.hasSuffix("deleted"))
        case "invoice.payment_failed":
            return .paymentFailed(hint(object))
        case "charge.refunded":
            guard let charge = object["id"]?.stringValue else { return .ignore("charge without an id") }
            guard currency(object) == settings.currency else { return .ignore("charge is not in \(settings.currency)") }
            guard let refunded = cents(object["amount_refunded"]) else { return .ignore("amount_refunded is not a sane amount") }
            return .refund(hint(object), charge: charge, refundedTotal: refunded)
        case "charge.dispute.created", "charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated",
            "charge.dispute.closed":
            guard let dispute = object["id"]?.stringValue else { return .ignore("dispute without an id") }
            guard let amount = cents(object["amount"]) else { return .ignore("dispute amount is not a sane amount") }
            let won = object["status"]?.stringValue == "won" || event.type == "charge.dispute.funds_reinstated"
            return .dispute(hint(object), dispute: dispute, amount: amount, reversed: !won)
        default:
            return .ignore("unhandled event type")
        }
    }

    private static func checkout(_ session: JSONValue, settings: StripeSettings, asyncSuccess: Bool) -> StripeAction {
        let mode = session["mode"]?.stringValue
        if mode == "subscription" {
            // With no Pro price configured, as the original: a subscription checkout makes the
            // organization Pro. With one, the subscription's own events decide (by its price).
            if settings.proPriceID == nil, let subscription = session["subscription"]?.stringValue ?? session["id"]?.stringValue {
                return .setPlan(hint(session), plan: .pro, subscription: subscription)
            }
            return .linkCustomer(hint(session))
        }
        guard mode == "payment" || session["metadata"]?["kind"]?.stringValue == "credit" else {
            return .ignore("checkout mode \(mode ?? "none") is not a credit purchase")
        }
        guard currency(session) == settings.currency else {
            return .ignore("checkout currency \(currency(session) ?? "none") is not \(settings.currency)")
        }
        // What Stripe collected, never what the client put in metadata.
        guard let amount = cents(session["amount_total"]), amount.isPositive else {
            return .ignore("amount_total is not a positive, sane amount")
        }
        let paid = session["payment_status"]?.stringValue == "paid"
        guard paid || asyncSuccess else { return .awaitingPayment(hint(session)) }
        guard let payment = session["payment_intent"]?.stringValue ?? session["id"]?.stringValue else {
            return .ignore("checkout without a payment reference")
        }
        return .credit(hint(session), amount: amount, payment: payment)
    }

    /// A subscription moves the plan: Pro while it is active or trialing, else Free. With
    /// `proPriceID` set, only a subscription to that price does; with none, every subscription
    /// of the organization does, as in the original.
    private static func subscription(_ subscription: JSONValue, settings: StripeSettings, deleted: Bool) -> StripeAction {
        guard let id = subscription["id"]?.stringValue else { return .ignore("subscription without an id") }
        if let proPrice = settings.proPriceID {
            var prices: [String] = []
            if case .array(let items)? = subscription["items"]?["data"] {
                prices = items.compactMap { $0["price"]?["id"]?.stringValue }
            }
            guard prices.contains(proPrice) else { return .ignore("subscription is not for the Pro price") }
        }
        let status = subscription["status"]?.stringValue ?? ""
        let active = !deleted && (status == "active" || status == "trialing")
        return .setPlan(hint(subscription), plan: active ? .pro : .free, subscription: id)
    }

    private static func hint(_ object: JSONValue) -> StripeOrganizationHint {
        let organization = object["client_reference_id"]?.stringValue ?? object["metadata"]?["plutus_org_id"]?.stringValue
        return StripeOrganizationHint(
            organization: organization, customer: object["customer"]?.stringValue,
            paymentIntent: object["payment_intent"]?.stringValue)
    }

    private static func currency(_ object: JSONValue) -> String? { object["currency"]?.stringValue?.lowercased() }

    /// Integer cents → micro-dollars; `nil` for anything else or beyond the credit limit.
    static func cents(_ value: JSONValue?) -> MicroDollars? {
        guard case .number(let text)? = value, let cents = Int64(text), cents >= 0,
            let amount = MicroDollars.cents(cents), amount <= Limits.creditAmountMax
        else { return nil }
        return amount
    }
}
