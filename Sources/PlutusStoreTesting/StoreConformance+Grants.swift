import PlutusCore
import PlutusStore
import Testing

/// Credit grants with expiry and priority: what every store must do with them.
extension StoreConformance {
    static func credit(
        _ store: some BillingStore, _ org: OrganizationID, _ kind: EntryKind, _ amount: String, reference: String,
        expiresAt: Timestamp? = nil, priority: Int? = nil, at time: Timestamp = now
    ) async throws {
        _ = try await store.postCredit(
            org,
            try CreditMovement(
                kind: kind, amount: dollars(amount), reference: reference, memo: nil, expiresAt: expiresAt, priority: priority,
                now: time), at: time)
    }

    static func remaining(_ store: some BillingStore, _ org: OrganizationID, at time: Timestamp = now) async throws
        -> [String]
    {
        try await store.balance(org, at: time).lots.map { "\($0.kind.rawValue) \($0.remaining.decimalString)" }
    }

    /// Credit is spent grant by grant: lower priority first, then the earliest expiry, then
    /// the oldest; paid top-ups (no priority) last.
    public static func grantsAreSpentInOrder(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await credit(store, org, .topUp, "10", reference: "paid")
        try await credit(store, org, .grant, "5", reference: "late", expiresAt: now.adding(seconds: 10 * 86_400), priority: 10)
        try await credit(store, org, .grant, "5", reference: "soon", expiresAt: now.adding(seconds: 5 * 86_400), priority: 10)
        try await credit(store, org, .grant, "3", reference: "first", priority: 1)
        #expect(try await remaining(store, org) == ["grant 3", "grant 5", "grant 5", "topup 10"])
        #expect(try await spend(store, org, "4").status == .recorded)
        // The priority-1 grant is gone; of the two priority-10 ones the sooner-expiring gave 1.
        let lots = try await store.balance(org, at: now).lots
        #expect(lots.map(\.remaining) == ["4", "5", "10"].map(dollars))
        #expect(lots.first?.expiresAt == now.adding(seconds: 5 * 86_400))
        #expect(try await spend(store, org, "12").status == .recorded)
        #expect(try await remaining(store, org) == ["topup 7"])
        #expect(try await store.balance(org, at: now).balance == dollars("7"))
        #expect(try await store.verify().isClean)
    }

    /// At its expiry what is left of a grant leaves the balance: no read counts it from that
    /// instant and no spend can use it, and one `expiry` entry posts it, once.
    public static func expiredGrantsLeaveTheBalanceOnce(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        let expiry = now.adding(seconds: 3_600)
        try await credit(store, org, .grant, "5", reference: "promo", expiresAt: expiry)
        try await credit(store, org, .topUp, "10", reference: "paid")
        #expect(try await spend(store, org, "2").status == .recorded)  // from the grant: it expires first
        let before = Timestamp(rawValue: expiry.millis - 1)
        #expect(try await store.balance(org, at: before).balance == dollars("13"))
        // From the instant of expiry, before anything is posted: the balance reads 10.
        let at = try await store.balance(org, at: expiry)
        #expect(at.balance == dollars("10") && at.lots.map(\.kind) == [.topUp])
        // A spend then cannot use the expired $3.
        #expect(try await spend(store, org, "10.5", at: expiry).status == .rejected(.overBalance))
        #expect(try await store.expireCredits(at: expiry) == 0, "the spend's transaction expired it already")
        let entries = try await store.ledgerEntries(org, page: PageRequest()).items.filter { $0.kind == .expiry }
        #expect(entries.count == 1 && entries.first?.amount == dollars("-3") && entries.first?.timestamp == expiry)
        let statement = try await store.creditStatement(org, from: now.month.start, to: now.month.end)
        #expect(statement.movements.first { $0.kind == .expiry }?.net == dollars("-3"))
        #expect(statement.closing == dollars("10"))
        #expect(try await store.verify().isClean)
    }

    /// The sweep posts the expiry of quiet organizations' grants, exactly once.
    public static func theSweepExpiresGrantsOnce(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        let expiry = now.adding(seconds: 60)
        try await credit(store, org, .grant, "4", reference: "trial", expiresAt: expiry)
        try await credit(store, org, .grant, "1", reference: "later", expiresAt: now.adding(seconds: 120))
        #expect(try await store.expireCredits(at: Timestamp(rawValue: expiry.millis - 1)) == 0)
        #expect(try await store.expireCredits(at: expiry) == 1)
        #expect(try await store.expireCredits(at: expiry) == 0)
        #expect(try await store.balance(org, at: expiry).balance == dollars("1"))
        #expect(try await store.expireCredits(at: now.adding(seconds: 120)) == 1)
        #expect(try await store.balance(org, at: now.adding(seconds: 120)).balance == .zero)
        #expect(try await store.ledgerEntries(org, page: PageRequest()).items.filter { $0.kind == .expiry }.count == 2)
        #expect(try await store.verify().isClean)
    }

