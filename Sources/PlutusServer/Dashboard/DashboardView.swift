import PlutusCore
import PlutusStore

/// Turns store records into the values the templates show. Every string here is plain text:
/// mustache escapes it when rendering.
enum DashboardView {
    /// Rows in the live feed, and how often the page's script refreshes it.
    static let feedRows = 12
    static let feedRefreshSeconds = 5
    /// Ledger rows per dashboard page.
    static let ledgerRows = 20
    /// Alerts listed, and how many of them the banner repeats.
    static let alertsShown = 6
    static let bannerAlertsShown = 3
    /// The trailing window runway and burn are measured over.
    static let burnWindowDays: Int64 = 7
    /// A workspace budget bar turns to a warning at this share of its cap.
    static let budgetWarnPercent: Int64 = 80

    static func grouped(_ value: Int64) -> String {
        let digits = String(value.magnitude)
        var out: [Character] = []
        for (offset, character) in digits.reversed().enumerated() {
            if offset > 0 && offset % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return (value < 0 ? "-" : "") + String(out.reversed())
    }

    /// Money with cents, or with four decimals below a dollar so small calls stay visible.
    static func money(_ amount: MicroDollars) -> String {
        amount.rawValue.magnitude < UInt64(MicroDollars.perDollar) && amount != .zero
            ? amount.formatted(decimals: 4) : amount.formatted
    }

    static func time(_ timestamp: Timestamp) -> String {
        let text = timestamp.iso8601
        return text.prefix(10) + " " + text.dropFirst(11).prefix(8)
    }

    /// A breakdown table: rows with a bar relative to the largest cost.
    static func breakdown(_ title: String, _ groups: [UsageSummary.Group], url: ((UsageSummary.Group) -> String?)? = nil)
        -> [String: Any]
    {
        let largest = groups.map(\.totals.cost.rawValue).max() ?? 0
        return [
            "title": title,
            "rows": groups.map { group -> [String: Any] in
                var row: [String: Any] = [
                    "label": group.label, "cost": money(group.totals.cost), "events": grouped(group.totals.events),
                    "tokens": grouped(group.totals.tokens.tracked),
                    "barWidth": largest > 0 ? max(1, group.totals.cost.rawValue * 100 / largest) : 0,
                ]
                if let link = url?(group) { row["url"] = link }
                return row
            },
        ]
    }

    /// The daily spend chart, drawn on the server as SVG geometry.
    struct Chart {
        static let width = 720
        static let height = 200
        static let left = 56
        static let right = 20
        static let bottom = 22
        static let top = 8
        static let gridLines = 4

        static func context(_ days: [(day: CivilDay, totals: UsageTotals)]) -> [String: Any] {
            let plotWidth = width - left - right
            let plotHeight = height - bottom - top
            let peak = max(days.map(\.totals.cost.rawValue).max() ?? 0, 1)
            let slot = Double(plotWidth) / Double(max(days.count, 1))
            let barWidth = max(1, slot * 0.78)
            var bars: [[String: Any]] = []
            var labels: [[String: Any]] = []
            let labelEvery = max(1, days.count / 8)
            for (index, entry) in days.enumerated() {
                let barHeight = Double(plotHeight) * Double(entry.totals.cost.rawValue) / Double(peak)
                let x = Double(left) + Double(index) * slot + (slot - barWidth) / 2
                bars.append([
                    "x": format(x), "y": format(Double(top + plotHeight) - barHeight), "width": format(barWidth),
                    "height": format(barHeight), "day": entry.day.text, "cost": money(entry.totals.cost),
                    "events": grouped(entry.totals.events),
                ])
                if index % labelEvery == 0 || index == days.count - 1 {
                    labels.append([
                        "x": format(x + barWidth / 2), "y": Self.height - 6,
                        "text": String(entry.day.text.dropFirst(5)),
                    ])
                }
            }
            let grid = (0...gridLines).map { step -> [String: Any] in
                let y = Double(top) + Double(plotHeight) * Double(gridLines - step) / Double(gridLines)
                return [
                    "x1": left, "x2": width - right, "y": format(y), "labelY": format(y + 4),
                    "label": MicroDollars(rawValue: peak * Int64(step) / Int64(gridLines)).formatted,
                ]
            }
            return ["width": width, "height": height, "bars": bars, "dayLabels": labels, "gridLines": grid]
        }

        private static func format(_ value: Double) -> String {
            String((value * 10).rounded() / 10)
        }
    }
}
