import PlutusCore

/// A budget as the admin API answers it.
enum BudgetJSON {
    static func write(_ standing: BudgetStanding, into out: inout JSONObjectWriter, figures: Bool = true) {
        let budget = standing.budget
        out.string("budget_id", budget.id.rawValue)
        out.string("org_id", budget.organizationID.rawValue)
        out.string("scope", budget.scope.rawValue)
        out.string("scope_id", budget.scopeID)
        out.string("label", budget.label)
        out.money("limit_usd", budget.limit)
        out.string("period", budget.period.rawValue)
        out.string("mode", budget.mode.rawValue)
        out.beginArray("alert_at")
        for threshold in budget.alertAt { out.element(MicroDollars(rawValue: Int64(threshold) * 1_000)) }
        out.end("]")
        out.string("created_at", budget.createdAt.iso8601)
        out.string("disabled_at", budget.disabledAt?.iso8601)
        if figures {
            out.money("spent_usd", standing.spent)
            out.money("held_usd", standing.held)
            out.money("remaining_usd", standing.remaining)
            out.string("period_start", standing.periodStart.iso8601Seconds)
            out.string("resets_at", standing.resetsAt?.iso8601Seconds)
        }
    }
}
