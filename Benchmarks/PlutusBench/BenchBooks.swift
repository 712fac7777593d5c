import Foundation
import PlutusCore
import PlutusSQLite
import PlutusStore

/// The books every HTTP bench starts from: a fresh durable SQLite file in a temporary folder,
/// one Enterprise organization with $1,000,000 of credit, and an API key.
struct BenchBooks {
    let directory: URL
    let store: SQLiteStore
    let organization: OrganizationID
    let key: String

    static func make() async throws -> BenchBooks {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("plutus-bench-\(UUID().uuidString)")
        let store = try SQLiteStore(path: directory.appendingPathComponent("bench.db").path)
        let org = try await store.createOrganization(name: "Bench", plan: .enterprise, ownerEmail: nil)
        _ = try await store.postCredit(
            org.id, try CreditMovement(kind: .grant, amount: MicroDollars.dollars(1_000_000)!, reference: "bench", memo: nil),
            at: Timestamp.now())
        let key = try await store.createAPIKey(org.id, name: "bench").secret
        return BenchBooks(directory: directory, store: store, organization: org.id, key: key)
    }

    /// Deletes the folder and its database.
    func remove() { try? FileManager.default.removeItem(at: directory) }
}
