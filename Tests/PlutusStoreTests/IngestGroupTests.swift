import PlutusCore
import PlutusStore
import Testing

/// The facts a store would read, held in memory: stored month tokens, workspaces, events
/// recorded under client ids.
struct MemorySource: MeteringSource {
    var workspaces: [Workspace] = []
    var recorded: [String: RecordedEvent] = [:]
    var monthTokens: [CivilMonth: Int64] = [:]
    var organizationID: OrganizationID
    var budgetList: [Budget] = []
    var budgetSpend: [MeteringWrites.BudgetSpendKey: Int64] = [:]
    var held = HeldBySubject(rows: [])

    mutating func recordedEvent(clientEventID: String) throws -> RecordedEvent? { recorded[clientEventID] }
    mutating func workspace(_ reference: String) throws -> Workspace? {
        workspaces.first { $0.id.rawValue == reference || $0.name == reference || $0.slug == reference }
    }
    mutating func workspaceCount() throws -> Int { workspaces.count }
    mutating func earliestWorkspace() throws -> Workspace? { workspaces.first }
    mutating func createWorkspace(name: String, at time: Timestamp) throws -> Workspace {
        let created = Workspace(
            id: WorkspaceID(rawValue: "ws_\(workspaces.count)"), organizationID: organizationID, name: name, slug: name,
            monthlyBudget: nil, createdAt: time)
        workspaces.append(created)
        return created
    }
    mutating func storedMonthTokens(_ month: CivilMonth) throws -> Int64 { monthTokens[month] ?? 0 }
    mutating func budgets() throws -> [Budget] { budgetList }
    mutating func storedBudgetSpend(_ key: MeteringWrites.BudgetSpendKey) throws -> MicroDollars {
        MicroDollars(rawValue: budgetSpend[key] ?? 0)
    }
    mutating func budgetHeld(_ budget: Budget, at time: Timestamp) throws -> MicroDollars { held.held(for: budget) }
    mutating func absorb(_ writes: MeteringWrites) {
        budgetSpend.merge(writes.budgetSpend, uniquingKeysWith: +)
        for (key, counter) in writes.counters where key.workspace.isEmpty { monthTokens[key.month, default: 0] += counter.tokens }
        for event in writes.events {
            if let id = event.input.clientEventID {
                recorded[id] = RecordedEvent(
                    id: event.id, cost: event.priced.cost, costKind: event.priced.kind, workspaceID: event.workspaceID)
            }
        }
    }
}

@Suite("IngestGroup: one group of ingest requests decided once for every store, from in-memory facts")
struct IngestGroupTests {
    static let now = Timestamp.parseISO8601("2026-11-20T12:00:00Z")!
    static let org = Organization(
        id: OrganizationID(rawValue: "org_00000000000000aa"), name: "Acme", slug: "acme", plan: .pro, hardStopExempt: false,
        everCredited: true, stripeCustomerID: nil, createdAt: now)

    static func dollars(_ text: String) -> MicroDollars { try! MicroDollars.parse(text).get() }

    static func request(_ costs: [String], key: String? = nil, hash: String = "h", eventID: String? = nil)
        -> IngestGroup<MemorySource>.Request
    {
        let events = costs.map { UsageEventInput(provider: "p", exactCost: dollars($0), clientEventID: eventID) }
        return .init(
            batch: UsageBatch(
                organizationID: org.id, events: events, idempotency: key.map { .init(key: $0, requestHash: hash) },
                receivedAt: now),
            priced: events.map { PricedCost(cost: $0.exactCost!, kind: .exact, catalogVersion: "v") })
    }

    func decide(
        _ requests: [IngestGroup<MemorySource>.Request], balance: String = "10",
        stored: [String: (hash: String, response: StoredResponse)] = [:]
    ) throws -> (IngestGroup<MemorySource>, [Result<IngestGroup<MemorySource>.Answer, StoreError>]) {
        var group = IngestGroup(
            organization: Self.org, source: MemorySource(organizationID: Self.org.id), creditBalance: Self.dollars(balance),
            usageBalance: 0)
        try group.decide(requests) { stored[$0] }
        return (group, group.finish(requests, newAlerts: [:]).answers)
    }

