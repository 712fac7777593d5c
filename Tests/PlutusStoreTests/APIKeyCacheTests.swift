import PlutusCore
import PlutusStore
import Testing

struct APIKeyCacheTests {
    let identity = APIKeyIdentity(
        keyID: APIKeyID(rawValue: "key_0123456789abcdef"), organizationID: OrganizationID(rawValue: "org_0123456789abcdef"))
    let start = Timestamp(rawValue: 1_795_000_000_000)

    @Test func aLookupIsTrustedForItsTimeToLiveOnly() {
        let cache = APIKeyCache()
        #expect(cache.identity(hash: "h", now: start) == nil)
        cache.remember(hash: "h", identity, now: start)
        #expect(cache.identity(hash: "h", now: Timestamp(rawValue: start.millis + APIKeyCache.ttlMillis - 1)) == identity)
        #expect(cache.identity(hash: "h", now: Timestamp(rawValue: start.millis + APIKeyCache.ttlMillis)) == nil)
        #expect(cache.identity(hash: "other", now: start) == nil)
    }

    @Test func clearingForgetsEveryKey() {
        let cache = APIKeyCache()
        cache.remember(hash: "h", identity, now: start)
        cache.clear()
        #expect(cache.identity(hash: "h", now: start) == nil)
    }

    @Test func theCacheIsBounded() {
        let cache = APIKeyCache()
        for index in 0..<APIKeyCache.entriesMax { cache.remember(hash: "h\(index)", identity, now: start) }
        #expect(cache.identity(hash: "h0", now: start) == identity)
        cache.remember(hash: "one-more", identity, now: start)
        #expect(cache.identity(hash: "h0", now: start) == nil)
        #expect(cache.identity(hash: "one-more", now: start) == identity)
    }
}
