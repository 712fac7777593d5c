import PlutusCore
import Synchronization

/// Recently authenticated keys, so a busy client's every request does not read the key
/// table. An entry is trusted for `ttlMillis`: a key revoked through this store stops
/// working at once (the cache is cleared), one revoked by another process within that time.
public final class APIKeyCache: Sendable {
    /// How long a successful lookup is trusted.
    public static let ttlMillis: Int64 = 1_000
    /// Keys remembered at most; past it the cache starts over.
    public static let entriesMax = 10_000

    private let entries = Mutex<[String: (identity: APIKeyIdentity, checkedAt: Int64)]>([:])

    public init() {}

    /// The identity cached for this key hash, if checked less than `ttlMillis` before `now`.
    public func identity(hash: String, now: Timestamp) -> APIKeyIdentity? {
        entries.withLock { entries in
            guard let entry = entries[hash], now.millis - entry.checkedAt < Self.ttlMillis else { return nil }
            return entry.identity
        }
    }

    public func remember(hash: String, _ identity: APIKeyIdentity, now: Timestamp) {
        entries.withLock { entries in
            if entries.count >= Self.entriesMax { entries.removeAll(keepingCapacity: true) }
            entries[hash] = (identity, now.millis)
        }
    }

    /// Forgets every key (after a revocation).
    public func clear() {
        entries.withLock { $0.removeAll(keepingCapacity: true) }
    }
}
