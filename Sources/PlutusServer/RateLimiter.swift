import PlutusCore
import Synchronization

/// Token buckets per API key: `burst` capacity, refilled at `ratePerMinute / 60` a second;
/// each request costs one token. The table is bounded: past `keysMax` entries, buckets that
/// have refilled completely (idle keys) are dropped first.
final class RateLimiter: Sendable {
    struct Bucket {
        var tokens: Double
        var updatedSeconds: Double
    }

    static let keysMax = 100_000

    private let ratePerSecond: Double
    private let burst: Double
    private let buckets = Mutex<[APIKeyID: Bucket]>([:])

    init(ratePerMinute: Int, burst: Int) {
        ratePerSecond = Double(ratePerMinute) / 60
        self.burst = Double(burst)
    }

    var isEnabled: Bool { ratePerSecond > 0 }

    /// `nil` when the request may go ahead, else whole seconds until one token is back.
    func acquire(_ key: APIKeyID, nowSeconds: Double) -> Int? {
        guard isEnabled else { return nil }
        return buckets.withLock { table in
            var bucket = table[key] ?? Bucket(tokens: burst, updatedSeconds: nowSeconds)
            bucket.tokens = min(burst, bucket.tokens + max(0, nowSeconds - bucket.updatedSeconds) * ratePerSecond)
            bucket.updatedSeconds = nowSeconds
            defer {
                table[key] = bucket
                if table.count > Self.keysMax { prune(&table, nowSeconds: nowSeconds) }
            }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return nil
            }
            return max(1, Int(((1 - bucket.tokens) / ratePerSecond).rounded(.up)))
        }
    }

    private func prune(_ table: inout [APIKeyID: Bucket], nowSeconds: Double) {
        let secondsToFull = burst / ratePerSecond
        table = table.filter { nowSeconds - $0.value.updatedSeconds < secondsToFull }
        if table.count > Self.keysMax { table.removeAll() }  // all active: fail open rather than grow
    }
}
