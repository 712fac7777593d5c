import CSQLiteTuning
import Foundation
import GRDB

/// The schema, as named migrations that are never edited once shipped. A new change is a
/// new migration appended to the list.
package enum SQLiteSchema {
    /// Bumped with every migration; a file stamped with a larger number is refused.
    static let version = 11

    package static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-foundation") { db in
            try db.execute(sql: v1)
        }
        migrator.registerMigration("v2-stripe-subscriptions") { db in
            try db.execute(sql: v2)
        }
        migrator.registerMigration("v3-alert-deliveries") { db in
            try db.execute(sql: v3)
        }
        migrator.registerMigration("v4-usage-days") { db in
            try db.execute(sql: v4)
        }
        migrator.registerMigration("v5-usage-entry-per-request") { db in
            try db.execute(sql: v5)
        }
        migrator.registerMigration(leanUsageEventsMigration) { db in
            try db.execute(sql: v6)
        }
        migrator.registerMigration("v7-checks-without-in-lists") { db in
            try rewriteChecks(db, v7)
        }
        migrator.registerMigration("v8-holds") { db in
            try db.execute(sql: v8)
        }
        migrator.registerMigration("v9-budgets") { db in
            try db.execute(sql: v9)
        }
        migrator.registerMigration("v10-expiry-entries") { db in
            try rewriteChecks(db, v10Checks)
        }
        migrator.registerMigration("v11-credit-lots") { db in
            try db.execute(sql: v11)
        }
        migrator.registerMigration("v12-sign-in") { db in
            try rewriteChecks(db, v12Checks)
            try db.execute(sql: v12)
        }
        return migrator
    }

    /// Sign-in: four roles, sessions kept as hashes of their tokens, the one-time states of
    /// sign-ins under way (kept here, so a sign-in may start and end on different servers),
    /// invitations and the audit log.
    static let v12Checks = [
        CheckRewrite(
            table: "memberships", old: "CHECK (role IN ('owner', 'member'))",
            new: "CHECK (role IN ('owner', 'admin', 'member', 'viewer'))")
    ]

    static let v12 = """
        CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id),
            created_at INTEGER NOT NULL,
            last_seen_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            revoked_at INTEGER
        ) STRICT;
        CREATE INDEX sessions_user ON sessions(user_id);
        CREATE INDEX sessions_expiry ON sessions(expires_at);

        CREATE TABLE sign_in_states (
            state_hash TEXT PRIMARY KEY,
            nonce TEXT NOT NULL,
            verifier TEXT NOT NULL,
            return_to TEXT,
            expires_at INTEGER NOT NULL,
            invitation_hash TEXT
        ) STRICT;

        CREATE TABLE invitations (
            token_hash TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            email TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
            invited_by TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            accepted_at INTEGER
        ) STRICT;
        CREATE INDEX invitations_org ON invitations(org_id, created_at);

        CREATE TABLE audit_log (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            at INTEGER NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL,
            request_id TEXT
        ) STRICT;
        CREATE INDEX audit_log_org ON audit_log(org_id, seq);
        """

    /// One CHECK constraint's text in a table's `CREATE TABLE`, and the equivalent text it
    /// becomes.
    struct CheckRewrite: Sendable {
        let table: String
        let old: String
        let new: String
    }

    /// Holds (reservations): credit set aside before a call. The organization's credit
    /// account keeps the sum of its active holds and a time at or before the earliest of
    /// their expiries (the other accounts keep 0 and NULL), so a spend reads what is held from
    /// the row it locks anyway, and looks for holds to expire only when one may be due.
    static let v8 = """
        ALTER TABLE accounts ADD COLUMN held_micros INTEGER NOT NULL DEFAULT 0 CHECK (held_micros >= 0);
        ALTER TABLE accounts ADD COLUMN hold_expiry_next INTEGER;
        CREATE TABLE holds (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            status TEXT NOT NULL CHECK (status = 'held' OR status = 'settled' OR status = 'released' OR status = 'expired'),
            amount_micros INTEGER NOT NULL CHECK (amount_micros > 0),
            workspace TEXT,
            task_type TEXT,
            run_id TEXT,
            api_key_id TEXT,
            provider TEXT,
            model TEXT,
            metadata TEXT,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            closed_at INTEGER,
            event_id TEXT,
            cost_micros INTEGER,
            response TEXT
        ) STRICT;
        CREATE INDEX holds_active ON holds(org_id, expires_at) WHERE status = 'held';
        CREATE INDEX holds_org_created ON holds(org_id, created_at);
        CREATE INDEX accounts_hold_expiry ON accounts(hold_expiry_next) WHERE hold_expiry_next IS NOT NULL;
        """

    /// Budgets: limits on an organization, a workspace, an API key, a task type or a run,
    /// per day, month or in total; `budget_spend` keeps each one's spend per period, written
    /// with the events. Holds remember the workspace they resolved to. Workspace monthly
    /// budgets become soft monthly budgets of their workspace (alerts at 50, 80 and 100 %, as
    /// before), with the spend of every month so far.
    static let v9 = """
        ALTER TABLE holds ADD COLUMN workspace_id TEXT;
        CREATE TABLE budgets (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            scope TEXT NOT NULL CHECK (scope IN ('org', 'workspace', 'key', 'task', 'run')),
            scope_id TEXT NOT NULL,
            label TEXT NOT NULL,
            limit_micros INTEGER NOT NULL CHECK (limit_micros > 0),
            period TEXT NOT NULL CHECK (period IN ('day', 'month', 'total')),
            mode TEXT NOT NULL CHECK (mode IN ('hard', 'soft')),
            alert_at TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            disabled_at INTEGER
        ) STRICT;
        CREATE INDEX budgets_org ON budgets(org_id, created_at);
        CREATE TABLE budget_spend (
            budget_id TEXT NOT NULL REFERENCES budgets(id),
            period_start INTEGER NOT NULL,
            spent_micros INTEGER NOT NULL,
            PRIMARY KEY (budget_id, period_start)
        ) STRICT, WITHOUT ROWID;
        INSERT INTO budgets(id, org_id, scope, scope_id, label, limit_micros, period, mode, alert_at, created_at)
        SELECT 'bgt_' || lower(hex(randomblob(8))), org_id, 'workspace', id, name, monthly_budget_micros, 'month', 'soft',
               '500,800,1000', created_at
        FROM workspaces WHERE monthly_budget_micros IS NOT NULL;
        INSERT INTO budget_spend(budget_id, period_start, spent_micros)
        SELECT b.id, CAST(strftime('%s', m.month || '-01') AS INTEGER) * 1000, m.cost_micros
        FROM budgets b JOIN usage_months m ON m.org_id = b.org_id AND m.workspace_id = b.scope_id
        WHERE b.scope = 'workspace' AND m.cost_micros > 0;
        """

    /// Credit lots: each credit and what is left of it, consumed in order of priority, expiry
    /// and age; an `expiry` entry takes a grant's remainder out at its expiry. The credit
    /// account keeps a time at or before the earliest expiry among lots with something left.
    /// Each organization's balance so far becomes one opening lot.
    static let v11 = """
        ALTER TABLE accounts ADD COLUMN lot_expiry_next INTEGER;
        CREATE INDEX accounts_lot_expiry ON accounts(lot_expiry_next) WHERE lot_expiry_next IS NOT NULL;
        CREATE TABLE credit_lots (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            kind TEXT NOT NULL CHECK (kind IN ('topup', 'grant', 'adjustment', 'dispute', 'opening')),
            entry_id TEXT,
            amount_micros INTEGER NOT NULL CHECK (amount_micros > 0),
            remaining_micros INTEGER NOT NULL CHECK (remaining_micros >= 0 AND remaining_micros <= amount_micros),
            priority INTEGER,
            expires_at INTEGER,
            payment TEXT,
            created_at INTEGER NOT NULL,
            expired_at INTEGER
        ) STRICT;
        CREATE INDEX credit_lots_active ON credit_lots(org_id) WHERE remaining_micros > 0;
        CREATE INDEX credit_lots_expiring ON credit_lots(org_id, expires_at) WHERE expired_at IS NULL AND expires_at IS NOT NULL;
        CREATE INDEX credit_lots_payment ON credit_lots(org_id, payment) WHERE payment IS NOT NULL;
        INSERT INTO credit_lots(id, org_id, kind, amount_micros, remaining_micros, created_at)
        SELECT 'grt_' || lower(hex(randomblob(8))), a.org_id, 'opening', a.balance_micros, a.balance_micros, o.created_at
        FROM accounts a JOIN organizations o ON o.id = a.org_id WHERE a.code = 'credit' AND a.balance_micros > 0;
        """

    /// Entries may be of kind `expiry`.
    static let v10Checks = [
        CheckRewrite(
            table: "entries",
            old: """
                CHECK (kind = 'usage' OR kind = 'topup' OR kind = 'grant' OR kind = 'adjustment' OR kind = 'refund' \
                OR kind = 'dispute')
                """,
            new: """
                CHECK (kind = 'usage' OR kind = 'topup' OR kind = 'grant' OR kind = 'adjustment' OR kind = 'refund' \
                OR kind = 'dispute' OR kind = 'expiry')
                """)
    ]

    /// The `IN (…)` lists of the two tables every ingest request writes, spelled out as `OR`s.
    /// SQLite 3.40 evaluates a CHECK's `x IN ('a', 'b', 'c')` by building a temporary b-tree
    /// of the list for every row it checks; `x = 'a' OR x = 'b' OR …` compares in place. The
    /// event row cost about a sixth less to insert (measured with Python's `sqlite3`), and
    /// batches over HTTP ran about 9 % faster.
    static let v7 = [
        CheckRewrite(
            table: "usage_events", old: "CHECK (cost_kind IN ('exact', 'estimated', 'unpriced'))",
            new: "CHECK (cost_kind = 'exact' OR cost_kind = 'estimated' OR cost_kind = 'unpriced')"),
        CheckRewrite(
            table: "entries", old: "CHECK (kind IN ('usage', 'topup', 'grant', 'adjustment', 'refund', 'dispute'))",
            new: """
                CHECK (kind = 'usage' OR kind = 'topup' OR kind = 'grant' OR kind = 'adjustment' OR kind = 'refund' \
                OR kind = 'dispute')
                """),
    ]

    /// Replaces CHECK constraints with equivalent ones by editing the tables' SQL in
    /// `sqlite_master`, as SQLite documents for changes that leave the stored rows' format
    /// alone (its ALTER TABLE page, "making other kinds of table schema changes"): every row
    /// satisfies the new constraint because it satisfied the old one, so nothing is rebuilt
    /// and no row is read. The schema version is bumped so every other connection parses the
    /// schema again, and this one is reset. A table whose SQL has neither text is left
    /// alone and reported: better an error than a constraint silently not what the schema
    /// says.
    static func rewriteChecks(_ db: Database, _ rewrites: [CheckRewrite]) throws {
        let schemaVersion = try Int.fetchOne(db, sql: "PRAGMA schema_version") ?? 0
        // A build of SQLite that defaults to defensive mode would refuse the edit.
        let defensive = plutus_sqlite_set_defensive(db.sqliteConnection, 0)
        guard defensive >= 0 else { throw DatabaseError(message: "could not leave SQLite's defensive mode to rewrite CHECKs") }
        defer { _ = plutus_sqlite_set_defensive(db.sqliteConnection, defensive) }
        try db.execute(sql: "PRAGMA writable_schema = ON")
        do {
            for rewrite in rewrites {
                let sql =
                    try String.fetchOne(
                        db, sql: "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", arguments: [rewrite.table])
                    ?? ""
                if sql.contains(rewrite.new) { continue }
                guard sql.contains(rewrite.old) else {
                    throw DatabaseError(message: "table \(rewrite.table) does not have the constraint \(rewrite.old)")
                }
                try db.execute(
                    sql: "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?",
                    arguments: [sql.replacingOccurrences(of: rewrite.old, with: rewrite.new), rewrite.table])
            }
            try db.execute(sql: "PRAGMA schema_version = \(schemaVersion + 1)")
        } catch {
            // Whatever failed, the connection does not stay able to write its schema.
            try? db.execute(sql: "PRAGMA writable_schema = RESET")
            throw error
        }
        // RESET, not OFF: it also makes this connection parse the schema again. Setting the
        // schema version updates this connection's copy of it too, so without a reset the
        // connection that migrated would keep the old constraints until it closes.
        try db.execute(sql: "PRAGMA writable_schema = RESET")
    }

    /// The name of migration v6, which `SQLiteStore.slowUpgradeNotice` looks for.
    static let leanUsageEventsMigration = "v6-lean-usage-events"

    /// The usage event table rebuilt leaner, rows and sequence numbers unchanged: no
    /// `AUTOINCREMENT` (events are never deleted, so SQLite's next rowid is already the next
    /// number, without a `sqlite_sequence` update per insert), no unique index on `id`
    /// (nothing looks an event up by it; ids are unique by construction, see
    /// `PrefixedID.timeOrdered`, and `plutus verify` checks it), and the organization index
    /// on `org_id` alone, which orders by `seq` anyway since `seq` is the rowid. Each event
    /// then updates two b-trees instead of three, which was a fifth to a quarter of a batch's
    /// write time.
    private static let v6 = """
        CREATE TABLE usage_events_v6 (
            seq INTEGER PRIMARY KEY,
            id TEXT NOT NULL,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            workspace_id TEXT REFERENCES workspaces(id),
            client_event_id TEXT,
            provider TEXT NOT NULL,
            model TEXT,
            task_type TEXT NOT NULL,
            input_tokens INTEGER NOT NULL CHECK (input_tokens >= 0),
            output_tokens INTEGER NOT NULL CHECK (output_tokens >= 0),
            cache_read_tokens INTEGER NOT NULL CHECK (cache_read_tokens >= 0),
            cache_write_tokens INTEGER NOT NULL CHECK (cache_write_tokens >= 0),
            reasoning_tokens INTEGER NOT NULL CHECK (reasoning_tokens >= 0),
            cost_micros INTEGER NOT NULL CHECK (cost_micros >= 0),
            cost_kind TEXT NOT NULL CHECK (cost_kind IN ('exact', 'estimated', 'unpriced')),
            price_version TEXT NOT NULL,
            source TEXT NOT NULL,
            ts INTEGER NOT NULL,
            recorded_at INTEGER NOT NULL,
            entry_id TEXT
        ) STRICT;
        INSERT INTO usage_events_v6(seq, id, org_id, workspace_id, client_event_id, provider, model, task_type,
            input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_micros,
            cost_kind, price_version, source, ts, recorded_at, entry_id)
        SELECT seq, id, org_id, workspace_id, client_event_id, provider, model, task_type,
            input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_micros,
            cost_kind, price_version, source, ts, recorded_at, entry_id
        FROM usage_events ORDER BY seq;
        DROP TABLE usage_events;
        ALTER TABLE usage_events_v6 RENAME TO usage_events;
        CREATE INDEX usage_events_org ON usage_events(org_id);
        CREATE UNIQUE INDEX usage_events_client_id ON usage_events(org_id, client_event_id)
            WHERE client_event_id IS NOT NULL;
        CREATE TRIGGER usage_events_no_update BEFORE UPDATE ON usage_events
            BEGIN SELECT RAISE(ABORT, 'usage events are immutable'); END;
        CREATE TRIGGER usage_events_no_delete BEFORE DELETE ON usage_events
            BEGIN SELECT RAISE(ABORT, 'usage events are immutable'); END;
        """

    /// One usage entry per ingest request instead of one per event: each event names the
    /// entry that paid for it (`entry_id`; NULL when it cost nothing), and an entry's amount
    /// is the sum of its events' costs. Events recorded before keep their own entries, linked
    /// here. `usage_events_org_ts` goes: summaries read the daily rollup, not the events.
    private static let v5 = """
        ALTER TABLE usage_events ADD COLUMN entry_id TEXT;
        DROP TRIGGER usage_events_no_update;
        UPDATE usage_events SET entry_id = (
            SELECT n.id FROM entries n WHERE n.kind = 'usage' AND n.reference = usage_events.id)
        WHERE cost_micros > 0;
        CREATE TRIGGER usage_events_no_update BEFORE UPDATE ON usage_events
            BEGIN SELECT RAISE(ABORT, 'usage events are immutable'); END;
        DROP INDEX usage_events_org_ts;
        """

    /// Alert delivery: `alert_delivery_states` is the outbox (one row per alert and channel
    /// once tried: delivered, due again, or abandoned); `alert_deliveries` is the append-only
    /// log of every attempt. An alert with no state row on a channel is due there.
    private static let v3 = """
        CREATE TABLE alert_delivery_states (
            alert_id TEXT NOT NULL REFERENCES alerts(id),
            channel TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('delivered', 'failed', 'abandoned')),
            attempts INTEGER NOT NULL CHECK (attempts > 0),
            next_attempt_at INTEGER,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (alert_id, channel),
            CHECK ((status = 'failed') = (next_attempt_at IS NOT NULL))
        ) STRICT;

        CREATE TABLE alert_deliveries (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            alert_id TEXT NOT NULL REFERENCES alerts(id),
            channel TEXT NOT NULL,
            attempt INTEGER NOT NULL CHECK (attempt > 0),
            status TEXT NOT NULL CHECK (status IN ('delivered', 'failed', 'abandoned')),
            reply TEXT,
            error TEXT,
            next_attempt_at INTEGER,
            attempted_at INTEGER NOT NULL,
            CHECK ((status = 'failed') = (next_attempt_at IS NOT NULL))
        ) STRICT;
        CREATE INDEX alert_deliveries_alert ON alert_deliveries(alert_id, channel);
        CREATE INDEX alerts_created ON alerts(created_at);
        CREATE TRIGGER alert_deliveries_no_update BEFORE UPDATE ON alert_deliveries
            BEGIN SELECT RAISE(ABORT, 'the delivery log is append-only'); END;
        CREATE TRIGGER alert_deliveries_no_delete BEFORE DELETE ON alert_deliveries
            BEGIN SELECT RAISE(ABORT, 'the delivery log is append-only'); END;
        """

    /// The daily rollup: usage per organization, UTC day (days since the epoch), workspace
    /// ('' = none), provider, model ('' = none) and task, kept in the same transaction as each
    /// event so summaries never read the events. Back-filled here from the events so far.
    private static let v4 = """
        CREATE TABLE usage_days (
            org_id TEXT NOT NULL REFERENCES organizations(id),
            day INTEGER NOT NULL,
            workspace_id TEXT NOT NULL,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            task_type TEXT NOT NULL,
            events INTEGER NOT NULL,
            input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            cache_read_tokens INTEGER NOT NULL,
            cache_write_tokens INTEGER NOT NULL,
            reasoning_tokens INTEGER NOT NULL,
            cost_micros INTEGER NOT NULL,
            PRIMARY KEY (org_id, day, workspace_id, provider, model, task_type)
        ) STRICT, WITHOUT ROWID;
        INSERT INTO usage_days(org_id, day, workspace_id, provider, model, task_type, events, input_tokens,
            output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_micros)
        SELECT org_id, ts / 86400000, COALESCE(workspace_id, ''), provider, COALESCE(model, ''), task_type, COUNT(*),
            SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens), SUM(cache_write_tokens),
            SUM(reasoning_tokens), SUM(cost_micros)
        FROM usage_events
        GROUP BY org_id, ts / 86400000, COALESCE(workspace_id, ''), provider, COALESCE(model, ''), task_type;
        """

    /// The subscription an organization's plan follows, and the creation time of the Stripe
    /// event that last set it, so an older event never overwrites a newer state.
    private static let v2 = """
        ALTER TABLE organizations ADD COLUMN stripe_subscription_id TEXT;
        ALTER TABLE organizations ADD COLUMN plan_event_created INTEGER;
        CREATE INDEX entries_kind_external ON entries(kind, external_ref) WHERE external_ref IS NOT NULL;
        """

    private static let v1 = """
        CREATE TABLE plutus_meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        ) STRICT;

        CREATE TABLE organizations (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            slug TEXT NOT NULL UNIQUE,
            plan TEXT NOT NULL DEFAULT 'free',
            hard_stop_exempt INTEGER NOT NULL DEFAULT 0 CHECK (hard_stop_exempt IN (0, 1)),
            ever_credited INTEGER NOT NULL DEFAULT 0 CHECK (ever_credited IN (0, 1)),
            stripe_customer_id TEXT UNIQUE,
            created_at INTEGER NOT NULL
        ) STRICT;

        CREATE TABLE users (
            id TEXT PRIMARY KEY,
            email TEXT NOT NULL UNIQUE COLLATE NOCASE,
            name TEXT,
            created_at INTEGER NOT NULL
        ) STRICT;

        CREATE TABLE memberships (
            org_id TEXT NOT NULL REFERENCES organizations(id),
            user_id TEXT NOT NULL REFERENCES users(id),
            role TEXT NOT NULL CHECK (role IN ('owner', 'member')),
            created_at INTEGER NOT NULL,
            PRIMARY KEY (org_id, user_id)
        ) STRICT;

        CREATE TABLE workspaces (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            name TEXT NOT NULL,
            slug TEXT NOT NULL,
            monthly_budget_micros INTEGER CHECK (monthly_budget_micros IS NULL OR monthly_budget_micros > 0),
            created_at INTEGER NOT NULL,
            UNIQUE (org_id, slug)
        ) STRICT;
        CREATE INDEX workspaces_org_name ON workspaces(org_id, name);

        CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            name TEXT,
            prefix TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            created_at INTEGER NOT NULL,
            last_used_at INTEGER,
            revoked_at INTEGER
        ) STRICT;
        CREATE INDEX api_keys_org ON api_keys(org_id);

        -- Double-entry ledger. balance_micros = credits − debits, kept in step with the
        -- entries in the same transaction; `plutus verify` recomputes it.
        CREATE TABLE accounts (
            id INTEGER PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            code TEXT NOT NULL CHECK (code IN ('credit', 'usage', 'stripe', 'grants', 'adjustments')),
            balance_micros INTEGER NOT NULL DEFAULT 0,
            UNIQUE (org_id, code)
        ) STRICT;

        CREATE TABLE entries (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            debit_account_id INTEGER NOT NULL REFERENCES accounts(id),
            credit_account_id INTEGER NOT NULL REFERENCES accounts(id),
            amount_micros INTEGER NOT NULL CHECK (amount_micros > 0),
            kind TEXT NOT NULL CHECK (kind IN ('usage', 'topup', 'grant', 'adjustment', 'refund', 'dispute')),
            reference TEXT NOT NULL,
            external_ref TEXT,
            memo TEXT,
            debit_balance_after_micros INTEGER NOT NULL,
            credit_balance_after_micros INTEGER NOT NULL,
            ts INTEGER NOT NULL,
            CHECK (debit_account_id <> credit_account_id),
            UNIQUE (kind, reference)
        ) STRICT;
        CREATE INDEX entries_org_seq ON entries(org_id, seq);
        CREATE INDEX entries_external_ref ON entries(external_ref) WHERE external_ref IS NOT NULL;
        CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
            BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
        CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
            BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;

        CREATE TABLE usage_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            workspace_id TEXT REFERENCES workspaces(id),
            client_event_id TEXT,
            provider TEXT NOT NULL,
            model TEXT,
            task_type TEXT NOT NULL,
            input_tokens INTEGER NOT NULL CHECK (input_tokens >= 0),
            output_tokens INTEGER NOT NULL CHECK (output_tokens >= 0),
            cache_read_tokens INTEGER NOT NULL CHECK (cache_read_tokens >= 0),
            cache_write_tokens INTEGER NOT NULL CHECK (cache_write_tokens >= 0),
            reasoning_tokens INTEGER NOT NULL CHECK (reasoning_tokens >= 0),
            cost_micros INTEGER NOT NULL CHECK (cost_micros >= 0),
            cost_kind TEXT NOT NULL CHECK (cost_kind IN ('exact', 'estimated', 'unpriced')),
            price_version TEXT NOT NULL,
            source TEXT NOT NULL,
            ts INTEGER NOT NULL,
            recorded_at INTEGER NOT NULL
        ) STRICT;
        CREATE INDEX usage_events_org_seq ON usage_events(org_id, seq);
        CREATE INDEX usage_events_org_ts ON usage_events(org_id, ts);
        CREATE UNIQUE INDEX usage_events_client_id ON usage_events(org_id, client_event_id)
            WHERE client_event_id IS NOT NULL;
        CREATE TRIGGER usage_events_no_update BEFORE UPDATE ON usage_events
            BEGIN SELECT RAISE(ABORT, 'usage events are immutable'); END;
        CREATE TRIGGER usage_events_no_delete BEFORE DELETE ON usage_events
            BEGIN SELECT RAISE(ABORT, 'usage events are immutable'); END;

        -- Month counters per organization (workspace_id '') and per workspace, kept in the
        -- same transaction as each event: quota and budget decisions read one row.
        CREATE TABLE usage_months (
            org_id TEXT NOT NULL REFERENCES organizations(id),
            workspace_id TEXT NOT NULL,
            month TEXT NOT NULL,
            tokens INTEGER NOT NULL,
            cost_micros INTEGER NOT NULL,
            events INTEGER NOT NULL,
            PRIMARY KEY (org_id, workspace_id, month)
        ) STRICT, WITHOUT ROWID;

        CREATE TABLE idempotency_records (
            org_id TEXT NOT NULL REFERENCES organizations(id),
            idem_key TEXT NOT NULL,
            request_hash TEXT NOT NULL,
            status INTEGER NOT NULL,
            response TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (org_id, idem_key)
        ) STRICT;
        CREATE INDEX idempotency_created ON idempotency_records(created_at);

        CREATE TABLE alerts (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            workspace_id TEXT REFERENCES workspaces(id),
            kind TEXT NOT NULL,
            subject TEXT NOT NULL,
            period TEXT NOT NULL,
            message TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            UNIQUE (org_id, kind, subject, period)
        ) STRICT;
        CREATE INDEX alerts_org_seq ON alerts(org_id, seq);

        CREATE TABLE stripe_events (
            event_id TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            status TEXT NOT NULL,
            org_id TEXT REFERENCES organizations(id),
            payload TEXT NOT NULL,
            received_at INTEGER NOT NULL,
            applied_at INTEGER
        ) STRICT;

        CREATE TABLE price_catalogs (
            version INTEGER PRIMARY KEY AUTOINCREMENT,
            label TEXT NOT NULL,
            as_of TEXT,
            prices TEXT NOT NULL,
            imported_at INTEGER NOT NULL
        ) STRICT;
        """
}
