import PlutusCore

/// Usage added up: how many events, their tokens by kind, and what they cost.
public struct UsageTotals: Sendable, Equatable {
    public var events: Int64
    public var tokens: TokenCounts
    public var cost: MicroDollars

    public init(events: Int64 = 0, tokens: TokenCounts = .zero, cost: MicroDollars = .zero) {
        self.events = events
        self.tokens = tokens
        self.cost = cost
    }

    public static let zero = UsageTotals()

    /// Adds `other` to these totals, as `+` sums them.
    public mutating func add(_ other: UsageTotals) { self = self + other }

    /// Sums two totals. Token fields may exceed the per-event bound once summed, so they are
    /// added field by field rather than through `TokenCounts.init`'s precondition.
    public static func + (lhs: UsageTotals, rhs: UsageTotals) -> UsageTotals {
        var sum = lhs
        sum.events += rhs.events
        sum.tokens.input += rhs.tokens.input
        sum.tokens.output += rhs.tokens.output
        sum.tokens.cacheRead += rhs.tokens.cacheRead
        sum.tokens.cacheWrite += rhs.tokens.cacheWrite
        sum.tokens.reasoning += rhs.tokens.reasoning
        sum.cost = MicroDollars(rawValue: lhs.cost.rawValue + rhs.cost.rawValue)
        return sum
    }
}

/// One row of the daily rollup: an organization's usage on one UTC day for one
/// (workspace, provider, model, task) combination. `workspaceID` and `model` are `nil`
/// when the events had none.
public struct UsageDayRow: Sendable, Equatable {
    public var day: CivilDay
    public var workspaceID: WorkspaceID?
    public var provider: String
    public var model: String?
    public var taskType: String
    public var totals: UsageTotals

    public init(
        day: CivilDay, workspaceID: WorkspaceID?, provider: String, model: String?, taskType: String, totals: UsageTotals
    ) {
        self.day = day
        self.workspaceID = workspaceID
        self.provider = provider
        self.model = model
        self.taskType = taskType
        self.totals = totals
    }
}

/// An organization's usage over whole UTC days, grouped every way the dashboard and the
/// monthly statement show it. Built from the daily rollup, never from the events.
public struct UsageSummary: Sendable, Equatable {
    /// One group of a breakdown; `key` is the provider, model, task or workspace id, and
    /// `label` what to show (the workspace's name; "(none)" / "-" for missing values).
    public struct Group: Sendable, Equatable {
        public var key: String
        public var label: String
        public var totals: UsageTotals
    }

    /// The days covered, `[from, to)`.
    public var days: Range<CivilDay>
    public var totals: UsageTotals
    /// Each breakdown is ordered by cost, highest first, then by label.
    public var byProvider: [Group]
    public var byModel: [Group]
    public var byWorkspace: [Group]
    public var byTask: [Group]
    /// Every day of `days` in order, zero on days without usage.
    public var byDay: [(day: CivilDay, totals: UsageTotals)]

    public static let noWorkspaceLabel = "(none)"
    public static let noModelLabel = "-"

    /// Adds up rollup rows that lie inside `days`. `workspaceNames` labels the workspace
    /// groups (a missing name falls back to the id).
    public init(days: Range<CivilDay>, rows: [UsageDayRow], workspaceNames: [WorkspaceID: String]) {
        self.days = days
        var totals = UsageTotals.zero
        var provider: [String: UsageTotals] = [:]
        var model: [String: UsageTotals] = [:]
        var workspace: [String: UsageTotals] = [:]
        var task: [String: UsageTotals] = [:]
        var day: [Int64: UsageTotals] = [:]
        for row in rows where days.contains(row.day) {
            totals = totals + row.totals
            provider[row.provider, default: .zero] = provider[row.provider, default: .zero] + row.totals
            model[row.model ?? "", default: .zero] = model[row.model ?? "", default: .zero] + row.totals
            let workspaceKey = row.workspaceID?.rawValue ?? ""
            workspace[workspaceKey, default: .zero] = workspace[workspaceKey, default: .zero] + row.totals
            task[row.taskType, default: .zero] = task[row.taskType, default: .zero] + row.totals
            day[row.day.daysSinceEpoch, default: .zero] = day[row.day.daysSinceEpoch, default: .zero] + row.totals
        }
        self.totals = totals
        byProvider = Self.groups(provider) { $0 }
        byModel = Self.groups(model) { $0.isEmpty ? Self.noModelLabel : $0 }
        byWorkspace = Self.groups(workspace) { key in
            key.isEmpty ? Self.noWorkspaceLabel : workspaceNames[WorkspaceID(rawValue: key)] ?? key
        }
        byTask = Self.groups(task) { $0 }
        byDay = (days.lowerBound.daysSinceEpoch..<days.upperBound.daysSinceEpoch).map { number in
            (CivilDay(daysSinceEpoch: number), day[number] ?? .zero)
        }
    }

