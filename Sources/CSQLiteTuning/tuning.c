#include <sqlite3.h>
#include "CSQLiteTuning.h"

// sqlite3_config is variadic, so Swift cannot call it directly.
int plutus_sqlite_disable_memory_statistics(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

int plutus_sqlite_set_defensive(struct sqlite3 *db, int on) {
    int before = 0;
    if (sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, -1, &before) != SQLITE_OK) return -1;
    if (sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, on, (int *)0) != SQLITE_OK) return -1;
    return before;
}
