import GRDB
import PlutusCore
import PlutusStore

extension SQLiteStore {
    /// The newest imported overlay and its import number, if any was imported.
    static func loadOverlay(_ db: Database) throws -> (overlay: PriceOverlay, number: Int64)? {
        guard let row = try Row.fetchOne(db, sql: "SELECT version, prices FROM price_catalogs ORDER BY version DESC LIMIT 1")
        else { return nil }
        let number: Int64 = row["version"]
        return (try StoredCatalog.overlay(row["prices"], number: number), number)
    }

    public func priceCatalog() async throws -> PriceCatalog {
        catalog.withLock { $0 }
    }

    public func importPrices(_ overlay: PriceOverlay, label: String, at time: Timestamp) async throws -> PriceCatalog {
        let trimmedLabel = String(label.prefix(Limits.labelBytesMax))
        let updated = try await writeTransaction { db -> PriceCatalog in
            let merged = try Self.loadOverlay(db).map { $0.overlay.merged(with: overlay) } ?? overlay
            try db.execute(
                sql: "INSERT INTO price_catalogs(label, as_of, prices, imported_at) VALUES (?, ?, ?, ?)",
                arguments: [trimmedLabel, merged.asOf, merged.plutusJSON().serialized(), time.millis])
            return StoredCatalog.catalog(merged, number: db.lastInsertedRowID)
        }
        catalog.withLock { $0 = updated }
        return updated
    }
}
