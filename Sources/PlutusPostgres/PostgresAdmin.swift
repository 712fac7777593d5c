import Foundation
import Logging
import PlutusStore
import PostgresNIO

/// Creating and dropping whole databases on a server, for tests, benchmarks and
/// `plutus migrate-data`. `url` names any database the user may connect to.
public enum PostgresAdmin {
    /// Creates database `name` (letters, digits and `_` only) on the server of `url`, and
    /// returns `url` pointed at it.
    public static func createDatabase(url: String, name: String) async throws -> String {
        try await run(url: url, "CREATE DATABASE \(try identifier(name))")
        return try PostgresURL(url).withDatabase(name)
    }

    public static func dropDatabase(url: String, name: String) async throws {
        try await run(url: url, "DROP DATABASE IF EXISTS \(try identifier(name)) WITH (FORCE)")
    }

    private static func identifier(_ name: String) throws -> String {
        guard !name.isEmpty, name.utf8.count <= 63,
            name.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F })
        else { throw StoreError.invalid(field: "database", problem: "names use a–z, 0–9 and _ only") }
        return name
    }

    private static func run(url: String, _ sql: String) async throws {
        let client = PostgresClient(configuration: try PostgresURL(url).configuration(connectionsMax: 1))
        let runner = Task { await client.run() }
        defer { runner.cancel() }
        do {
            try await client.query(PostgresQuery(unsafeSQL: sql))
        } catch {
            throw PostgresStore.translate(error)
        }
    }
}

extension PostgresURL {
    /// The same server and credentials, another database.
    func withDatabase(_ name: String) -> String {
        let credentials =
            username.addingPercentEncoding(withAllowedCharacters: .urlUserAllowed)!
            + (password.map { ":" + $0.addingPercentEncoding(withAllowedCharacters: .urlPasswordAllowed)! } ?? "")
        return "postgres://\(credentials)@\(host):\(port)/\(name)?sslmode=\(tls)"
    }
}
