import Foundation
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

    static func percentEncoded(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    /// A breakdown table: rows with a bar relative to the largest cost.
    struct Breakdown {
        struct Row {
            let label: String
            let url: String?
            let cost: String
            let events: String
            let tokens: String
            let barWidth: Int64
        }

        let title: String
        let rows: [Row]

        init(_ title: String, _ groups: [UsageSummary.Group], url: ((UsageSummary.Group) -> String?)? = nil) {
            self.title = title
            let largest = groups.map(\.totals.cost.rawValue).max() ?? 0
            rows = groups.map { group in
                Row(
                    label: group.label, url: url?(group), cost: money(group.totals.cost), events: grouped(group.totals.events),
                    tokens: grouped(group.totals.tokens.tracked),
                    barWidth: largest > 0 ? max(1, group.totals.cost.rawValue * 100 / largest) : 0)
            }
        }
    }

    struct GridLine {
        let x1: Int
        let x2: Int
        let y: String
        let labelY: String
        let label: String
    }

    struct AxisLabel {
        let x: String
        let y: Int
        let text: String
    }

    /// The daily spend chart, drawn on the server as SVG geometry.
    struct DailyChart {
        struct Bar {
            let x: String
            let y: String
            let width: String
            let height: String
            let day: String
            let cost: String
            let events: String
        }

        static let width = 720
        static let height = 200
        static let left = 56
        static let right = 20
        static let bottom = 22
        static let top = 8
        static let gridLineCount = 4

        let width = Self.width
        let height = Self.height
        let bars: [Bar]
        let dayLabels: [AxisLabel]
        let gridLines: [GridLine]

        init(_ days: [(day: CivilDay, totals: UsageTotals)]) {
            let plotWidth = Self.width - Self.left - Self.right
            let plotHeight = Self.height - Self.bottom - Self.top
            let ticks = Ticks(peak: days.map(\.totals.cost.rawValue).max() ?? 0, count: Self.gridLineCount)
            let slot = Double(plotWidth) / Double(max(days.count, 1))
            let barWidth = max(1, slot * 0.78)
            var bars: [Bar] = []
            var labels: [AxisLabel] = []
            let labelEvery = max(1, days.count / 8)
            for (index, entry) in days.enumerated() {
                let barHeight = Double(plotHeight) * Double(entry.totals.cost.rawValue) / Double(ticks.top)
                let x = Double(Self.left) + Double(index) * slot + (slot - barWidth) / 2
                bars.append(
                    Bar(
                        x: format(x), y: format(Double(Self.top + plotHeight) - barHeight), width: format(barWidth),
                        height: format(barHeight), day: entry.day.text, cost: money(entry.totals.cost),
                        events: grouped(entry.totals.events)))
                if index % labelEvery == 0 || index == days.count - 1 {
                    labels.append(
                        AxisLabel(x: format(x + barWidth / 2), y: Self.height - 6, text: String(entry.day.text.dropFirst(5))))
                }
            }
            self.bars = bars
            dayLabels = labels
            gridLines = (0...Self.gridLineCount).map { step in
                let y = Double(Self.top) + Double(plotHeight) * Double(Self.gridLineCount - step) / Double(Self.gridLineCount)
                return GridLine(
                    x1: Self.left, x2: Self.width - Self.right, y: format(y), labelY: format(y + 4), label: ticks.label(step))
            }
        }
    }

    /// The balance over the range as a line, top-ups marked, and (when the range ends today)
    /// the runway projected at the trailing burn: a dashed line down toward zero.
    struct BalanceChart {
        struct Marker {
            let x: String
            let y: String
            let label: String
        }

        /// Days projected past today at most.
        static let projectionDaysMax: Int64 = 30

        let width = DailyChart.width
        let height = DailyChart.height
        let line: String
        let projection: String
        let projectionNote: String
        let topUps: [Marker]
        let gridLines: [GridLine]
        let dayLabels: [AxisLabel]
        let zeroY: String

        init(_ history: CreditHistory, projectFrom balance: MicroDollars?, burnPerDay: MicroDollars) {
            let left = Double(DailyChart.left)
            let plotWidth = Double(DailyChart.width - DailyChart.left - DailyChart.right)
            let plotHeight = Double(DailyChart.height - DailyChart.bottom - DailyChart.top)
            // Days projected: until the credit runs out, at most a month, only when the range ends today.
            var projected: Int64 = 0
            if let balance, burnPerDay.isPositive {
                projected = min(
                    max(1, (balance.rawValue + burnPerDay.rawValue - 1) / burnPerDay.rawValue), Self.projectionDaysMax)
            }
            let closings = history.days.map(\.closing.rawValue)
            let low = min(0, closings.min() ?? 0)
            let ticks = Ticks(peak: max((closings.max() ?? 0) - low, 0), count: DailyChart.gridLineCount)
            let span = Double(max(history.days.count, 1)) + Double(projected)
            func x(_ index: Double) -> Double { left + plotWidth * (index + 0.5) / span }
            func y(_ value: Int64) -> Double {
                Double(DailyChart.top) + plotHeight * (1 - Double(value - low) / Double(ticks.top))
            }
            line = history.days.enumerated().map { "\(format(x(Double($0.offset)))),\(format(y($0.element.closing.rawValue)))" }
                .joined(separator: " ")
            topUps = history.days.enumerated().filter { $0.element.topUps.isPositive }.map { item in
                Marker(
                    x: format(x(Double(item.offset))), y: format(y(item.element.closing.rawValue)),
                    label: "\(item.element.day.text): top-up \(money(item.element.topUps))")
            }
            if let balance, projected > 0, let last = history.days.indices.last {
                let end = max(0, balance.rawValue - burnPerDay.rawValue * projected)
                projection =
                    "\(format(x(Double(last)))),\(format(y(balance.rawValue))) \(format(x(Double(last) + Double(projected)))),\(format(y(end)))"
                let runsOut = history.days[last].day.adding(days: projected)
                projectionNote =
                    end == 0
                    ? "at \(money(burnPerDay))/day the credit runs out around \(runsOut.text)"
                    : "at \(money(burnPerDay))/day, \(money(MicroDollars(rawValue: end))) is left in \(projected) days"
            } else {
                projection = ""
                projectionNote = ""
            }
            zeroY = format(y(0))
            gridLines = (0...DailyChart.gridLineCount).map { step in
                let value = low + ticks.step * Int64(step)
                let at = y(value)
                return GridLine(
                    x1: DailyChart.left, x2: DailyChart.width - DailyChart.right, y: format(at), labelY: format(at + 4),
                    label: MicroDollars(rawValue: value).formatted(decimals: ticks.decimals))
            }
            let labelEvery = max(1, history.days.count / 8)
            dayLabels = history.days.enumerated().compactMap { item in
                guard item.offset % labelEvery == 0 || item.offset == history.days.count - 1 else { return nil }
                return AxisLabel(
                    x: format(x(Double(item.offset))), y: DailyChart.height - 6, text: String(item.element.day.text.dropFirst(5)))
            }
        }
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

    static func format(_ value: Double) -> String {
        String((value * 10).rounded() / 10)
    }
}
