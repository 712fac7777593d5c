public enum AlertKind: String, Sendable, CaseIterable {
    case lowBalance = "low_balance"
    case balanceExhausted = "balance_exhausted"
    case budgetWarn = "budget_warn"
    case budgetCap = "budget_cap"
    case freeTierNear = "free_tier_near"
    case freeTierOver = "free_tier_over"
    case hardStop = "hard_stop"
    /// A call bigger than the remaining credit was refused; smaller calls still run.
    case callRefused = "call_refused"
    case paymentFailed = "payment_failed"

    public var title: String {
        switch self {
        case .lowBalance: "Low balance"
        case .balanceExhausted: "Balance exhausted"
        case .budgetWarn: "Budget warning"
        case .budgetCap: "Budget cap"
        case .freeTierNear: "Free tier near limit"
        case .freeTierOver: "Free tier over limit"
        case .hardStop: "Hard stop engaged"
        case .callRefused: "Call refused: insufficient credit"
        case .paymentFailed: "Payment failed"
        }
    }
}

/// An alert to log. `(kind, subject, period)` is its de-duplication key within an
/// organization: the same alert is raised at most once per period.
public struct AlertDraft: Sendable, Equatable {
    public var kind: AlertKind
    public var subject: String
    public var period: String
    public var workspaceID: WorkspaceID?
    public var message: String

    public init(kind: AlertKind, subject: String, period: String, workspaceID: WorkspaceID?, message: String) {
        self.kind = kind
        self.subject = subject
        self.period = period
        self.workspaceID = workspaceID
        self.message = message
    }
}

public enum Alerting {
    /// Balance alerts apply only to organizations that have held credit; one per UTC day.
    public static func balanceAlert(
        balanceAfter: MicroDollars, everCredited: Bool, policy: MeteringPolicy, at time: Timestamp
    ) -> AlertDraft? {
        guard everCredited else { return nil }
        if balanceAfter.isPositive, balanceAfter <= policy.lowBalanceThreshold {
            return AlertDraft(
                kind: .lowBalance, subject: "balance", period: time.day.text, workspaceID: nil,
                message: "Low credit balance: \(balanceAfter.formatted) (threshold \(policy.lowBalanceThreshold.formatted))")
        }
        if !balanceAfter.isPositive {
            return AlertDraft(
                kind: .balanceExhausted, subject: "balance", period: time.day.text, workspaceID: nil,
                message: "Credit exhausted: balance \(balanceAfter.formatted)")
        }
        return nil
    }

    /// Quota alerts for limited plans: near the limit, and at or over it; once per month each.
    public static func quotaAlert(
        plan: Plan, tokensAfter: Int64, policy: MeteringPolicy, month: CivilMonth
    ) -> AlertDraft? {
        guard let limit = plan.trackedTokensPerMonth, limit > 0 else { return nil }
        if tokensAfter >= limit {
            return AlertDraft(
                kind: .freeTierOver, subject: "tokens", period: month.text, workspaceID: nil,
                message: "\(plan.displayName) plan token quota reached: \(tokensAfter) of \(limit) tracked tokens this month")
        }
        if tokensAfter * 100 >= limit * Int64(policy.freeTierNearPercent) {
            return AlertDraft(
                kind: .freeTierNear, subject: "tokens", period: month.text, workspaceID: nil,
                message:
                    "\(plan.displayName) plan at \(tokensAfter * 100 / limit)% of its token quota: \(tokensAfter) of \(limit)")
        }
        return nil
    }

    /// An event was refused by the prepaid hard stop; once per UTC day. With credit left
    /// (the call was only bigger than it) the alert says so, and is not a hard stop: smaller
    /// calls still run.
    public static func hardStopAlert(
        balance: MicroDollars, cost: MicroDollars, held: MicroDollars = .zero, at time: Timestamp
    ) -> AlertDraft {
        AlertDraft(
            kind: balance.rawValue - held.rawValue > 0 ? .callRefused : .hardStop, subject: "balance", period: time.day.text,
            workspaceID: nil, message: Metering.refusalSentence(cost: cost, balance: balance, held: held))
    }
}
