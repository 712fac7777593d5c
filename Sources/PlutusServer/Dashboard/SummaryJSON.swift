import PlutusCore
import PlutusStore

/// The JSON shape of a usage summary (`/api/summary`). Money is exact decimal dollars.
enum SummaryJSON {
    static func totals(_ totals: UsageTotals) -> JSONValue {
        .object([
            ("cost", .money(totals.cost)), ("events", .int(totals.events)), ("tokens", .int(totals.tokens.tracked)),
            ("input_tokens", .int(totals.tokens.input)), ("output_tokens", .int(totals.tokens.output)),
            ("cache_read_tokens", .int(totals.tokens.cacheRead)), ("cache_write_tokens", .int(totals.tokens.cacheWrite)),
            ("reasoning_tokens", .int(totals.tokens.reasoning)),
        ])
    }

    static func groups(_ groups: [UsageSummary.Group]) -> JSONValue {
        .array(
            groups.map { group in
                .object([("key", .string(group.key)), ("label", .string(group.label)), ("totals", totals(group.totals))])
            })
    }

    static func summary(_ summary: UsageSummary, organization: Organization, balance: MicroDollars) -> JSONValue {
        .object([
            ("org_id", .string(organization.id.rawValue)), ("org", .string(organization.name)),
            ("tier", .string(organization.plan.rawValue)), ("balance", .money(balance)),
            ("from", .string(summary.days.lowerBound.text)),
            ("to", .string(summary.days.upperBound.adding(days: -1).text)),
            ("totals", totals(summary.totals)), ("by_provider", groups(summary.byProvider)),
            ("by_model", groups(summary.byModel)), ("by_workspace", groups(summary.byWorkspace)),
            ("by_task_type", groups(summary.byTask)),
            (
                "by_day",
                .array(
                    summary.byDay.map { day in
                        .object([("day", .string(day.day.text)), ("totals", totals(day.totals))])
                    })
            ),
        ])
    }
}
