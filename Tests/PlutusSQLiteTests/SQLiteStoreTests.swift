import CSQLiteTuning
import Foundation
import GRDB
import PlutusCore
import PlutusStore
import PlutusStoreTesting
import Testing

@testable import PlutusSQLite

/// A fresh database file in its own temporary directory.
func makeStore() throws -> SQLiteStore {
    try SQLiteStore(path: temporaryDatabasePath())
}

func temporaryDatabasePath() -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("plutus-tests-\(UUID().uuidString)")
    return directory.appendingPathComponent("plutus.db").path
}

@Suite("SQLite store: the shared conformance suite on real database files")
struct SQLiteConformanceTests {
    @Test func recordsAndChargesABatch() async throws { try await StoreConformance.recordsAndChargesABatch(makeStore()) }
    @Test func aLongBatchLandsWholeAndInOrder() async throws {
        try await StoreConformance.aLongBatchLandsWholeAndInOrder(makeStore())
    }
    @Test func anInvalidEventWritesNothing() async throws { try await StoreConformance.anInvalidEventWritesNothing(makeStore()) }
    @Test func idempotencyKeysReplayOrConflict() async throws {
        try await StoreConformance.idempotencyKeysReplayOrConflict(makeStore())
    }
    @Test func concurrentEventsGiveTheExactBalance() async throws {
        try await StoreConformance.concurrentEventsGiveTheExactBalance(makeStore())
    }
    @Test func hardStopHoldsUnderConcurrency() async throws {
        try await StoreConformance.hardStopHoldsUnderConcurrency(makeStore())
    }
    @Test func alertOutboxTracksEachChannel() async throws {
        try await StoreConformance.alertOutboxTracksEachChannel(makeStore())
    }
    @Test func concurrentRetriesRecordOnce() async throws { try await StoreConformance.concurrentRetriesRecordOnce(makeStore()) }
    @Test func requestsDecidedTogetherKeepTheirOwnOutcomes() async throws {
        let store = try makeStore()
        let before = store.groupCommitCounts
        // Another process holds the write lock while the requests are sent, so they reach the
        // writer together and are decided in one shared write.
        try await StoreConformance.requestsDecidedTogetherKeepTheirOwnOutcomes(store) {
            let holder = try ForeignWriteLock.hold(store.path, seconds: 0.5)
            return { holder.waitUntilExit() }
        }
        #expect(store.groupCommitCounts.merged - before.merged >= 30)
    }
    @Test func holdsSettlesAndSpendsDecidedTogether() async throws {
        let store = try makeStore()
        let before = store.groupCommitCounts
        let placed = try await StoreConformance.holdsSettlesAndSpendsDecidedTogether(store) {
            let holder = try ForeignWriteLock.hold(store.path, seconds: 0.5)
            return { holder.waitUntilExit() }
        }
        #expect(store.groupCommitCounts.merged - before.merged >= 30)
        // Decided together, the settles and spends come before the new holds: the budget's
        // $2 of room takes exactly five $0.40 holds.
        #expect(placed == 5)
    }
    @Test func membersHaveRolesAndAnOrganizationKeepsAnOwner() async throws {
        try await StoreConformance.membersHaveRolesAndAnOrganizationKeepsAnOwner(makeStore())
    }
    @Test func sessionsExpireAndAreRevoked() async throws {
        try await StoreConformance.sessionsExpireAndAreRevoked(makeStore())
    }
    @Test func signInStatesAreUsedOnce() async throws { try await StoreConformance.signInStatesAreUsedOnce(makeStore()) }
    @Test func invitationsAreAcceptedOnceByTheirPerson() async throws {
        try await StoreConformance.invitationsAreAcceptedOnceByTheirPerson(makeStore())
    }
    @Test func theAuditLogKeepsWhoDidWhat() async throws { try await StoreConformance.theAuditLogKeepsWhoDidWhat(makeStore()) }
    @Test func refusedEventsCreateNoWorkspace() async throws {
        try await StoreConformance.refusedEventsCreateNoWorkspace(makeStore())
    }
    @Test func freeTierCrossingLandsThenBlocks() async throws {
        try await StoreConformance.freeTierCrossingLandsThenBlocks(makeStore())
    }
    @Test func trackOnlyOrganizationsRunNegative() async throws {
        try await StoreConformance.trackOnlyOrganizationsRunNegative(makeStore())
    }
    @Test func workspacesResolveAndFoldAtTheCap() async throws {
        try await StoreConformance.workspacesResolveAndFoldAtTheCap(makeStore())
    }
    @Test func clientEventIDsAreRecordedOnce() async throws {
        try await StoreConformance.clientEventIDsAreRecordedOnce(makeStore())
    }
    @Test func creditsAreIdempotentByReference() async throws {
        try await StoreConformance.creditsAreIdempotentByReference(makeStore())
    }
    @Test func alertsAreRaisedOncePerPeriod() async throws {
        try await StoreConformance.alertsAreRaisedOncePerPeriod(makeStore())
    }
    @Test func pagesNeitherSkipNorRepeat() async throws { try await StoreConformance.pagesNeitherSkipNorRepeat(makeStore()) }
    @Test func apiKeysAuthenticateUntilRevoked() async throws {
        try await StoreConformance.apiKeysAuthenticateUntilRevoked(makeStore())
    }
    @Test func summariesAddUpTheEventsByDay() async throws {
        try await StoreConformance.summariesAddUpTheEventsByDay(makeStore())
    }
    @Test func verifyReportsEachStep() async throws { try await StoreConformance.verifyReportsEachStep(makeStore()) }
    @Test func holdsSetCreditAsideAndSettleOnce() async throws {
        try await StoreConformance.holdsSetCreditAsideAndSettleOnce(makeStore())
    }
    @Test func holdsStopAtTheAvailableCredit() async throws {
        try await StoreConformance.holdsStopAtTheAvailableCredit(makeStore())
    }
    @Test func settlesAboveTheHoldAreChargedInFull() async throws {
        try await StoreConformance.settlesAboveTheHoldAreChargedInFull(makeStore())
    }
    @Test func releasedHoldsGiveTheCreditBack() async throws {
        try await StoreConformance.releasedHoldsGiveTheCreditBack(makeStore())
    }
    @Test func holdsExpireAtTheirInstant() async throws { try await StoreConformance.holdsExpireAtTheirInstant(makeStore()) }
    @Test func holdsAreIdempotentByKey() async throws { try await StoreConformance.holdsAreIdempotentByKey(makeStore()) }
    @Test func concurrentHoldsNeverOverspend() async throws {
        try await StoreConformance.concurrentHoldsNeverOverspend(makeStore())
    }
    @Test func hardBudgetsRefuseSpendAndHoldsPastTheirLimit() async throws {
        try await StoreConformance.hardBudgetsRefuseSpendAndHoldsPastTheirLimit(makeStore())
    }
    @Test func budgetsCoverTheirOwnScopeOnly() async throws {
        try await StoreConformance.budgetsCoverTheirOwnScopeOnly(makeStore())
    }
    @Test func softBudgetsAlertOncePerPeriod() async throws {
        try await StoreConformance.softBudgetsAlertOncePerPeriod(makeStore())
    }
    @Test func aBudgetThatResetsMidHoldStillCountsTheHold() async throws {
        try await StoreConformance.aBudgetThatResetsMidHoldStillCountsTheHold(makeStore())
    }
    @Test func concurrentHoldsNeverOverspendABudget() async throws {
        try await StoreConformance.concurrentHoldsNeverOverspendABudget(makeStore())
    }
    @Test func workspaceMonthlyBudgetsAreSoftBudgets() async throws {
        try await StoreConformance.workspaceMonthlyBudgetsAreSoftBudgets(makeStore())
    }
    @Test func grantsAreSpentInOrder() async throws { try await StoreConformance.grantsAreSpentInOrder(makeStore()) }
    @Test func expiredGrantsLeaveTheBalanceOnce() async throws {
        try await StoreConformance.expiredGrantsLeaveTheBalanceOnce(makeStore())
    }
    @Test func theSweepExpiresGrantsOnce() async throws { try await StoreConformance.theSweepExpiresGrantsOnce(makeStore()) }
    @Test func refundsReverseTheirOwnPayment() async throws {
        try await StoreConformance.refundsReverseTheirOwnPayment(makeStore())
    }
    @Test func creditAfterADeficitPaysItFirst() async throws {
        try await StoreConformance.creditAfterADeficitPaysItFirst(makeStore())
    }
    @Test func refundsThatPutMoneyBackKeepTheLotsInStep() async throws {
        try await StoreConformance.refundsThatPutMoneyBackKeepTheLotsInStep(makeStore())
    }
    @Test func lateCallsCountInThePeriodTheyArrive() async throws {
        try await StoreConformance.lateCallsCountInThePeriodTheyArrive(makeStore())
    }
    @Test func creditHistoryFollowsTheLedger() async throws {
        try await StoreConformance.creditHistoryFollowsTheLedger(makeStore())
    }
    @Test func manyClientEventIDsAreCheckedAtOnce() async throws {
        try await StoreConformance.manyClientEventIDsAreCheckedAtOnce(makeStore())
    }
    @Test func creditStatementsReconcile() async throws { try await StoreConformance.creditStatementsReconcile(makeStore()) }
    @Test(arguments: [UInt64(20_261_207), 7, 42]) func statementsReconcileEveryMonthWithBackDatedUsage(seed: UInt64) async throws
    {
        try await StoreConformance.statementsReconcileEveryMonthWithBackDatedUsage(makeStore(), seed: seed)
    }
    @Test func monthCountersFollowTheEventMonth() async throws {
        try await StoreConformance.monthCountersFollowTheEventMonth(makeStore())
    }
    @Test func importedPricesPriceNewEvents() async throws {
        try await StoreConformance.importedPricesPriceNewEvents(makeStore())
    }
    @Test func organizationsResolveByIDSlugOrName() async throws {
        try await StoreConformance.organizationsResolveByIDSlugOrName(makeStore())
    }
}

