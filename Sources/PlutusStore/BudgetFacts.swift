import PlutusCore

/// What active holds set aside, grouped by what they are attributed to, as a store reads it
/// (one grouped query); each budget's share is summed here, by the budget's own rule.
public struct HeldBySubject: Sendable, Equatable {
    public var rows: [(subject: BudgetSubject, amount: MicroDollars)]

    public init(rows: [(subject: BudgetSubject, amount: MicroDollars)]) {
        self.rows = rows
    }

    public static func == (lhs: HeldBySubject, rhs: HeldBySubject) -> Bool {
        lhs.rows.elementsEqual(rhs.rows) { $0.subject == $1.subject && $0.amount == $1.amount }
    }

    /// What the active holds a budget covers set aside.
    public func held(for budget: Budget) -> MicroDollars {
        MicroDollars(rawValue: rows.reduce(Int64(0)) { $0 + (budget.covers($1.subject) ? $1.amount.rawValue : 0) })
    }
}

/// A request to create a budget, validated; `scopeReference` is what the caller named (a
/// workspace's id, slug or name, an API key's id, a task type, a run id).
public struct BudgetRequest: Sendable, Equatable {
    public var organizationID: OrganizationID
    public var scope: BudgetScope
    public var scopeReference: String
    public var limit: MicroDollars
    public var period: BudgetPeriod
    public var mode: BudgetMode
    public var alertAt: [Int]

    public init(
        organizationID: OrganizationID, scope: BudgetScope, scopeReference: String, limit: MicroDollars,
        period: BudgetPeriod, mode: BudgetMode, alertAt: [Int] = Budgets.defaultAlertAt
    ) {
        self.organizationID = organizationID
        self.scope = scope
        self.scopeReference = scopeReference
        self.limit = limit
        self.period = period
        self.mode = mode
        self.alertAt = alertAt
    }
}

/// The workspace a spend or hold is attributed to without creating one: the one it names, or
/// the organization's earliest when the plan's cap is reached (where a new name would fold);
/// nil when the name would create a new workspace, which no budget covers yet.
public enum WorkspaceAttribution {
    public static func resolve(
        _ reference: String?, plan: Plan, find: (String) throws -> Workspace?, count: () throws -> Int,
        earliest: () throws -> Workspace?
    ) rethrows -> Workspace? {
        guard let reference else { return nil }
        if let found = try find(reference) { return found }
        switch Metering.chooseWorkspace(found: false, workspaceCount: try count(), plan: plan) {
        case .foldIntoEarliest: return try earliest()
        case .existing, .create: return nil
        }
    }
}

extension Budget {
    /// A workspace's monthly budget, as `workspace create --budget` sets it: soft, alerting at
    /// 50, 80 and 100 %.
    public static func workspaceMonthly(_ workspace: Workspace, limit: MicroDollars, at time: Timestamp) -> Budget {
        Budget(
            id: .random(), organizationID: workspace.organizationID, scope: .workspace, scopeID: workspace.id.rawValue,
            label: workspace.name, limit: limit, period: .month, mode: .soft, alertAt: [500, 800, 1_000], createdAt: time)
    }

    /// `alert_at` as stored: thousandths, comma-separated.
    public var alertAtText: String { alertAt.map(String.init).joined(separator: ",") }

    public static func alertAt(stored text: String) throws -> [Int] {
        let values = text.split(separator: ",").map { Int($0) }
        guard values.allSatisfy({ $0 != nil }) else {
            throw StoreError.unknownStoredValue(column: "budgets.alert_at", value: text)
        }
        return values.map { $0! }
    }
}

extension BudgetRequest {
    /// A validated request body, for this organization.
    public init(organizationID: OrganizationID, _ input: BudgetInput) {
        self.init(
            organizationID: organizationID, scope: input.scope, scopeReference: input.scopeReference, limit: input.limit,
            period: input.period, mode: input.mode, alertAt: input.alertAt)
    }

    /// The budget this request makes, once its scope is resolved to `scopeID` and `label`.
    public func budget(scopeID: String, label: String, at time: Timestamp) -> Budget {
        Budget(
            id: .random(), organizationID: organizationID, scope: scope, scopeID: scopeID, label: label, limit: limit,
            period: period, mode: mode, alertAt: alertAt, createdAt: time)
    }
}

extension Budget {
    /// What a new budget's current period has already spent can be read from the daily
    /// rollup for budgets on the organization, a workspace or a task type (by the events'
    /// own time); events do not keep their API key or run, so budgets on those count from
    /// their creation. The rollup filters: the workspace and the task type to match, "" for any.
    public var rollupFilter: (workspace: String, task: String)? {
        switch scope {
        case .org: ("", "")
        case .workspace: (scopeID, "")
        case .task: ("", scopeID)
        case .key, .run: nil
        }
    }
}