    private static func groups(_ sums: [String: UsageTotals], label: (String) -> String) -> [Group] {
        sums.map { Group(key: $0.key, label: label($0.key), totals: $0.value) }.sorted {
            ($0.totals.cost, $1.label) > ($1.totals.cost, $0.label)
        }
    }

    public static func == (lhs: UsageSummary, rhs: UsageSummary) -> Bool {
        lhs.days == rhs.days && lhs.totals == rhs.totals && lhs.byProvider == rhs.byProvider
            && lhs.byModel == rhs.byModel && lhs.byWorkspace == rhs.byWorkspace && lhs.byTask == rhs.byTask
            && lhs.byDay.elementsEqual(rhs.byDay) { $0.day == $1.day && $0.totals == $1.totals }
    }
}

/// How an organization's prepaid credit moved over `[from, to)`: the balance before, the
/// net movement of each entry kind, and the balance after. `closing` is always
/// `opening + Σ movements`; the statement shows it so a reader can check.
public struct CreditStatement: Sendable, Equatable {
    public struct Movement: Sendable, Equatable {
        public var kind: EntryKind
        /// Credit added (positive) or taken (negative), net over the period.
        public var net: MicroDollars
        public var entries: Int64

        public init(kind: EntryKind, net: MicroDollars, entries: Int64) {
            self.kind = kind
            self.net = net
            self.entries = entries
        }
    }

    public var from: Timestamp
    public var to: Timestamp
    public var opening: MicroDollars
    /// One per entry kind that moved, in `EntryKind.allCases` order.
    public var movements: [Movement]

    public init(from: Timestamp, to: Timestamp, opening: MicroDollars, movements: [Movement]) {
        self.from = from
        self.to = to
        self.opening = opening
        self.movements = movements
    }

    public func net(_ kind: EntryKind) -> MicroDollars {
        movements.first { $0.kind == kind }?.net ?? .zero
    }

    public var closing: MicroDollars {
        MicroDollars(rawValue: movements.reduce(opening.rawValue) { $0 + $1.net.rawValue })
    }
}

/// How an organization's prepaid credit stood day by day: the balance before the first day,
/// then each UTC day's net movement and the top-ups among it. Entries are placed by their own
/// time, as in statements.
public struct CreditHistory: Sendable, Equatable {
    public struct Day: Sendable, Equatable {
        public var day: CivilDay
        /// The balance at the end of the day.
        public var closing: MicroDollars
        /// Paid credit added that day (Stripe or `plutus topup`).
        public var topUps: MicroDollars

        public init(day: CivilDay, closing: MicroDollars, topUps: MicroDollars) {
            self.day = day
            self.closing = closing
            self.topUps = topUps
        }
    }

    public var opening: MicroDollars
    /// Every day of the range, in order.
    public var days: [Day]

    /// From the store's rows: the balance before `days`, and per day number (since the epoch)
    /// its net movement and top-ups.
    public init(days range: Range<CivilDay>, opening: MicroDollars, movements: [Int64: (net: Int64, topUps: Int64)]) {
        self.opening = opening
        var balance = opening.rawValue
        var days: [Day] = []
        var day = range.lowerBound
        while day < range.upperBound {
            let moved = movements[day.daysSinceEpoch] ?? (0, 0)
            balance += moved.net
            days.append(Day(day: day, closing: MicroDollars(rawValue: balance), topUps: MicroDollars(rawValue: moved.topUps)))
            day = day.adding(days: 1)
        }
        self.days = days
    }
}
