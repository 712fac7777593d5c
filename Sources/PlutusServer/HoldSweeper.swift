import Logging
import PlutusCore
import PlutusStore
import ServiceLifecycle

/// Releases holds past their expiry every `Limits.holdSweepIntervalSeconds`. Nothing waits
/// on it: every read leaves expired holds out and every write expires the due holds of its
/// organization first; the sweep keeps the stored totals tidy for organizations that are
/// quiet.
public struct HoldSweeper: Service {
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
                    let expired = try await store.expireHolds(at: Timestamp.now())
                    if expired > 0 { logger.info("released \(expired) expired hold\(expired == 1 ? "" : "s")") }
                } catch {
                    logger.error("hold sweep failed: \(String(reflecting: error))")
                }
                try? await Task.sleep(for: .seconds(intervalSeconds))
            }
        }
    }
}
