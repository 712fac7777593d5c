import Foundation
import Logging
import PlutusAlerts
import PlutusCore
import PlutusSQLite
import PlutusStore
import PlutusStoreTesting
import Testing

@Suite("The delivery service: outbox, retries with backoff, log, restarts")
struct DeliveryServiceTests {
    static let start = Timestamp.parseISO8601("2026-11-20T12:00:00Z")!
    /// Small delays, so the schedule is visible in a test: 1 s, then 2 s, then 4 s …
    static let schedule = RetrySchedule(attemptsMax: 4, baseDelayMillis: 1_000, maxDelayMillis: 60_000)

    static func service(_ store: SQLiteStore, _ base: String, clock: TestClock, schedule: RetrySchedule = schedule)
        -> AlertDeliveryService
    {
        var logger = Logger(label: "alerts-test")
        logger.logLevel = .critical
        let channel = HTTPAlertChannel(name: "webhook", url: base + "/hook", format: .webhook(secret: "s"), now: clock.closure)
        return AlertDeliveryService(store: store, channels: [channel], schedule: schedule, logger: logger, now: clock.closure)
    }

    @Test func retriesWithBackoffAfterServerErrorsThenDeliversOnce() async throws {
        let (store, _) = try makeStore()
        let alert = try await StoreConformance.raiseLowBalanceAlert(store, at: Self.start)
        let clock = TestClock(Self.start)
        let receiver = Receiver()
        receiver.failNext([500, 503])
        try await receiver.with { base in
            let service = Self.service(store, base, clock: clock)
            var round = try await service.deliverDue()
            #expect(round.failed == 1)
            // Not due again before the first delay (1 s) has passed.
            #expect(try await service.deliverDue() == AlertDeliveryService.Round())
            clock.advance(millis: 1_000)
            round = try await service.deliverDue()
            #expect(round.failed == 1)
            // The second delay is twice the first.
            clock.advance(millis: 1_999)
            #expect(try await service.deliverDue() == AlertDeliveryService.Round())
            clock.advance(millis: 1)
            round = try await service.deliverDue()
            #expect(round.delivered == 1)
            // Delivered: later rounds send nothing.
            clock.advance(millis: 3_600_000)
            #expect(try await service.deliverDue() == AlertDeliveryService.Round())
        }
        #expect(receiver.recorded.count == 3)
        #expect(Set(receiver.recorded.map { $0.headers["plutus-alert-id"] }) == [alert.id.rawValue])
        let log = try await store.alertDeliveryLog(limit: 10).reversed().map { $0 }
        #expect(log.map(\.attempt) == [1, 2, 3])
        #expect(log.map(\.status) == [.failed, .failed, .delivered])
        #expect(log.map(\.reply) == ["HTTP 500", "HTTP 503", "HTTP 200"])
        #expect(log[0].errorText == "answer 500" && log[2].errorText == nil)
        #expect(log[0].nextAttemptAt == Self.start.adding(seconds: 1))
        #expect(log[1].nextAttemptAt == Self.start.adding(seconds: 3))
        #expect(log.allSatisfy { $0.alertID == alert.id && $0.channel == "webhook" })
    }

    @Test func anUndeliveredAlertIsRetriedAfterARestartAndADeliveredOneIsNot() async throws {
        let (store, path) = try makeStore()
        _ = try await StoreConformance.raiseLowBalanceAlert(store, at: Self.start)
        let clock = TestClock(Self.start)
        let receiver = Receiver()
        receiver.failNext([500])
        try await receiver.with { base in
            #expect(try await Self.service(store, base, clock: clock).deliverDue().failed == 1)
            // "Restart": a new store on the same file and a new service.
            clock.advance(millis: 1_000)
            let reopened = try SQLiteStore(path: path)
            #expect(try await Self.service(reopened, base, clock: clock).deliverDue().delivered == 1)
            let again = try SQLiteStore(path: path)
            clock.advance(millis: 60_000)
            #expect(try await Self.service(again, base, clock: clock).deliverDue() == AlertDeliveryService.Round())
        }
        #expect(receiver.recorded.count == 2)
    }

    @Test func attemptsRunOutOrAPermanentRefusalAbandons() async throws {
        let (store, _) = try makeStore()
        _ = try await StoreConformance.raiseLowBalanceAlert(store, name: "Acme", at: Self.start)
        let clock = TestClock(Self.start)
        let receiver = Receiver()
        receiver.failNext([500, 500])
        try await receiver.with { base in
            let service = Self.service(
                store, base, clock: clock, schedule: RetrySchedule(attemptsMax: 2, baseDelayMillis: 10, maxDelayMillis: 10))
            #expect(try await service.deliverDue().failed == 1)
            clock.advance(millis: 10)
            #expect(try await service.deliverDue().abandoned == 1)
            clock.advance(millis: 60_000)
            #expect(try await service.deliverDue() == AlertDeliveryService.Round())
            // A 4xx other than 408/429 is not retried at all.
            _ = try await StoreConformance.raiseLowBalanceAlert(store, name: "Beta", at: clock.now)
            receiver.failNext([404])
            #expect(try await service.deliverDue().abandoned == 1)
        }
        let log = try await store.alertDeliveryLog(limit: 10)
        #expect(log.map(\.status) == [.abandoned, .abandoned, .failed])
        #expect(log.map(\.attempt) == [1, 2, 1])
    }

    @Test func alertsOlderThanTheDeliveryWindowAreNotSent() async throws {
        let (store, _) = try makeStore()
        _ = try await StoreConformance.raiseLowBalanceAlert(store, at: Self.start)
        let clock = TestClock(Self.start.adding(seconds: Limits.alertDeliveryAgeSecondsMax + 1))
        let receiver = Receiver()
        try await receiver.with { base in
            let round = try await Self.service(store, base, clock: clock).deliverDue()
            #expect(round == AlertDeliveryService.Round())
        }
        #expect(receiver.recorded.isEmpty)
    }

    @Test(.timeLimit(.minutes(1))) func runDeliversInTheBackgroundUntilCancelled() async throws {
        let (store, _) = try makeStore()
        let now = Timestamp.now()
        _ = try await StoreConformance.raiseLowBalanceAlert(store, at: now)
        let receiver = Receiver()
        try await receiver.with { base in
            var logger = Logger(label: "alerts-test")
            logger.logLevel = .critical
            let service = AlertDeliveryService(
                store: store,
                channels: [HTTPAlertChannel(name: "slack", url: base + "/slack", format: .slack, now: { Timestamp.now() })],
                pollIntervalMillis: 20, logger: logger, now: { Timestamp.now() })
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await service.run() }
                for _ in 0..<500 where try await store.alertDeliveryLog(limit: 1).isEmpty {
                    try await Task.sleep(for: .milliseconds(20))
                }
                group.cancelAll()
            }
        }
        #expect(receiver.recorded.count == 1)
        #expect(try await store.alertDeliveryLog(limit: 10).map(\.status) == [.delivered])
    }
}