    /// A refund takes back what its payment bought first, whatever the order of spend.
    public static func refundsReverseTheirOwnPayment(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await credit(store, org, .grant, "5", reference: "welcome", priority: 0)
        _ = try await deliver(
            store,
            StripeFixtures.event(
                id: "evt_buy", type: "checkout.session.completed", object: StripeFixtures.checkoutSession(org: org.rawValue)))
        #expect(try await spend(store, org, "3").status == .recorded)  // from the welcome grant
        #expect(try await remaining(store, org) == ["grant 2", "topup 50"])
        let refund = try await deliver(
            store,
            StripeFixtures.event(id: "evt_back", type: "charge.refunded", object: StripeFixtures.charge(refundedCents: 5000)))
        #expect(refund.amount == dollars("-50"))
        #expect(try await remaining(store, org) == ["grant 2"])
        #expect(try await store.balance(org, at: now).balance == dollars("2"))
        #expect(try await store.verify().isClean)
    }

    /// Refunds delivered out of order converge downwards: the later, smaller total puts
    /// money back, as paid credit the lots keep in step with.
    public static func refundsThatPutMoneyBackKeepTheLotsInStep(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        _ = try await deliver(
            store,
            StripeFixtures.event(
                id: "evt_buy", type: "checkout.session.completed", object: StripeFixtures.checkoutSession(org: org.rawValue)))
        let all = try await deliver(
            store,
            StripeFixtures.event(id: "evt_r50", type: "charge.refunded", object: StripeFixtures.charge(refundedCents: 5000)))
        #expect(all.amount == dollars("-50"))
        let less = try await deliver(
            store,
            StripeFixtures.event(id: "evt_r20", type: "charge.refunded", object: StripeFixtures.charge(refundedCents: 2000)))
        #expect(less.amount == dollars("30"))
        #expect(try await store.balance(org, at: now).balance == dollars("30"))
        #expect(try await remaining(store, org) == ["topup 30"])
        #expect(try await store.verify().isClean)
    }

    /// A negative balance is paid back first by the next credit; expiry is refused for paid
    /// credit, priorities are bounded.
    public static func creditAfterADeficitPaysItFirst(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        _ = try await spend(store, org, "4")  // track-only: the balance goes to -4
        try await credit(store, org, .grant, "10", reference: "g1")
        #expect(try await remaining(store, org) == ["grant 6"])
        #expect(throws: CreditMovement.Invalid.self) {
            _ = try CreditMovement(
                kind: .topUp, amount: dollars("1"), reference: "x", memo: nil, expiresAt: now.adding(seconds: 60), now: now)
        }
        #expect(throws: CreditMovement.Invalid.self) {
            _ = try CreditMovement(kind: .grant, amount: dollars("1"), reference: "x", memo: nil, expiresAt: now, now: now)
        }
        #expect(throws: CreditMovement.Invalid.self) {
            _ = try CreditMovement(kind: .grant, amount: dollars("1"), reference: "x", memo: nil, priority: -1)
        }
        #expect(try await store.verify().isClean)
    }
}

/// Rows an install had before budgets and credit lots: an organization with $7 of credit and
/// a workspace with a $150 monthly budget that spent $42 this month and $5 in January 2026.
public enum PreBudgetRows {
    public static let organization = OrganizationID(rawValue: "org_00000000000000aa")
    public static let workspace = WorkspaceID(rawValue: "ws_00000000000000aa")

    /// The statements, in SQL both backends run (`month` is this month's `YYYY-MM`).
    public static func statements(month: String) -> [String] {
        let org = organization.rawValue
        let ws = workspace.rawValue
        return [
            "INSERT INTO organizations(id, name, slug, plan, created_at) VALUES ('\(org)', 'Acme', 'acme', 'pro', 1700000000000)",
            """
            INSERT INTO accounts(org_id, code, balance_micros) VALUES ('\(org)', 'credit', 7000000), ('\(org)', 'usage', 0),
                ('\(org)', 'stripe', -7000000), ('\(org)', 'grants', 0), ('\(org)', 'adjustments', 0)
            """,
            """
            INSERT INTO workspaces(id, org_id, name, slug, monthly_budget_micros, created_at)
            VALUES ('\(ws)', '\(org)', 'ci', 'ci', 150000000, 1700000000000)
            """,
            """
            INSERT INTO usage_months(org_id, workspace_id, month, tokens, cost_micros, events)
            VALUES ('\(org)', '\(ws)', '\(month)', 100, 42000000, 3), ('\(org)', '\(ws)', '2026-01', 10, 5000000, 1)
            """,
        ]
    }

    /// After the migrations: the workspace's monthly budget is a soft monthly budget of it
    /// with this month's spend, and the balance is one opening credit.
    public static func expectMigrated(_ store: some BillingStore, now: Timestamp) async throws {
        let standings = try await store.budgets(organization, at: now, includingDisabled: false)
        #expect(standings.count == 1)
        #expect(standings.first?.budget.scope == .workspace && standings.first?.budget.scopeID == workspace.rawValue)
        #expect(standings.first?.budget.mode == .soft && standings.first?.budget.alertAt == [500, 800, 1_000])
        #expect(standings.first?.budget.limit == MicroDollars(rawValue: 150_000_000))
        #expect(standings.first?.spent == MicroDollars(rawValue: 42_000_000))
        let balance = try await store.balance(organization, at: now)
        #expect(balance.balance == MicroDollars(rawValue: 7_000_000))
        #expect(balance.lots.map(\.kind) == [.opening] && balance.lots.first?.remaining == MicroDollars(rawValue: 7_000_000))
    }
}
