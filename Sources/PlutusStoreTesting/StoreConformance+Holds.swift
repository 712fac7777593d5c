import PlutusCore
import PlutusStore
import Testing

/// Holds: what every store must do with them.
extension StoreConformance {
    static func hold(
        _ store: some BillingStore, _ org: OrganizationID, _ amount: String, ttl: Int64 = Limits.holdTTLSecondsDefault,
        workspace: String? = nil, key: String? = nil, hash: String = "h", at time: Timestamp = now
    ) async throws -> HoldResult {
        try await store.placeHold(
            HoldRequest(
                organizationID: org, amount: dollars(amount), workspace: workspace, ttlSeconds: ttl,
                idempotency: key.map { .init(key: $0, requestHash: hash) }, receivedAt: time))
    }

    static func placed(_ result: HoldResult) -> Reservation? {
        if case .placed(let reservation, _, _) = result { return reservation }
        return nil
    }

    static func settle(
        _ store: some BillingStore, _ org: OrganizationID, _ id: ReservationID, _ event: UsageEventInput,
        at time: Timestamp = now
    ) async throws -> SettleResult {
        try await store.settleHold(id, UsageBatch(organizationID: org, events: [event], receivedAt: time))
    }

    /// $10 of credit and an $8 hold: a spend may use $2, not $3; the settle records the call
    /// at its cost and gives back the rest, once; the balance shows what is held.
    public static func holdsSetCreditAsideAndSettleOnce(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await grant(store, org, "10")
        let result = try await hold(store, org, "8")
        guard case .placed(let reservation, let available, let response) = result else {
            Issue.record("the hold was not placed: \(result)")
            return
        }
        #expect(available == dollars("2"))
        #expect(response.status == 201)
        #expect(reservation.status(at: now) == .held)
        #expect(reservation.expiresAt == now.adding(seconds: Limits.holdTTLSecondsDefault))
        let refused = outcome(try await record(store, org, [event(cost: "3")]))!.events[0]
        #expect(refused.status == .rejected(.overBalance))
        #expect(refused.held == dollars("8"))
        #expect(outcome(try await record(store, org, [event(cost: "2")]))!.recordedCount == 1)
        var balance = try await store.balance(org, at: now)
        #expect(balance.balance == dollars("8") && balance.held == dollars("8") && balance.available == .zero)

        let settled = try await settle(store, org, reservation.id, event(cost: "5"))
        guard case .settled(let closed, let answer) = settled else {
            Issue.record("the hold was not settled: \(settled)")
            return
        }
        #expect(closed.storedStatus == .settled && closed.cost == dollars("5") && closed.released == dollars("3"))
        #expect(!closed.overHold)
        #expect(answer.body.contains(#""released_usd":3"#) && answer.body.contains(#""recorded":true"#))
        balance = try await store.balance(org, at: now)
        #expect(balance.balance == dollars("3") && balance.held == .zero)
        #expect(try await allEvents(store, org).count == 2)
        // Settling again answers as the first time and writes nothing.
        #expect(try await settle(store, org, reservation.id, event(cost: "5")) == .replayed(answer))
        #expect(try await store.balance(org, at: now).balance == dollars("3"))
        await #expect(throws: StoreError.reservationClosed(id: reservation.id.rawValue, status: "settled")) {
            _ = try await store.releaseHold(org, reservation.id, at: now)
        }
        #expect(try await store.reservation(org, reservation.id) == closed)
        #expect(try await store.verify().isClean)
    }

    /// A hold of exactly the available credit is placed; a micro-dollar more is refused with
    /// nothing held; an organization that never held credit is not refused (as with spends).
    public static func holdsStopAtTheAvailableCredit(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await grant(store, org, "1")
        #expect(placed(try await hold(store, org, "0.4")) != nil)
        guard case .placed(_, let available, _) = try await hold(store, org, "0.6") else {
            Issue.record("a hold of exactly the available credit was refused")
            return
        }
        #expect(available == .zero)
        let refused = try await hold(store, org, "0.000001")
        #expect(refused == .refused(HoldRefusal(amount: dollars("0.000001"), balance: dollars("1"), held: dollars("1"))))
        #expect(try await store.reservations(org, activeAt: now, limit: 10).count == 2)
        let trackOnly = try await store.createOrganization(name: "Hobby", plan: .free, ownerEmail: nil).id
        #expect(placed(try await hold(store, trackOnly, "5")) != nil)
        #expect(try await store.verify().isClean)
    }

    /// The call happened: a settle above the hold is charged in full and flagged, even past
    /// the available credit.
    public static func settlesAboveTheHoldAreChargedInFull(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await grant(store, org, "1")
        let reservation = placed(try await hold(store, org, "0.5", workspace: "research"))!
        guard case .settled(let closed, let answer) = try await settle(store, org, reservation.id, event(cost: "2")) else {
            Issue.record("the settle was refused")
            return
        }
        #expect(closed.overHold && closed.released == .zero && closed.cost == dollars("2"))
        #expect(answer.body.contains(#""over_hold":true"#))
        #expect(try await store.balance(org, at: now).balance == dollars("-1"))
        // The event names no workspace: it is the hold's.
        let recorded = try await allEvents(store, org)
        #expect(recorded.count == 1 && recorded[0].workspaceName == "research")
        #expect(try await store.verify().isClean)
    }

    /// Release gives the credit back once; a settle after it is refused naming the state.
    public static func releasedHoldsGiveTheCreditBack(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await grant(store, org, "1")
        let reservation = placed(try await hold(store, org, "0.75"))!
        let (released, response) = try await store.releaseHold(org, reservation.id, at: now)
        #expect(released.storedStatus == .released && released.released == dollars("0.75"))
        #expect(response.body.contains(#""status":"released""#))
        #expect(try await store.balance(org, at: now).available == dollars("1"))
        #expect(try await store.releaseHold(org, reservation.id, at: now).response == response)
        await #expect(throws: StoreError.reservationClosed(id: reservation.id.rawValue, status: "released")) {
            _ = try await settle(store, org, reservation.id, event(cost: "0.1"))
        }
        let other = try await store.createOrganization(name: "Other", plan: .pro, ownerEmail: nil).id
        await #expect(throws: StoreError.reservationNotFound(reservation.id.rawValue)) {
            _ = try await store.releaseHold(other, reservation.id, at: now)
        }
        #expect(try await store.reservation(other, reservation.id) == nil)
        #expect(try await allEvents(store, org).isEmpty)
        #expect(try await store.verify().isClean)
    }

    /// A hold expires at its instant: no read counts it from then on, the next write of its
    /// organization releases it exactly once, the sweep releases the holds of quiet
    /// organizations, and a settle afterwards is refused naming the state.
    public static func holdsExpireAtTheirInstant(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await grant(store, org, "1")
        let first = placed(try await hold(store, org, "0.6", ttl: 60))!
        let justBefore = Timestamp(rawValue: first.expiresAt.millis - 1)
        #expect(try await store.balance(org, at: justBefore).held == dollars("0.6"))
        #expect(try await store.balance(org, at: first.expiresAt).held == .zero)
        #expect(try await store.reservation(org, first.id)?.status(at: first.expiresAt) == .expired)
        #expect(try await hold(store, org, "0.6", at: justBefore).isRefusal)
        // At the instant of expiry the credit is free again, and the hold is expired once.
        let second = placed(try await hold(store, org, "0.6", ttl: 10, at: first.expiresAt))!
        #expect(try await store.reservation(org, first.id)?.storedStatus == .expired)
        await #expect(throws: StoreError.reservationClosed(id: first.id.rawValue, status: "expired")) {
            _ = try await settle(store, org, first.id, event(cost: "0.1"), at: first.expiresAt)
        }
        #expect(try await store.verify().isClean)
        // Nobody writes for Acme any more: the sweep expires the second hold.
        #expect(try await store.expireHolds(at: Timestamp(rawValue: second.expiresAt.millis - 1)) == 0)
        #expect(try await store.expireHolds(at: second.expiresAt) == 1)
        #expect(try await store.expireHolds(at: second.expiresAt) == 0)
        #expect(try await store.reservation(org, second.id)?.storedStatus == .expired)
        #expect(try await store.balance(org, at: second.expiresAt).available == dollars("1"))
        #expect(try await store.verify().isClean)
    }

    /// The same Idempotency-Key and body place one hold; another body is a conflict.
    public static func holdsAreIdempotentByKey(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await grant(store, org, "1")
        guard case .placed(_, _, let response) = try await hold(store, org, "0.3", key: "k1", hash: "a") else {
            Issue.record("the hold was not placed")
            return
        }
        #expect(try await hold(store, org, "0.3", key: "k1", hash: "a") == .replayed(response))
        await #expect(throws: StoreError.idempotencyConflict(key: "k1")) {
            _ = try await hold(store, org, "0.4", key: "k1", hash: "b")
        }
        #expect(try await store.balance(org, at: now).held == dollars("0.3"))
    }

    /// 64 concurrent holds of $0.10 against $1.00 of available credit: exactly 10 are placed.
    public static func concurrentHoldsNeverOverspend(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await grant(store, org, "1")
        let placedCount = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<64 { group.addTask { placed(try await hold(store, org, "0.1")) == nil ? 0 : 1 } }
            return try await group.reduce(0, +)
        }
        #expect(placedCount == 10)
        let balance = try await store.balance(org, at: now)
        #expect(balance.held == dollars("1") && balance.available == .zero)
        #expect(try await store.reservations(org, activeAt: now, limit: 100).count == 10)
        #expect(try await store.verify().isClean)
    }
}

