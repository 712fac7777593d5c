import PlutusCore
import PlutusStore
import Testing

@Suite("Holds: placed, expired, settled and released by one set of rules for every store")
struct HoldsTests {
    static let time = Timestamp.parseISO8601("2026-11-20T12:00:00Z")!
    static func dollars(_ text: String) -> MicroDollars { try! MicroDollars.parse(text).get() }
    static func org(everCredited: Bool = true, exempt: Bool = false) -> Organization {
        Organization(
            id: OrganizationID(rawValue: "org_00000000000000aa"), name: "Acme", slug: "acme", plan: .pro,
            hardStopExempt: exempt, everCredited: everCredited, stripeCustomerID: nil, createdAt: time)
    }
    static func request(_ amount: String, ttl: Int64 = 600, policy: MeteringPolicy = .standard) -> HoldRequest {
        HoldRequest(
            organizationID: org().id, amount: dollars(amount), workspace: "research", ttlSeconds: ttl, policy: policy,
            receivedAt: time)
    }
    static func hold(_ amount: String, status: ReservationStatus = .held, expiresIn seconds: Int64 = 600) -> Reservation {
        Reservation(
            id: ReservationID(rawValue: "rsv_00000000000000aa"), organizationID: org().id, storedStatus: status,
            amount: dollars(amount), workspace: "research", createdAt: time, expiresAt: time.adding(seconds: seconds))
    }

    /// (balance, held, amount, organization, policy) → placed or refused.
    @Test(arguments: [
        ("10", "8", "2", true, false, true, true),  // exactly the available credit
        ("10", "8", "2.000001", true, false, true, false),  // a micro-dollar more
        ("10", "0", "10", true, false, true, true),
        ("1", "0", "5", false, false, true, true),  // never credited: track-only, not refused
        ("1", "0", "5", true, true, true, true),  // exempt from the hard stop
        ("1", "0", "5", true, false, false, true),  // the hard stop switched off
        ("-2", "0", "0.000001", true, false, true, false),  // a negative balance holds nothing
    ])
    func placesOrRefusesLikeTheHardStop(
        balance: String, held: String, amount: String, credited: Bool, exempt: Bool, blocking: Bool, placed: Bool
    ) {
        let policy = MeteringPolicy(blockOverBalance: blocking)
        let totals = HoldTotals(held: Self.dollars(held), nextExpiry: held == "0" ? nil : Self.time.adding(seconds: 30))
        let result = Holds.place(
            Self.request(amount, policy: policy), workspaceID: nil,
            organization: Self.org(everCredited: credited, exempt: exempt),
            balance: Self.dollars(balance), totals: totals)
        switch result {
        case .success(let (reservation, after)):
            #expect(placed)
            #expect(reservation.amount == Self.dollars(amount) && reservation.storedStatus == .held)
            #expect(reservation.expiresAt == Self.time.adding(seconds: 600))
            #expect(after.held == Self.dollars(held).adding(Self.dollars(amount)))
            // The earliest expiry stays the earliest.
            #expect(after.nextExpiry == totals.nextExpiry ?? reservation.expiresAt)
        case .failure(let denial):
            #expect(!placed)
            guard case .credit(let refusal) = denial else {
                Issue.record("refused by a budget: \(denial)")
                return
            }
            #expect(refusal.available == Self.dollars(balance).subtracting(Self.dollars(held)))
            #expect(refusal.response.status == 402)
            #expect(refusal.response.body.contains(#""code":"insufficient_credit""#))
        }
    }

