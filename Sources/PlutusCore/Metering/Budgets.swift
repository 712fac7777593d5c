/// Spending limits an operator sets on an organization or a part of it. Every spend and hold
/// is checked against every budget that covers it, in the transaction of the write.
public enum BudgetScope: String, Sendable, CaseIterable, Comparable {
    case org, workspace, key, task, run

    /// The order budgets are checked and named in: the widest layer first.
    public static func < (lhs: BudgetScope, rhs: BudgetScope) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    /// How an alert starts: "Workspace 'research'", "API key key_…".
    public func subject(_ label: String) -> String {
        switch self {
        case .org: "Organization '\(label)'"
        case .workspace: "Workspace '\(label)'"
        case .key: "API key \(label)"
        case .task: "Task '\(label)'"
        case .run: "Run '\(label)'"
        }
    }

    /// How a refusal names the layer ("workspace research", "API key key_…").
    public func describe(_ label: String) -> String {
        switch self {
        case .org: "organization \(label)"
        case .workspace: "workspace \(label)"
        case .key: "API key \(label)"
        case .task: "task \(label)"
        case .run: "run \(label)"
        }
    }
}

public enum BudgetPeriod: String, Sendable, CaseIterable {
    case day, month, total

    /// When the period holding `time` began (the epoch for `total`).
    public func start(at time: Timestamp) -> Timestamp {
        switch self {
        case .day: time.day.start
        case .month: time.month.start
        case .total: Timestamp(rawValue: 0)
        }
    }

    /// When the period holding `time` ends and spend starts again from zero; nil for `total`.
    public func resetsAt(_ time: Timestamp) -> Timestamp? {
        switch self {
        case .day: time.day.adding(days: 1).start
        case .month: time.month.end
        case .total: nil
        }
    }

    /// "daily", "monthly", "in total", for sentences.
    public var adjective: String {
        switch self {
        case .day: "daily"
        case .month: "monthly"
        case .total: "in total"
        }
    }

    /// The alert period key: the day or month it began, or "total".
    public func key(at time: Timestamp) -> String {
        switch self {
        case .day: time.day.text
        case .month: time.month.text
        case .total: "total"
        }
    }
}

public enum BudgetMode: String, Sendable, CaseIterable {
    /// Refuses what would take spend and holds past the limit.
    case hard
    /// Records, and raises alerts as spend crosses its thresholds.
    case soft
}

public struct BudgetID: PrefixedID {
    public static let prefix = "bgt"
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

/// A budget as stored.
public struct Budget: Sendable, Equatable {
    public var id: BudgetID
    public var organizationID: OrganizationID
    public var scope: BudgetScope
    /// What the scope names, resolved: a workspace id, an API key id, a task type, a run id;
    /// "" for the organization.
    public var scopeID: String
    /// How people know it: the workspace's name, the key's id, the task, the run.
    public var label: String
    public var limit: MicroDollars
    public var period: BudgetPeriod
    public var mode: BudgetMode
    /// Alert thresholds in thousandths of the limit (800 = 80 %), ascending.
    public var alertAt: [Int]
    public var createdAt: Timestamp
    public var disabledAt: Timestamp?

    public init(
        id: BudgetID, organizationID: OrganizationID, scope: BudgetScope, scopeID: String, label: String,
        limit: MicroDollars, period: BudgetPeriod, mode: BudgetMode, alertAt: [Int], createdAt: Timestamp,
        disabledAt: Timestamp? = nil
    ) {
        self.id = id
        self.organizationID = organizationID
        self.scope = scope
        self.scopeID = scopeID
        self.label = label
        self.limit = limit
        self.period = period
        self.mode = mode
        self.alertAt = alertAt.sorted()
        self.createdAt = createdAt
        self.disabledAt = disabledAt
    }

    /// Whether a spend or hold with these attributes counts against this budget.
    public func covers(_ subject: BudgetSubject) -> Bool {
        switch scope {
        case .org: true
        case .workspace: subject.workspaceID?.rawValue == scopeID
        case .key: subject.apiKeyID?.rawValue == scopeID
        case .task: subject.taskType == scopeID
        case .run: subject.runID == scopeID
        }
    }

    /// "workspace research, $400.00 monthly".
    public var title: String { "\(scope.describe(label)), \(limit.formatted) \(period.adjective)" }
}

/// What a spend or a hold is attributed to, for the budgets that cover it.
public struct BudgetSubject: Sendable, Equatable {
    public var workspaceID: WorkspaceID?
    public var apiKeyID: APIKeyID?
    public var taskType: String?
    public var runID: String?