@Suite("SQLite store: file-level guarantees")
struct SQLiteFileTests {
    let now = Timestamp.parseISO8601("2026-11-20T12:00:00Z")!

    /// A second, plain connection to the same file, as an operator (or an attacker) would use.
    func rawConnection(_ path: String) throws -> DatabaseQueue { try DatabaseQueue(path: path) }

    @Test func storedValuesThisPlutusDoesNotKnowAreErrorsThatNameThem() async throws {
        let path = temporaryDatabasePath()
        let store = try SQLiteStore(path: path)
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await rawConnection(path).write { db in
            try db.execute(
                sql:
                    "INSERT INTO alerts (id, org_id, kind, subject, period, message, created_at) VALUES ('alert_x', ?, 'solar_flare', '', 'd', 'm', 0)",
                arguments: [org.rawValue])
        }
        await #expect(throws: StoreError.unknownStoredValue(column: "alerts.kind", value: "solar_flare")) {
            _ = try await store.recentAlerts(org, limit: 10)
        }
        try await rawConnection(path).write { db in
            try db.execute(sql: "UPDATE organizations SET plan = 'platinum' WHERE id = ?", arguments: [org.rawValue])
        }
        await #expect(throws: StoreError.unknownStoredValue(column: "organizations.plan", value: "platinum")) {
            _ = try await store.findOrganization(org.rawValue)
        }
    }

    @Test func verifyCatchesAHandCorruptedBalance() async throws {
        let path = temporaryDatabasePath()
        let store = try SQLiteStore(path: path)
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        _ = try await store.postCredit(
            org, try CreditMovement(kind: .grant, amount: MicroDollars.dollars(5)!, reference: "g", memo: nil), at: now)
        #expect(try await store.verify().isClean)
        try await rawConnection(path).write { db in
            try db.execute(sql: "UPDATE accounts SET balance_micros = balance_micros + 1 WHERE code = 'credit'")
        }
        let report = try await store.verify()
        #expect(!report.isClean)
        #expect(report.problems.contains { $0.contains("credit: stored balance 5.000001 but its entries sum to 5") })
        #expect(report.problems.contains { $0.contains("sum to 0.000001, not zero") })
    }

    @Test func theDailyRollupIsBackFilledAndVerified() async throws {
        let path = temporaryDatabasePath()
        let store = try SQLiteStore(path: path)
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        let events = [
            UsageEventInput(provider: "p", model: "m", workspace: "w", exactCost: MicroDollars.dollars(1)),
            UsageEventInput(provider: "p", exactCost: MicroDollars.dollars(2), timestamp: now.adding(seconds: -86_400)),
        ]
        _ = try await store.recordUsage(UsageBatch(organizationID: org, events: events, receivedAt: now))
        let days = now.day.adding(days: -1)..<now.day.adding(days: 1)
        let before = try await store.usageSummary(org, days: days, workspace: nil)
        // Given a file as the previous schema left it: events, but no rollup yet.
        try await rawConnection(path).write { db in
            try db.execute(sql: "DROP TABLE usage_days")
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v4-usage-days'")
        }
        // When it is opened, the migration back-fills the rollup from the events.
        let reopened = try SQLiteStore(path: path)
        #expect(try await reopened.usageSummary(org, days: days, workspace: nil) == before)
        #expect(
            before.totals.events == 2 && before.byDay.map(\.totals.cost) == [MicroDollars.dollars(2)!, MicroDollars.dollars(1)!])
        #expect(try await reopened.verify().isClean)
        try await rawConnection(path).write { db in
            try db.execute(sql: "UPDATE usage_days SET cost_micros = cost_micros + 1 WHERE model = 'm'")
        }
        let report = try await reopened.verify()
        #expect(report.problems.count == 1 && report.problems[0].contains("daily rollup"))
    }

    @Test func perEventEntriesOfEarlierVersionsAreLinkedToTheirEvents() async throws {
        let path = temporaryDatabasePath()
        let store = try SQLiteStore(path: path)
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        _ = try await store.postCredit(
            org, try CreditMovement(kind: .grant, amount: MicroDollars.dollars(10)!, reference: "g", memo: nil), at: now)
        // One event per request: the rows a v4 file holds (an entry per event, referencing it).
        for cost in ["1", "0", "2.5"] {
            let event = UsageEventInput(provider: "p", exactCost: try MicroDollars.parse(cost).get())
            _ = try await store.recordUsage(UsageBatch(organizationID: org, events: [event], receivedAt: now))
        }
        // Given the file as v4 left it: no entry_id column, the (org, ts) index, no v5 record.
        try await rawConnection(path).write { db in
            try db.execute(sql: "ALTER TABLE usage_events DROP COLUMN entry_id")
            try db.execute(sql: "CREATE INDEX usage_events_org_ts ON usage_events(org_id, ts)")
            try db.execute(sql: "DELETE FROM grdb_migrations WHERE identifier = 'v5-usage-entry-per-request'")
            try db.execute(sql: "UPDATE plutus_meta SET value = '4' WHERE key = 'schema_version'")
        }
        // When it is opened, each paid event is linked to the entry that references it.
        let reopened = try SQLiteStore(path: path)
        let ledger = try await reopened.ledgerEntries(org, page: PageRequest()).items.filter { $0.kind == .usage }
        let events = try await reopened.usageEvents(org, page: PageRequest()).items
        #expect(events.count == 3 && ledger.count == 2)
        for event in events {
            #expect(event.entryID == ledger.first { $0.reference == event.id.rawValue }?.id)
        }
        #expect(events.filter { $0.entryID == nil }.map(\.cost) == [.zero])
        #expect(try await reopened.verify().isClean)
        let indexes = try await rawConnection(path).read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'usage_events'")
        }
        #expect(!indexes.contains("usage_events_org_ts"))
    }

    /// Rebuilds `usage_events` as schema v5 had it (AUTOINCREMENT, a unique index on `id`,
    /// the `(org_id, seq)` index) with the same rows, and forgets v6, as a v5 file looks.
    func downgradeEventsToV5(_ path: String) throws {
        try rawConnection(path).writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA foreign_keys = OFF")
            try db.inTransaction {
                try db.execute(
                    sql: """
                        ALTER TABLE usage_events RENAME TO usage_events_now;
                        CREATE TABLE usage_events (
                            seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
                            org_id TEXT NOT NULL REFERENCES organizations(id), workspace_id TEXT REFERENCES workspaces(id),
                            client_event_id TEXT, provider TEXT NOT NULL, model TEXT, task_type TEXT NOT NULL,
                            input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, cache_read_tokens INTEGER NOT NULL,
                            cache_write_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL,
                            cost_micros INTEGER NOT NULL, cost_kind TEXT NOT NULL, price_version TEXT NOT NULL,
                            source TEXT NOT NULL, ts INTEGER NOT NULL, recorded_at INTEGER NOT NULL, entry_id TEXT) STRICT;
                        INSERT INTO usage_events SELECT * FROM usage_events_now;
                        DROP TABLE usage_events_now;
                        CREATE INDEX usage_events_org_seq ON usage_events(org_id, seq);
                        CREATE UNIQUE INDEX usage_events_client_id ON usage_events(org_id, client_event_id)
                            WHERE client_event_id IS NOT NULL;
                        CREATE TRIGGER usage_events_no_update BEFORE UPDATE ON usage_events
                            BEGIN SELECT RAISE(ABORT, 'usage events are immutable'); END;
                        CREATE TRIGGER usage_events_no_delete BEFORE DELETE ON usage_events
                            BEGIN SELECT RAISE(ABORT, 'usage events are immutable'); END;
                        DELETE FROM grdb_migrations WHERE identifier = 'v6-lean-usage-events';
                        UPDATE plutus_meta SET value = '5' WHERE key = 'schema_version';
                        """)
                return .commit
            }
        }
    }

    /// Opening a v5 file with many events rebuilds its event table once; the CLI says so first.
    @Test func aLargeUpgradeIsAnnouncedBeforeItRuns() async throws {
        let path = temporaryDatabasePath()
        #expect(SQLiteStore.slowUpgradeNotice(path: path) == nil)
        let store = try SQLiteStore(path: path)
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await rawConnection(path).write { db in
            try db.execute(
                sql: """
                    WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200000)
                    INSERT INTO usage_events(id, org_id, provider, task_type, input_tokens, output_tokens, cache_read_tokens,
                        cache_write_tokens, reasoning_tokens, cost_micros, cost_kind, price_version, source, ts, recorded_at)
                    SELECT printf('evt_%024x', i), ?, 'p', 'general', 0, 0, 0, 0, 0, 0, 'unpriced', 'v', 'api', 0, 0 FROM n
                    """, arguments: [org.rawValue])
        }
        #expect(SQLiteStore.slowUpgradeNotice(path: path) == nil, "nothing to upgrade")
        try downgradeEventsToV5(path)
        let notice = try #require(SQLiteStore.slowUpgradeNotice(path: path))
        #expect(notice.contains("rebuilding its 200000 usage events"))
        _ = try SQLiteStore(path: path)
        #expect(SQLiteStore.slowUpgradeNotice(path: path) == nil, "upgraded")
    }

    /// Schema v6 rebuilds `usage_events` (no AUTOINCREMENT, no unique index on `id`, the
    /// organization index on `org_id`): every row comes across unchanged, with its sequence
    /// number, and the table still refuses updates and deletes.
    @Test func theLeanEventTableKeepsEveryRowOfAV5File() async throws {
        let path = temporaryDatabasePath()
        let store = try SQLiteStore(path: path)
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        _ = try await store.postCredit(
            org, try CreditMovement(kind: .grant, amount: MicroDollars.dollars(10)!, reference: "g", memo: nil), at: now)
        let events = [
            UsageEventInput(provider: "p", model: "m", workspace: "w", exactCost: MicroDollars.dollars(1), clientEventID: "c-1"),
            UsageEventInput(provider: "q", exactCost: .zero, timestamp: now.adding(seconds: -60)),
            UsageEventInput(
                provider: "p", model: "m2", tokens: TokenCounts(input: 10, output: 5, cacheRead: 1, cacheWrite: 2, reasoning: 3)),
        ]
        _ = try await store.recordUsage(UsageBatch(organizationID: org, events: events, receivedAt: now))
        // Given the file as v5 left it: the table as v1 made it (plus v5's entry_id), with
        // its sequence counter, and no v6 record.
        try downgradeEventsToV5(path)
        let rowsBefore = try rawConnection(path).read { db in try Row.fetchAll(db, sql: "SELECT * FROM usage_events ORDER BY seq")
        }
        #expect(rowsBefore.count == 3)
        // When it is opened, v6 rebuilds the table.
        let reopened = try SQLiteStore(path: path)
        let (rowsAfter, indexes, sequenceRows, plan) = try rawConnection(path).read { db in
            (
                try Row.fetchAll(db, sql: "SELECT * FROM usage_events ORDER BY seq"),
                try String.fetchAll(
                    db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'usage_events' ORDER BY name"),
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sqlite_sequence WHERE name = 'usage_events'") ?? -1,
                try Row.fetchAll(
                    db,
                    sql: "EXPLAIN QUERY PLAN SELECT * FROM usage_events WHERE org_id = ? AND seq < ? ORDER BY seq DESC LIMIT 10",
                    arguments: [org.rawValue, Int64.max]
                ).map { $0["detail"] as String }.joined(separator: "; ")
            )
        }
        #expect(rowsAfter == rowsBefore)
        #expect(indexes == ["usage_events_client_id", "usage_events_org"])
        #expect(sequenceRows == 0)
        #expect(plan.contains("usage_events_org"), "listing an organization's events uses its index: \(plan)")
        #expect(try await reopened.verify().isClean)
        // New events follow on; a client event id is still claimed once.
        let again = try await reopened.recordUsage(
            UsageBatch(organizationID: org, events: [events[0], UsageEventInput(provider: "r")], receivedAt: now))
        guard case .committed(let outcome, _) = again else {
            Issue.record("not committed")
            return
        }
        #expect(outcome.duplicateCount == 1 && outcome.recordedCount == 1)
        let listed = try await reopened.usageEvents(org, page: PageRequest()).items
        #expect(listed.map(\.sequence) == [4, 3, 2, 1])
        #expect(listed.first?.provider == "r")
        // Still append-only.
        try await rawConnection(path).write { db in
            #expect(throws: DatabaseError.self) { try db.execute(sql: "UPDATE usage_events SET cost_micros = 0") }
            #expect(throws: DatabaseError.self) { try db.execute(sql: "DELETE FROM usage_events") }
        }
    }

    /// The opcodes SQLite compiles `sql` to on `db`.
    func opcodes(_ db: Database, _ sql: String) throws -> [String] {
        try Row.fetchAll(db, sql: "EXPLAIN " + sql, arguments: ["org", "kind"]).map { $0["opcode"] as String }
    }

    static let eventInsert = """
        INSERT INTO usage_events(id, org_id, provider, task_type, input_tokens, output_tokens, cache_read_tokens,
            cache_write_tokens, reasoning_tokens, cost_micros, cost_kind, price_version, source, ts, recorded_at)
        VALUES ('evt_check', ?, 'p', 'general', 0, 0, 0, 0, 0, 0, ?, 'v', 'api', 0, 0)
        """
    static let entryInsert = """
        INSERT INTO entries(id, org_id, debit_account_id, credit_account_id, amount_micros, kind, reference,
            debit_balance_after_micros, credit_balance_after_micros, ts)
        SELECT 'ent_check', ?, d.id, c.id, 1, ?, 'ref-check', 0, 0, 0
        FROM accounts d, accounts c WHERE d.org_id = ?1 AND d.code = 'credit' AND c.org_id = ?1 AND c.code = 'usage'
        """

    /// v10's and v7's rewrites the other way round, in that order: back to the `IN` lists a
    /// v6 file has.
    static let v7Undone = (SQLiteSchema.v10Checks + SQLiteSchema.v7).map {
        SQLiteSchema.CheckRewrite(table: $0.table, old: $0.new, new: $0.old)
    }

    /// Schema v7: the CHECKs on `usage_events.cost_kind` and `entries.kind` compare in place
    /// (no temporary b-tree per inserted row) and still refuse what they refused.
    func expectInPlaceChecks(_ path: String, _ org: OrganizationID) throws {
        try rawConnection(path).inTransaction { db in
            let eventOpcodes = try opcodes(db, Self.eventInsert)
            let entryOpcodes = try opcodes(db, Self.entryInsert)
            #expect(!eventOpcodes.contains("OpenEphemeral"))
            #expect(!entryOpcodes.contains("OpenEphemeral"))
            #expect(throws: DatabaseError.self) { try db.execute(sql: Self.eventInsert, arguments: [org.rawValue, "guessed"]) }
            #expect(throws: DatabaseError.self) { try db.execute(sql: Self.entryInsert, arguments: [org.rawValue, "gift"]) }
            try db.execute(sql: Self.eventInsert, arguments: [org.rawValue, "unpriced"])
            try db.execute(sql: Self.entryInsert, arguments: [org.rawValue, "adjustment"])
            let integrity = try String.fetchOne(db, sql: "PRAGMA integrity_check")
            #expect(integrity == "ok")
            return .rollback
        }
    }

    @Test func newFilesCheckKindsInPlace() async throws {
        let path = temporaryDatabasePath()
        let store = try SQLiteStore(path: path)
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try expectInPlaceChecks(path, org)
    }

    /// A v6 file (the CHECKs with `IN` lists) is upgraded in place: the constraint text is
    /// rewritten, no row moves, and the ledger still verifies.
    @Test func aV6FileGetsTheInPlaceChecksWithEveryRow() async throws {
        let path = temporaryDatabasePath()
        let store = try SQLiteStore(path: path)
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        _ = try await store.postCredit(
            org, try CreditMovement(kind: .grant, amount: MicroDollars.dollars(10)!, reference: "g", memo: nil), at: now)
        _ = try await store.recordUsage(
            UsageBatch(
                organizationID: org,
                events: [UsageEventInput(provider: "p", exactCost: MicroDollars.dollars(1)), UsageEventInput(provider: "q")],
                receivedAt: now))
        // Given the file as v6 left it.
        try await rawConnection(path).writeWithoutTransaction { db in
            try db.inTransaction {
                try SQLiteSchema.rewriteChecks(db, Self.v7Undone)
                try db.execute(
                    sql: """
                        DELETE FROM grdb_migrations WHERE identifier IN ('v7-checks-without-in-lists', 'v10-expiry-entries')
                        """)
                try db.execute(sql: "UPDATE plutus_meta SET value = '6' WHERE key = 'schema_version'")
                return .commit
            }
        }
        let (eventsBefore, entriesBefore, ephemeralBefore) = try rawConnection(path).read { db in
            (
                try Row.fetchAll(db, sql: "SELECT * FROM usage_events ORDER BY seq"),
                try Row.fetchAll(db, sql: "SELECT * FROM entries ORDER BY seq"),
                try opcodes(db, Self.eventInsert).contains("OpenEphemeral")
            )
        }
        #expect(ephemeralBefore, "the v6 constraint builds a temporary b-tree per row")
        #expect(eventsBefore.count == 2 && entriesBefore.count == 2)
        let reopened = try SQLiteStore(path: path)
        let (eventsAfter, entriesAfter, stamped) = try rawConnection(path).read { db in
            (
                try Row.fetchAll(db, sql: "SELECT * FROM usage_events ORDER BY seq"),
                try Row.fetchAll(db, sql: "SELECT * FROM entries ORDER BY seq"),
                try String.fetchOne(db, sql: "SELECT value FROM plutus_meta WHERE key = 'schema_version'")
            )
        }
        #expect(eventsAfter == eventsBefore && entriesAfter == entriesBefore)
        #expect(stamped == String(SQLiteSchema.version))
        try expectInPlaceChecks(path, org)
        #expect(try await reopened.verify().isClean)
        // The writer that ran the migration uses the new constraints at once, not after a restart.
        let writerOpcodes = try await reopened.pool.write { db in
            try opcodes(db, Self.eventInsert) + opcodes(db, Self.entryInsert)
        }
        #expect(!writerOpcodes.contains("OpenEphemeral"))
        let again = try await reopened.recordUsage(
            UsageBatch(
                organizationID: org, events: [UsageEventInput(provider: "r", exactCost: MicroDollars.dollars(1))], receivedAt: now
            ))
        guard case .committed(let outcome, _) = again else {
            Issue.record("not committed")
            return
        }
        #expect(outcome.recordedCount == 1)
        #expect(try await reopened.verify().isClean)
    }

    /// The v7 rewrite works where SQLite's defensive mode is on by default (it refuses
    /// `writable_schema`), and leaves the mode as it found it.
    @Test func theCheckRewriteLeavesDefensiveModeAsItWas() async throws {
        let path = temporaryDatabasePath()
        _ = try SQLiteStore(path: path)
        let queue = try rawConnection(path)
        try await queue.writeWithoutTransaction { db in
            #expect(plutus_sqlite_set_defensive(db.sqliteConnection, 1) == 0)
            try db.inTransaction {
                try db.execute(sql: "PRAGMA writable_schema = ON")
                #expect(throws: DatabaseError.self, "defensive mode refuses the edit") {
                    try db.execute(sql: "UPDATE sqlite_master SET sql = sql WHERE name = 'entries'")
                }
                try db.execute(sql: "PRAGMA writable_schema = OFF")
                try SQLiteSchema.rewriteChecks(db, Self.v7Undone)
                return .commit
            }
            #expect(plutus_sqlite_set_defensive(db.sqliteConnection, 1) == 1, "defensive mode is back on")
            let eventOpcodes = try opcodes(db, Self.eventInsert)
            #expect(eventOpcodes.contains("OpenEphemeral"), "the rewrite ran: the IN list is back")
        }
    }

    /// A file from before budgets and credit lots: its workspace budgets and balances carry over.
    @Test func aFileFromBeforeBudgetsKeepsItsBudgetsAndCredit() async throws {
        let path = temporaryDatabasePath()
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let queue = try DatabaseQueue(path: path)
        try SQLiteSchema.migrator.migrate(queue, upTo: "v8-holds")
        try await queue.write { db in
            for statement in PreBudgetRows.statements(month: Timestamp.now().month.text) { try db.execute(sql: statement) }
        }
        try queue.close()
        try await PreBudgetRows.expectMigrated(try SQLiteStore(path: path), now: Timestamp.now())
    }

    /// Nothing in SQLite enforces unique event ids since v6; `verify` names any duplicate.
    @Test func verifyNamesADuplicateEventID() async throws {
        let path = temporaryDatabasePath()
        let store = try SQLiteStore(path: path)
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        _ = try await store.recordUsage(
            UsageBatch(
                organizationID: org, events: [UsageEventInput(provider: "p"), UsageEventInput(provider: "q")], receivedAt: now))
        #expect(try await store.verify().isClean)
        let duplicated = try await rawConnection(path).write { db -> String in
            let first = try String.fetchOne(db, sql: "SELECT id FROM usage_events ORDER BY seq LIMIT 1")!
            try db.execute(
                sql: """
                    INSERT INTO usage_events(id, org_id, workspace_id, client_event_id, provider, model, task_type, input_tokens,
                        output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_micros, cost_kind,
                        price_version, source, ts, recorded_at, entry_id)
                    SELECT id, org_id, workspace_id, client_event_id, provider, model, task_type, input_tokens, output_tokens,
                        cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_micros, cost_kind, price_version, source,
                        ts, recorded_at, entry_id
                    FROM usage_events WHERE id = ?
                    """, arguments: [first])
            return first
        }
        let problems = try await store.verify().problems
        #expect(problems.contains("usage event id \(duplicated) is used by more than one event"))
    }

    @Test func verifyCatchesEventsAndEntriesThatDisagree() async throws {
        let path = temporaryDatabasePath()
        let store = try SQLiteStore(path: path)
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        let events = ["1", "2", "0"].map { UsageEventInput(provider: "p", exactCost: try! MicroDollars.parse($0).get()) }
        _ = try await store.recordUsage(UsageBatch(organizationID: org, events: events, receivedAt: now))
        #expect(try await store.verify().isClean)
        // An operator unlinks a paid event and links the free one to the entry.
        try await rawConnection(path).write { db in
            try db.execute(sql: "DROP TRIGGER usage_events_no_update")
            let paid = try String.fetchOne(db, sql: "SELECT id FROM usage_events WHERE cost_micros = 2000000")!
            let entry = try String.fetchOne(db, sql: "SELECT entry_id FROM usage_events WHERE id = ?", arguments: [paid])!
            try db.execute(sql: "UPDATE usage_events SET entry_id = NULL WHERE id = ?", arguments: [paid])
            try db.execute(sql: "UPDATE usage_events SET entry_id = ? WHERE cost_micros = 0", arguments: [entry])
        }
        let problems = try await store.verify().problems
        #expect(problems.filter { $0.contains("it cost something but no usage entry pays for it") }.count == 1)
        #expect(problems.filter { $0.contains("it cost nothing but names a usage entry") }.count == 1)
        #expect(problems.filter { $0.contains("its amount is not the sum of the costs of the events it pays for") }.count == 1)
    }

    @Test func entriesAndEventsAreAppendOnly() async throws {
        let path = temporaryDatabasePath()
        let store = try SQLiteStore(path: path)
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        _ = try await store.recordUsage(
            UsageBatch(
                organizationID: org, events: [UsageEventInput(provider: "p", exactCost: MicroDollars.dollars(1))], receivedAt: now
            ))
        let raw = try rawConnection(path)
        await #expect(throws: DatabaseError.self) {
            try await raw.write { try $0.execute(sql: "UPDATE entries SET amount_micros = 1") }
        }
        await #expect(throws: DatabaseError.self) { try await raw.write { try $0.execute(sql: "DELETE FROM entries") } }
        await #expect(throws: DatabaseError.self) {
            try await raw.write { try $0.execute(sql: "UPDATE usage_events SET cost_micros = 0") }
        }
        await #expect(throws: DatabaseError.self) { try await raw.write { try $0.execute(sql: "DELETE FROM usage_events") } }
        #expect(try await store.verify().isClean)
    }

    /// A failure in the middle of a batch, inside the transaction, rolls back everything the
    /// batch had written: earlier events, their entries, counters and auto-created workspaces.
    @Test func aFailureMidBatchRollsBackTheWholeBatch() async throws {
        let path = temporaryDatabasePath()
        let store = try SQLiteStore(path: path)
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await rawConnection(path).write { db in
            try db.execute(
                sql: """
                    CREATE TRIGGER fail_on_boom BEFORE INSERT ON usage_events WHEN NEW.provider = 'boom'
                    BEGIN SELECT RAISE(ABORT, 'injected failure'); END
                    """)
        }
        let events = [
            UsageEventInput(provider: "ok", workspace: "created-then-undone", exactCost: MicroDollars.dollars(1)),
            UsageEventInput(provider: "boom", exactCost: MicroDollars.dollars(1)),
        ]
        await #expect(throws: StoreError.self) {
            try await store.recordUsage(
                UsageBatch(organizationID: org, events: events, idempotency: .init(key: "k", requestHash: "h"), receivedAt: now))
        }
        #expect(try await store.usageEvents(org, page: PageRequest()).items.isEmpty)
        #expect(try await store.ledgerEntries(org, page: PageRequest()).items.isEmpty)
        #expect(try await store.listWorkspaces(org).isEmpty)
        #expect(try await store.balance(org, at: now).monthEvents == 0)
        // The idempotency claim was rolled back too, so a retry is processed afresh.
        let counts = try await rawConnection(path).read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM idempotency_records")
        }
        #expect(counts == 0)
        #expect(try await store.verify().isClean)
    }

    @Test func refusesAFileFromANewerPlutus() async throws {
        let path = temporaryDatabasePath()
        _ = try SQLiteStore(path: path)
        try await rawConnection(path).write { db in
            try db.execute(sql: "UPDATE plutus_meta SET value = '99' WHERE key = 'schema_version'")
        }
        #expect(throws: StoreError.schemaTooNew(found: 99, supported: SQLiteSchema.version)) { try SQLiteStore(path: path) }

        let other = temporaryDatabasePath()
        _ = try SQLiteStore(path: other)
        try await rawConnection(other).write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations(identifier) VALUES ('v2-from-the-future')")
        }
        #expect(throws: StoreError.self) { try SQLiteStore(path: other) }
    }

    @Test func reopeningKeepsEverythingAndMigratesNothingTwice() async throws {
        let path = temporaryDatabasePath()
        let org = try await SQLiteStore(path: path).createOrganization(name: "Acme", plan: .pro, ownerEmail: nil)
        let reopened = try SQLiteStore(path: path)
        #expect(try await reopened.findOrganization("acme") == org)
        let journal = try await rawConnection(path).read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        #expect(journal == "wal")
    }

    @Test func onlyTheHashOfAKeyIsStored() async throws {
        let path = temporaryDatabasePath()
        let store = try SQLiteStore(path: path)
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        let created = try await store.createAPIKey(org, name: nil)
        let stored = try await rawConnection(path).read { db in
            try String.fetchAll(
                db, sql: "SELECT id || '|' || COALESCE(name, '') || '|' || prefix || '|' || token_hash FROM api_keys")
        }
        #expect(stored.count == 1)
        #expect(stored.first?.hasSuffix("|" + APIKeySecret.hash(created.secret)) == true)
        #expect(stored.first?.contains(created.secret) == false)
    }
}