    @Test func aRefusalSaysWhatWasAvailable() {
        let refusal = HoldRefusal(amount: Self.dollars("3"), balance: Self.dollars("10"), held: Self.dollars("8"))
        #expect(refusal.sentence == "insufficient credit: this hold costs $3.00, available $2.00 (balance $10.00, $8.00 held)")
        #expect(
            refusal.response.body
                == #"{"error":"insufficient credit: this hold costs $3.00, available $2.00 (balance $10.00, $8.00 held)","code":"insufficient_credit","required_usd":3,"balance_usd":10,"held_usd":8,"available_usd":2}"#
        )
    }

    @Test func aHoldIsExpiredFromItsInstantOn() {
        let hold = Self.hold("1", expiresIn: 60)
        #expect(hold.status(at: Self.time.adding(seconds: 59)) == .held)
        #expect(hold.status(at: Timestamp(rawValue: hold.expiresAt.millis - 1)) == .held)
        #expect(hold.status(at: hold.expiresAt) == .expired)
        #expect(!Holds.expiryDue(HoldTotals(held: .zero, nextExpiry: nil), now: Self.time))
        #expect(Holds.expiryDue(HoldTotals(held: Self.dollars("1"), nextExpiry: hold.expiresAt), now: hold.expiresAt))
        #expect(
            !Holds.expiryDue(
                HoldTotals(held: Self.dollars("1"), nextExpiry: hold.expiresAt),
                now: Timestamp(rawValue: hold.expiresAt.millis - 1)
            ))
    }

    @Test func expiringTakesEachHoldOutOfTheTotalsOnce() {
        let due = [Self.hold("1", expiresIn: 10), Self.hold("2.5", expiresIn: 20)]
        let next = Self.time.adding(seconds: 90)
        let (closed, totals) = Holds.expire(
            due, totals: HoldTotals(held: Self.dollars("4"), nextExpiry: Self.time.adding(seconds: 10)),
            remainingNextExpiry: next)
        #expect(closed.map(\.storedStatus) == [.expired, .expired])
        #expect(closed.map(\.closedAt) == [Self.time.adding(seconds: 10), Self.time.adding(seconds: 20)])
        #expect(closed.map(\.released) == [Self.dollars("1"), Self.dollars("2.5")])
        #expect(totals == HoldTotals(held: Self.dollars("0.5"), nextExpiry: next))
    }

    /// (stored status, seconds to expiry) → what a settle and a release do.
    @Test(arguments: [
        (ReservationStatus.held, Int64(600), Holds.Closing.proceed, Holds.Closing.proceed),
        (.held, 0, .conflict(.expired), .conflict(.expired)),  // past expiry, not swept yet
        (.settled, 600, .replay, .conflict(.settled)),
        (.released, 600, .conflict(.released), .replay),
        (.expired, 600, .conflict(.expired), .conflict(.expired)),
    ])
    func settlesAndReleasesFollowTheState(
        status: ReservationStatus, seconds: Int64, settle: Holds.Closing, release: Holds.Closing
    ) {
        let hold = Self.hold("1", status: status, expiresIn: seconds)
        #expect(Holds.settling(hold, now: Self.time) == settle)
        #expect(Holds.releasing(hold, now: Self.time) == release)
    }

    @Test func aSettleChargesTheCallAndReleasesTheRest() {
        let totals = HoldTotals(held: Self.dollars("3"), nextExpiry: Self.time.adding(seconds: 600))
        for (cost, released, over) in [("0.4", "0.6", false), ("1", "0", false), ("1.7", "0", true)] {
            let event = EventOutcome(
                status: .recorded, eventID: UsageEventID(rawValue: "evt_1"), cost: Self.dollars(cost), costKind: .exact,
                balanceAfter: .zero, overFreeLimit: false, workspaceID: nil, alerts: [])
            let (settled, after) = Holds.settled(Self.hold("1"), event: event, totals: totals, at: Self.time)
            #expect(settled.storedStatus == .settled && settled.cost == Self.dollars(cost))
            #expect(settled.released == Self.dollars(released))
            #expect(settled.overHold == over)
            #expect(after.held == Self.dollars("2"))
            let response = Holds.settleResponse(StoredResponse(status: 200, body: #"{"recorded":true}"#), reservation: settled)
            #expect(
                response.body
                    == #"{"recorded":true,"reservation_id":"rsv_00000000000000aa","held_usd":1,"released_usd":\#(released),"over_hold":\#(over),"status":"settled"}"#
            )
        }
        // The last hold out leaves no expiry to look for.
        let (_, none) = Holds.released(Self.hold("3"), totals: totals, at: Self.time)
        #expect(none == HoldTotals(held: .zero, nextExpiry: nil))
    }

    @Test func aSettleEventIsChargedInFullAndTakesTheHoldsWorkspace() {
        let batch = UsageBatch(
            organizationID: Self.org().id, events: [UsageEventInput(provider: "openai", model: "gpt-5")],
            idempotency: .init(key: "k", requestHash: "h"), receivedAt: Self.time)
        let settling = Holds.settleBatch(batch, for: Self.hold("1"))
        #expect(settling.events[0].workspace == "research")
        #expect(settling.idempotency == nil)
        #expect(!settling.policy.blockOverBalance && !settling.policy.blockOverFreeLimit)
        var keyed = Self.hold("1")
        keyed.runID = "run-9"
        keyed.apiKeyID = APIKeyID(rawValue: "key_00000000000000aa")
        let attributed = Holds.settleBatch(batch, for: keyed)
        #expect(attributed.events[0].runID == "run-9" && attributed.apiKeyID == keyed.apiKeyID)
        var named = batch
        named.events[0].workspace = "ops"
        #expect(Holds.settleBatch(named, for: Self.hold("1")).events[0].workspace == "ops")
    }

    /// Spends see the holds: with $10 of balance and $8 held, $2 may be spent, not $2.01.
    @Test func spendsUseOnlyWhatIsNotHeld() {
        let snapshot = OrganizationSnapshot(
            plan: .pro, balance: Self.dollars("10"), everCredited: true, hardStopExempt: false, monthTrackedTokens: 0,
            held: Self.dollars("8"))
        #expect(
            Metering.decide(snapshot: snapshot, tokens: .zero, cost: Self.dollars("2"), policy: .standard)
                == .record(balanceAfter: Self.dollars("8"), overFreeLimit: false))
        #expect(
            Metering.decide(snapshot: snapshot, tokens: .zero, cost: Self.dollars("2.01"), policy: .standard)
                == .reject(.overBalance))
    }
}
