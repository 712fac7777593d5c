import Foundation
import PlutusCore
import PlutusStore

/// Everything the dashboard template shows, typed: the handler loads the facts, this builds
/// the page from them, the template renders its properties (mustache reads them by name).
struct DashboardPage {
    struct OrganizationChoice {
        let id: String
        let name: String
        let selected: Bool
    }

    struct WorkspaceRef {
        let id: String
        let name: String
    }

    struct Message {
        let time: String
        let message: String
    }

    struct BudgetRow {
        let id: String
        /// "workspace research", with a link to the workspace's view when it is one.
        let layer: String
        let url: String?
        let limit: String
        let mode: String
        let spent: String
        let held: String
        /// Spent and held, in percent of the limit (the meter).
        let percent: Int64
        let state: String
        let resets: String
    }

    struct FeedRow {
        let time: String
        let provider: String
        let model: String
        let task: String
        let workspace: String
        let cost: String
        let estimated: Bool
        let unpriced: Bool
    }

    struct LedgerRow {
        let time: String
        let kind: String
        let reference: String
        let memo: String
        let amount: String
        let amountClass: String
        let balanceAfter: String
    }

    struct KeyRow {
        let id: String
        let name: String
        let prefix: String
        let lastUsed: String
        let revoked: Bool
    }

    struct StripeBox {
        let stripeMode: String
        let topUpMin: String
        let topUpMax: String
        let topUpDefault: String
        let topUp: Bool
        let proPrice: Bool
        let portal: Bool
    }

    let title: String
    let nonce: String
    let csrf: String
    let orgName: String
    let orgID: String
    let plan: String
    let demo: Bool
    let orgs: [OrganizationChoice]
    let workspace: WorkspaceRef?
    let from: String
    let to: String
    let month: String
    let balance: String
    let balanceLabel: String
    /// "$8.00 held by active holds · $2.00 available", when anything is held.
    let held: String?
    let runway: String
    let runwayClass: String
    let mtdSpend: String
    let mtdCalls: String
    let mtdTokens: String
    let rangeSpend: String
    let rangeCalls: String
    let rangeTokens: String
    let burn7: String
    let burnPerDay: String
    let chart: DashboardView.DailyChart
    let balanceChart: DashboardView.BalanceChart
    let breakdowns: [DashboardView.Breakdown]
    let budgets: [BudgetRow]
    let feed: [FeedRow]
    let feedRows: Int
    let feedRefreshSeconds: Int
    let feedWorkspace: String
    let hasAlerts: Bool
    let alerts: [Message]
    let bannerAlerts: [Message]
    let ledger: [LedgerRow]
    let ledgerOlderURL: String?
    let ledgerNewestURL: String?
    let keys: [KeyRow]
    /// Whether the visitor's role shows the key forms, and the budget forms.
    let manageKeys: Bool
    let manageBudgets: Bool
    /// The signed-in person, for the header's sign-out forms; `nil` for the operator.
    let person: Person?
    let nameBytesMax: Int
    let stripe: StripeBox?
    let statementURL: String
    let membersURL: String
    /// For admins and owners.
    let auditURL: String?
    let allWorkspacesURL: String
    let version: String
    let catalogVersion: String
    let catalogAsOf: String
    let generated: String

    /// What the page is built from: the store's answers for one organization and range.
    struct Facts {
        var organization: Organization
        var all: [OrganizationListing]
        var workspaces: [Workspace]
        var workspace: Workspace?
        var days: ClosedRange<CivilDay>
        var now: Timestamp
        var range: UsageSummary
        var month: UsageSummary
        var trailing: UsageSummary
        var monthByWorkspace: UsageSummary
        var balance: MicroDollars
        /// Credit set aside by active holds (still in the balance).
        var held: MicroDollars
        /// Every budget in force, with its spend and holds now.
        var budgets: [BudgetStanding]
        var history: CreditHistory
        var feed: [UsageEventRecord]
        var ledger: Page<LedgerEntryRecord>
        var ledgerBefore: Int64?
        var alerts: [AlertRecord]
        var keys: [APIKeyInfo]
        var catalog: PriceCatalog
        /// The visitor's role in the organization (the operator's is owner).
        var role: MemberRole = .owner
        /// The signed-in person's email; `nil` for the operator.
        var email: String? = nil
    }

