import PlutusCore
import Testing

@Suite("Budgets: which cover a spend, which refuse it, when they reset and alert, what a request may say")
struct BudgetsTests {
    static let noon = Timestamp.parseISO8601("2026-11-20T12:00:00Z")!
    static func dollars(_ text: String) -> MicroDollars { try! MicroDollars.parse(text).get() }
    static func budget(
        _ scope: BudgetScope, _ scopeID: String = "", limit: String = "10", period: BudgetPeriod = .month,
        mode: BudgetMode = .hard, alertAt: [Int] = Budgets.defaultAlertAt
    ) -> Budget {
        Budget(
            id: BudgetID(rawValue: "bgt_00000000000000\(scope.rawValue.prefix(2))"),
            organizationID: OrganizationID(rawValue: "org_00000000000000aa"), scope: scope, scopeID: scopeID,
            label: scopeID.isEmpty ? "Acme" : scopeID, limit: dollars(limit), period: period, mode: mode, alertAt: alertAt,
            createdAt: noon)
    }
    static func standing(_ budget: Budget, spent: String, held: String = "0") -> BudgetStanding {
        BudgetStanding(
            budget: budget, spent: dollars(spent), held: dollars(held), periodStart: budget.period.start(at: noon),
            resetsAt: budget.period.resetsAt(noon))
    }

    @Test func eachScopeCoversWhatItNames() {
        let subject = BudgetSubject(
            workspaceID: WorkspaceID(rawValue: "ws_1"), apiKeyID: APIKeyID(rawValue: "key_1"), taskType: "chat", runID: "r1")
        #expect(Self.budget(.org).covers(subject))
        #expect(Self.budget(.workspace, "ws_1").covers(subject) && !Self.budget(.workspace, "ws_2").covers(subject))
        #expect(Self.budget(.key, "key_1").covers(subject) && !Self.budget(.key, "key_2").covers(subject))
        #expect(Self.budget(.task, "chat").covers(subject) && !Self.budget(.task, "code").covers(subject))
        #expect(Self.budget(.run, "r1").covers(subject) && !Self.budget(.run, "r2").covers(subject))
        #expect(!Self.budget(.workspace, "ws_1").covers(BudgetSubject()))
    }

    /// (spent, held, amount) against a $10 hard budget.
    @Test(arguments: [
        ("6", "0", "4", true), ("6", "0", "4.000001", false), ("6", "3", "1", true), ("6", "3", "1.01", false),
        ("12", "0", "0", false), ("0", "0", "10", true),
    ])
    func aHardBudgetRefusesOnlyPastItsLimit(spent: String, held: String, amount: String, fits: Bool) {
        let refusal = Budgets.refusal([Self.standing(Self.budget(.org), spent: spent, held: held)], amount: Self.dollars(amount))
        #expect((refusal == nil) == fits)
    }

