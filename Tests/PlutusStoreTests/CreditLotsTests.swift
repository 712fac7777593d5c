import PlutusCore
import PlutusStore
import Testing

@Suite("Credit lots: the order credit is spent in, deficits, expiry")
struct CreditLotsTests {
    static let time = Timestamp.parseISO8601("2026-11-20T12:00:00Z")!
    static let org = OrganizationID(rawValue: "org_00000000000000aa")
    static func dollars(_ text: String) -> MicroDollars { try! MicroDollars.parse(text).get() }
    static func lot(
        _ id: String, _ remaining: String, priority: Int? = nil, expiresIn days: Int64? = nil, age: Int64 = 0,
        kind: CreditLot.Kind = .grant
    ) -> CreditLot {
        CreditLot(
            id: CreditLotID(rawValue: "grt_\(id)"), organizationID: org, kind: kind, entryID: nil, amount: dollars("100"),
            remaining: dollars(remaining), priority: priority, expiresAt: days.map { time.adding(seconds: $0 * 86_400) },
            createdAt: time.adding(seconds: -age))
    }

    /// Free credit before paid credit, unless a priority says otherwise.
    @Test func theOrderIsPriorityThenPaidLastThenExpiryThenAge() {
        let lots = [
            Self.lot("topup", "10", kind: .topUp), Self.lot("p10late", "1", priority: 10, expiresIn: 9),
            Self.lot("p10soon", "1", priority: 10, expiresIn: 2), Self.lot("p1", "1", priority: 1),
            Self.lot("noexpiry_old", "1", age: 100), Self.lot("expiring", "1", expiresIn: 30), Self.lot("noexpiry_new", "1"),
        ]
        #expect(
            CreditLots.order(lots).map(\.id.rawValue) == [
                "grt_p1", "grt_p10soon", "grt_p10late", "grt_expiring", "grt_noexpiry_old", "grt_noexpiry_new", "grt_topup",
            ])
    }

    /// (amount) taken from [a: 2 (priority 0), b: 3, c: 10 (a payment's)].
    @Test(
        arguments: [
            ("1", nil, ["grt_a": "1"]), ("4", nil, ["grt_a": "0", "grt_c": "8"]),
            ("20", nil, ["grt_a": "0", "grt_b": "0", "grt_c": "0"]), ("4", "grt_c", ["grt_c": "6"]),
            ("12", "grt_c", ["grt_c": "0", "grt_a": "0"]), ("0", nil, [:]),
        ] as [(String, String?, [String: String])])
    func consumptionTakesInOrderAndAPaymentsLotFirst(amount: String, preferred: String?, changed: [String: String]) {
        let lots = [Self.lot("c", "10", age: 50), Self.lot("b", "3", age: 10), Self.lot("a", "2", priority: 0)]
        let result = CreditLots.consume(Self.dollars(amount), from: lots, preferring: preferred.map(CreditLotID.init))
        #expect(
            Dictionary(uniqueKeysWithValues: result.map { ($0.id.rawValue, $0.remaining) }) == changed.mapValues(Self.dollars))
    }

    /// A new credit keeps only what is left after paying a negative balance.
    @Test(arguments: [("10", "10", "10"), ("10", "6", "6"), ("10", "-2", "0"), ("10", "25", "10")])
    func aNewLotKeepsWhatIsLeftAfterADeficit(amount: String, balanceAfter: String, remaining: String) {
        let lot = CreditLots.newLot(
            .grant, organizationID: Self.org, entryID: nil, amount: Self.dollars(amount),
            balanceAfter: Self.dollars(balanceAfter), priority: nil, expiresAt: nil, payment: nil, at: Self.time)
        #expect(lot.remaining == Self.dollars(remaining) && lot.amount == Self.dollars(amount))
    }

    @Test func expiryTakesTheRemainderOutOnce() {
        let due = [Self.lot("x", "3", expiresIn: 1), Self.lot("y", "0", expiresIn: 0)]
        let expired = CreditLots.expire(due)
        #expect(expired.map(\.amount) == [Self.dollars("0"), Self.dollars("3")])
        #expect(expired.allSatisfy { $0.lot.remaining == .zero && $0.lot.expiredAt == $0.lot.expiresAt })
        #expect(Self.lot("x", "3", expiresIn: 1).isExpired(at: Self.time.adding(seconds: 86_400)))
        #expect(!Self.lot("x", "3", expiresIn: 1).isExpired(at: Self.time.adding(seconds: 86_399)))
        #expect(CreditLots.expiryDue(Self.time, now: Self.time) && !CreditLots.expiryDue(nil, now: Self.time))
        #expect(CreditLots.lotKind(.topUp) == .topUp && CreditLots.lotKind(.usage) == nil)
        // A refund that puts money back (refunds converging downwards) returns paid credit.
        #expect(CreditLots.lotKind(.refund) == .topUp && CreditLots.lotKind(.expiry) == nil)
    }
}
