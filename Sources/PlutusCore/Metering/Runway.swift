/// How long prepaid credit lasts at the recent pace of spending.
public enum Runway {
    /// Whole days `balance` lasts at the average daily spend of the trailing `windowDays`
    /// (`spent` over those days); `nil` when nothing was spent, 0 when no credit is left.
    public static func days(balance: MicroDollars, spent: MicroDollars, windowDays: Int64) -> Int64? {
        precondition(windowDays > 0, "the trailing window must be at least a day")
        guard spent.isPositive else { return nil }
        guard balance.isPositive else { return 0 }
        let (product, overflow) = balance.rawValue.multipliedReportingOverflow(by: windowDays)
        if !overflow { return product / spent.rawValue }
        let (coarse, stillOverflows) = (balance.rawValue / spent.rawValue).multipliedReportingOverflow(by: windowDays)
        return stillOverflows ? Int64.max : coarse
    }
}
