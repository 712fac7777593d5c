import GRDB
import GRDBSQLite

/// Runs a cached INSERT straight through SQLite's C API. The hot ingest loop inserts two rows
/// per event; building GRDB `StatementArguments` (an existential per value) and GRDB's
/// per-execution bookkeeping cost about a third of the writer's time. Only plain INSERTs
/// inside the caller's open transaction go through here: nothing GRDB tracks (transaction
/// state, observation) changes.
struct RawInsert {
    private let handle: SQLiteStatement
    private var index: Int32 = 0
    /// The first failed bind's result code.
    private var bindFailure: Int32?

    init(_ statement: Statement) {
        handle = statement.sqliteStatement
    }

    /// Binds with `bind`, steps once, and resets the statement, whatever happens. GRDB may
    /// have left the cached statement stepped, so it is reset first too.
    mutating func run(_ bind: (inout RawInsert) -> Void) throws {
        sqlite3_reset(handle)
        index = 0
        bindFailure = nil
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        bind(&self)
        precondition(index == sqlite3_bind_parameter_count(handle), "every parameter is bound")
        let code = bindFailure ?? sqlite3_step(handle)
        guard code == SQLITE_DONE else {
            let message = sqlite3_errmsg(sqlite3_db_handle(handle)).map { String(cString: $0) }
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: message)
        }
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
