import PlutusCore
import PlutusStore
import Synchronization
import Testing

/// The behaviour every `BillingStore` must have, whatever its backend. Each check is given
/// a fresh, empty store and records its failures with `#expect`.
public enum StoreConformance {
    static let now = Timestamp.parseISO8601("2026-11-20T12:00:00Z")!

    static func dollars(_ text: String) -> MicroDollars { try! MicroDollars.parse(text).get() }

    static func event(
        cost: String? = nil, provider: String = "anthropic", model: String? = "claude-opus-4-8", workspace: String? = nil,
        tokens: TokenCounts = .zero, eventID: String? = nil, at time: Timestamp? = nil
    ) -> UsageEventInput {
        UsageEventInput(
            provider: provider, model: model, workspace: workspace, tokens: tokens, exactCost: cost.map(dollars),
            timestamp: time, clientEventID: eventID)
    }

    static func record(
        _ store: some BillingStore, _ org: OrganizationID, _ events: [UsageEventInput], key: String? = nil,
        hash: String = "h", policy: MeteringPolicy = .standard, receivedAt: Timestamp = now
    ) async throws -> UsageBatchResult {
        try await store.recordUsage(
            UsageBatch(
                organizationID: org, events: events, idempotency: key.map { .init(key: $0, requestHash: hash) },
                policy: policy, receivedAt: receivedAt))
    }

    static func outcome(_ result: UsageBatchResult) -> UsageBatchOutcome? {
        if case .committed(let outcome, _) = result { return outcome }
        return nil
    }

    static func grant(_ store: some BillingStore, _ org: OrganizationID, _ amount: String, reference: String = "grant-1")
        async throws
    {
        _ = try await store.postCredit(
            org, try CreditMovement(kind: .grant, amount: dollars(amount), reference: reference, memo: nil), at: now)
    }

    static func allEvents(_ store: some BillingStore, _ org: OrganizationID) async throws -> [UsageEventRecord] {
        var items: [UsageEventRecord] = []
        var before: Int64?
        repeat {
            let page = try await store.usageEvents(org, page: PageRequest(limit: Limits.pageRowsMax, before: before))
            items += page.items
            before = page.nextBefore
        } while before != nil
        return items
    }

    // MARK: checks

