import Foundation
import PlutusCore
import PlutusPostgres
import PlutusStore
import PlutusStoreTesting
import Testing

/// The server the PostgreSQL tests run against, from `PLUTUS_TEST_DATABASE_URL`; `.ci/run`
/// starts a throw-away one and sets it. Unset, these tests are skipped.
let testServerURL = ProcessInfo.processInfo.environment["PLUTUS_TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }

/// Runs `body` against a fresh, migrated database of its own, dropped afterwards.
func withFreshStore(_ body: (PostgresStore) async throws -> Void) async throws {
    let server = try #require(testServerURL)
    let name = "plutus_test_\(UUID().uuidString.prefix(12).lowercased().replacingOccurrences(of: "-", with: ""))"
    let url = try await PostgresAdmin.createDatabase(url: server, name: name)
    let store = try await PostgresStore.open(url: url, migrations: .apply)
    do {
        try await body(store)
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
    @Test func anInvalidEventWritesNothing() async throws { try await withFreshStore(StoreConformance.anInvalidEventWritesNothing) }
    @Test func idempotencyKeysReplayOrConflict() async throws {
        try await withFreshStore(StoreConformance.idempotencyKeysReplayOrConflict)
    }
    @Test func concurrentEventsGiveTheExactBalance() async throws {
        try await withFreshStore(StoreConformance.concurrentEventsGiveTheExactBalance)
    }
    @Test func hardStopHoldsUnderConcurrency() async throws {
        try await withFreshStore(StoreConformance.hardStopHoldsUnderConcurrency)
    }
    @Test func concurrentRetriesRecordOnce() async throws { try await withFreshStore(StoreConformance.concurrentRetriesRecordOnce) }
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
    @Test func alertsAreRaisedOncePerPeriod() async throws { try await withFreshStore(StoreConformance.alertsAreRaisedOncePerPeriod) }
    @Test func pagesNeitherSkipNorRepeat() async throws { try await withFreshStore(StoreConformance.pagesNeitherSkipNorRepeat) }
    @Test func apiKeysAuthenticateUntilRevoked() async throws {
        try await withFreshStore(StoreConformance.apiKeysAuthenticateUntilRevoked)
    }
    @Test func monthCountersFollowTheEventMonth() async throws {
        try await withFreshStore(StoreConformance.monthCountersFollowTheEventMonth)
    }
    @Test func importedPricesPriceNewEvents() async throws { try await withFreshStore(StoreConformance.importedPricesPriceNewEvents) }
    @Test func organizationsResolveByIDSlugOrName() async throws {
        try await withFreshStore(StoreConformance.organizationsResolveByIDSlugOrName)
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
    @Test func stripeSubscriptionsNeverGoBackInTime() async throws {
        try await withFreshStore(StoreConformance.stripeSubscriptionsNeverGoBackInTime)
    }
    @Test func stripeUnmappedEventsReplayLater() async throws {
        try await withFreshStore(StoreConformance.stripeUnmappedEventsReplayLater)
    }
}
