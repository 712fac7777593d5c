#ifndef PLUTUS_CSQLITE_TUNING_H
#define PLUTUS_CSQLITE_TUNING_H

/// Turns off SQLite's memory-usage statistics for the whole process. With them on, every
/// allocation SQLite makes takes a global mutex. Must run before SQLite initializes (before
/// the first connection opens); returns SQLite's result code (21, SQLITE_MISUSE, when it
/// is too late, which leaves the statistics on and changes nothing else).
int plutus_sqlite_disable_memory_statistics(void);

struct sqlite3;

/// Sets SQLite's defensive mode on `db` (SQLITE_DBCONFIG_DEFENSIVE: among other things it
/// refuses `PRAGMA writable_schema`) and returns whether it was on before, or -1 when the
/// call fails. Builds of SQLite may turn it on by default.
int plutus_sqlite_set_defensive(struct sqlite3 *db, int on);

#endif
