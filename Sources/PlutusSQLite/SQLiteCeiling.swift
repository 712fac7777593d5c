import Foundation
import GRDB

/// The floor under every SQLite figure in `plutus bench`: plain inserts of one small row
/// into a table with an integer key and no indexes, in WAL mode with `synchronous=FULL`, on
/// the same disk as the store. No metering, no JSON, no HTTP.
public enum SQLiteCeiling {
    public struct Figures: Sendable {
        /// Commits per second, and rows per second, over the run.
        public var commitsPerSecond: Double
        public var rowsPerSecond: Double
    }

    /// Inserts `rowsPerCommit` rows per transaction, commit after commit, for `seconds`.
    public static func measure(directory: String, rowsPerCommit: Int, seconds: Double) throws -> Figures {
        precondition(rowsPerCommit > 0 && seconds > 0, "a run needs rows and time")
        let path = (directory as NSString).appendingPathComponent("ceiling-\(rowsPerCommit).db")
        defer {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        }
        let queue = try DatabaseQueue(path: path)
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = FULL")
            try db.execute(sql: "CREATE TABLE rows(id INTEGER PRIMARY KEY, org TEXT NOT NULL, cost INTEGER NOT NULL, ts INTEGER NOT NULL)")
        }
        let start = ContinuousClock.now
        let deadline = start + .milliseconds(Int64(seconds * 1000))
        var commits = 0
        try queue.writeWithoutTransaction { db in
            let insert = try db.makeStatement(sql: "INSERT INTO rows(org, cost, ts) VALUES (?, ?, ?)")
            while ContinuousClock.now < deadline {
                try db.inTransaction(.immediate) {
                    for row in 0..<rowsPerCommit {
                        try insert.execute(arguments: ["org_0123456789abcdef", 63_000, commits * rowsPerCommit + row])
                    }
                    return .commit
                }
                commits += 1
            }
        }
        let elapsed = ContinuousClock.now - start
        let elapsedSeconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Figures(
            commitsPerSecond: Double(commits) / elapsedSeconds,
            rowsPerSecond: Double(commits * rowsPerCommit) / elapsedSeconds)
    }
}
