import GRDB

/// A multi-row INSERT into one table. SQLite's per-statement work (a statement journal for
/// an insert that touches several b-trees, VDBE set-up and halt) is paid once per chunk of
/// rows, not once per row. Chunks are 100 rows, then powers of two, so any count up to 100
/// takes at most seven statements, and eight cached statements serve every count.
package struct ChunkedInsert: Sendable {
    /// Rows per statement, largest first; the last is 1 so every count decomposes.
    static let chunkRows = [100, 64, 32, 16, 8, 4, 2, 1]

    private let statements: [Int: String]

    /// `head` is `INSERT INTO table(column, …)`, naming `columns` columns.
    init(_ head: String, columns: Int) {
        precondition(columns > 0, "an insert names its columns")
        let tuple = "(" + Array(repeating: "?", count: columns).joined(separator: ", ") + ")"
        statements = Dictionary(
            uniqueKeysWithValues: Self.chunkRows.map { rows in
                (rows, head + " VALUES " + Array(repeating: tuple, count: rows).joined(separator: ", "))
            })
    }

    /// Inserts one row per item, binding each item's `columns` values with `bind`.
    package func insert<Rows: Collection>(
        _ db: Database, _ items: Rows, bind: (Rows.Element, inout RawStatement) -> Void
    ) throws {
        // Rows are bound from the collection in place: `for item in` would copy each row
        // (a retain and release of every string in it) before binding it.
        var next = items.startIndex
        var left = items.count
        while left > 0 {
            let rows = Self.chunkRows.first { $0 <= left }!
            var insert = RawStatement(try db.cachedStatement(sql: statements[rows]!))
            try insert.run { row in
                var index = next
                for _ in 0..<rows {
                    bind(items[index], &row)
                    items.formIndex(after: &index)
                }
            }
            items.formIndex(&next, offsetBy: rows)
            left -= rows
        }
    }
}