    struct Person {
        let email: String
        let role: String
    }

    init(_ facts: Facts, configuration: ServerConfiguration, csrf: String, nonce: String) {
        let org = facts.organization
        let workspace = facts.workspace
        let (fromDay, toDay) = (facts.days.lowerBound, facts.days.upperBound)
        func link(_ changes: [String: String?]) -> String {
            var items: [(String, String)] = [("org", org.id.rawValue), ("from", fromDay.text), ("to", toDay.text)]
            if let workspace { items.append(("workspace", workspace.id.rawValue)) }
            for (name, value) in changes {
                items.removeAll { $0.0 == name }
                if let value { items.append((name, value)) }
            }
            return "/?" + items.map { "\($0.0)=\(DashboardView.percentEncoded($0.1))" }.joined(separator: "&")
        }
        let burn = facts.trailing.totals.cost
        let runwayDays = Runway.days(balance: facts.balance, spent: burn, windowDays: DashboardView.burnWindowDays)
        let whose = workspace == nil ? "" : "the organization's "

        title = org.name
        self.nonce = nonce
        self.csrf = csrf
        orgName = org.name
        orgID = org.id.rawValue
        plan = org.plan.displayName
        demo = configuration.demo
        orgs = facts.all.map {
            OrganizationChoice(
                id: $0.organization.id.rawValue, name: $0.organization.name, selected: $0.organization.id == org.id)
        }
        self.workspace = workspace.map { WorkspaceRef(id: $0.id.rawValue, name: $0.name) }
        from = fromDay.text
        to = toDay.text
        month = facts.now.month.text
        balance = DashboardView.money(facts.balance)
        balanceLabel = workspace == nil ? "Credit balance" : "Organization credit balance (shared by its workspaces)"
        held =
            facts.held.isPositive
            ? "\(DashboardView.money(facts.held)) held by active holds · "
                + "\(DashboardView.money(MicroDollars(rawValue: facts.balance.rawValue - facts.held.rawValue))) available"
            : nil
        runway =
            runwayDays.map { $0 == 0 ? "no credit left" : "≈ \(DashboardView.grouped($0)) days of \(whose)runway" }
            ?? "no spend in the last 7 days"
        runwayClass = runwayDays.map { $0 < 7 ? "warn" : "ok" } ?? "muted"
        mtdSpend = DashboardView.money(facts.month.totals.cost)
        mtdCalls = DashboardView.calls(facts.month.totals.events)
        mtdTokens = DashboardView.grouped(facts.month.totals.tokens.tracked)
        rangeSpend = DashboardView.money(facts.range.totals.cost)
        rangeCalls = DashboardView.calls(facts.range.totals.events)
        rangeTokens = DashboardView.grouped(facts.range.totals.tokens.tracked)
        burn7 = DashboardView.money(burn)
        let perDay = MicroDollars(rawValue: burn.rawValue / DashboardView.burnWindowDays)
        burnPerDay = DashboardView.money(perDay)
        chart = DashboardView.DailyChart(facts.range.byDay)
        balanceChart = DashboardView.BalanceChart(
            facts.history, projectFrom: toDay == facts.now.day ? facts.balance : nil, burnPerDay: perDay)
        breakdowns = [
            DashboardView.Breakdown("provider", facts.range.byProvider),
            DashboardView.Breakdown("model", facts.range.byModel),
            DashboardView.Breakdown("workspace", facts.range.byWorkspace) { group in
                group.key.isEmpty ? nil : link(["workspace": group.key, "ledger_before": nil])
            },
            DashboardView.Breakdown("task", facts.range.byTask),
        ]
        budgets = facts.budgets.map { standing in
            let budget = standing.budget
            let used = standing.spent.rawValue + standing.held.rawValue
            let percent = budget.limit.isPositive ? used * 100 / budget.limit.rawValue : 0
            return BudgetRow(
                id: budget.id.rawValue, layer: budget.scope.describe(budget.label),
                url: budget.scope == .workspace ? link(["workspace": budget.scopeID, "ledger_before": nil]) : nil,
                limit: "\(DashboardView.money(budget.limit)) \(budget.period.adjective)", mode: budget.mode.rawValue,
                spent: DashboardView.money(standing.spent), held: DashboardView.money(standing.held), percent: percent,
                state: percent >= DashboardView.budgetWarnPercent ? "warn" : "ok",
                resets: standing.resetsAt.map { DashboardView.time($0) } ?? "never")
        }
        feed = facts.feed.map { event in
            FeedRow(
                time: DashboardView.time(event.timestamp), provider: event.provider,
                model: event.model ?? UsageSummary.noModelLabel, task: event.taskType,
                workspace: event.workspaceName ?? UsageSummary.noWorkspaceLabel, cost: DashboardView.money(event.cost),
                estimated: event.costKind == .estimated, unpriced: event.costKind == .unpriced)
        }
        feedRows = DashboardView.feedRows
        feedRefreshSeconds = DashboardView.feedRefreshSeconds
        feedWorkspace = workspace?.id.rawValue ?? ""
        hasAlerts = !facts.alerts.isEmpty
        alerts = facts.alerts.map { Message(time: DashboardView.time($0.createdAt), message: $0.message) }
        bannerAlerts = Array(alerts.prefix(DashboardView.bannerAlertsShown))
        ledger = facts.ledger.items.map { entry in
            LedgerRow(
                time: DashboardView.time(entry.timestamp), kind: entry.kind.rawValue, reference: entry.reference,
                memo: entry.memo ?? "", amount: DashboardView.money(entry.amount),
                amountClass: entry.amount.isPositive ? "ok" : "", balanceAfter: DashboardView.money(entry.balanceAfter))
        }
        ledgerOlderURL = facts.ledger.nextBefore.map { link(["ledger_before": String($0)]) }
        ledgerNewestURL = facts.ledgerBefore == nil ? nil : link(["ledger_before": nil])
        keys = facts.keys.map { key in
            KeyRow(
                id: key.id.rawValue, name: key.name ?? "(unnamed)", prefix: key.prefix,
                lastUsed: key.lastUsedAt.map(DashboardView.time) ?? "never", revoked: key.revokedAt != nil)
        }
        manageKeys = facts.role.allows(.createKeys)
        manageBudgets = facts.role.allows(.manageBudgets)
        person = facts.email.map { Person(email: $0, role: facts.role.rawValue) }
        nameBytesMax = Limits.nameBytesMax
        stripe = configuration.stripeAPI.map { api in
            let range = configuration.topUpRange
            return StripeBox(
                stripeMode: api.isTestMode ? "test mode" : "live mode", topUpMin: range.lowerBound.decimalString,
                topUpMax: range.upperBound.decimalString,
                topUpDefault: min(max(MicroDollars.dollars(50)!, range.lowerBound), range.upperBound).decimalString,
                topUp: facts.role.allows(.topUp),
                proPrice: configuration.stripe.proPriceID != nil && facts.role.allows(.changePlan),
                portal: org.stripeCustomerID != nil && facts.role.allows(.topUp))
        }
        statementURL = "/report?org=\(DashboardView.percentEncoded(org.id.rawValue))&month=\(facts.now.month.text)&format=html"
        allWorkspacesURL = link(["workspace": nil])
        membersURL = "/members?org=\(DashboardView.percentEncoded(org.id.rawValue))"
        auditURL = facts.role.allows(.viewAudit) ? "/audit?org=\(DashboardView.percentEncoded(org.id.rawValue))" : nil
        version = configuration.version
        catalogVersion = facts.catalog.version
        catalogAsOf = facts.catalog.asOf
        generated = DashboardView.time(facts.now)
    }
}