@Suite("SQLite store: Stripe events")
struct SQLiteStripeTests {
    @Test func creditsOnceUnderConcurrentDelivery() async throws {
        try await StoreConformance.stripeEventCreditsOnceUnderConcurrentDelivery(makeStore())
    }
    @Test func unpaidWrongCurrencyAndAbsurdAmountsMoveNothing() async throws {
        try await StoreConformance.stripeUnpaidWrongCurrencyAndAbsurdAmountsMoveNothing(makeStore())
    }
    @Test func refundsAndDisputesConverge() async throws {
        try await StoreConformance.stripeRefundsAndDisputesConverge(makeStore())
    }
    @Test func stripeSubscriptionsWithoutAProPriceMoveThePlan() async throws {
        try await StoreConformance.stripeSubscriptionsWithoutAProPriceMoveThePlan(makeStore())
    }
    @Test func subscriptionsNeverGoBackInTime() async throws {
        try await StoreConformance.stripeSubscriptionsNeverGoBackInTime(makeStore())
    }
    @Test func unmappedEventsReplayLater() async throws {
        try await StoreConformance.stripeUnmappedEventsReplayLater(makeStore())
    }
}

@Suite("SQLite store: group commit")
struct GroupCommitTests {
    let now = Timestamp.parseISO8601("2026-11-20T12:00:00Z")!

