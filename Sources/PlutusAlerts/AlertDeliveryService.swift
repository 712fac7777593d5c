import Logging
import PlutusCore
import PlutusStore
import ServiceLifecycle

/// When failed deliveries are tried again: after `baseDelayMillis`, doubling with every
/// attempt up to `maxDelayMillis`, and not after the `attemptsMax`-th attempt.
public struct RetrySchedule: Sendable, Equatable {
    public var attemptsMax: Int
    public var baseDelayMillis: Int64
    public var maxDelayMillis: Int64

    public static let standard = RetrySchedule(
        attemptsMax: Limits.alertDeliveryAttemptsMax, baseDelayMillis: Limits.alertRetryDelayBaseSeconds * 1_000,
        maxDelayMillis: Limits.alertRetryDelayMaxSeconds * 1_000)

    public init(attemptsMax: Int, baseDelayMillis: Int64, maxDelayMillis: Int64) {
        precondition((1...Limits.alertDeliveryAttemptsMax).contains(attemptsMax), "attempts are bounded")
        precondition(baseDelayMillis >= 0 && baseDelayMillis <= maxDelayMillis, "delays are ordered")
        self.attemptsMax = attemptsMax
        self.baseDelayMillis = baseDelayMillis
        self.maxDelayMillis = maxDelayMillis
    }

    /// The delay after failed attempt number `attempt` (1-based), or `nil` when it was the last.
    public func delayMillis(afterAttempt attempt: Int) -> Int64? {
        precondition(attempt >= 1, "attempts are numbered from 1")
        guard attempt < attemptsMax else { return nil }
        let doublings = min(attempt - 1, 32)
        let (delay, overflow) = baseDelayMillis.multipliedReportingOverflow(by: Int64(1) << doublings)
        return overflow ? maxDelayMillis : min(delay, maxDelayMillis)
    }
}

/// Delivers the alerts in the store's outbox to every configured channel, in the background.
/// Each attempt is logged, and its state (delivered, due again, abandoned) is written to the
/// store before the next, so a restart resumes where the last process stopped and never
/// sends a delivered alert again. Delivery is at least once: a crash between a channel's
/// acceptance and the log write sends that alert again; webhook receivers can tell by
/// `Plutus-Alert-ID`.
public struct AlertDeliveryService: Service {
    let store: any BillingStore
    let channels: [any AlertChannel]
    let schedule: RetrySchedule
    let pollIntervalMillis: Int64
    let logger: Logger
    let now: @Sendable () -> Timestamp

    public init(
        store: any BillingStore, channels: [any AlertChannel], schedule: RetrySchedule = .standard,
        pollIntervalMillis: Int64 = Limits.alertPollIntervalSeconds * 1_000, logger: Logger = Logger(label: "plutus.alerts"),
        now: @escaping @Sendable () -> Timestamp
    ) {
        precondition(!channels.isEmpty, "a delivery service has somewhere to deliver")
        precondition(Set(channels.map(\.name)).count == channels.count, "channel names are unique")
        precondition(pollIntervalMillis > 0, "polling needs an interval")
        self.store = store
        self.channels = channels
        self.schedule = schedule
        self.pollIntervalMillis = pollIntervalMillis
        self.logger = logger
        self.now = now
    }

    /// Delivers due alerts every poll interval until cancelled or shut down gracefully.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    _ = try await deliverDue()
                } catch {
                    logger.error("alert delivery round failed: \(String(reflecting: error))")
                }
                try? await Task.sleep(for: .milliseconds(pollIntervalMillis))
            }
        }
    }

    /// Tallies of one round.
    public struct Round: Sendable, Equatable {
        public var delivered = 0
        public var failed = 0
        public var abandoned = 0
        public init() {}
    }

    /// One round: every channel takes up to `Limits.alertDeliveryBatchMax` due alerts and
    /// tries each once.
    public func deliverDue() async throws -> Round {
        var round = Round()
        for channel in channels {
            let since = now().adding(seconds: -Limits.alertDeliveryAgeSecondsMax)
            let pending = try await store.pendingAlertDeliveries(
                channel: channel.name, createdSince: since, now: now(), limit: Limits.alertDeliveryBatchMax)
            for delivery in pending {
                if Task.isCancelled { return round }
                let status = try await attempt(delivery, on: channel)
                switch status {
                case .delivered: round.delivered += 1
                case .failed: round.failed += 1
                case .abandoned: round.abandoned += 1
                }
            }
        }
        return round
    }

    private func attempt(_ delivery: PendingAlertDelivery, on channel: any AlertChannel) async throws -> AlertDeliveryStatus {
        precondition(delivery.channel == channel.name, "the outbox answers for the channel asked")
        let number = delivery.attemptsMade + 1
        let result = await channel.deliver(AlertNotice(delivery))
        let time = now()
        var status: AlertDeliveryStatus
        var nextAttemptAt: Timestamp?
        switch result.outcome {
        case .delivered: status = .delivered
        case .permanentFailure: status = .abandoned
        case .transientFailure:
            if let delay = schedule.delayMillis(afterAttempt: number) {
                status = .failed
                nextAttemptAt = Timestamp(rawValue: time.millis + delay)
            } else {
                status = .abandoned
            }
        }
        let record = AlertDeliveryAttempt(
            alertID: delivery.alert.id, channel: channel.name, attempt: number, status: status, reply: result.reply,
            errorText: result.errorText, attemptedAt: time, nextAttemptAt: nextAttemptAt)
        // Written in a task of its own so a shutdown arriving now cannot cancel the write: an
        // alert the channel accepted is recorded as delivered, not sent again after a restart.
        let store = self.store
        try await Task { try await store.recordAlertDelivery(record) }.value
        if status != .delivered {
            logger.warning(
                "alert \(delivery.alert.id.rawValue) to \(channel.name): attempt \(number) \(status.rawValue): \(result.reply ?? "") \(result.errorText ?? "")"
            )
        }
        return status
    }
}
