import PlutusCore
import PlutusStore
import Testing

@Suite("StripeEffects: every Stripe rule decided once, from in-memory facts")
struct StripeEffectsTests {
    static let org = Organization(
        id: OrganizationID(rawValue: "org_00000000000000aa"), name: "Acme", slug: "acme", plan: .free, hardStopExempt: false,
        everCredited: false, stripeCustomerID: nil, createdAt: Timestamp(rawValue: 0))
    static let event = StripeEvent(id: "evt_1", type: "test", created: 1_000, object: .null)
    static let time = Timestamp.parseISO8601("2026-11-20T12:00:00Z")!
    static let hint = StripeOrganizationHint(organization: "acme", customer: "cus_1", paymentIntent: "pi_1")

    static func dollars(_ text: String) -> MicroDollars { try! MicroDollars.parse(text).get() }
    static func topUp(_ amount: String) -> StripeEffects.TopUp { .init(organizationID: org.id, amount: dollars(amount)) }

    func decide(_ action: StripeAction, _ facts: StripeEffects.Facts) -> StripeEffects.WritePlan {
        StripeEffects.decide(action, event: Self.event, at: Self.time, facts: facts)
    }

    @Test func theQuestionsFollowTheAction() {
        #expect(
            StripeEffects.questions(for: .credit(Self.hint, amount: Self.dollars("5"), payment: "pi_1")).topUpOfPayment == "pi_1")
        #expect(StripeEffects.questions(for: .setPlan(Self.hint, plan: .pro, subscription: "sub_1")).planEventCreated)
        let refund = StripeEffects.questions(for: .refund(Self.hint, charge: "ch_1", refundedTotal: .zero))
        #expect(refund.organization == nil && refund.topUpOfPayment == "pi_1" && refund.reversed?.key == "ch_1")
        #expect(
            StripeEffects.questions(for: .ignore("x"))
                == .init(organization: nil, topUpOfPayment: nil, planEventCreated: false, reversed: nil))
    }

    @Test func aPaymentCreditsOnceAndLinksTheCustomer() {
        let credit = StripeAction.credit(Self.hint, amount: Self.dollars("25"), payment: "pi_1")
        let first = decide(credit, .init(organization: Self.org))
        #expect(first.outcome.status == .credited && first.outcome.amount == Self.dollars("25"))
        #expect(
            first.writes == [
                .linkCustomer(Self.org.id, customer: "cus_1"),
                .post(
                    Self.org.id, kind: .topUp, signedAmount: Self.dollars("25"), externalReference: "pi_1",
                    memo: "Stripe checkout",
                    marksCredited: true),
            ])
        let again = decide(credit, .init(organization: Self.org, topUp: Self.topUp("25")))
        #expect(again.outcome.status == .alreadyCredited && !again.writes.contains { if case .post = $0 { true } else { false } })
        #expect(decide(credit, .init()).outcome.status == .unmapped)
    }

    @Test(
        arguments: [
            // refunded total, top-up, reversed so far → status, signed amount posted
            ("20", "50", "0", StripeOutcome.Status.refunded, "-20"),
            ("50", "50", "20", .refunded, "-30"),
            ("50", "50", "50", .noop, nil),
            ("80", "50", "0", .refunded, "-50"),  // never more than the credit bought
        ] as [(String, String, String, StripeOutcome.Status, String?)])
    func refundsConvergeToTheRefundedTotal(
        refunded: String, bought: String, soFar: String, status: StripeOutcome.Status, posted: String?
    ) {
        let plan = decide(
            .refund(Self.hint, charge: "ch_1", refundedTotal: Self.dollars(refunded)),
            .init(topUp: Self.topUp(bought), reversedSoFar: Self.dollars(soFar)))
        #expect(plan.outcome.status == status)
        #expect(plan.outcome.amount == posted.map(Self.dollars))
    }

    @Test func disputesReverseAndAWonDisputePutsTheMoneyBack() {
        let lost = decide(
            .dispute(Self.hint, dispute: "dp_1", amount: Self.dollars("50"), reversed: true), .init(topUp: Self.topUp("50")))
        #expect(lost.outcome.status == .disputed && lost.outcome.amount == Self.dollars("-50"))
        let won = decide(
            .dispute(Self.hint, dispute: "dp_1", amount: Self.dollars("50"), reversed: false),
            .init(topUp: Self.topUp("50"), reversedSoFar: Self.dollars("50")))
        #expect(won.outcome.status == .restored && won.outcome.amount == Self.dollars("50"))
        let notCredit = decide(.dispute(Self.hint, dispute: "dp_2", amount: Self.dollars("5"), reversed: true), .init())
        #expect(notCredit.outcome.status == .notACreditPurchase && notCredit.writes.isEmpty)
    }

    @Test func plansMoveForwardOnlyAndNeverOverAPlanSetByHand() {
        let subscribe = StripeAction.setPlan(Self.hint, plan: .pro, subscription: "sub_1")
        let set = decide(subscribe, .init(organization: Self.org, planEventCreated: 999))
        #expect(
            set.outcome.status == .planSet
                && set.writes.contains(.setPlan(Self.org.id, .pro, subscription: "sub_1", created: 1_000)))
        #expect(decide(subscribe, .init(organization: Self.org, planEventCreated: 1_001)).outcome.status == .stale)
        var team = Self.org
        team.plan = .team
        let byHand = decide(subscribe, .init(organization: team))
        #expect(byHand.outcome.status == .ignored && !byHand.writes.contains { if case .setPlan = $0 { true } else { false } })
    }

    @Test func otherActionsSayWhatHappened() {
        #expect(
            decide(.ignore("unhandled event type"), .init()).outcome
                == StripeOutcome(status: .ignored, detail: "unhandled event type"))
        #expect(decide(.awaitingPayment(Self.hint), .init(organization: Self.org)).outcome.status == .awaitingPayment)
        let failed = decide(.paymentFailed(Self.hint), .init(organization: Self.org))
        #expect(failed.outcome.status == .paymentFailed && failed.writes.count == 1)
        #expect(
            decide(.linkCustomer(Self.hint), .init(organization: Self.org)).writes == [
                .linkCustomer(Self.org.id, customer: "cus_1")
            ])
        var linked = Self.org
        linked.stripeCustomerID = "cus_0"
        #expect(
            decide(.linkCustomer(Self.hint), .init(organization: linked)).writes.isEmpty, "a customer once kept is not replaced")
    }
}
