import Foundation
import PlutusCore
import PlutusStore
import PlutusStoreTesting
import PostgresNIO
import Testing

@testable import PlutusPostgres

/// The server the PostgreSQL tests run against, from `PLUTUS_TEST_DATABASE_URL`; `.ci/run`
/// starts a throw-away one and sets it. Unset, these tests are skipped.
let testServerURL = ProcessInfo.processInfo.environment["PLUTUS_TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }

/// Runs `body` against a fresh, migrated database of its own, dropped afterwards.
func withFreshStore(_ body: (PostgresStore) async throws -> Void) async throws {
    try await withFreshStore { store, _ in try await body(store) }
}

/// The same, with the fresh database's URL for connections of the test's own.
func withFreshStore(_ body: (PostgresStore, String) async throws -> Void) async throws {
    let server = try #require(testServerURL)
    let name = "plutus_test_\(UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: ""))"
    let url = try await PostgresAdmin.createDatabase(url: server, name: name)
    let store = try await PostgresStore.open(url: url, migrations: .apply)
    do {
        try await body(store, url)
    } catch {
        await store.close()
        try await PostgresAdmin.dropDatabase(url: server, name: name)
        throw error
    }
    await store.close()
    try await PostgresAdmin.dropDatabase(url: server, name: name)
}

@Suite("PostgreSQL store: the shared conformance suite", .enabled(if: testServerURL != nil, "set PLUTUS_TEST_DATABASE_URL"))
struct PostgresConformanceTests {
    @Test func recordsAndChargesABatch() async throws { try await withFreshStore(StoreConformance.recordsAndChargesABatch) }
    @Test func aLongBatchLandsWholeAndInOrder() async throws {
        try await withFreshStore(StoreConformance.aLongBatchLandsWholeAndInOrder)
    }
    @Test func anInvalidEventWritesNothing() async throws {
        try await withFreshStore(StoreConformance.anInvalidEventWritesNothing)
    }
    @Test func idempotencyKeysReplayOrConflict() async throws {
        try await withFreshStore(StoreConformance.idempotencyKeysReplayOrConflict)
    }
    @Test func concurrentEventsGiveTheExactBalance() async throws {
        try await withFreshStore(StoreConformance.concurrentEventsGiveTheExactBalance)
    }
    @Test func hardStopHoldsUnderConcurrency() async throws {
        try await withFreshStore(StoreConformance.hardStopHoldsUnderConcurrency)
    }
    @Test func concurrentRetriesRecordOnce() async throws {
        try await withFreshStore(StoreConformance.concurrentRetriesRecordOnce)
    }
    @Test func refusedEventsCreateNoWorkspace() async throws {
        try await withFreshStore(StoreConformance.refusedEventsCreateNoWorkspace)
    }
    @Test func freeTierCrossingLandsThenBlocks() async throws {
        try await withFreshStore(StoreConformance.freeTierCrossingLandsThenBlocks)
    }
    @Test func trackOnlyOrganizationsRunNegative() async throws {
        try await withFreshStore(StoreConformance.trackOnlyOrganizationsRunNegative)
    }
    @Test func workspacesResolveAndFoldAtTheCap() async throws {
        try await withFreshStore(StoreConformance.workspacesResolveAndFoldAtTheCap)
    }
    @Test func clientEventIDsAreRecordedOnce() async throws {
        try await withFreshStore(StoreConformance.clientEventIDsAreRecordedOnce)
    }
    @Test func creditsAreIdempotentByReference() async throws {
        try await withFreshStore(StoreConformance.creditsAreIdempotentByReference)
    }
    @Test func alertsAreRaisedOncePerPeriod() async throws {
        try await withFreshStore(StoreConformance.alertsAreRaisedOncePerPeriod)
    }
    @Test func pagesNeitherSkipNorRepeat() async throws { try await withFreshStore(StoreConformance.pagesNeitherSkipNorRepeat) }
    @Test func apiKeysAuthenticateUntilRevoked() async throws {
        try await withFreshStore(StoreConformance.apiKeysAuthenticateUntilRevoked)
    }
    @Test func monthCountersFollowTheEventMonth() async throws {
        try await withFreshStore(StoreConformance.monthCountersFollowTheEventMonth)
    }
    @Test func importedPricesPriceNewEvents() async throws {
        try await withFreshStore(StoreConformance.importedPricesPriceNewEvents)
    }
    @Test func organizationsResolveByIDSlugOrName() async throws {
        try await withFreshStore(StoreConformance.organizationsResolveByIDSlugOrName)
    }
    @Test func summariesAddUpTheEventsByDay() async throws {
        try await withFreshStore(StoreConformance.summariesAddUpTheEventsByDay)
    }
    @Test func verifyReportsEachStep() async throws { try await withFreshStore(StoreConformance.verifyReportsEachStep) }
    @Test func holdsSetCreditAsideAndSettleOnce() async throws {
        try await withFreshStore(StoreConformance.holdsSetCreditAsideAndSettleOnce)
    }
    @Test func holdsStopAtTheAvailableCredit() async throws {
        try await withFreshStore(StoreConformance.holdsStopAtTheAvailableCredit)
    }
    @Test func settlesAboveTheHoldAreChargedInFull() async throws {
        try await withFreshStore(StoreConformance.settlesAboveTheHoldAreChargedInFull)
    }
    @Test func releasedHoldsGiveTheCreditBack() async throws {
        try await withFreshStore(StoreConformance.releasedHoldsGiveTheCreditBack)
    }
    @Test func holdsExpireAtTheirInstant() async throws { try await withFreshStore(StoreConformance.holdsExpireAtTheirInstant) }
    @Test func holdsAreIdempotentByKey() async throws { try await withFreshStore(StoreConformance.holdsAreIdempotentByKey) }
    @Test func holdsSettlesAndSpendsDecidedTogether() async throws {
        try await withFreshStore { try await StoreConformance.holdsSettlesAndSpendsDecidedTogether($0) }
    }
    @Test func concurrentHoldsNeverOverspend() async throws {
        try await withFreshStore(StoreConformance.concurrentHoldsNeverOverspend)
    }
    @Test func membersHaveRolesAndAnOrganizationKeepsAnOwner() async throws {
        try await withFreshStore(StoreConformance.membersHaveRolesAndAnOrganizationKeepsAnOwner)
    }
    @Test func sessionsExpireAndAreRevoked() async throws {
        try await withFreshStore(StoreConformance.sessionsExpireAndAreRevoked)
    }
    @Test func signInStatesAreUsedOnce() async throws { try await withFreshStore(StoreConformance.signInStatesAreUsedOnce) }
    @Test func invitationsAreAcceptedOnceByTheirPerson() async throws {
        try await withFreshStore(StoreConformance.invitationsAreAcceptedOnceByTheirPerson)
    }
    @Test func theAuditLogKeepsWhoDidWhat() async throws { try await withFreshStore(StoreConformance.theAuditLogKeepsWhoDidWhat) }
    @Test func hardBudgetsRefuseSpendAndHoldsPastTheirLimit() async throws {
        try await withFreshStore(StoreConformance.hardBudgetsRefuseSpendAndHoldsPastTheirLimit)
    }
    @Test func budgetsCoverTheirOwnScopeOnly() async throws {
        try await withFreshStore(StoreConformance.budgetsCoverTheirOwnScopeOnly)
    }
    @Test func softBudgetsAlertOncePerPeriod() async throws {
        try await withFreshStore(StoreConformance.softBudgetsAlertOncePerPeriod)
    }
    @Test func aBudgetThatResetsMidHoldStillCountsTheHold() async throws {
        try await withFreshStore(StoreConformance.aBudgetThatResetsMidHoldStillCountsTheHold)
    }
    @Test func concurrentHoldsNeverOverspendABudget() async throws {
        try await withFreshStore(StoreConformance.concurrentHoldsNeverOverspendABudget)
    }
    @Test func workspaceMonthlyBudgetsAreSoftBudgets() async throws {
        try await withFreshStore(StoreConformance.workspaceMonthlyBudgetsAreSoftBudgets)
    }
    @Test func grantsAreSpentInOrder() async throws { try await withFreshStore(StoreConformance.grantsAreSpentInOrder) }
    @Test func expiredGrantsLeaveTheBalanceOnce() async throws {
        try await withFreshStore(StoreConformance.expiredGrantsLeaveTheBalanceOnce)
    }
    @Test func theSweepExpiresGrantsOnce() async throws { try await withFreshStore(StoreConformance.theSweepExpiresGrantsOnce) }
    @Test func refundsReverseTheirOwnPayment() async throws {
        try await withFreshStore(StoreConformance.refundsReverseTheirOwnPayment)
    }
    @Test func creditAfterADeficitPaysItFirst() async throws {
        try await withFreshStore(StoreConformance.creditAfterADeficitPaysItFirst)
    }
    @Test func refundsThatPutMoneyBackKeepTheLotsInStep() async throws {
        try await withFreshStore(StoreConformance.refundsThatPutMoneyBackKeepTheLotsInStep)
    }
    @Test func lateCallsCountInThePeriodTheyArrive() async throws {
        try await withFreshStore(StoreConformance.lateCallsCountInThePeriodTheyArrive)
    }
    @Test func creditHistoryFollowsTheLedger() async throws {
        try await withFreshStore(StoreConformance.creditHistoryFollowsTheLedger)
    }
    @Test func manyClientEventIDsAreCheckedAtOnce() async throws {
        try await withFreshStore(StoreConformance.manyClientEventIDsAreCheckedAtOnce)
    }
    @Test func creditStatementsReconcile() async throws { try await withFreshStore(StoreConformance.creditStatementsReconcile) }
    @Test(arguments: [UInt64(20_261_207), 7]) func statementsReconcileEveryMonthWithBackDatedUsage(seed: UInt64) async throws {
        try await withFreshStore { try await StoreConformance.statementsReconcileEveryMonthWithBackDatedUsage($0, seed: seed) }
    }
    @Test func alertOutboxTracksEachChannel() async throws {
        try await withFreshStore(StoreConformance.alertOutboxTracksEachChannel)
    }
    @Test func stripeEventCreditsOnceUnderConcurrentDelivery() async throws {
        try await withFreshStore(StoreConformance.stripeEventCreditsOnceUnderConcurrentDelivery)
    }
    @Test func stripeUnpaidWrongCurrencyAndAbsurdAmountsMoveNothing() async throws {
        try await withFreshStore(StoreConformance.stripeUnpaidWrongCurrencyAndAbsurdAmountsMoveNothing)
    }
    @Test func stripeRefundsAndDisputesConverge() async throws {
        try await withFreshStore(StoreConformance.stripeRefundsAndDisputesConverge)
    }
    @Test func stripeSubscriptionsWithoutAProPriceMoveThePlan() async throws {
        try await withFreshStore(StoreConformance.stripeSubscriptionsWithoutAProPriceMoveThePlan)
    }
    @Test func stripeSubscriptionsNeverGoBackInTime() async throws {
        try await withFreshStore(StoreConformance.stripeSubscriptionsNeverGoBackInTime)
    }
    @Test func stripeUnmappedEventsReplayLater() async throws {
        try await withFreshStore(StoreConformance.stripeUnmappedEventsReplayLater)
    }
}

@Suite("PostgreSQL store: several servers", .enabled(if: testServerURL != nil, "set PLUTUS_TEST_DATABASE_URL"))
struct PostgresSharingTests {
    /// Two servers polling the outbox at once never get the same alert; a claim whose
    /// claimer vanished is due again once its lease ends.
    @Test func concurrentPollersClaimEachAlertOnce() async throws {
        try await withFreshStore { store in
            let now = Timestamp.parseISO8601("2026-11-20T12:00:00Z")!
            for index in 0..<6 {
                let org = try await store.createOrganization(name: "Org \(index)", plan: .pro, ownerEmail: nil).id
                _ = try await store.postCredit(
                    org, try CreditMovement(kind: .grant, amount: MicroDollars.dollars(20)!, reference: "g-\(index)", memo: nil),
                    at: now)
                _ = try await store.recordUsage(
                    UsageBatch(
                        organizationID: org,
                        events: [UsageEventInput(provider: "p", model: nil, tokens: .zero, exactCost: MicroDollars.dollars(15)!)],
                        receivedAt: now))
            }
            let since = now.adding(seconds: -3_600)
            let claims = try await withThrowingTaskGroup(of: [AlertID].self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        try await store.pendingAlertDeliveries(channel: "webhook", createdSince: since, now: now, limit: 6)
                            .map(\.alert.id)
                    }
                }
                return try await group.reduce(into: [AlertID]()) { $0 += $1 }
            }
            #expect(claims.count == 6 && Set(claims).count == 6, "each of the 6 alerts claimed once: \(claims.count)")
            #expect(try await store.pendingAlertDeliveries(channel: "webhook", createdSince: since, now: now, limit: 6).isEmpty)
            let afterLease = now.adding(seconds: PostgresStore.alertClaimLeaseMillis / 1000)
            #expect(
                try await store.pendingAlertDeliveries(channel: "webhook", createdSince: since, now: afterLease, limit: 6).count
                    == 6)
        }
    }

    @Test func requestsDecidedTogetherKeepTheirOwnOutcomes() async throws {
        try await withFreshStore { try await StoreConformance.requestsDecidedTogetherKeepTheirOwnOutcomes($0) }
    }
}