    public init(workspaceID: WorkspaceID? = nil, apiKeyID: APIKeyID? = nil, taskType: String? = nil, runID: String? = nil) {
        self.workspaceID = workspaceID
        self.apiKeyID = apiKeyID
        self.taskType = taskType
        self.runID = runID
    }
}

/// A budget with what counts against it in its current period.
public struct BudgetStanding: Sendable, Equatable {
    public var budget: Budget
    /// Spent in the period (recorded events by their own time).
    public var spent: MicroDollars
    /// Set aside by active holds it covers.
    public var held: MicroDollars
    /// The period the figures are for.
    public var periodStart: Timestamp
    public var resetsAt: Timestamp?

    public init(budget: Budget, spent: MicroDollars, held: MicroDollars, periodStart: Timestamp, resetsAt: Timestamp?) {
        self.budget = budget
        self.spent = spent
        self.held = held
        self.periodStart = periodStart
        self.resetsAt = resetsAt
    }

    /// What is left before the limit: limit − spent − held (negative when over).
    public var remaining: MicroDollars {
        MicroDollars(rawValue: budget.limit.rawValue - spent.rawValue - held.rawValue)
    }
}

/// Why a hard budget refused, with its figures.
public struct BudgetRefusal: Error, Sendable, Equatable {
    public var standing: BudgetStanding
    /// What was asked for: the call's cost, or the hold's amount.
    public var amount: MicroDollars

    public init(standing: BudgetStanding, amount: MicroDollars) {
        self.standing = standing
        self.amount = amount
    }

    /// "budget exceeded: workspace research, $400.00 monthly, spent $399.90, resets 2027-01-01T00:00:00Z".
    public var sentence: String {
        var text = "budget exceeded: \(standing.budget.title), spent \(standing.spent.formatted)"
        if standing.held.isPositive { text += ", held \(standing.held.formatted)" }
        text += ", this call \(amount.formatted)"
        if let resets = standing.resetsAt { text += ", resets \(resets.iso8601Seconds)" }
        return text
    }

    /// The `budget` object of a 402.
    public func write(into out: inout JSONObjectWriter) {
        out.string("budget_id", standing.budget.id.rawValue)
        out.string("scope", standing.budget.scope.rawValue)
        out.string("scope_id", standing.budget.scopeID)
        out.string("label", standing.budget.label)
        out.money("limit_usd", standing.budget.limit)
        out.string("period", standing.budget.period.rawValue)
        out.money("spent_usd", standing.spent)
        out.money("held_usd", standing.held)
        out.money("required_usd", amount)
        out.string("resets_at", standing.resetsAt?.iso8601Seconds)
    }
}

public enum Budgets {
    /// Thresholds given as fractions of the limit (`[0.8, 0.9, 1.0]`), at most this many.
    public static let thresholdsMax = 10
    /// The default thresholds: 80 %, 90 % and 100 %.
    public static let defaultAlertAt = [800, 900, 1_000]

    /// The first hard budget (widest layer first) that spending `amount` would take past its
    /// limit, counting what its active holds set aside; nil when every one has room.
    public static func refusal(_ standings: [BudgetStanding], amount: MicroDollars) -> BudgetRefusal? {
        standings.filter { $0.budget.mode == .hard }.sorted { $0.budget.scope < $1.budget.scope }
            .first { $0.remaining.rawValue - amount.rawValue < 0 }
            .map { BudgetRefusal(standing: $0, amount: amount) }
    }

    /// The alert for the highest threshold a budget's spend has reached in its period, on
    /// soft and hard budgets alike; the alert log keeps one per budget, threshold and period,
    /// so asking again after every spend raises each once.
    public static func alert(_ standing: BudgetStanding, at time: Timestamp) -> AlertDraft? {
        let budget = standing.budget
        guard budget.limit.isPositive else { return nil }
        let permille = Int((Int128(standing.spent.rawValue) * 1_000) / Int128(budget.limit.rawValue))
        guard let threshold = budget.alertAt.last(where: { permille >= $0 }) else { return nil }
        let percent = permille / 10
        let amounts =
            "\(standing.spent.formatted) / \(budget.limit.formatted)"
            + (budget.period == .month ? "" : budget.period == .day ? " today" : " in total")
        let over = threshold >= 1_000
        return AlertDraft(
            kind: over ? .budgetCap : .budgetWarn, subject: "\(budget.id.rawValue):\(threshold)",
            period: budget.period.key(at: time),
            workspaceID: budget.scope == .workspace ? WorkspaceID(rawValue: budget.scopeID) : nil,
            message: over
                ? "\(budget.scope.subject(budget.label)) over budget: \(amounts) (\(percent)%)"
                : "\(budget.scope.subject(budget.label)) at \(percent)% of budget: \(amounts)")
    }
}

/// A budget as accepted from a caller (`POST /v1/admin/budgets`, `plutus budget create`),
/// after validation; the organization is the caller's to find.
public struct BudgetInput: Sendable, Equatable {
    public var scope: BudgetScope
    /// What the scope names as given (a workspace's id, slug or name, a key id, a task, a
    /// run); "" for the organization.
    public var scopeReference: String
    public var limit: MicroDollars
    public var period: BudgetPeriod
    public var mode: BudgetMode
    public var alertAt: [Int]

