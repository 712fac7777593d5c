import PlutusCore
import Testing

@Suite("Metering decisions: hard stop, free tier, exemptions, workspace folding")
struct MeteringTests {
    static func snapshot(
        plan: Plan = .pro, balance: Int64, everCredited: Bool = true, exempt: Bool = false, monthTokens: Int64 = 0
    ) -> OrganizationSnapshot {
        OrganizationSnapshot(
            plan: plan, balance: MicroDollars(rawValue: balance), everCredited: everCredited, hardStopExempt: exempt,
            monthTrackedTokens: monthTokens)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var snapshot: OrganizationSnapshot
        var tokens: Int64 = 0
        var cost: Int64
        var policy = MeteringPolicy()
        var expected: MeteringDecision
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "drain to exactly zero is allowed", snapshot: snapshot(balance: 5_000_000), cost: 5_000_000,
            expected: .record(balanceAfter: .zero, overFreeLimit: false)),
        Case(
            name: "one micro over is refused", snapshot: snapshot(balance: 5_000_000), cost: 5_000_001,
            expected: .reject(.overBalance)),
        Case(
            name: "zero cost at zero balance is recorded", snapshot: snapshot(balance: 0), cost: 0,
            expected: .record(balanceAfter: .zero, overFreeLimit: false)),
        Case(
            name: "below zero even a free call is refused (balance − cost < 0)", snapshot: snapshot(balance: -1), cost: 0,
            expected: .reject(.overBalance)),
        Case(
            name: "never-credited org is track-only", snapshot: snapshot(balance: -3_000_000, everCredited: false),
            cost: 2_000_000, expected: .record(balanceAfter: MicroDollars(rawValue: -5_000_000), overFreeLimit: false)),
        Case(
            name: "exempt org runs negative", snapshot: snapshot(balance: 1, exempt: true), cost: 2,
            expected: .record(balanceAfter: MicroDollars(rawValue: -1), overFreeLimit: false)),
        Case(
            name: "hard stop off records anyway", snapshot: snapshot(balance: 0), cost: 10,
            policy: MeteringPolicy(blockOverBalance: false),
            expected: .record(balanceAfter: MicroDollars(rawValue: -10), overFreeLimit: false)),
        Case(
            name: "free tier: crossing event lands and is flagged",
            snapshot: snapshot(plan: .free, balance: 0, everCredited: false, monthTokens: 9_999), tokens: 5, cost: 0,
            policy: MeteringPolicy(blockOverFreeLimit: true), expected: .record(balanceAfter: .zero, overFreeLimit: true)),
        Case(
            name: "free tier: reaching the limit exactly is flagged",
            snapshot: snapshot(plan: .free, balance: 0, everCredited: false, monthTokens: 9_000), tokens: 1_000, cost: 0,
            policy: MeteringPolicy(blockOverFreeLimit: true), expected: .record(balanceAfter: .zero, overFreeLimit: true)),
        Case(
            name: "free tier: at the limit the next event is refused",
            snapshot: snapshot(plan: .free, balance: 0, everCredited: false, monthTokens: 10_000), tokens: 1, cost: 0,
            policy: MeteringPolicy(blockOverFreeLimit: true), expected: .reject(.overFreeLimit)),
        Case(
            name: "free tier: without the block it is recorded and flagged",
            snapshot: snapshot(plan: .free, balance: 0, everCredited: false, monthTokens: 10_000), tokens: 1, cost: 0,
            expected: .record(balanceAfter: .zero, overFreeLimit: true)),
        Case(
            name: "free tier block is decided before the hard stop",
            snapshot: snapshot(plan: .free, balance: 0, monthTokens: 10_000), tokens: 1, cost: 5,
            policy: MeteringPolicy(blockOverFreeLimit: true), expected: .reject(.overFreeLimit)),
        Case(
            name: "pro has no token limit", snapshot: snapshot(plan: .pro, balance: 10, monthTokens: 10_000_000),
            tokens: 1, cost: 0, policy: MeteringPolicy(blockOverFreeLimit: true),
            expected: .record(balanceAfter: MicroDollars(rawValue: 10), overFreeLimit: false)),
        Case(
            name: "a balance that would overflow is refused, not trapped",
            snapshot: snapshot(balance: Int64.min + 5, everCredited: false), cost: 10, expected: .reject(.overBalance)),
    ]

    @Test(arguments: cases)
    func decides(_ testCase: Case) {
        let tokens = TokenCounts(input: testCase.tokens)
        #expect(
            Metering.decide(
                snapshot: testCase.snapshot, tokens: tokens, cost: MicroDollars(rawValue: testCase.cost),
                policy: testCase.policy) == testCase.expected)
    }

    @Test func workspacesFoldIntoTheEarliestAtThePlanCap() {
        #expect(Metering.chooseWorkspace(found: true, workspaceCount: 5, plan: .free) == .existing)
        #expect(Metering.chooseWorkspace(found: false, workspaceCount: 0, plan: .free) == .create)
        #expect(Metering.chooseWorkspace(found: false, workspaceCount: 1, plan: .free) == .foldIntoEarliest)
        #expect(Metering.chooseWorkspace(found: false, workspaceCount: 9, plan: .pro) == .create)
        #expect(Metering.chooseWorkspace(found: false, workspaceCount: 10, plan: .pro) == .foldIntoEarliest)
        #expect(Metering.chooseWorkspace(found: false, workspaceCount: 10_000, plan: .enterprise) == .create)
    }

    @Test func plansCarryTheReferenceLimits() {
        #expect(Plan.free.trackedTokensPerMonth == 10_000 && Plan.free.workspacesMax == 1)
        #expect(Plan.pro.trackedTokensPerMonth == nil && Plan.pro.workspacesMax == 10)
        #expect(Plan.pro.monthlyPrice == MicroDollars.dollars(20))
        #expect(Plan.enterprise.workspacesMax == nil && Plan.enterprise.monthlyPrice == nil)
        #expect(Plan(rawValue: "platinum") == nil)
    }
}