@Suite("PostgreSQL store: lock waits", .enabled(if: testServerURL != nil, "set PLUTUS_TEST_DATABASE_URL"))
struct PostgresLockWaitTests {
    /// A Stripe delivery that waits out `lock_timeout` on its event's lock (another process
    /// still applying the same event) is retried and then applies, instead of failing with
    /// an internal error. PostgresNIO hands an error raised while a SELECT runs to its rows:
    /// when the lock query's rows went unread, the timeout surfaced only as the next
    /// statement's "current transaction is aborted", which is not a retryable state.
    @Test func aDeliveryThatTimesOutOnItsEventLockIsRetried() async throws {
        try await withFreshStore { store, url in
            let org = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
            let payload = StripeFixtures.event(
                id: "evt_locked", type: "checkout.session.completed", object: StripeFixtures.checkoutSession(org: org.rawValue))
            let event = try StripeEvent.parse(try JSONValue.parse(payload))
            let action = StripeDecision.action(for: event, settings: StripeSettings(proPriceID: "price_pro"))

            let parsed = try PostgresURL(url)
            let holder = try await PostgresConnection.connect(
                configuration: .init(
                    host: parsed.host, port: parsed.port, username: parsed.username, password: parsed.password,
                    database: parsed.database, tls: .disable),
                id: 1, logger: Logger(label: "lock-holder"))
            _ = try await holder.query("SELECT pg_advisory_lock(hashtextextended('evt_locked', 0))", logger: holder.logger)
                .collect()
            // Held for longer than one lock timeout, less than the attempts allow.
            let held = Duration.milliseconds(PostgresStore.lockTimeoutMillis * 3 / 2)
            async let outcome = store.applyStripeEvent(event, action: action, payload: payload, at: Timestamp.now())
            try await Task.sleep(for: held)
            _ = try await holder.query("SELECT pg_advisory_unlock(hashtextextended('evt_locked', 0))", logger: holder.logger)
                .collect()
            try await holder.close()
            #expect(try await outcome.status == .credited)
            #expect(try await store.balance(org, at: Timestamp.now()).balance == MicroDollars.dollars(50))
        }
    }
}

@Suite("PostgreSQL migrations carry data over", .enabled(if: testServerURL != nil, "set PLUTUS_TEST_DATABASE_URL"))
struct PostgresMigrationDataTests {
    /// A database from before budgets and credit lots: its workspace budgets and balances carry over.
    @Test func aDatabaseFromBeforeBudgetsKeepsItsBudgetsAndCredit() async throws {
        let server = try #require(testServerURL)
        let name = "plutus_test_\(UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: ""))"
        let url = try await PostgresAdmin.createDatabase(url: server, name: name)
        let store = try await PostgresStore.open(url: url, migrations: .leave)
        do {
            _ = try await store.migrate(upTo: "v6-holds")
            try await store.withConnection { connection in
                for statement in PreBudgetRows.statements(month: Timestamp.now().month.text) {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: store.logger)
                }
            }
            _ = try await store.migrate()
            try await PreBudgetRows.expectMigrated(store, now: Timestamp.now())
        } catch {
            await store.close()
            try await PostgresAdmin.dropDatabase(url: server, name: name)
            throw error
        }
        await store.close()
        try await PostgresAdmin.dropDatabase(url: server, name: name)
    }
}