    func event(_ provider: String) -> UsageEventInput { UsageEventInput(provider: provider, exactCost: MicroDollars.dollars(1)) }

    /// Runs `requests` concurrently while another process holds the write lock, so they
    /// queue up and reach the writer together.
    func whileLocked<T: Sendable>(_ path: String, _ count: Int, _ request: @escaping @Sendable (Int) async -> T) async throws
        -> [T]
    {
        let holder = try ForeignWriteLock.hold(path, seconds: 0.5)
        defer { holder.waitUntilExit() }
        return await withTaskGroup(of: T.self) { group in
            for index in 0..<count { group.addTask { await request(index) } }
            return await group.reduce(into: [T]()) { $0.append($1) }
        }
    }

    @Test func requestsOfOneOrganizationAreAppliedTogether() async throws {
        let path = temporaryDatabasePath()
        let store = try SQLiteStore(path: path)
        let acme = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        let other = try await store.createOrganization(name: "Other", plan: .pro, ownerEmail: nil).id
        let before = store.groupCommitCounts
        let recorded = try await whileLocked(path, 100) { index in
            let org = index % 4 == 0 ? other : acme
            return (try? await store.recordUsage(UsageBatch(organizationID: org, events: [event("p")], receivedAt: now))) != nil
        }
        #expect(recorded.allSatisfy { $0 })
        let after = store.groupCommitCounts
        #expect(after.merged - before.merged >= 90, "queued requests were applied together: \(after.merged - before.merged)")
        #expect(after.fallbacks == before.fallbacks)
        #expect(try await store.balance(acme, at: now).balance == MicroDollars.dollars(-75))
        #expect(try await store.balance(other, at: now).balance == MicroDollars.dollars(-25))
        let entries = try await store.ledgerEntries(acme, page: PageRequest(limit: 100)).items.filter { $0.kind == .usage }
        #expect(entries.count == 75, "one usage entry per request")
        #expect(entries.map(\.balanceAfter).sorted() == (0..<75).map { MicroDollars.dollars(-1 - Int64($0))! }.sorted())
        #expect(try await store.verify().isClean)
    }

