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
    /// The range shown when the page names none: the trailing 30 days, today included (a
    /// month-to-date default is nearly empty on the 1st).
    static let defaultRangeDays: Int64 = 30
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

    /// Money with cents, or with at least four significant digits below a dollar so small
    /// calls stay visible.
    static func money(_ amount: MicroDollars) -> String { amount.readable }

    /// "1 call", "393 calls".
    static func calls(_ count: Int64) -> String { "\(grouped(count)) \(count == 1 ? "call" : "calls")" }

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
            let ticks = Ticks(peak: days.map(\.totals.cost.rawValue).max() ?? 0, count: gridLines)
            let peak = ticks.top
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
                    "x1": left, "x2": width - right, "y": format(y), "labelY": format(y + 4), "label": ticks.label(step),
                ]
            }
            return ["width": width, "height": height, "bars": bars, "dayLabels": labels, "gridLines": grid]
        }

        /// The value axis: `count` equal steps of a round size (1, 2, 2.5 or 5 × a power of ten
        /// micro-dollars) whose top is at or above the peak, labelled with as many decimals as
        /// the step needs, so every label is distinct ($0.005, $0.010, $0.015 …).
        struct Ticks: Equatable {
            var step: Int64
            var count: Int

            init(peak: Int64, count: Int) {
                self.count = count
                let wanted = max(1, (max(peak, 1) + Int64(count) - 1) / Int64(count))
                var scale: Int64 = 1
                while true {
                    if let round = [10, 20, 25, 50].map({ $0 * scale / 10 }).first(where: { $0 >= wanted && $0 > 0 }) {
                        step = round
                        break
                    }
                    scale *= 10
                }
            }

            var top: Int64 { step * Int64(count) }

            /// Decimals the step needs: cents at least, more for sub-cent steps.
            var decimals: Int {
                var decimals = 6
                var step = self.step
                while decimals > 2 && step % 10 == 0 {
                    step /= 10
                    decimals -= 1
                }
                return decimals
            }

            func label(_ index: Int) -> String { MicroDollars(rawValue: step * Int64(index)).formatted(decimals: decimals) }
        }

        private static func format(_ value: Double) -> String {
            String((value * 10).rounded() / 10)
        }
    }
}
