import Logging
import PlutusCore
import PlutusStore
import ServiceLifecycle

/// Every `Limits.holdSweepIntervalSeconds`, posts the expiry of credits past their expiry
/// and releases holds past theirs, and deletes ended sessions and abandoned sign-ins. Nothing waits on it: every read leaves expired credit and
/// holds out, and every write expires its organization's due ones first; the sweep puts the
/// expiry entries in the ledger of organizations that are quiet.
public struct ExpirySweeper: Service {
    let store: any BillingStore
    let logger: Logger
    let intervalSeconds: Int64

    public init(store: any BillingStore, logger: Logger, intervalSeconds: Int64 = Limits.holdSweepIntervalSeconds) {
        precondition(intervalSeconds > 0, "the sweep needs a positive interval")
        self.store = store
        self.logger = logger
        self.intervalSeconds = intervalSeconds
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let now = Timestamp.now()
                    let credits = try await store.expireCredits(at: now)
                    if credits > 0 { logger.info("expired \(credits) credit\(credits == 1 ? "" : "s")") }
                    let holds = try await store.expireHolds(at: now)
                    if holds > 0 { logger.info("released \(holds) expired hold\(holds == 1 ? "" : "s")") }
                    let signIns = try await store.purgeSignIns(before: now)
                    if signIns > 0 { logger.info("purged \(signIns) ended sign-in\(signIns == 1 ? "" : "s")") }
                } catch {
                    logger.error("expiry sweep failed: \(String(reflecting: error))")
                }
                try? await Task.sleep(for: .seconds(intervalSeconds))
            }
        }
    }
}