    public static func recordsAndChargesABatch(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: "a@acme.example").id
        try await grant(store, org, "10")
        let result = try await record(
            store, org,
            [
                event(cost: "1"), event(cost: "0"),
                event(tokens: TokenCounts(input: 1_000, output: 500, cacheRead: 2_000, reasoning: 100)),
            ])
        let batch = try #require(outcome(result))
        #expect(batch.recordedCount == 3)
        #expect(batch.events.map(\.costKind) == [.exact, .exact, .estimated])
        #expect(batch.events.map(\.balanceAfter) == [dollars("9"), dollars("9"), dollars("8.937")])
        #expect(try await store.balance(org, at: now).balance == dollars("8.937"))
        // One usage entry for the request, paying for the two events that cost something.
        let ledger = try await store.ledgerEntries(org, page: PageRequest())
        #expect(ledger.items.map(\.kind) == [.usage, .grant])
        #expect(ledger.items.map(\.amount) == [dollars("-1.063"), dollars("10")])
        #expect(ledger.items[0].reference == batch.events[0].eventID?.rawValue)
        #expect(ledger.items[0].memo == "2 usage events")
        #expect(ledger.items[0].balanceAfter == dollars("8.937"))
        let events = try await allEvents(store, org).reversed()
        #expect(events.map(\.entryID) == [ledger.items[0].id, nil, ledger.items[0].id])
        #expect(events.first?.priceVersion == PriceCatalog.builtin.version)
        // A single event's entry reads as before: its reference is the event, its memo the call.
        let single = try #require(outcome(try await record(store, org, [event(cost: "0.5")])))
        let latest = try #require(try await store.ledgerEntries(org, page: PageRequest(limit: 1)).items.first)
        #expect(latest.reference == single.events[0].eventID?.rawValue && latest.memo == "anthropic/claude-opus-4-8 general")
        #expect(latest.amount == dollars("-0.5"))
        #expect(try await store.verify().isClean)
    }

    /// A batch longer than one insert statement holds (237 = 2 × 100 + 3 × 10 + 7 × 1 rows on
    /// SQLite) lands whole, in order, under one entry.
    public static func aLongBatchLandsWholeAndInOrder(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await grant(store, org, "100")
        let inputs: [UsageEventInput] = (1...237).map { (n: Int) -> UsageEventInput in
            let workspace: String? = n % 3 == 0 ? "w\(n % 2)" : nil
            let clientID: String? = n % 5 == 0 ? "call-\(n)" : nil
            return event(
                cost: "0.00\(n % 10)", workspace: workspace, tokens: TokenCounts(input: Int64(n)), eventID: clientID)
        }
        let batch = try #require(outcome(try await record(store, org, inputs)))
        #expect(batch.recordedCount == 237)
        let events = Array(try await allEvents(store, org).reversed())
        #expect(events.map(\.tokens.input) == (1...237).map { Int64($0) })
        let recordedIDs: [UsageEventID] = batch.events.compactMap { $0.eventID }
        #expect(events.map(\.id) == recordedIDs)
        let clientIDs: [String?] = inputs.map { $0.clientEventID }
        #expect(events.map(\.clientEventID) == clientIDs)
        let total = inputs.reduce(MicroDollars.zero) { $0.adding($1.exactCost!)! }
        let ledger = try await store.ledgerEntries(org, page: PageRequest()).items
        #expect(ledger.count == 2 && ledger[0].amount == MicroDollars(rawValue: -total.rawValue))
        #expect(Set(events.filter { $0.cost.isPositive }.map(\.entryID)) == [ledger[0].id])
        #expect(try await store.balance(org, at: now).balance == dollars("100").subtracting(total))
        #expect(try await store.verify().isClean)
    }

    public static func anInvalidEventWritesNothing(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await grant(store, org, "5")
        let priceless = event(workspace: "new-ws", tokens: TokenCounts(output: Limits.tokensPerFieldMax))
        await #expect(throws: UsageFieldError.self) {
            try await record(store, org, [event(cost: "1", workspace: "new-ws"), priceless])
        }
        #expect(try await allEvents(store, org).isEmpty)
        #expect(try await store.listWorkspaces(org).isEmpty)
        #expect(try await store.balance(org, at: now).balance == dollars("5"))
    }

    public static func idempotencyKeysReplayOrConflict(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        let other = try await store.createOrganization(name: "Other", plan: .pro, ownerEmail: nil).id
        let first = try await record(store, org, [event(cost: "1")], key: "k-1", hash: "body-a")
        guard case .committed(_, let original) = first else {
            Issue.record("first request must commit")
            return
        }
        let replay = try await record(store, org, [event(cost: "1")], key: "k-1", hash: "body-a")
        #expect(replay == .replayed(original))
        #expect(replay.response.body.hasSuffix(#","idempotent_replay":true}"#))
        await #expect(throws: StoreError.idempotencyConflict(key: "k-1")) {
            try await record(store, org, [event(cost: "2")], key: "k-1", hash: "body-b")
        }
        // Keys are scoped per organization.
        #expect(outcome(try await record(store, other, [event(cost: "1")], key: "k-1", hash: "body-a")) != nil)
        #expect(try await allEvents(store, org).count == 1)
        #expect(try await store.balance(org, at: now).balance == dollars("-1"))
    }

    /// 16 concurrent writers × 50 single-event requests on one organization.
    public static func concurrentEventsGiveTheExactBalance(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await grant(store, org, "100")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<16 {
                group.addTask {
                    for _ in 0..<50 { _ = try await record(store, org, [event(cost: "0.01")]) }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await store.balance(org, at: now).balance == dollars("92"))
        #expect(try await allEvents(store, org).count == 800)
        #expect(try await store.balance(org, at: now).monthEvents == 800)
        #expect(try await store.verify().isClean)
    }

    /// $5 of credit, 40 concurrent $1 calls: exactly five land and the balance ends at zero.
    public static func hardStopHoldsUnderConcurrency(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await grant(store, org, "5")
        let recorded = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<40 {
                group.addTask { outcome(try await record(store, org, [event(cost: "1")]))?.recordedCount ?? 0 }
            }
            return try await group.reduce(0, +)
        }
        #expect(recorded == 5)
        #expect(try await store.balance(org, at: now).balance == .zero)
        let balances = try await store.ledgerEntries(org, page: PageRequest()).items.filter { $0.kind == .usage }
            .map(\.balanceAfter).sorted()
        #expect(balances == ["0", "1", "2", "3", "4"].map(dollars))
        #expect(try await store.verify().isClean)
    }

    /// 24 concurrent requests with one Idempotency-Key: one batch is recorded.
    public static func concurrentRetriesRecordOnce(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        let committed = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<24 {
                group.addTask {
                    let result = try await record(store, org, [event(cost: "1"), event(cost: "2")], key: "same", hash: "x")
                    return outcome(result) == nil ? 0 : 1
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(committed == 1)
        #expect(try await allEvents(store, org).count == 2)
        #expect(try await store.balance(org, at: now).balance == dollars("-3"))
    }

    /// Concurrent requests of one organization, which a store may decide together in one
    /// transaction: each keeps its own outcome. A key used before with another body fails
    /// alone; a key repeated among them replays the first one's response; a client
    /// `event_id` sent by several is recorded once; counters, budget alerts and the balance
    /// come out as if the requests had run one by one. `holdWrites`, when given, is called
    /// just before the requests are sent and returns what to call once they are answered:
    /// a backend can hold its write lock meanwhile so they all queue up.
    public static func requestsDecidedTogetherKeepTheirOwnOutcomes(
        _ store: some BillingStore, holdWrites: () throws -> (() -> Void) = { {} }
    ) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await grant(store, org, "100")
        _ = try await store.createWorkspace(org, name: "ci", monthlyBudget: dollars("10"))
        _ = try await record(store, org, [event(cost: "1")], key: "taken", hash: "first")
        let release = try holdWrites()
        let results = await withTaskGroup(of: (String, Result<UsageBatchResult, any Error>).self) { group in
            for index in 0..<40 {
                let (label, events, key, hash): (String, [UsageEventInput], String?, String) =
                    switch index % 8 {
                    case 0: ("conflict", [event(cost: "1")], "taken", "other")
                    case 1: ("same-key", [event(cost: "1")], "shared", "h")
                    case 2: ("client-id", [event(cost: "1", eventID: "call-1")], nil, "h")
                    case 3: ("workspace", [event(cost: "2", workspace: "ci")], nil, "h")
                    default: ("plain", [event(cost: "1")], nil, "h")
                    }
                group.addTask {
                    do { return (label, .success(try await record(store, org, events, key: key, hash: hash))) } catch {
                        return (label, .failure(error))
                    }
                }
            }
            return await group.reduce(into: [(String, Result<UsageBatchResult, any Error>)]()) { $0.append($1) }
        }
        release()
        for (label, result) in results {
            switch (label, result) {
            case ("conflict", .failure(let error)): #expect(error as? StoreError == .idempotencyConflict(key: "taken"))
            case ("conflict", .success): Issue.record("a reused key with another body must fail")
            case (_, .failure(let error)): Issue.record("\(label) failed: \(error)")
            default: break
            }
        }
        let shared = results.filter { $0.0 == "same-key" }.compactMap { try? $0.1.get() }
        #expect(shared.count == 5)
        #expect(Set(shared.map { $0.response.body.replacingOccurrences(of: ",\"idempotent_replay\":true", with: "") }).count == 1)
        let clientIDs = results.filter { $0.0 == "client-id" }.compactMap { try? outcome($0.1.get())?.events.first }
        #expect(
            clientIDs.map(\.status).sorted { "\($0)" < "\($1)" } == [.duplicate, .duplicate, .duplicate, .duplicate, .recorded])
        #expect(Set(clientIDs.map(\.eventID)).count == 1)
        // $1 before, 20 plain, one shared key, one client id, 5 workspace events at $2.
        let balance = try await store.balance(org, at: now)
        #expect(balance.balance == dollars("67"))
        #expect(balance.monthEvents == 28)
        #expect(try await allEvents(store, org).count == 28)
        // The $10 budget of "ci" passes 50 %, 80 % and 100 %: each alert is logged once and
        // answered to the one request that raised it.
        let budgetAlerts = try await store.recentAlerts(org, limit: 50).filter { [.budgetWarn, .budgetCap].contains($0.kind) }
        #expect(budgetAlerts.count == 3, "budget alerts: \(budgetAlerts.map(\.message))")
        let raised = results.filter { $0.0 == "workspace" }.compactMap { try? outcome($0.1.get()) }
            .flatMap { $0.events.flatMap(\.alerts) }.filter { [.budgetWarn, .budgetCap].contains($0.kind) }
        #expect(raised.count == 3)
        #expect(try await store.verify().isClean)
    }

    public static func refusedEventsCreateNoWorkspace(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await grant(store, org, "1")
        let refused = try #require(outcome(try await record(store, org, [event(cost: "2", workspace: "fresh")])))
        #expect(refused.events[0].status == .rejected(.overBalance))
        #expect(refused.events[0].balanceAfter == dollars("1"))
        // Credit is left, so this is a call too big for it, not a hard stop: smaller calls still run.
        #expect(refused.events[0].alerts.map(\.kind) == [.callRefused])
        #expect(refused.events[0].alerts.first?.message == "insufficient credit: this call costs $2.00, balance $1.00")
        #expect(try await store.listWorkspaces(org).isEmpty)
        #expect(try await allEvents(store, org).isEmpty)
        #expect(try await store.ledgerEntries(org, page: PageRequest()).items.count == 1)
    }

    public static func freeTierCrossingLandsThenBlocks(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Hobby", plan: .free, ownerEmail: nil).id
        let policy = MeteringPolicy(blockOverFreeLimit: true)
        let first = try #require(
            outcome(try await record(store, org, [event(tokens: TokenCounts(input: 9_000))], policy: policy)))
        #expect(first.events[0].isRecorded && !first.events[0].overFreeLimit)
        let crossing = try #require(
            outcome(try await record(store, org, [event(tokens: TokenCounts(input: 2_000))], policy: policy)))
        #expect(crossing.events[0].isRecorded && crossing.events[0].overFreeLimit)
        #expect(crossing.trackedTokensThisMonth == 11_000)
        let blocked = try #require(
            outcome(try await record(store, org, [event(workspace: "w", tokens: TokenCounts(input: 1))], policy: policy)))
        #expect(blocked.events[0].status == .rejected(.overFreeLimit))
        #expect(blocked.events[0].cost == .zero)
        #expect(UsageResponse.render(blocked, upgradeURL: "/pricing").status == 402)
        #expect(try await store.listWorkspaces(org).isEmpty)
        #expect(try await store.balance(org, at: now).monthTrackedTokens == 11_000)
        let alerts = try await store.recentAlerts(org, limit: 10).map(\.kind)
        #expect(alerts.contains(.freeTierOver))
    }

    public static func trackOnlyOrganizationsRunNegative(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Track", plan: .pro, ownerEmail: nil).id
        #expect(outcome(try await record(store, org, [event(cost: "3")]))?.recordedCount == 1)
        #expect(try await store.balance(org, at: now).balance == dollars("-3"))
        // A top-up first nets off the earlier spend, and turns the hard stop on.
        _ = try await store.postCredit(
            org, try CreditMovement(kind: .topUp, amount: dollars("5"), reference: "cs_1", memo: nil), at: now)
        #expect(try await store.balance(org, at: now).balance == dollars("2"))
        let refused = try #require(outcome(try await record(store, org, [event(cost: "2.5")])))
        #expect(refused.events[0].status == .rejected(.overBalance))
        // A free call writes an event but no zero-amount entry.
        #expect(outcome(try await record(store, org, [event(cost: "0")]))?.recordedCount == 1)
        #expect(try await store.ledgerEntries(org, page: PageRequest()).items.count == 2)
        #expect(try await allEvents(store, org).count == 2)
        // An exempt organization may go below zero.
        _ = try await store.setHardStopExempt(org, exempt: true)
        #expect(outcome(try await record(store, org, [event(cost: "2.5")]))?.recordedCount == 1)
        #expect(try await store.balance(org, at: now).balance == dollars("-0.5"))
        #expect(try await store.verify().isClean)
    }

    public static func workspacesResolveAndFoldAtTheCap(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Hobby", plan: .free, ownerEmail: nil).id
        let first = try #require(outcome(try await record(store, org, [event(cost: "0", workspace: "Support Bot")])))
        let workspaces = try await store.listWorkspaces(org)
        #expect(workspaces.map(\.slug) == ["support-bot"])
        #expect(first.events[0].workspaceID == workspaces[0].id)
        let bySlug = try #require(outcome(try await record(store, org, [event(cost: "0", workspace: "support-bot")])))
        #expect(bySlug.events[0].workspaceID == workspaces[0].id)
        let folded = try #require(outcome(try await record(store, org, [event(cost: "0", workspace: "second")])))
        #expect(folded.events[0].workspaceID == workspaces[0].id)
        #expect(try await store.listWorkspaces(org).count == 1)
        await #expect(throws: StoreError.nameTaken("Support Bot")) {
            try await store.createWorkspace(org, name: "Support Bot", monthlyBudget: nil)
        }
    }

    public static func clientEventIDsAreRecordedOnce(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        let first = try #require(
            outcome(
                try await record(
                    store, org, [event(cost: "1", eventID: "call-1"), event(cost: "1", eventID: "call-1")])))
        #expect(first.events.map(\.status) == [.recorded, .duplicate])
        #expect(first.events[1].eventID == first.events[0].eventID)
        let again = try #require(outcome(try await record(store, org, [event(cost: "1", eventID: "call-1")])))
        #expect(again.events[0].status == .duplicate)
        #expect(UsageResponse.render(again, upgradeURL: "/pricing").status == 200)
        #expect(try await allEvents(store, org).count == 1)
        #expect(try await store.balance(org, at: now).balance == dollars("-1"))
    }

    /// A request with many client event ids (more than one lookup's worth) finds exactly the
    /// ones recorded before, wherever they stand in the batch.
    public static func manyClientEventIDsAreCheckedAtOnce(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        _ = try await record(store, org, [event(cost: "1", eventID: "old-3"), event(cost: "1", eventID: "old-777")])
        let ids = (0..<900).map { index in index == 3 ? "old-3" : index == 777 ? "old-777" : "new-\(index)" }
        let result = try #require(outcome(try await record(store, org, ids.map { event(cost: "0.01", eventID: $0) })))
        let duplicates = result.events.indices.filter { result.events[$0].status == .duplicate }
        #expect(duplicates == [3, 777])
        #expect(result.recordedCount == 898)
        #expect(try await allEvents(store, org).count == 900)
        #expect(try await store.verify().isClean)
    }

    public static func creditsAreIdempotentByReference(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        let other = try await store.createOrganization(name: "Other", plan: .pro, ownerEmail: nil).id
        let adjust = try CreditMovement(kind: .adjustment, amount: dollars("2"), reference: "adj-1", memo: "goodwill")
        _ = try await store.postCredit(org, adjust, at: now)
        #expect(try await store.findOrganization(org.rawValue)?.everCredited == false)
        let grant = try CreditMovement(kind: .grant, amount: dollars("5"), reference: "g-1", memo: nil)
        guard case .posted(let posted) = try await store.postCredit(org, grant, at: now) else {
            Issue.record("first grant must post")
            return
        }
        #expect(posted.balanceAfter == dollars("7"))
        #expect(try await store.postCredit(org, grant, at: now) == .alreadyPosted(posted))
        await #expect(throws: StoreError.creditReferenceConflict(reference: "g-1")) {
            try await store.postCredit(
                org, try CreditMovement(kind: .grant, amount: dollars("6"), reference: "g-1", memo: nil), at: now)
        }
        await #expect(throws: StoreError.creditReferenceConflict(reference: "g-1")) {
            try await store.postCredit(other, grant, at: now)
        }
        #expect(try await store.balance(org, at: now).balance == dollars("7"))
        #expect(try await store.findOrganization(org.rawValue)?.everCredited == true)
        await #expect(throws: StoreError.self) {
            try await store.postCredit(OrganizationID(rawValue: "org_ffffffffffffffff"), grant, at: now)
        }
    }

    public static func alertsAreRaisedOncePerPeriod(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        let budgeted = try await store.createWorkspace(org, name: "ci", monthlyBudget: dollars("10"))
        try await grant(store, org, "20")
        let policy = MeteringPolicy(lowBalanceThreshold: dollars("10"))
        var raised: [[AlertKind]] = []
        for _ in 0..<4 {
            let result = try #require(outcome(try await record(store, org, [event(cost: "4", workspace: "ci")], policy: policy)))
            raised.append(result.events[0].alerts.map(\.kind))
        }
        // $4 of a $10 budget (40 %): nothing; $8 (80 %): warn; $12 (120 %): cap and low balance; $16: nothing new.
        #expect(raised == [[], [.budgetWarn], [.lowBalance, .budgetCap], []])
        let logged = try await store.recentAlerts(org, limit: 10)
        #expect(logged.count == 3)
        #expect(logged.first { $0.kind == .budgetCap }?.workspaceID == budgeted.id)
    }

    /// Raises one low-balance alert at `time` in a new organization: a $20 grant, then $15 of usage.
    public static func raiseLowBalanceAlert(_ store: some BillingStore, name: String = "Acme", at time: Timestamp) async throws
        -> AlertRecord
    {
        let org = try await store.createOrganization(name: name, plan: .pro, ownerEmail: nil).id
        _ = try await store.postCredit(
            org, try CreditMovement(kind: .grant, amount: dollars("20"), reference: "grant-\(name)", memo: nil), at: time)
        _ = try await store.recordUsage(
            UsageBatch(
                organizationID: org, events: [event(cost: "15")], idempotency: nil,
                policy: MeteringPolicy(lowBalanceThreshold: dollars("10")), receivedAt: time))
        let alerts = try await store.recentAlerts(org, limit: 10)
        #expect(alerts.map(\.kind) == [.lowBalance])
        return try #require(alerts.first)
    }

    public static func alertOutboxTracksEachChannel(_ store: some BillingStore) async throws {
        let alert = try await raiseLowBalanceAlert(store, at: now)
        let since = now.adding(seconds: -86_400)
        func pending(_ channel: String, at time: Timestamp, since: Timestamp = since) async throws -> [PendingAlertDelivery] {
            try await store.pendingAlertDeliveries(channel: channel, createdSince: since, now: time, limit: 10)
        }
        func attempt(_ channel: String, _ number: Int, _ status: AlertDeliveryStatus, next: Timestamp? = nil) async throws {
            try await store.recordAlertDelivery(
                AlertDeliveryAttempt(
                    alertID: alert.id, channel: channel, attempt: number, status: status, reply: "HTTP 500", errorText: nil,
                    attemptedAt: now, nextAttemptAt: next))
        }
        // Given an alert no channel has tried, each channel finds it due, with its organization's name.
        let first = try await pending("a", at: now)
        #expect(first.map(\.alert.id) == [alert.id] && first.first?.organizationName == "Acme")
        #expect(first.first?.attemptsMade == 0)
        #expect(try await pending("a", at: now, since: now.adding(seconds: 1)).isEmpty)
        // A failed attempt on "a" makes it due there again only at its next attempt time.
        try await attempt("a", 1, .failed, next: now.adding(seconds: 60))
        #expect(try await pending("a", at: now.adding(seconds: 59)).isEmpty)
        #expect(try await pending("a", at: now.adding(seconds: 60)).map(\.attemptsMade) == [1])
        #expect(try await pending("b", at: now).map(\.attemptsMade) == [0])
        // Delivered on "a" and abandoned on "b": never due again anywhere.
        try await attempt("a", 2, .delivered)
        try await attempt("b", 1, .abandoned)
        #expect(try await pending("a", at: now.adding(seconds: 86_400)).isEmpty)
        #expect(try await pending("b", at: now.adding(seconds: 86_400)).isEmpty)
        let log = try await store.alertDeliveryLog(limit: 10)
        #expect(log.map(\.status) == [.abandoned, .delivered, .failed])
        #expect(log.map(\.channel) == ["b", "a", "a"] && log.last?.nextAttemptAt == now.adding(seconds: 60))
    }

    public static func pagesNeitherSkipNorRepeat(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        for index in 0..<25 {
            // Timestamps deliberately out of insertion order: paging follows the sequence.
            let time = now.adding(seconds: Int64((index * 7) % 11) * -3_600)
            _ = try await record(store, org, [event(cost: "0.01", at: time)])
        }
        var seen: [Int64] = []
        var before: Int64?
        var pages = 0
        repeat {
            let page = try await store.usageEvents(org, page: PageRequest(limit: 7, before: before))
            seen += page.items.map(\.sequence)
            before = page.nextBefore
            pages += 1
        } while before != nil
        #expect(pages == 4)
        #expect(seen.count == 25)
        #expect(Set(seen).count == 25)
        #expect(seen == seen.sorted(by: >))
        let ledger = try await store.ledgerEntries(org, page: PageRequest(limit: 10))
        #expect(ledger.items.count == 10 && ledger.nextBefore != nil)
    }

    public static func apiKeysAuthenticateUntilRevoked(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        let other = try await store.createOrganization(name: "Other", plan: .pro, ownerEmail: nil).id
        let created = try await store.createAPIKey(org, name: "ci")
        #expect(APIKeySecret.isWellFormed(created.secret))
        #expect(created.info.prefix == String(created.secret.prefix(14)))
        #expect(
            try await store.authenticateAPIKey(secret: created.secret)
                == APIKeyIdentity(keyID: created.info.id, organizationID: org))
        #expect(try await store.authenticateAPIKey(secret: "plutus_sk_" + String(repeating: "A", count: 32)) == nil)
        #expect(try await store.authenticateAPIKey(secret: "not-a-key") == nil)
        #expect(try await store.listAPIKeys(org).first?.lastUsedAt != nil)
        #expect(try await store.revokeAPIKey(other, keyID: created.info.id) == false)
        #expect(try await store.revokeAPIKey(org, keyID: created.info.id) == true)
        #expect(try await store.revokeAPIKey(org, keyID: created.info.id) == false)
        #expect(try await store.authenticateAPIKey(secret: created.secret) == nil)
        #expect(try await store.listAPIKeys(org).first?.revokedAt != nil)
    }

    public static func monthCountersFollowTheEventMonth(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .free, ownerEmail: nil).id
        let lastMonth = Timestamp.parseISO8601("2026-10-30T12:00:00Z")!
        let result = try #require(
            outcome(
                try await record(
                    store, org,
                    [
                        event(cost: "1", tokens: TokenCounts(input: 4_000), at: lastMonth),
                        event(cost: "2", tokens: TokenCounts(output: 300)),
                    ])))
        #expect(result.trackedTokensThisMonth == 300)
        let november = try await store.balance(org, at: now)
        #expect(november.monthTrackedTokens == 300 && november.monthSpend == dollars("2") && november.monthEvents == 1)
        let october = try await store.balance(org, at: lastMonth)
        #expect(october.monthTrackedTokens == 4_000 && october.monthSpend == dollars("1"))
        #expect(try await store.verify().isClean)
    }

    public static func summariesAddUpTheEventsByDay(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await grant(store, org, "100")
        let support = try await store.createWorkspace(org, name: "support", monthlyBudget: nil)
        let yesterday = now.adding(seconds: -86_400)
        func call(_ cost: String, _ provider: String, _ model: String?, _ task: String, _ workspace: String?, _ time: Timestamp)
            -> UsageEventInput
        {
            UsageEventInput(
                provider: provider, model: model, taskType: task, workspace: workspace,
                tokens: TokenCounts(input: 100, output: 10, cacheRead: 5, reasoning: 1), exactCost: dollars(cost),
                timestamp: time)
        }
        _ = try await record(
            store, org,
            [
                call("1", "anthropic", "claude-opus-4-8", "chat", "support", yesterday),
                call("2", "anthropic", "claude-opus-4-8", "chat", "support", now),
                call("4", "openai", nil, "review", nil, now),
            ])
        _ = try await record(store, org, [call("8", "anthropic", "claude-haiku-4-5", "chat", "support", now)])
        let days = yesterday.day.adding(days: -1)..<now.day.adding(days: 1)
        let summary = try await store.usageSummary(org, days: days, workspace: nil)
        #expect(summary.totals.events == 4 && summary.totals.cost == dollars("15"))
        #expect(summary.totals.tokens.input == 400 && summary.totals.tokens.reasoning == 4)
        #expect(summary.byProvider.map(\.key) == ["anthropic", "openai"])
        #expect(summary.byProvider.map(\.totals.cost) == [dollars("11"), dollars("4")])
        #expect(summary.byModel.map(\.label) == ["claude-haiku-4-5", "-", "claude-opus-4-8"])
        #expect(summary.byWorkspace.map(\.label) == ["support", UsageSummary.noWorkspaceLabel])
        #expect(summary.byWorkspace.first?.key == support.id.rawValue)
        #expect(summary.byTask.map(\.key) == ["chat", "review"])
        #expect(summary.byDay.map(\.day) == [yesterday.day.adding(days: -1), yesterday.day, now.day])
        #expect(summary.byDay.map(\.totals.cost) == [.zero, dollars("1"), dollars("14")])
        let supportOnly = try await store.usageSummary(org, days: days, workspace: support.id)
        #expect(supportOnly.totals.cost == dollars("11") && supportOnly.byWorkspace.count == 1)
        let today = try await store.usageSummary(org, days: now.day..<now.day.adding(days: 1), workspace: nil)
        #expect(today.totals.events == 3)
        #expect(try await store.verify().isClean)
    }

    public static func creditStatementsReconcile(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        let october = Timestamp.parseISO8601("2026-10-25T12:00:00Z")!
        let early = Timestamp.parseISO8601("2026-11-02T12:00:00Z")!
        func post(_ kind: EntryKind, _ amount: String, _ reference: String, at time: Timestamp) async throws {
            _ = try await store.postCredit(
                org, try CreditMovement(kind: kind, amount: dollars(amount), reference: reference, memo: nil), at: time)
        }
        try await post(.topUp, "50", "cs_1", at: october)
        _ = try await record(store, org, [event(cost: "5", at: october)], receivedAt: october)
        try await post(.topUp, "20", "cs_2", at: early)
        try await post(.grant, "3", "g_1", at: early)
        try await post(.adjustment, "-1.5", "adj_1", at: early)
        try await post(.refund, "-2", "re_1", at: early)
        _ = try await record(store, org, [event(cost: "4", at: early), event(cost: "0.25")])
        let month = CivilMonth(year: 2026, month: 11)
        let statement = try await store.creditStatement(org, from: month.start, to: month.end)
        #expect(statement.opening == dollars("45"))
        #expect(statement.net(.topUp) == dollars("20") && statement.net(.grant) == dollars("3"))
        #expect(statement.net(.adjustment) == dollars("-1.5") && statement.net(.refund) == dollars("-2"))
        #expect(statement.net(.usage) == dollars("-4.25"))
        // One request, one usage entry, dated when the request arrived.
        #expect(statement.movements.first { $0.kind == .usage }?.entries == 1)
        #expect(statement.closing == dollars("60.25"))
        #expect(statement.closing == (try await store.balance(org, at: now).balance))
        let previous = try await store.creditStatement(org, from: month.start.adding(seconds: -31 * 86_400), to: month.start)
        #expect(previous.closing == statement.opening)
    }

    /// Random mixes of current and back-dated events (up to 35 days back, across month
    /// boundaries), credits between them, over three months: every month's statement
    /// reconciles (its closing is the next month's opening, the last is the balance), and its
    /// usage debit equals the usage tables of that month (total and every breakdown).
    public static func statementsReconcileEveryMonthWithBackDatedUsage(_ store: some BillingStore, seed: UInt64) async throws {
        print("statements property test: seed \(seed)")
        var random = SplitMix64(seed: seed)
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        let start = Timestamp.parseISO8601("2026-10-01T00:00:00Z")!
        _ = try await store.postCredit(
            org, try CreditMovement(kind: .topUp, amount: dollars("5000"), reference: "cs_seed", memo: nil), at: start)
        let day: Int64 = 86_400
        var received = start.adding(seconds: 3 * day)
        let end = Timestamp.parseISO8601("2026-12-28T00:00:00Z")!
        var request = 0
        while received < end {
            request += 1
            if Int.random(in: 0..<10, using: &random) == 0 {
                _ = try await store.postCredit(
                    org,
                    try CreditMovement(
                        kind: .grant, amount: dollars("\(Int.random(in: 1...20, using: &random))"), reference: "g\(request)",
                        memo: nil),
                    at: received)
            }
            let events = (0..<Int.random(in: 1...4, using: &random)).map { _ -> UsageEventInput in
                let back = Int.random(in: 0..<3, using: &random) == 0 ? Int64.random(in: 0...(35 * day), using: &random) : nil
                let cost = Int.random(in: 0..<2, using: &random) == 0 ? "0.\(Int.random(in: 1...999_999, using: &random))" : nil
                return UsageEventInput(
                    provider: ["anthropic", "openai"][Int.random(in: 0...1, using: &random)],
                    model: ["claude-opus-4-8", "gpt-5", nil][Int.random(in: 0...2, using: &random)],
                    taskType: ["code", "chat"][Int.random(in: 0...1, using: &random)],
                    workspace: ["ci", "research", nil][Int.random(in: 0...2, using: &random)],
                    tokens: TokenCounts(
                        input: Int64.random(in: 0...5_000, using: &random), output: Int64.random(in: 0...800, using: &random)),
                    exactCost: cost.map(dollars), timestamp: back.map { received.adding(seconds: -$0) })
            }
            _ = try await record(store, org, events, receivedAt: received)
            received = received.adding(seconds: Int64.random(in: 3_600...(30 * 3_600), using: &random))
        }
        var previousClosing = MicroDollars.zero
        var month = CivilMonth(year: 2026, month: 9)
        for _ in 0..<4 {
            let credit = try await store.creditStatement(org, from: month.start, to: month.end)
            let usage = try await store.usageSummary(org, days: month.start.day..<month.end.day, workspace: nil)
            #expect(credit.opening == previousClosing, "seed \(seed): \(month.text) opens where the month before closed")
            #expect(credit.net(.usage).negated == usage.totals.cost, "seed \(seed): \(month.text) usage debit = usage tables")
            for breakdown in [usage.byProvider, usage.byModel, usage.byWorkspace, usage.byTask] {
                #expect(breakdown.reduce(MicroDollars.zero) { $0.adding($1.totals.cost)! } == usage.totals.cost)
            }
            previousClosing = credit.closing
            month = month.next
        }
        #expect(
            previousClosing == (try await store.balance(org, at: now).balance), "seed \(seed): the last closing is the balance")
        #expect(try await store.verify().isClean)
    }

    /// The day-by-day balance follows the ledger: the balance before the first day, each
    /// day's closing, and the top-ups of each day; it ends at the balance.
    public static func creditHistoryFollowsTheLedger(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        let day = { (text: String) in CivilDay(text: text)! }
        func at(_ text: String) -> Timestamp { Timestamp.parseISO8601(text + "T12:00:00Z")! }
        _ = try await store.postCredit(
            org, try CreditMovement(kind: .topUp, amount: dollars("10"), reference: "cs_0", memo: nil), at: at("2026-11-01"))
        _ = try await store.postCredit(
            org, try CreditMovement(kind: .topUp, amount: dollars("50"), reference: "cs_1", memo: nil), at: at("2026-11-11"))
        _ = try await record(store, org, [event(cost: "5", at: at("2026-11-12"))], receivedAt: at("2026-11-12"))
        _ = try await record(store, org, [event(cost: "1.5", at: at("2026-11-12"))], receivedAt: at("2026-11-14"))
        _ = try await store.postCredit(
            org, try CreditMovement(kind: .grant, amount: dollars("3"), reference: "g_1", memo: nil), at: at("2026-11-13"))
        let history = try await store.creditHistory(org, days: day("2026-11-10")..<day("2026-11-15"))
        #expect(history.opening == dollars("10"))
        #expect(history.days.map(\.day.text) == ["2026-11-10", "2026-11-11", "2026-11-12", "2026-11-13", "2026-11-14"])
        #expect(history.days.map(\.closing) == [dollars("10"), dollars("60"), dollars("53.5"), dollars("56.5"), dollars("56.5")])
        #expect(history.days.map(\.topUps) == [.zero, dollars("50"), .zero, .zero, .zero])
        #expect(history.days.last?.closing == (try await store.balance(org, at: now).balance))
    }

    /// `verify` reports each of its steps, in order, as it begins.
    public static func verifyReportsEachStep(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await grant(store, org, "5")
        _ = try await record(store, org, [event(cost: "1")])
        let seen = Mutex<[VerificationStage]>([])
        let report = try await store.verify { stage in seen.withLock { $0.append(stage) } }
        #expect(report.isClean)
        #expect(seen.withLock { $0 } == VerificationStage.allCases)
    }

    public static func importedPricesPriceNewEvents(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        let overlay = PriceOverlay(
            rows: [
                .init(
                    provider: "anthropic", model: "claude-opus-4-8",
                    price: ModelPrice(input: dollars("30"), output: dollars("150"), cacheRead: dollars("3")))
            ], asOf: "2026-11-01")
        let catalog = try await store.importPrices(overlay, label: "test", at: now)
        #expect(catalog.version.hasPrefix(PriceCatalog.builtin.version + "+custom-"))
        #expect(try await store.priceCatalog() == catalog)
        let result = try #require(outcome(try await record(store, org, [event(tokens: TokenCounts(input: 1_000_000))])))
        #expect(result.events[0].cost == dollars("30"))
        #expect(try await allEvents(store, org).first?.priceVersion == catalog.version)
        let second = try await store.importPrices(
            PriceOverlay(
                rows: [
                    .init(
                        provider: "acme", model: "m",
                        price: ModelPrice(input: dollars("1"), output: dollars("1"), cacheRead: .zero))
                ], asOf: nil),
            label: "more", at: now)
        #expect(second.resolve(provider: "anthropic", model: "claude-opus-4-8").price.input == dollars("30"))
        #expect(second.resolve(provider: "acme", model: "m").exact)
    }

    public static func organizationsResolveByIDSlugOrName(_ store: some BillingStore) async throws {
        let first = try await store.createOrganization(name: "Acme Agents", plan: .team, ownerEmail: "Owner@Acme.example")
        let second = try await store.createOrganization(name: "Acme  Agents!", plan: .free, ownerEmail: "owner@acme.example")
        #expect(first.slug == "acme-agents" && second.slug == "acme-agents-2")
        #expect(try await store.findOrganization(first.id.rawValue) == first)
        #expect(try await store.findOrganization("acme-agents-2") == second)
        #expect(try await store.findOrganization("Acme Agents")?.id == first.id)
        #expect(try await store.findOrganization("nope") == nil)
        #expect(try await store.listOrganizations().map(\.organization.id) == [first.id, second.id])
        await #expect(throws: StoreError.invalid(field: "name", problem: "must not be empty")) {
            try await store.createOrganization(name: "  ", plan: .free, ownerEmail: nil)
        }
        await #expect(throws: StoreError.self) {
            try await store.createOrganization(name: "X", plan: .free, ownerEmail: "not an email")
        }
    }
}