    @Test func eachRequestStartsFromTheBalanceTheOnesBeforeItLeft() throws {
        let (group, answers) = try decide([Self.request(["4"]), Self.request(["5"]), Self.request(["2"])])
        let recorded = answers.map { answer -> [Bool] in
            guard case .success(.committed(let outcome, nil)) = answer else { return [] }
            return outcome.events.map(\.isRecorded)
        }
        // $10: 4 and 5 land, 2 would go below zero.
        #expect(recorded == [[true], [true], [false]])
        #expect(group.writes.creditBalance == Self.dollars("1"))
        #expect(group.writes.entries.map(\.amount) == [Self.dollars("4"), Self.dollars("5")])
        #expect(group.writes.entries.map(\.creditBalanceAfter) == [Self.dollars("6"), Self.dollars("1")])
    }

    @Test func keysReplayOrConflictAgainstTheStoreAndWithinTheGroup() throws {
        let stored = StoredResponse(status: 200, body: #"{"stored":true}"#)
        let requests = [
            Self.request(["1"], key: "k-stored", hash: "h1"),  // replay of the stored response
            Self.request(["1"], key: "k-stored", hash: "h2"),  // same key, another body: conflict
            Self.request(["1"], key: "k-new", hash: "h3"),  // runs, keeps its response
            Self.request(["1"], key: "k-new", hash: "h3"),  // replays the one before it
            Self.request(["1"], key: "k-new", hash: "h4"),  // conflicts with the one before it
        ]
        var group = IngestGroup(
            organization: Self.org, source: MemorySource(organizationID: Self.org.id), creditBalance: Self.dollars("10"),
            usageBalance: 0)
        try group.decide(requests) { $0 == "k-stored" ? ("h1", stored) : nil }
        let (answers, kept) = group.finish(requests, newAlerts: [:])
        #expect(answers[0] == .success(.replayed(stored)))
        #expect(answers[1] == .failure(.idempotencyConflict(key: "k-stored")))
        guard case .success(.committed(let outcome, let response?)) = answers[2] else {
            Issue.record("the new key did not run: \(answers[2])")
            return
        }
        #expect(outcome.recordedCount == 1)
        #expect(answers[3] == .success(.replayed(response)))
        #expect(answers[4] == .failure(.idempotencyConflict(key: "k-new")))
        #expect(kept.map(\.claim.key) == ["k-new"] && kept.first?.response == response)
        // Only the request that ran charged anything.
        #expect(group.writes.creditBalance == Self.dollars("9"))
    }

    @Test func aClientEventIDRecordedByAnEarlierRequestOfTheGroupIsADuplicate() throws {
        let (group, answers) = try decide([Self.request(["1"], eventID: "e1"), Self.request(["1"], eventID: "e1")])
        guard case .success(.committed(let second, _)) = answers[1] else {
            Issue.record("\(answers[1])")
            return
        }
        #expect(second.events.map(\.status) == [.duplicate])
        #expect(group.writes.events.count == 1)
    }

    @Test func onlyAlertsTheStoreLoggedAsNewAreAnswered() throws {
        // Draining to zero raises the exhausted alert in the first request only.
        let requests = [Self.request(["10"]), Self.request(["0"])]
        var group = IngestGroup(
            organization: Self.org, source: MemorySource(organizationID: Self.org.id), creditBalance: Self.dollars("10"),
            usageBalance: 0)
        try group.decide(requests) { _ in nil }
        let toLog = group.alertsToLog(requests)
        // Both requests raise it; the store logs it once (for the first), so only the first answers it.
        #expect(toLog.contains { $0.index == 0 && $0.draft.kind == .balanceExhausted })
        #expect(toLog.contains { $0.index == 1 && $0.draft.kind == .balanceExhausted })
        let notNew = group.finish(requests, newAlerts: [:]).answers
        guard case .success(.committed(let quiet, _)) = notNew[0] else {
            Issue.record("\(notNew)")
            return
        }
        #expect(quiet.events[0].alerts.isEmpty, "an alert logged before is not answered again")
        let new = Set(toLog.filter { $0.index == 0 }.map { MeteringRun<MemorySource>.alertKey($0.draft) })
        let answers = group.finish(requests, newAlerts: [0: new]).answers
        guard case .success(.committed(let loud, _)) = answers[0], case .success(.committed(let later, _)) = answers[1] else {
            Issue.record("\(answers)")
            return
        }
        #expect(loud.events[0].alerts.map(\.kind).contains(.balanceExhausted))
        #expect(later.events[0].alerts.isEmpty)
    }
}