extension StoreConformance {
    /// Settles, spends and new holds of one organization sent at once (a store may decide
    /// them together): every settle records its call and gives back the rest once, settles
    /// of a hold that is not there or was released fail alone, every spend fits, and the new
    /// holds never take a $5 workspace budget or the credit past its limit, whatever order
    /// they were decided in. Returns how many new holds were placed. `holdWrites` may hold
    /// the store's writes back while the requests are sent and returns how to let them go.
    @discardableResult
    public static func holdsSettlesAndSpendsDecidedTogether(
        _ store: some BillingStore, holdWrites: () throws -> (() -> Void) = { {} }
    ) async throws -> Int {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await grant(store, org, "10")
        let ci = try await budget(store, org, .workspace, "ci", limit: "5")
        var open: [ReservationID] = []
        for _ in 0..<10 { open.append(try #require(placed(try await hold(store, org, "0.5", workspace: "ci"))).id) }
        let released = try #require(placed(try await hold(store, org, "0.5")))
        _ = try await store.releaseHold(org, released.id, at: now)

        let release = try holdWrites()
        let outcomes = await withTaskGroup(of: (String, MoneyOutcome).self) { group in
            for id in open {
                group.addTask { await ("settle", capture { .settle(try await settle(store, org, id, event(cost: "0.3"))) }) }
            }
            group.addTask {
                await (
                    "unknown",
                    capture { .settle(try await settle(store, org, ReservationID(rawValue: "rsv_none"), event(cost: "1"))) }
                )
            }
            group.addTask { await ("released", capture { .settle(try await settle(store, org, released.id, event(cost: "1"))) }) }
            for _ in 0..<10 { group.addTask { await ("spend", capture { .spend(try await spend(store, org, "0.1")) }) } }
            for _ in 0..<20 {
                group.addTask { await ("hold", capture { .hold(try await hold(store, org, "0.4", workspace: "ci")) }) }
            }
            return await group.reduce(into: [(String, MoneyOutcome)]()) { $0.append($1) }
        }
        release()

        var placedCount = 0
        for (label, outcome) in outcomes {
            switch (label, outcome) {
            case ("settle", .settle(.settled(let hold, _))):
                #expect(hold.cost == dollars("0.3") && hold.released == dollars("0.2"))
            case ("unknown", .failed(let error)): #expect(error == .reservationNotFound("rsv_none"))
            case ("released", .failed(let error)):
                #expect(error == .reservationClosed(id: released.id.rawValue, status: "released"))
            case ("spend", .spend(let event)): #expect(event.status == .recorded)
            case ("hold", .hold(.placed)): placedCount += 1
            case ("hold", .hold(.refusedByBudget)): break
            default: Issue.record("\(label): \(outcome)")
            }
        }
        // All settles ($3.00) and spends ($1.00) happened; the new holds fit in what the
        // budget had left ($5 − $3 spent), whatever came first.
        #expect(placedCount <= 5)
        let balance = try await store.balance(org, at: now)
        #expect(balance.balance == dollars("6"))
        #expect(balance.held.rawValue == Int64(placedCount) * dollars("0.4").rawValue)
        let standing = try #require(
            try await store.budgets(org, at: now, includingDisabled: false).first { $0.budget.id == ci.id })
        #expect(standing.spent == dollars("3") && standing.held == balance.held)
        #expect(try await store.reservations(org, activeAt: now, limit: 100).count == placedCount)
        #expect(try await allEvents(store, org).count == 20)
        #expect(try await store.verify().isClean)
        return placedCount

        @Sendable func capture(_ body: () async throws -> MoneyOutcome) async -> MoneyOutcome {
            do { return try await body() } catch { return .failed(error as? StoreError) }
        }
    }

    /// What one of several money requests sent at once came to.
    enum MoneyOutcome: Sendable {
        case settle(SettleResult)
        case spend(EventOutcome)
        case hold(HoldResult)
        case failed(StoreError?)
    }
}

extension HoldResult {
    var isRefusal: Bool {
        if case .refused = self { return true }
        return false
    }
}