// MARK: Stripe

extension StoreConformance {
    static func deliver(
        _ store: some BillingStore, _ json: String, settings: StripeSettings = StripeSettings(proPriceID: "price_pro")
    )
        async throws -> StripeOutcome
    {
        let event = try StripeEvent.parse(try JSONValue.parse(json))
        return try await store.applyStripeEvent(
            event, action: StripeDecision.action(for: event, settings: settings), payload: json, at: now)
    }

    /// 50 concurrent deliveries of one checkout event credit once.
    public static func stripeEventCreditsOnceUnderConcurrentDelivery(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        let json = StripeFixtures.event(
            id: "evt_checkout_1", type: "checkout.session.completed",
            object: StripeFixtures.checkoutSession(org: org.rawValue, amountCents: "5000", metadataAmount: "500.00"))
        let statuses = try await withThrowingTaskGroup(of: StripeOutcome.Status.self) { group in
            for _ in 0..<50 { group.addTask { try await deliver(store, json).status } }
            return try await group.reduce(into: [StripeOutcome.Status]()) { $0.append($1) }
        }
        #expect(statuses.filter { $0 == .credited }.count == 1)
        #expect(statuses.filter { $0 == .duplicate }.count == 49)
        // amount_total ($50) was credited, not the metadata's $500.
        #expect(try await store.balance(org, at: now).balance == dollars("50"))
        #expect(try await store.findOrganization(org.rawValue)?.everCredited == true)
        // The same payment arriving under another event id (async success) is not credited again.
        let again = StripeFixtures.event(
            id: "evt_async_1", type: "checkout.session.async_payment_succeeded",
            object: StripeFixtures.checkoutSession(org: org.rawValue))
        #expect(try await deliver(store, again).status == .alreadyCredited)
        #expect(try await store.balance(org, at: now).balance == dollars("50"))
        #expect(try await store.verify().isClean)
    }

