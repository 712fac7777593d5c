import PlutusCore

/// Price imports as every store keeps them: import number N holds the merged overlay (the
/// plutus JSON format), and the catalog it makes is the built-in one under it.
public enum StoredCatalog {
    public static func version(_ number: Int64) -> String {
        "\(PriceCatalog.builtin.version)+custom-\(number)"
    }

    /// The overlay stored as import `number`.
    public static func overlay(_ text: String, number: Int64) throws -> PriceOverlay {
        do {
            return try PriceOverlay.parse(try JSONValue.parse(text), format: .plutus)
        } catch {
            throw StoreError.backend("stored price catalog \(number) does not parse: \(error)")
        }
    }

    /// The catalog that import `number` of `overlay` makes.
    public static func catalog(_ overlay: PriceOverlay, number: Int64) -> PriceCatalog {
        var result = PriceCatalog.builtin.overlaid(with: overlay, version: version(number))
        if let asOf = overlay.asOf { result.asOf = asOf }
        return result
    }
}