    @Test func softBudgetsNeverRefuseAndTheWidestHardLayerIsNamed() {
        let soft = Self.standing(Self.budget(.org, mode: .soft), spent: "100")
        #expect(Budgets.refusal([soft], amount: Self.dollars("1")) == nil)
        let run = Self.standing(Self.budget(.run, "r1"), spent: "10")
        let workspace = Self.standing(Self.budget(.workspace, "ws_1"), spent: "10")
        let refusal = Budgets.refusal([run, workspace, soft], amount: Self.dollars("1"))
        #expect(refusal?.standing.budget.scope == .workspace)
        #expect(
            refusal?.sentence
                == "budget exceeded: workspace ws_1, $10.00 monthly, spent $10.00, this call $1.00, resets 2026-12-01T00:00:00Z")
    }

    @Test func periodsStartAndReset() {
        #expect(BudgetPeriod.day.start(at: Self.noon) == Timestamp.parseISO8601("2026-11-20T00:00:00Z"))
        #expect(BudgetPeriod.day.resetsAt(Self.noon) == Timestamp.parseISO8601("2026-11-21T00:00:00Z"))
        #expect(BudgetPeriod.month.start(at: Self.noon) == Timestamp.parseISO8601("2026-11-01T00:00:00Z"))
        #expect(BudgetPeriod.month.resetsAt(Self.noon) == Timestamp.parseISO8601("2026-12-01T00:00:00Z"))
        #expect(BudgetPeriod.total.start(at: Self.noon) == Timestamp(rawValue: 0))
        #expect(BudgetPeriod.total.resetsAt(Self.noon) == nil)
        let december = Timestamp.parseISO8601("2026-12-31T23:59:59.999Z")!
        #expect(BudgetPeriod.month.resetsAt(december) == Timestamp.parseISO8601("2027-01-01T00:00:00Z"))
    }

    /// The highest threshold reached, named once per budget, threshold and period.
    @Test(
        arguments: [
            ("7.99", nil), ("8", "budget_warn"), ("9.5", "budget_warn"), ("10", "budget_cap"), ("25", "budget_cap"),
        ] as [(String, String?)])
    func alertsAtThresholds(spent: String, kind: String?) {
        let budget = Self.budget(.workspace, "ws_1", alertAt: [800, 900, 1_000])
        let draft = Budgets.alert(Self.standing(budget, spent: spent), at: Self.noon)
        #expect(draft?.kind.rawValue == kind)
        #expect(draft.map { $0.period == "2026-11" && $0.workspaceID == WorkspaceID(rawValue: "ws_1") } ?? true)
        if spent == "10" { #expect(draft?.message == "Workspace 'ws_1' over budget: $10.00 / $10.00 (100%)") }
        if spent == "9.5" { #expect(draft?.subject == "\(budget.id.rawValue):900") }
    }

    @Test func aRequestWithEveryFieldAndItsDefaults() throws {
        let full = try BudgetValidation.validate(
            try JSONValue.parse(
                #"{"org_id": "acme", "scope": "workspace", "scope_id": "research", "limit_usd": 400, "period": "day", "mode": "soft", "alert_at": [1.0, 0.5, 0.5]}"#
            ))
        #expect(
            full
                == BudgetInput(
                    scope: .workspace, scopeReference: "research", limit: Self.dollars("400"), period: .day, mode: .soft,
                    alertAt: [500, 1_000]))
        let least = try BudgetValidation.validate(try JSONValue.parse(#"{"scope": "org", "limit_usd": "25.5"}"#))
        #expect(least == BudgetInput(scope: .org, scopeReference: "", limit: Self.dollars("25.5")))
        #expect(least.period == .month && least.mode == .hard && least.alertAt == [800, 900, 1_000])
    }

    @Test(arguments: [
        (#"{"limit_usd": 1}"#, "scope"), (#"{"scope": "team", "limit_usd": 1}"#, "scope"),
        (#"{"scope": "workspace", "limit_usd": 1}"#, "scope_id"),
        (#"{"scope": "run", "scope_id": " ", "limit_usd": 1}"#, "scope_id"),
        (#"{"scope": "org"}"#, "limit_usd"), (#"{"scope": "org", "limit_usd": 0}"#, "limit_usd"),
        (#"{"scope": "org", "limit_usd": 10000000.01}"#, "limit_usd"),
        (#"{"scope": "org", "limit_usd": 1, "period": "week"}"#, "period"),
        (#"{"scope": "org", "limit_usd": 1, "mode": "strict"}"#, "mode"),
        (#"{"scope": "org", "limit_usd": 1, "alert_at": [0]}"#, "alert_at"),
        (#"{"scope": "org", "limit_usd": 1, "alert_at": [0.0005]}"#, "alert_at"),
        (#"{"scope": "org", "limit_usd": 1, "alert_at": 0.8}"#, "alert_at"),
        (#"{"scope": "org", "limit_usd": 1, "limit": 2}"#, "limit"),
    ])
    func badRequestsNameTheField(body: String, field: String) {
        do {
            _ = try BudgetValidation.validate(try! JSONValue.parse(body))
            Issue.record("accepted \(body)")
        } catch {
            #expect(error.field == field, "\(body): \(error.message)")
        }
    }
}
