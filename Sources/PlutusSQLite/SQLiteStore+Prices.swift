import GRDB
import PlutusCore
import PlutusStore

extension SQLiteStore {
    /// The newest imported overlay and the catalog version it makes, if any was imported.
    static func loadOverlay(_ db: Database) throws -> (overlay: PriceOverlay, version: String)? {
        guard let row = try Row.fetchOne(db, sql: "SELECT version, prices FROM price_catalogs ORDER BY version DESC LIMIT 1")
        else { return nil }
        let text: String = row["prices"]
        let number: Int64 = row["version"]
        do {
            let overlay = try PriceOverlay.parse(try JSONValue.parse(text), format: .plutus)
            return (overlay, catalogVersion(number))
        } catch {
            throw StoreError.backend("stored price catalog \(number) does not parse: \(error)")
        }
    }

    static func catalogVersion(_ number: Int64) -> String {
        "\(PriceCatalog.builtin.version)+custom-\(number)"
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
            var result = PriceCatalog.builtin.overlaid(with: merged, version: Self.catalogVersion(db.lastInsertedRowID))
            if let asOf = merged.asOf { result.asOf = asOf }
            return result
        }
        catalog.withLock { $0 = updated }
        return updated
    }
}
