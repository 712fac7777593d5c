import GRDB
import GRDBSQLite

/// Runs a cached statement straight through SQLite's C API. On the hot ingest path, building
/// GRDB `StatementArguments` (an existential per value), GRDB rows and GRDB's per-execution
/// bookkeeping cost about a third of the writer's time. Only INSERTs, UPDATEs and SELECTs
/// inside the caller's open transaction go through here: nothing GRDB tracks (transaction
/// state, observation) changes.
struct RawStatement {
    private let handle: SQLiteStatement
    private var index: Int32 = 0
    /// The first failed bind's result code.
    private var bindFailure: Int32?

    init(_ statement: Statement) {
        handle = statement.sqliteStatement
    }

    /// Binds with `bind`, steps once, and resets the statement, whatever happens: for writes
    /// that return no rows.
    mutating func run(_ bind: (inout RawStatement) -> Void) throws {
        try query(bind) { _ in throw DatabaseError(resultCode: .SQLITE_MISUSE, message: "a write returned a row") }
    }

    /// Binds with `bind`, then hands each result row to `each`, and resets the statement,
    /// whatever happens. GRDB may have left the cached statement stepped, so it is reset
    /// first too.
    mutating func query(_ bind: (inout RawStatement) -> Void, _ each: (RawRow) throws -> Void) throws {
        sqlite3_reset(handle)
        index = 0
        bindFailure = nil
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        bind(&self)
        precondition(index == sqlite3_bind_parameter_count(handle), "every parameter is bound")
        if let bindFailure { throw failure(bindFailure) }
        while true {
            switch sqlite3_step(handle) {
            case SQLITE_ROW: try each(RawRow(handle: handle))
            case SQLITE_DONE: return
            case let code: throw failure(code)
            }
        }
    }

    private func failure(_ code: Int32) -> DatabaseError {
        let message = sqlite3_errmsg(sqlite3_db_handle(handle)).map { String(cString: $0) }
        return DatabaseError(resultCode: ResultCode(rawValue: code), message: message)
    }

    private mutating func check(_ code: Int32) {
        if code != SQLITE_OK && bindFailure == nil { bindFailure = code }
    }

    mutating func integer(_ value: Int64) {
        index += 1
        check(sqlite3_bind_int64(handle, index, value))
    }

    mutating func text(_ value: String) {
        index += 1
        var value = value
        let code = value.withUTF8 { bytes in
            // SQLITE_TRANSIENT: SQLite copies the bytes before this call returns.
            sqlite3_bind_text(handle, index, bytes.baseAddress, Int32(bytes.count), unsafeBitCast(-1, to: sqlite3_destructor_type.self))
        }
        check(code)
    }

    mutating func text(_ value: String?) {
        guard let value else {
            index += 1
            check(sqlite3_bind_null(handle, index))
            return
        }
        text(value)
    }
}

/// One result row of `RawStatement.query`, valid only inside its callback. Columns by index.
struct RawRow {
    fileprivate let handle: SQLiteStatement

    func integer(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    func text(_ column: Int32) -> String? {
        guard let bytes = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }
}