    public static func stripeUnpaidWrongCurrencyAndAbsurdAmountsMoveNothing(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        let unpaid = StripeFixtures.checkoutSession(org: org.rawValue, paymentStatus: "unpaid", paymentIntent: "pi_slow")
        #expect(
            try await deliver(store, StripeFixtures.event(id: "evt_u1", type: "checkout.session.completed", object: unpaid))
                .status
                == .awaitingPayment)
        #expect(try await store.balance(org, at: now).balance == .zero)
        #expect(
            try await deliver(
                store, StripeFixtures.event(id: "evt_u2", type: "checkout.session.async_payment_succeeded", object: unpaid)
            )
            .status == .credited)
        #expect(try await store.balance(org, at: now).balance == dollars("50"))
        let euros = StripeFixtures.checkoutSession(org: org.rawValue, currency: "eur", paymentIntent: "pi_eur")
        #expect(
            try await deliver(store, StripeFixtures.event(id: "evt_e1", type: "checkout.session.completed", object: euros)).status
                == .ignored)
        for (index, amount) in ["-5000", "0", "99999999999999", "12.5"].enumerated() {
            let absurd = StripeFixtures.checkoutSession(org: org.rawValue, amountCents: amount, paymentIntent: "pi_x\(index)")
            #expect(
                try await deliver(
                    store, StripeFixtures.event(id: "evt_a\(index)", type: "checkout.session.completed", object: absurd)
                )
                .status == .ignored)
        }
        #expect(try await store.balance(org, at: now).balance == dollars("50"))
    }

    public static func stripeRefundsAndDisputesConverge(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        _ = try await deliver(
            store,
            StripeFixtures.event(
                id: "evt_c", type: "checkout.session.completed", object: StripeFixtures.checkoutSession(org: org.rawValue)))
        // Partial refund of $20, then cumulative $50: −20 then −30; the same total again is a no-op.
        let partial = try await deliver(
            store, StripeFixtures.event(id: "evt_r1", type: "charge.refunded", object: StripeFixtures.charge(refundedCents: 2000))
        )
        #expect(partial.status == .refunded && partial.amount == dollars("-20"))
        let full = try await deliver(
            store, StripeFixtures.event(id: "evt_r2", type: "charge.refunded", object: StripeFixtures.charge(refundedCents: 5000))
        )
        #expect(full.amount == dollars("-30"))
        #expect(
            try await deliver(
                store,
                StripeFixtures.event(id: "evt_r3", type: "charge.refunded", object: StripeFixtures.charge(refundedCents: 5000))
            ).status == .noop)
        #expect(try await store.balance(org, at: now).balance == .zero)
        // A refund of a charge that bought no credit (a subscription invoice) leaves credit alone.
        let subscriptionRefund = StripeFixtures.charge(id: "ch_sub", paymentIntent: "pi_sub", refundedCents: 2000)
        #expect(
            try await deliver(store, StripeFixtures.event(id: "evt_r4", type: "charge.refunded", object: subscriptionRefund))
                .status
                == .notACreditPurchase)
        // A second top-up, disputed and lost, then won: net zero.
        _ = try await deliver(
            store,
            StripeFixtures.event(
                id: "evt_c2", type: "checkout.session.completed",
                object: StripeFixtures.checkoutSession(org: org.rawValue, paymentIntent: "pi_2")))
        let created = try await deliver(
            store,
            StripeFixtures.event(
                id: "evt_d1", type: "charge.dispute.created",
                object: StripeFixtures.dispute(paymentIntent: "pi_2", status: "needs_response")))
        #expect(created.status == .disputed && created.amount == dollars("-50"))
        #expect(
            try await deliver(
                store,
                StripeFixtures.event(
                    id: "evt_d2", type: "charge.dispute.funds_withdrawn",
                    object: StripeFixtures.dispute(paymentIntent: "pi_2", status: "needs_response"))
            ).status == .noop)
        let won = try await deliver(
            store,
            StripeFixtures.event(
                id: "evt_d3", type: "charge.dispute.closed", object: StripeFixtures.dispute(paymentIntent: "pi_2", status: "won"))
        )
        #expect(won.status == .restored && won.amount == dollars("50"))
        #expect(try await store.balance(org, at: now).balance == dollars("50"))
        #expect(try await store.verify().isClean)
    }

    public static func stripeSubscriptionsNeverGoBackInTime(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .free, ownerEmail: nil).id
        let newer = StripeFixtures.event(
            id: "evt_s2", type: "customer.subscription.updated", created: StripeFixtures.created + 60,
            object: StripeFixtures.subscription(status: "active", org: org.rawValue))
        let older = StripeFixtures.event(
            id: "evt_s1", type: "customer.subscription.updated", created: StripeFixtures.created,
            object: StripeFixtures.subscription(status: "past_due", org: org.rawValue))
        #expect(try await deliver(store, newer).status == .planSet)
        #expect(try await deliver(store, older).status == .stale)
        #expect(try await store.findOrganization(org.rawValue)?.plan == .pro)
        let otherPrice = StripeFixtures.event(
            id: "evt_s3", type: "customer.subscription.updated", created: StripeFixtures.created + 120,
            object: StripeFixtures.subscription(status: "canceled", price: "price_other", org: org.rawValue))
        #expect(try await deliver(store, otherPrice).status == .ignored)
        let deleted = StripeFixtures.event(
            id: "evt_s4", type: "customer.subscription.deleted", created: StripeFixtures.created + 180,
            object: StripeFixtures.subscription(status: "canceled", org: org.rawValue))
        #expect(try await deliver(store, deleted).status == .planSet)
        #expect(try await store.findOrganization(org.rawValue)?.plan == .free)
    }

    /// With no Pro price configured, subscriptions move the plan as in the original: a
    /// subscription checkout makes the organization Pro (and links its customer), and later
    /// subscription events, mapped by that customer, move it whatever their price.
    public static func stripeSubscriptionsWithoutAProPriceMoveThePlan(_ store: some BillingStore) async throws {
        let org = try await store.createOrganization(name: "Acme", plan: .free, ownerEmail: nil).id
        let noPrice = StripeSettings(proPriceID: nil)
        let checkout = StripeFixtures.event(
            id: "evt_c1", type: "checkout.session.completed",
            object: StripeFixtures.checkoutSession(org: org.rawValue, mode: "subscription", customer: "cus_sub"))
        #expect(try await deliver(store, checkout, settings: noPrice).status == .planSet)
        #expect(try await store.findOrganization(org.rawValue)?.plan == .pro)
        #expect(try await store.findOrganization(org.rawValue)?.stripeCustomerID == "cus_sub")
        let pastDue = StripeFixtures.event(
            id: "evt_u1", type: "customer.subscription.updated", created: StripeFixtures.created + 60,
            object: StripeFixtures.subscription(status: "past_due", price: "price_anything", customer: "cus_sub"))
        #expect(try await deliver(store, pastDue, settings: noPrice).status == .planSet)
        #expect(try await store.findOrganization(org.rawValue)?.plan == .free)
        let active = StripeFixtures.event(
            id: "evt_u2", type: "customer.subscription.updated", created: StripeFixtures.created + 120,
            object: StripeFixtures.subscription(status: "active", price: "price_other", customer: "cus_sub"))
        #expect(try await deliver(store, active, settings: noPrice).status == .planSet)
        #expect(try await store.findOrganization(org.rawValue)?.plan == .pro)
        let deleted = StripeFixtures.event(
            id: "evt_u3", type: "customer.subscription.deleted", created: StripeFixtures.created + 180,
            object: StripeFixtures.subscription(status: "canceled", price: "price_other", customer: "cus_sub"))
        #expect(try await deliver(store, deleted, settings: noPrice).status == .planSet)
        #expect(try await store.findOrganization(org.rawValue)?.plan == .free)
        // With a Pro price configured, the same checkout only links the customer.
        let other = try await store.createOrganization(name: "Beta", plan: .free, ownerEmail: nil).id
        let priced = StripeFixtures.event(
            id: "evt_c2", type: "checkout.session.completed",
            object: StripeFixtures.checkoutSession(org: other.rawValue, mode: "subscription", customer: "cus_beta"))
        #expect(try await deliver(store, priced).status == .customerLinked)
        #expect(try await store.findOrganization(other.rawValue)?.plan == .free)
    }

    /// An event for an organization Plutus cannot map is kept and applies when redelivered
    /// after the mapping exists.
    public static func stripeUnmappedEventsReplayLater(_ store: some BillingStore) async throws {
        let json = StripeFixtures.event(
            id: "evt_orphan", type: "checkout.session.completed",
            object: StripeFixtures.checkoutSession(org: "later-co", paymentIntent: "pi_orphan"))
        #expect(try await deliver(store, json).status == .unmapped)
        #expect(try await store.unmappedStripeEvents(limit: 10) == [json])
        let org = try await store.createOrganization(name: "later-co", plan: .pro, ownerEmail: nil).id
        #expect(try await deliver(store, json).status == .credited)
        #expect(try await deliver(store, json).status == .duplicate)
        #expect(try await store.balance(org, at: now).balance == dollars("50"))
        #expect(try await store.unmappedStripeEvents(limit: 10).isEmpty)
    }
}
