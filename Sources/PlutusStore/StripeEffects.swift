import PlutusCore

/// What applying one Stripe action does, decided once for every store. A store answers the
/// questions of `questions(for:)` inside the transaction that claims the event (locking the
/// organization's accounts before it reads money), then writes the plan `decide` returns.
///
/// The rules: a payment credits once (by its payment intent); a refund or dispute reverses
/// only credit bought with that payment, converging the net reversal under the charge or
/// dispute id to its target, so repeated or overlapping events never reverse twice and a won
/// dispute puts the money back; a subscription never moves a plan set by hand (team,
/// enterprise) and never goes back in Stripe's event order.
public enum StripeEffects {
    /// What a store reads for an action, in this order.
    public struct Questions: Sendable, Equatable {
        /// The organization the event names (id, slug or name), else the one with its customer.
        public var organization: StripeOrganizationHint?
        /// The top-up entry of this payment, if any.
        public var topUpOfPayment: String?
        /// The `created` time of the last subscription event applied to the organization.
        public var planEventCreated: Bool
        /// The net amount reversed so far under this entry kind and key, for the top-up's organization.
        public var reversed: (kind: EntryKind, key: String)?

        public init(
            organization: StripeOrganizationHint? = nil, topUpOfPayment: String? = nil, planEventCreated: Bool = false,
            reversed: (kind: EntryKind, key: String)? = nil
        ) {
            self.organization = organization
            self.topUpOfPayment = topUpOfPayment
            self.planEventCreated = planEventCreated
            self.reversed = reversed
        }

        public static func == (lhs: Questions, rhs: Questions) -> Bool {
            lhs.organization == rhs.organization && lhs.topUpOfPayment == rhs.topUpOfPayment
                && lhs.planEventCreated == rhs.planEventCreated && lhs.reversed?.kind == rhs.reversed?.kind
                && lhs.reversed?.key == rhs.reversed?.key
        }
    }

    /// The answers.
    public struct Facts: Sendable, Equatable {
        public var organization: Organization?
        public var topUp: TopUp?
        public var planEventCreated: Int64?
        public var reversedSoFar: MicroDollars

        public init(
            organization: Organization? = nil, topUp: TopUp? = nil, planEventCreated: Int64? = nil,
            reversedSoFar: MicroDollars = .zero
        ) {
            self.organization = organization
            self.topUp = topUp
            self.planEventCreated = planEventCreated
            self.reversedSoFar = reversedSoFar
        }
    }

    /// Credit bought with one payment.
    public struct TopUp: Sendable, Equatable {
        public var organizationID: OrganizationID
        public var amount: MicroDollars

        public init(organizationID: OrganizationID, amount: MicroDollars) {
            self.organizationID = organizationID
            self.amount = amount
        }
    }

    /// One write of a plan.
    public enum Write: Sendable, Equatable {
        /// Remember the organization's Stripe customer (unless another organization has it).
        case linkCustomer(OrganizationID, customer: String)
        /// A ledger entry moving the organization's credit by `signedAmount` (the event's id is
        /// its reference); `marksCredited` records that the organization has held credit.
        case post(
            OrganizationID, kind: EntryKind, signedAmount: MicroDollars, externalReference: String, memo: String,
            marksCredited: Bool)
        case alert(OrganizationID, AlertDraft)
        case setPlan(OrganizationID, Plan, subscription: String, created: Int64)
    }

    public struct WritePlan: Sendable, Equatable {
        public var writes: [Write]
        /// The outcome; the store adds the balance after a `post`.
        public var outcome: StripeOutcome
    }

    public static func questions(for action: StripeAction) -> Questions {
        var questions = Questions()
        switch action {
        case .ignore:
            break
        case .credit(let hint, _, let payment):
            questions.organization = hint
            questions.topUpOfPayment = payment
        case .awaitingPayment(let hint), .paymentFailed(let hint), .linkCustomer(let hint):
            questions.organization = hint
        case .setPlan(let hint, _, _):
            questions.organization = hint
            questions.planEventCreated = true
        case .refund(let hint, let charge, _):
            questions.topUpOfPayment = hint.paymentIntent
            questions.reversed = (.refund, charge)
        case .dispute(let hint, let dispute, _, _):
            questions.topUpOfPayment = hint.paymentIntent
            questions.reversed = (.dispute, dispute)
        }
        return questions
    }

    public static let unmapped = StripeOutcome(
        status: .unmapped, detail: "no organization matches this event; it can be replayed later")

