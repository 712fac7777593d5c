import PlutusCore
import PlutusStore
import PostgresNIO

extension PostgresStore {
    public func priceCatalog() async throws -> PriceCatalog {
        try await currentCatalog()
    }

    /// The catalog new events are priced with. Another process may import prices at any
    /// time, so the newest import number is checked at most every `catalogRefreshMillis`.
    func currentCatalog() async throws -> PriceCatalog {
        let now = Timestamp.now().millis
        let cached = catalog.withLock { $0 }
        if now - cached.checkedAt < Self.catalogRefreshMillis { return cached.catalog }
        try await refreshCatalog(force: false)
        return catalog.withLock { $0.catalog }
    }

    func refreshCatalog(force: Bool) async throws {
        let known = catalog.withLock { $0.storedVersion }
        let loaded: (PriceOverlay, Int64)? = try await withConnection { connection in
            guard
                let row = try await connection.query(
                    "SELECT version, prices FROM price_catalogs ORDER BY version DESC LIMIT 1", logger: self.logger
                ).rows().first
            else { return nil }
            let number = try row.int64("version")
            if number == known && !force { return nil }
            return (try StoredCatalog.overlay(try row.string("prices"), number: number), number)
        }
        let now = Timestamp.now().millis
        catalog.withLock { cache in
            if let (overlay, number) = loaded, number >= cache.storedVersion {
                cache.catalog = StoredCatalog.catalog(overlay, number: number)
                cache.storedVersion = number
            }
            cache.checkedAt = now
        }
    }

    public func importPrices(_ overlay: PriceOverlay, label: String, at time: Timestamp) async throws -> PriceCatalog {
        let trimmedLabel = String(label.prefix(Limits.labelBytesMax))
        let (merged, number) = try await transaction { connection -> (PriceOverlay, Int64) in
            // One import at a time across processes, so each merges over the one before.
            try await connection.query("LOCK TABLE price_catalogs IN EXCLUSIVE MODE", logger: self.logger)
            let previous = try await connection.query(
                "SELECT version, prices FROM price_catalogs ORDER BY version DESC LIMIT 1", logger: self.logger
            ).rows().first
            let merged =
                try previous.map {
                    try StoredCatalog.overlay(try $0.string("prices"), number: try $0.int64("version")).merged(with: overlay)
                } ?? overlay
            let number = try await connection.query(
                """
                INSERT INTO price_catalogs(label, as_of, prices, imported_at)
                VALUES (\(trimmedLabel), \(merged.asOf), \(merged.plutusJSON().serialized()), \(time.millis))
                RETURNING version
                """, logger: self.logger
            ).collect().first!.decode(Int64.self)
            return (merged, number)
        }
        let updated = StoredCatalog.catalog(merged, number: number)
        catalog.withLock { $0 = CatalogCache(catalog: updated, storedVersion: number, checkedAt: Timestamp.now().millis) }
        return updated
    }
}
