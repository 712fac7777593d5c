import GRDB
import GRDBSQLite

/// Runs a cached statement straight through SQLite's C API. On the hot ingest path, building
/// GRDB `StatementArguments` (an existential per value), GRDB rows and GRDB's per-execution
/// bookkeeping cost about a third of the writer's time. Only INSERTs, UPDATEs and SELECTs
/// inside the caller's open transaction go through here: nothing GRDB tracks (transaction
/// state, observation) changes.
///
/// Text values are copied once into one buffer per execution and bound in place
/// (`SQLITE_STATIC`) once every value is in, instead of SQLite copying each into an
/// allocation of its own (`SQLITE_TRANSIENT`): a batch of 100 events binds about 900 texts.
package struct RawStatement {
    private let handle: SQLiteStatement
    private var index: Int32 = 0
    /// The first failed bind's result code.
    private var bindFailure: Int32?
    /// The UTF-8 bytes of the text values of this execution. It starts with one byte, so an
    /// empty text points somewhere (a null pointer would bind NULL).
    private var texts: [UInt8] = [0]
    /// Where each text value lies in `texts`, bound once `bind` is done.
    private var textBinds: [(index: Int32, start: Int, count: Int)] = []

    package init(_ statement: Statement) {
        handle = statement.sqliteStatement
    }

    /// Binds with `bind`, steps once, and resets the statement, whatever happens: for writes
    /// that return no rows.
    package mutating func run(_ bind: (inout RawStatement) -> Void) throws {
        try query(bind) { _ in throw DatabaseError(resultCode: .SQLITE_MISUSE, message: "a write returned a row") }
    }

    /// Binds with `bind`, then hands each result row to `each`, and resets the statement,
    /// whatever happens. GRDB may have left the cached statement stepped, so it is reset
    /// first too.
    mutating func query(_ bind: (inout RawStatement) -> Void, _ each: (RawRow) throws -> Void) throws {
        sqlite3_reset(handle)
        index = 0
        bindFailure = nil
        texts.removeSubrange(1...)
        textBinds.removeAll(keepingCapacity: true)
        bind(&self)
        precondition(index == sqlite3_bind_parameter_count(handle), "every parameter is bound")
        let handle = handle
        let textBinds = textBinds
        var bindFailure = bindFailure
        try texts.withUnsafeBufferPointer { bytes in
            // SQLite reads the bound texts in place until the statement is reset, which
            // happens before `bytes` goes out of scope.
            defer {
                sqlite3_reset(handle)
                sqlite3_clear_bindings(handle)
            }
            for bound in textBinds {
                let code = sqlite3_bind_text(
                    handle, bound.index, UnsafeRawPointer(bytes.baseAddress! + bound.start).assumingMemoryBound(to: CChar.self),
                    Int32(bound.count), nil)
                if code != SQLITE_OK && bindFailure == nil { bindFailure = code }
            }
            if let bindFailure { throw Self.failure(handle, bindFailure) }
            while true {
                switch sqlite3_step(handle) {
                case SQLITE_ROW: try each(RawRow(handle: handle))
                case SQLITE_DONE: return
                case let code: throw Self.failure(handle, code)
                }
            }
        }
    }

    private static func failure(_ handle: SQLiteStatement, _ code: Int32) -> DatabaseError {
        let message = sqlite3_errmsg(sqlite3_db_handle(handle)).map { String(cString: $0) }
        return DatabaseError(resultCode: ResultCode(rawValue: code), message: message)
    }

    private mutating func check(_ code: Int32) {
        if code != SQLITE_OK && bindFailure == nil { bindFailure = code }
    }

    package mutating func integer(_ value: Int64) {
        index += 1
        check(sqlite3_bind_int64(handle, index, value))
    }

    package mutating func text(_ value: String) {
        index += 1
        let start = texts.count
        texts.append(contentsOf: value.utf8)
        textBinds.append((index, start, texts.count - start))
    }

    package mutating func text(_ value: String?) {
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

    /// The column's integer, or `nil` for SQL NULL.
    func optionalInteger(_ column: Int32) -> Int64? {
        sqlite3_column_type(handle, column) == SQLITE_NULL ? nil : sqlite3_column_int64(handle, column)
    }

    func text(_ column: Int32) -> String? {
        guard let bytes = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    }
}