    public static func decide(_ action: StripeAction, event: StripeEvent, at time: Timestamp, facts: Facts) -> WritePlan {
        func link(_ org: Organization, _ customer: String?) -> [Write] {
            guard let customer, org.stripeCustomerID == nil else { return [] }
            return [.linkCustomer(org.id, customer: customer)]
        }
        switch action {
        case .ignore(let reason):
            return WritePlan(writes: [], outcome: StripeOutcome(status: .ignored, detail: reason))
        case .credit(let hint, let amount, let payment):
            guard let org = facts.organization else { return WritePlan(writes: [], outcome: unmapped) }
            if facts.topUp != nil {
                return WritePlan(
                    writes: link(org, hint.customer),
                    outcome: StripeOutcome(
                        status: .alreadyCredited, organizationID: org.id, detail: "payment \(payment) was credited before"))
            }
            return WritePlan(
                writes: link(org, hint.customer) + [
                    .post(
                        org.id, kind: .topUp, signedAmount: amount, externalReference: payment, memo: "Stripe checkout",
                        marksCredited: true)
                ],
                outcome: StripeOutcome(status: .credited, organizationID: org.id, amount: amount))
        case .awaitingPayment:
            return WritePlan(
                writes: [],
                outcome: StripeOutcome(
                    status: .awaitingPayment, organizationID: facts.organization?.id,
                    detail: "no credit until the payment succeeds"))
        case .paymentFailed:
            guard let org = facts.organization else { return WritePlan(writes: [], outcome: unmapped) }
            let draft = AlertDraft(
                kind: .paymentFailed, subject: event.id, period: time.day.text, workspaceID: nil,
                message: "Stripe reported a failed payment.")
            return WritePlan(
                writes: [.alert(org.id, draft)], outcome: StripeOutcome(status: .paymentFailed, organizationID: org.id))
        case .linkCustomer(let hint):
            guard let org = facts.organization else { return WritePlan(writes: [], outcome: unmapped) }
            return WritePlan(
                writes: link(org, hint.customer), outcome: StripeOutcome(status: .customerLinked, organizationID: org.id))
        case .setPlan(let hint, let plan, let subscription):
            guard let org = facts.organization else { return WritePlan(writes: [], outcome: unmapped) }
            let linked = link(org, hint.customer)
            guard org.plan == .free || org.plan == .pro else {
                return WritePlan(
                    writes: linked,
                    outcome: StripeOutcome(
                        status: .ignored, organizationID: org.id, detail: "\(org.plan.rawValue) plan is managed by hand"))
            }
            if let last = facts.planEventCreated, last > event.created {
                return WritePlan(
                    writes: linked,
                    outcome: StripeOutcome(
                        status: .stale, organizationID: org.id, detail: "a newer subscription event was applied"))
            }
            return WritePlan(
                writes: linked + [.setPlan(org.id, plan, subscription: subscription, created: event.created)],
                outcome: StripeOutcome(status: .planSet, organizationID: org.id, detail: plan.rawValue))
        case .refund(_, let charge, let refundedTotal):
            guard let topUp = facts.topUp else {
                return WritePlan(
                    writes: [], outcome: StripeOutcome(status: .notACreditPurchase, detail: "the charge bought no prepaid credit")
                )
            }
            return converge(
                topUp, kind: .refund, key: charge, target: min(refundedTotal, topUp.amount), reversedSoFar: facts.reversedSoFar,
                status: .refunded, memo: "Stripe refund")
        case .dispute(_, let dispute, let amount, let reversed):
            guard let topUp = facts.topUp else {
                return WritePlan(
                    writes: [],
                    outcome: StripeOutcome(status: .notACreditPurchase, detail: "the disputed charge bought no prepaid credit"))
            }
            return converge(
                topUp, kind: .dispute, key: dispute, target: reversed ? min(amount, topUp.amount) : .zero,
                reversedSoFar: facts.reversedSoFar, status: reversed ? .disputed : .restored,
                memo: reversed ? "Stripe dispute" : "Stripe dispute won")
        }
    }

    /// Moves the net reversal under `key` from `reversedSoFar` to `target`.
    static func converge(
        _ topUp: TopUp, kind: EntryKind, key: String, target: MicroDollars, reversedSoFar: MicroDollars,
        status: StripeOutcome.Status, memo: String
    ) -> WritePlan {
        guard let delta = target.subtracting(reversedSoFar), delta != .zero, let signed = delta.negated else {
            return WritePlan(
                writes: [],
                outcome: StripeOutcome(
                    status: .noop, organizationID: topUp.organizationID, detail: "already at \(target.decimalString)"))
        }
        return WritePlan(
            writes: [
                .post(
                    topUp.organizationID, kind: kind, signedAmount: signed, externalReference: key, memo: memo,
                    marksCredited: false)
            ],
            outcome: StripeOutcome(status: status, organizationID: topUp.organizationID, amount: signed))
    }
}
