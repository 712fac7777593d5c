/// The knobs an operator sets for metering.
public struct MeteringPolicy: Sendable, Equatable {
    /// Refuse events an organization that has held credit can no longer pay for.
    public var blockOverBalance: Bool
    /// Refuse events once a limited plan's monthly token quota is used up.
    public var blockOverFreeLimit: Bool
    /// Refuse what a hard budget has no room for (off only for a settle: the call happened).
    public var enforceBudgets: Bool = true
    /// A balance at or below this (and above zero) raises a low-balance alert.
    public var lowBalanceThreshold: MicroDollars
    /// Percentages of a workspace's monthly budget that raise an alert (100 = over budget).
    public var budgetAlertPercents: [Int]
    /// Percentage of a limited plan's monthly quota that raises a "near the limit" alert.
    public var freeTierNearPercent: Int

    public init(
        blockOverBalance: Bool = true, blockOverFreeLimit: Bool = false,
        lowBalanceThreshold: MicroDollars = MicroDollars.dollars(10)!,
        budgetAlertPercents: [Int] = [50, 80, 100], freeTierNearPercent: Int = 75
    ) {
        precondition(budgetAlertPercents.allSatisfy { $0 > 0 && $0 <= 1000 }, "budget percents out of range")
        self.blockOverBalance = blockOverBalance
        self.blockOverFreeLimit = blockOverFreeLimit
        self.lowBalanceThreshold = lowBalanceThreshold
        self.budgetAlertPercents = budgetAlertPercents.sorted()
        self.freeTierNearPercent = freeTierNearPercent
    }

    public static let standard = MeteringPolicy()
}

/// What the metering decision needs to know about an organization, read inside the same
/// database transaction as the write it guards.
public struct OrganizationSnapshot: Sendable, Equatable {
    public var plan: Plan
    public var balance: MicroDollars
    /// The organization has ever received a top-up or grant. Organizations that never did
    /// are track-only and never hard-stopped.
    public var everCredited: Bool
    /// Exempt from the prepaid hard stop (may run a negative balance).
    public var hardStopExempt: Bool
    /// Tracked tokens already recorded in the event's UTC month.
    public var monthTrackedTokens: Int64
    /// Credit set aside by active holds: what a spend may use is `balance − held`.
    public var held: MicroDollars

    public init(
        plan: Plan, balance: MicroDollars, everCredited: Bool, hardStopExempt: Bool, monthTrackedTokens: Int64,
        held: MicroDollars = .zero
    ) {
        self.plan = plan
        self.balance = balance
        self.everCredited = everCredited
        self.hardStopExempt = hardStopExempt
        self.monthTrackedTokens = monthTrackedTokens
        self.held = held
    }

    /// What a spend may use: the balance less what active holds set aside.
    /// Both stay far inside Int64: balances and holds are sums of bounded amounts.
    public var available: MicroDollars { MicroDollars(rawValue: balance.rawValue - held.rawValue) }

    /// Whether the prepaid hard stop guards this organization at all under `policy`: on,
    /// not exempt, and it has ever held credit. Holds and spends refuse by the same test.
    public func hardStopApplies(_ policy: MeteringPolicy) -> Bool {
        policy.blockOverBalance && !hardStopExempt && everCredited
    }
}

public enum Rejection: String, Sendable, Equatable {
    /// The plan's monthly token quota was already used up (and the policy blocks).
    case overFreeLimit = "free_limit"
    /// The prepaid balance cannot cover the cost.
    case overBalance = "over_balance"
    /// A hard budget covering the call has no room for it.
    case overBudget = "over_budget"
}

public enum MeteringDecision: Sendable, Equatable {
    case record(balanceAfter: MicroDollars, overFreeLimit: Bool)
    case reject(Rejection)
}

public enum Metering {
    /// Decides whether one event is recorded, in a fixed order of precedence:
    /// 1. free-tier block: a limited plan, a blocking policy, and the month's tokens
    ///    **before** this event already at or past the quota (the crossing event lands);
    /// 2. prepaid hard stop: the policy on, the organization not exempt, it has ever held
    ///    credit, and `balance − held − cost < 0`, where `held` is what active holds set
    ///    aside (draining the available credit to exactly zero is allowed);
    /// 3. otherwise recorded, flagged `overFreeLimit` when the month's tokens including
    ///    this event reach the quota.
    public static func decide(
        snapshot: OrganizationSnapshot, tokens: TokenCounts, cost: MicroDollars, policy: MeteringPolicy
    ) -> MeteringDecision {
        precondition(!cost.isNegative, "cost is validated non-negative")
        let limit = snapshot.plan.trackedTokensPerMonth
        if let limit, policy.blockOverFreeLimit, snapshot.monthTrackedTokens >= limit {
            return .reject(.overFreeLimit)
        }
        guard let balanceAfter = snapshot.balance.subtracting(cost) else { return .reject(.overBalance) }
        if snapshot.hardStopApplies(policy), balanceAfter.rawValue - snapshot.held.rawValue < 0 {
            return .reject(.overBalance)
        }
        let overFreeLimit = limit.map { snapshot.monthTrackedTokens + tokens.tracked >= $0 } ?? false
        return .record(balanceAfter: balanceAfter, overFreeLimit: overFreeLimit)
    }

    /// Why the hard stop refused a call, in one sentence for people (CLI, alerts, the 402's
    /// `detail`): "insufficient credit: this call costs $75.01, balance $57.44", or, with
    /// nothing left, "prepaid credit exhausted: balance $0.00". With credit set aside by
    /// holds it names what was available: "insufficient credit: this call costs $3.00,
    /// available $2.00 (balance $10.00, $8.00 held)".
    public static func refusalSentence(
        cost: MicroDollars, balance: MicroDollars, held: MicroDollars = .zero, call: String = "this call"
    ) -> String {
        let available = MicroDollars(rawValue: balance.rawValue - held.rawValue)
        // Amounts that would read alike at their usual precision ($1.00 against $1.00) are
        // shown to the micro-dollar, so the sentence always shows why.
        let precise = cost.readable == available.readable
        func text(_ amount: MicroDollars) -> String { precise ? amount.formatted(decimals: 6) : amount.readable }
        guard held.isPositive else {
            return balance.isPositive
                ? "insufficient credit: \(call) costs \(text(cost)), balance \(text(balance))"
                : "prepaid credit exhausted: balance \(text(balance))" + (cost.isPositive ? ", \(call) costs \(text(cost))" : "")
        }
        return "insufficient credit: \(call) costs \(text(cost)), available \(text(available)) "
            + "(balance \(text(balance)), \(text(held)) held)"
    }

    /// Where an event's workspace string leads.
    public enum WorkspaceChoice: Equatable, Sendable {
        /// The event names an existing workspace of the organization.
        case existing
        /// The plan's workspace cap is reached: fold into the earliest workspace.
        case foldIntoEarliest
        /// Create a workspace with this name.
        case create
    }

    /// A named workspace that does not exist yet is created, unless the plan's cap is
    /// reached, in which case the event folds into the earliest workspace.
    public static func chooseWorkspace(found: Bool, workspaceCount: Int, plan: Plan) -> WorkspaceChoice {
        if found { return .existing }
        if let cap = plan.workspacesMax, workspaceCount >= cap, workspaceCount > 0 { return .foldIntoEarliest }
        return .create
    }
}