@Suite("Alerts raised by metering")
struct AlertTests {
    let policy = MeteringPolicy(lowBalanceThreshold: MicroDollars.dollars(10)!)
    let noon = Timestamp.parseISO8601("2026-11-25T12:00:00Z")!

    @Test func balanceAlertsOnlyForOrgsThatHeldCredit() {
        let low = Alerting.balanceAlert(balanceAfter: MicroDollars.dollars(10)!, everCredited: true, policy: policy, at: noon)
        #expect(low?.kind == .lowBalance)
        #expect(low?.message == "Low credit balance: $10.00 (threshold $10.00)")
        #expect(low?.period == "2026-11-25")
        #expect(
            Alerting.balanceAlert(balanceAfter: MicroDollars(rawValue: 10_000_001), everCredited: true, policy: policy, at: noon)
                == nil)
        #expect(
            Alerting.balanceAlert(balanceAfter: .zero, everCredited: true, policy: policy, at: noon)?.kind == .balanceExhausted)
        #expect(
            Alerting.balanceAlert(balanceAfter: MicroDollars.dollars(-3)!, everCredited: true, policy: policy, at: noon)?.message
                == "Credit exhausted: balance -$3.00")
        #expect(Alerting.balanceAlert(balanceAfter: .zero, everCredited: false, policy: policy, at: noon) == nil)
    }

    @Test func quotaAlertsNearAndOver() {
        let month = CivilMonth(year: 2026, month: 11)
        #expect(Alerting.quotaAlert(plan: .free, tokensAfter: 7_499, policy: policy, month: month) == nil)
        #expect(Alerting.quotaAlert(plan: .free, tokensAfter: 7_500, policy: policy, month: month)?.kind == .freeTierNear)
        #expect(Alerting.quotaAlert(plan: .free, tokensAfter: 10_000, policy: policy, month: month)?.kind == .freeTierOver)
        #expect(Alerting.quotaAlert(plan: .pro, tokensAfter: 1_000_000, policy: policy, month: month) == nil)
    }
}

@Suite("Ledger vocabulary and credit movements")
struct LedgerTests {
    @Test func everyKindMovesBetweenTheOrgCreditAndItsCounterAccount() {
        let plus = MicroDollars(rawValue: 5)
        let minus = MicroDollars(rawValue: -5)
        #expect(EntryKind.usage.accounts(signedAmount: minus) == (debit: .credit, credit: .usage))
        #expect(EntryKind.topUp.accounts(signedAmount: plus) == (debit: .stripe, credit: .credit))
        #expect(EntryKind.grant.accounts(signedAmount: plus) == (debit: .grants, credit: .credit))
        #expect(EntryKind.adjustment.accounts(signedAmount: minus) == (debit: .credit, credit: .adjustments))
        #expect(EntryKind.refund.accounts(signedAmount: minus) == (debit: .credit, credit: .stripe))
    }

    @Test(arguments: [
        (EntryKind.topUp, Int64(0), "amount"), (.topUp, -1, "amount"), (.grant, -5, "amount"), (.adjustment, 0, "amount"),
        (.usage, 5, "kind"), (.grant, 10_000_000_000_001, "amount"), (.adjustment, -10_000_000_000_001, "amount"),
    ])
    func refusesBadMovements(kind: EntryKind, micros: Int64, field: String) {
        #expect(throws: CreditMovement.Invalid.self) {
            try CreditMovement(kind: kind, amount: MicroDollars(rawValue: micros), reference: "r", memo: nil)
        }
        do {
            _ = try CreditMovement(kind: kind, amount: MicroDollars(rawValue: micros), reference: "r", memo: nil)
        } catch {
            #expect(error.field == field)
        }
    }

    @Test func acceptsBoundaryMovementsAndTrimsTheReference() throws {
        let max = try CreditMovement(kind: .grant, amount: Limits.creditAmountMax, reference: "  r1 ", memo: nil)
        #expect(max.reference == "r1")
        _ = try CreditMovement(kind: .adjustment, amount: MicroDollars(rawValue: -1), reference: "r", memo: "fix")
        #expect(throws: CreditMovement.Invalid.self) {
            try CreditMovement(kind: .grant, amount: MicroDollars(rawValue: 1), reference: "   ", memo: nil)
        }
        #expect(throws: CreditMovement.Invalid.self) {
            try CreditMovement(
                kind: .grant, amount: MicroDollars(rawValue: 1), reference: String(repeating: "r", count: 256), memo: nil)
        }
    }
}
