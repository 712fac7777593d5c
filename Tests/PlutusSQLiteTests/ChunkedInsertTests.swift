import GRDB
import Testing

@testable import PlutusSQLite

/// `ChunkedInsert` splits any count into statements of 100, 64, 32 … 1 rows and binds each
/// row from the collection in place: every row must land once, in order, whatever the
/// count and whatever the collection's indices.
@Suite("SQLite: multi-row inserts in chunks")
struct ChunkedInsertTests {
    static let insert = ChunkedInsert("INSERT INTO t(n, label)", columns: 2)

    private func inserted(_ rows: some Collection<Int>) throws -> [Row] {
        let queue = try DatabaseQueue()
        return try queue.write { db in
            try db.execute(sql: "CREATE TABLE t(seq INTEGER PRIMARY KEY, n INTEGER NOT NULL, label TEXT NOT NULL)")
            try Self.insert.insert(db, rows) { n, row in
                row.integer(Int64(n))
                row.text("row \(n) with a label longer than fifteen bytes")
            }
            return try Row.fetchAll(db, sql: "SELECT n, label FROM t ORDER BY seq")
        }
    }

    @Test(arguments: [0, 1, 2, 3, 7, 63, 99, 100, 101, 127, 199, 200, 255, 1_000])
    func everyRowLandsOnceInOrder(count: Int) throws {
        let rows = try inserted(Array(0..<count))
        #expect(rows.map { $0["n"] as Int } == Array(0..<count))
        #expect(rows.allSatisfy { ($0["label"] as String) == "row \($0["n"] as Int) with a label longer than fifteen bytes" })
    }

    @Test func aSliceAndAJoinedSequenceBindFromTheirOwnIndices() throws {
        let numbers = Array(0..<300)
        #expect(try inserted(numbers[137...]).map { $0["n"] as Int } == Array(137..<300))
        let runs = [Array(0..<3), [], Array(3..<150), Array(150..<151)]
        #expect(try inserted(runs.joined()).map { $0["n"] as Int } == Array(0..<151))
    }
}