    @Test func aFailingRequestAmongOthersFailsAlone() async throws {
        let path = temporaryDatabasePath()
        let store = try SQLiteStore(path: path)
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        try await DatabaseQueue(path: path).write { db in
            try db.execute(
                sql: """
                    CREATE TRIGGER fail_on_boom BEFORE INSERT ON usage_events WHEN NEW.provider = 'boom'
                    BEGIN SELECT RAISE(ABORT, 'injected failure'); END
                    """)
        }
        let before = store.groupCommitCounts
        let outcomes = try await whileLocked(path, 200) { index in
            // Every fifth request fails when its rows are written, after its first event.
            let events = index % 5 == 0 ? [event("ok"), event("boom")] : [event("ok")]
            return (try? await store.recordUsage(UsageBatch(organizationID: org, events: events, receivedAt: now))) != nil
        }
        #expect(outcomes.filter { $0 }.count == 160)
        #expect(try await store.balance(org, at: now).monthEvents == 160)
        #expect(try await store.balance(org, at: now).balance == MicroDollars.dollars(-160))
        let after = store.groupCommitCounts
        #expect(after.requests - before.requests == 200)
        #expect(
            after.transactions - before.transactions < 200,
            "requests were grouped: \(after.transactions - before.transactions) transactions")
        #expect(after.fallbacks > before.fallbacks, "the shared write failed and each request ran alone")
        #expect(try await store.verify().isClean)
    }

    @Test func aFullQueueRefusesAtOnceWithBusy() async throws {
        let path = temporaryDatabasePath()
        let store = try SQLiteStore(path: path, busyTimeoutSeconds: 5, writeQueueDepthMax: 8)
        let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        // Another process holds the write lock for a moment, so requests pile up.
        let holder = try ForeignWriteLock.hold(path, seconds: 1.5)
        let results = await withTaskGroup(of: String.self) { group in
            for _ in 0..<40 {
                group.addTask {
                    do {
                        _ = try await store.recordUsage(UsageBatch(organizationID: org, events: [event("p")], receivedAt: now))
                        return "ok"
                    } catch StoreError.busy {
                        return "busy"
                    } catch {
                        return "other \(error)"
                    }
                }
            }
            return await group.reduce(into: [String]()) { $0.append($1) }
        }
        holder.waitUntilExit()
        #expect(results.filter { $0 == "busy" }.count >= 20)
        #expect(results.allSatisfy { $0 == "ok" || $0 == "busy" })
        let recorded = results.filter { $0 == "ok" }.count
        #expect(recorded >= 1)
        #expect(try await store.balance(org, at: now).monthEvents == Int64(recorded))
    }
}