    public init(
        scope: BudgetScope, scopeReference: String, limit: MicroDollars, period: BudgetPeriod = .month,
        mode: BudgetMode = .hard, alertAt: [Int] = Budgets.defaultAlertAt
    ) {
        self.scope = scope
        self.scopeReference = scopeReference
        self.limit = limit
        self.period = period
        self.mode = mode
        self.alertAt = alertAt
    }
}

public enum BudgetValidation {
    /// The fields a budget request may carry besides `org_id`.
    public static let fields: Set<String> = ["org_id", "scope", "scope_id", "limit_usd", "period", "mode", "alert_at"]

    /// Validates everything but `org_id`. Defaults: `period` month, `mode` hard,
    /// `alert_at` [0.8, 0.9, 1.0].
    public static func validate(_ body: JSONValue) throws(InputFieldError) -> BudgetInput {
        guard case .object(let members) = body else {
            throw InputFieldError(field: "", message: "the body must be a JSON object")
        }
        var values: [String: JSONValue] = [:]
        for (name, value) in members {
            guard fields.contains(name) else {
                throw InputFieldError(field: name, message: "'\(name)' is not a field of a budget")
            }
            if case .null = value { continue }
            values[name] = value
        }
        func choice<Value: RawRepresentable & CaseIterable>(_ field: String, default fallback: Value?) throws(InputFieldError)
            -> Value where Value.RawValue == String
        {
            let names = Value.allCases.map(\.rawValue).joined(separator: "|")
            guard let value = values[field] else {
                guard let fallback else { throw InputFieldError(field: field, message: "'\(field)' is required: \(names)") }
                return fallback
            }
            guard case .string(let text) = value, let chosen = Value(rawValue: text) else {
                throw InputFieldError(field: field, message: "'\(field)' must be one of \(names)")
            }
            return chosen
        }
        let scope: BudgetScope = try choice("scope", default: nil)
        var reference = ""
        if scope != .org {
            guard case .string(let text)? = values["scope_id"], !UsageValidation.isBlank(text) else {
                throw InputFieldError(
                    field: "scope_id",
                    message: "a \(scope.rawValue) budget needs 'scope_id' (\(scope.referenceHint)) as a string")
            }
            do {
                try UsageValidation.checkLabel(text, field: "scope_id", bytesMax: Limits.labelBytesMax, index: 0)
            } catch {
                throw InputFieldError(field: "scope_id", message: error.rule + " (found \(error.found))")
            }
            reference = text
        }
        let limitText: String
        switch values["limit_usd"] {
        case .number(let literal)?: limitText = literal
        case .string(let literal)?: limitText = literal
        default: throw InputFieldError(field: "limit_usd", message: "'limit_usd' is required, a number above 0")
        }
        guard case .success(let limit) = MicroDollars.parse(limitText), limit.isPositive, limit <= Limits.budgetLimitMax else {
            throw InputFieldError(
                field: "limit_usd", message: "'limit_usd' must be above 0 and at most \(Limits.budgetLimitMax.decimalString)")
        }
        var alertAt = Budgets.defaultAlertAt
        if let value = values["alert_at"] {
            guard case .array(let items) = value, items.count <= Budgets.thresholdsMax else {
                throw InputFieldError(
                    field: "alert_at",
                    message:
                        "'alert_at' must be a list of at most \(Budgets.thresholdsMax) fractions of the limit, e.g. [0.8, 0.9, 1.0]"
                )
            }
            alertAt = []
            for item in items {
                guard case .number(let text) = item, case .success(let micros) = MicroDollars.parse(text),
                    micros.rawValue % 1_000 == 0, micros.rawValue > 0, micros.rawValue <= 10_000_000
                else {
                    throw InputFieldError(
                        field: "alert_at",
                        message: "each of 'alert_at' must be above 0 and at most 10, in thousandths (0.8, 0.95, 1.0)")
                }
                alertAt.append(Int(micros.rawValue / 1_000))
            }
            alertAt = Array(Set(alertAt)).sorted()
        }
        return BudgetInput(
            scope: scope, scopeReference: reference, limit: limit, period: try choice("period", default: .month),
            mode: try choice("mode", default: .hard), alertAt: alertAt)
    }
}

extension BudgetScope {
    /// What `scope_id` names for this scope.
    public var referenceHint: String {
        switch self {
        case .org: "nothing"
        case .workspace: "a workspace's id, slug or name"
        case .key: "an API key's id"
        case .task: "a task type"
        case .run: "a run id"
        }
    }
}
