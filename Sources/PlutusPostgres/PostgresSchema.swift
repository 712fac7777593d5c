import Foundation

/// The PostgreSQL schema: the same tables as the SQLite store, as named migrations that are
/// never edited once shipped, recorded in `plutus_migrations`. Money is BIGINT micro-dollars,
/// times are BIGINT milliseconds since the epoch (UTC), as in SQLite.
enum PostgresSchema {
    struct Migration: Sendable {
        var name: String
        var sql: String
    }

    /// In order; a database that recorded a name not listed here was written by a newer Plutus.
    static let migrations: [Migration] = [
        Migration(name: "v1-foundation", sql: v1),
        Migration(name: "v2-stripe-subscriptions", sql: v2),
        Migration(name: "v3-alert-deliveries", sql: v3),
        Migration(name: "v4-usage-days", sql: v4),
        Migration(name: "v5-usage-entry-per-request", sql: v5),
        Migration(name: "v6-holds", sql: v6),
        Migration(name: "v7-budgets", sql: v7),
        Migration(name: "v8-credit-lots", sql: v8),
        Migration(name: "v9-sign-in", sql: v9),
    ]

    static var version: Int { migrations.count }

    /// The statements of a migration, one by one: the extended query protocol runs one
    /// statement per query. Splits at `;` ending a line, outside `$$` bodies.
    static func statements(_ sql: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var insideBody = false
        for line in sql.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.trimmingCharacters(in: .whitespaces).hasPrefix("--") { continue }
            current += line + "\n"
            if line.components(separatedBy: "$$").count % 2 == 0 { insideBody.toggle() }
            if !insideBody && line.hasSuffix(";") {
                statements.append(current.trimmingCharacters(in: .whitespacesAndNewlines))
                current = ""
            }
        }
        precondition(current.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty && !insideBody, "migration SQL ends with ;")
        return statements
    }

    static let ledger = """
        CREATE TABLE plutus_migrations (
            name TEXT PRIMARY KEY,
            applied_at BIGINT NOT NULL
        );
        """

    private static let v1 = """
        CREATE TABLE organizations (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            slug TEXT NOT NULL UNIQUE,
            plan TEXT NOT NULL DEFAULT 'free',
            hard_stop_exempt BOOLEAN NOT NULL DEFAULT FALSE,
            ever_credited BOOLEAN NOT NULL DEFAULT FALSE,
            stripe_customer_id TEXT UNIQUE,
            created_at BIGINT NOT NULL
        );

        CREATE TABLE users (
            id TEXT PRIMARY KEY,
            email TEXT NOT NULL,
            name TEXT,
            created_at BIGINT NOT NULL
        );
        CREATE UNIQUE INDEX users_email ON users (lower(email));

        CREATE TABLE memberships (
            org_id TEXT NOT NULL REFERENCES organizations(id),
            user_id TEXT NOT NULL REFERENCES users(id),
            role TEXT NOT NULL CHECK (role IN ('owner', 'member')),
            created_at BIGINT NOT NULL,
            PRIMARY KEY (org_id, user_id)
        );

        CREATE TABLE workspaces (
            seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            name TEXT NOT NULL,
            slug TEXT NOT NULL,
            monthly_budget_micros BIGINT CHECK (monthly_budget_micros IS NULL OR monthly_budget_micros > 0),
            created_at BIGINT NOT NULL,
            UNIQUE (org_id, slug)
        );
        CREATE INDEX workspaces_org_name ON workspaces(org_id, name);

        CREATE TABLE api_keys (
            seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            name TEXT,
            prefix TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            created_at BIGINT NOT NULL,
            last_used_at BIGINT,
            revoked_at BIGINT
        );
        CREATE INDEX api_keys_org ON api_keys(org_id);

        -- Double-entry ledger. balance_micros = credits − debits, kept in step with the
        -- entries in the same transaction; `plutus verify` recomputes it. Writers lock an
        -- organization's account rows (FOR UPDATE) first: that serializes its money.
        CREATE TABLE accounts (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            code TEXT NOT NULL CHECK (code IN ('credit', 'usage', 'stripe', 'grants', 'adjustments')),
            balance_micros BIGINT NOT NULL DEFAULT 0,
            UNIQUE (org_id, code)
        );

        CREATE TABLE entries (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            debit_account_id BIGINT NOT NULL REFERENCES accounts(id),
            credit_account_id BIGINT NOT NULL REFERENCES accounts(id),
            amount_micros BIGINT NOT NULL CHECK (amount_micros > 0),
            kind TEXT NOT NULL CHECK (kind IN ('usage', 'topup', 'grant', 'adjustment', 'refund', 'dispute')),
            reference TEXT NOT NULL,
            external_ref TEXT,
            memo TEXT,
            debit_balance_after_micros BIGINT NOT NULL,
            credit_balance_after_micros BIGINT NOT NULL,
            ts BIGINT NOT NULL,
            CHECK (debit_account_id <> credit_account_id),
            UNIQUE (kind, reference)
        );
        CREATE INDEX entries_org_seq ON entries(org_id, seq);
        CREATE INDEX entries_external_ref ON entries(external_ref) WHERE external_ref IS NOT NULL;

        CREATE FUNCTION plutus_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% rows are append-only', TG_TABLE_NAME;
        END;
        $$;
        CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries
            FOR EACH ROW EXECUTE FUNCTION plutus_refuse_change();

        CREATE TABLE usage_events (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            workspace_id TEXT REFERENCES workspaces(id),
            client_event_id TEXT,
            provider TEXT NOT NULL,
            model TEXT,
            task_type TEXT NOT NULL,
            input_tokens BIGINT NOT NULL CHECK (input_tokens >= 0),
            output_tokens BIGINT NOT NULL CHECK (output_tokens >= 0),
            cache_read_tokens BIGINT NOT NULL CHECK (cache_read_tokens >= 0),
            cache_write_tokens BIGINT NOT NULL CHECK (cache_write_tokens >= 0),
            reasoning_tokens BIGINT NOT NULL CHECK (reasoning_tokens >= 0),
            cost_micros BIGINT NOT NULL CHECK (cost_micros >= 0),
            cost_kind TEXT NOT NULL CHECK (cost_kind IN ('exact', 'estimated', 'unpriced')),
            price_version TEXT NOT NULL,
            source TEXT NOT NULL,
            ts BIGINT NOT NULL,
            recorded_at BIGINT NOT NULL
        );
        CREATE INDEX usage_events_org_seq ON usage_events(org_id, seq);
        CREATE INDEX usage_events_org_ts ON usage_events(org_id, ts);
        CREATE UNIQUE INDEX usage_events_client_id ON usage_events(org_id, client_event_id)
            WHERE client_event_id IS NOT NULL;
        CREATE TRIGGER usage_events_append_only BEFORE UPDATE OR DELETE ON usage_events
            FOR EACH ROW EXECUTE FUNCTION plutus_refuse_change();

        CREATE TABLE usage_months (
            org_id TEXT NOT NULL REFERENCES organizations(id),
            workspace_id TEXT NOT NULL,
            month TEXT NOT NULL,
            tokens BIGINT NOT NULL,
            cost_micros BIGINT NOT NULL,
            events BIGINT NOT NULL,
            PRIMARY KEY (org_id, workspace_id, month)
        );

        CREATE TABLE idempotency_records (
            org_id TEXT NOT NULL REFERENCES organizations(id),
            idem_key TEXT NOT NULL,
            request_hash TEXT NOT NULL,
            status INTEGER NOT NULL,
            response TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            PRIMARY KEY (org_id, idem_key)
        );
        CREATE INDEX idempotency_created ON idempotency_records(created_at);

        CREATE TABLE alerts (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            workspace_id TEXT REFERENCES workspaces(id),
            kind TEXT NOT NULL,
            subject TEXT NOT NULL,
            period TEXT NOT NULL,
            message TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            UNIQUE (org_id, kind, subject, period)
        );
        CREATE INDEX alerts_org_seq ON alerts(org_id, seq);

        CREATE TABLE stripe_events (
            event_id TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            status TEXT NOT NULL,
            org_id TEXT REFERENCES organizations(id),
            payload TEXT NOT NULL,
            received_at BIGINT NOT NULL,
            applied_at BIGINT
        );

        CREATE TABLE price_catalogs (
            version BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            label TEXT NOT NULL,
            as_of TEXT,
            prices TEXT NOT NULL,
            imported_at BIGINT NOT NULL
        );
        """

    /// The alert outbox and its append-only log, as in SQLite, plus a `claimed` state: a
    /// process that picks an alert to deliver leases it, so several servers never send the
    /// same alert at once (an expired lease makes it due again).
    private static let v3 = """
        CREATE TABLE alert_delivery_states (
            alert_id TEXT NOT NULL REFERENCES alerts(id),
            channel TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('delivered', 'failed', 'abandoned', 'claimed')),
            attempts INTEGER NOT NULL CHECK (attempts >= 0),
            next_attempt_at BIGINT,
            updated_at BIGINT NOT NULL,
            PRIMARY KEY (alert_id, channel),
            CHECK ((status IN ('failed', 'claimed')) = (next_attempt_at IS NOT NULL))
        );

        CREATE TABLE alert_deliveries (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            alert_id TEXT NOT NULL REFERENCES alerts(id),
            channel TEXT NOT NULL,
            attempt INTEGER NOT NULL CHECK (attempt > 0),
            status TEXT NOT NULL CHECK (status IN ('delivered', 'failed', 'abandoned')),
            reply TEXT,
            error TEXT,
            next_attempt_at BIGINT,
            attempted_at BIGINT NOT NULL,
            CHECK ((status = 'failed') = (next_attempt_at IS NOT NULL))
        );
        CREATE INDEX alert_deliveries_alert ON alert_deliveries(alert_id, channel);
        CREATE INDEX alerts_created ON alerts(created_at);
        CREATE TRIGGER alert_deliveries_append_only BEFORE UPDATE OR DELETE ON alert_deliveries
            FOR EACH ROW EXECUTE FUNCTION plutus_refuse_change();
        """

    /// The daily rollup (organization × UTC day × workspace × provider × model × task), kept
    /// in the same transaction as each event; back-filled from the events so far.
    private static let v4 = """
        CREATE TABLE usage_days (
            org_id TEXT NOT NULL REFERENCES organizations(id),
            day BIGINT NOT NULL,
            workspace_id TEXT NOT NULL,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            task_type TEXT NOT NULL,
            events BIGINT NOT NULL,
            input_tokens BIGINT NOT NULL,
            output_tokens BIGINT NOT NULL,
            cache_read_tokens BIGINT NOT NULL,
            cache_write_tokens BIGINT NOT NULL,
            reasoning_tokens BIGINT NOT NULL,
            cost_micros BIGINT NOT NULL,
            PRIMARY KEY (org_id, day, workspace_id, provider, model, task_type)
        );
        INSERT INTO usage_days(org_id, day, workspace_id, provider, model, task_type, events, input_tokens,
            output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_micros)
        SELECT org_id, ts / 86400000, COALESCE(workspace_id, ''), provider, COALESCE(model, ''), task_type, COUNT(*),
            SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens), SUM(cache_write_tokens),
            SUM(reasoning_tokens), SUM(cost_micros)
        FROM usage_events
        GROUP BY org_id, ts / 86400000, COALESCE(workspace_id, ''), provider, COALESCE(model, ''), task_type;
        """

    /// One usage entry per ingest request: each event names the entry that paid for it
    /// (NULL when it cost nothing); events recorded before are linked to their own entries.
    /// `usage_events_org_ts` goes: summaries read the daily rollup.
    private static let v5 = """
        ALTER TABLE usage_events ADD COLUMN entry_id TEXT;
        ALTER TABLE usage_events DISABLE TRIGGER usage_events_append_only;
        UPDATE usage_events e SET entry_id = n.id FROM entries n
        WHERE n.kind = 'usage' AND n.reference = e.id AND e.cost_micros > 0;
        ALTER TABLE usage_events ENABLE TRIGGER usage_events_append_only;
        DROP INDEX usage_events_org_ts;
        """

    /// Holds (reservations), as in SQLite's v8: the organization's credit account keeps the
    /// sum of its active holds and a time at or before the earliest of their expiries, on the
    /// locked row: a transaction that waited for a lock re-reads only the rows it locked
    /// (which is why the organization's row is locked with its accounts).
    private static let v6 = """
        ALTER TABLE accounts ADD COLUMN held_micros BIGINT NOT NULL DEFAULT 0 CHECK (held_micros >= 0);
        ALTER TABLE accounts ADD COLUMN hold_expiry_next BIGINT;
        CREATE TABLE holds (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            status TEXT NOT NULL CHECK (status IN ('held', 'settled', 'released', 'expired')),
            amount_micros BIGINT NOT NULL CHECK (amount_micros > 0),
            workspace TEXT,
            task_type TEXT,
            run_id TEXT,
            api_key_id TEXT,
            provider TEXT,
            model TEXT,
            metadata TEXT,
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            closed_at BIGINT,
            event_id TEXT,
            cost_micros BIGINT,
            response TEXT
        );
        CREATE INDEX holds_active ON holds(org_id, expires_at) WHERE status = 'held';
        CREATE INDEX holds_org_created ON holds(org_id, created_at);
        CREATE INDEX accounts_hold_expiry ON accounts(hold_expiry_next) WHERE hold_expiry_next IS NOT NULL;
        """

    /// Budgets, as in SQLite's v9.
    private static let v7 = """
        ALTER TABLE holds ADD COLUMN workspace_id TEXT;
        CREATE TABLE budgets (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            scope TEXT NOT NULL CHECK (scope IN ('org', 'workspace', 'key', 'task', 'run')),
            scope_id TEXT NOT NULL,
            label TEXT NOT NULL,
            limit_micros BIGINT NOT NULL CHECK (limit_micros > 0),
            period TEXT NOT NULL CHECK (period IN ('day', 'month', 'total')),
            mode TEXT NOT NULL CHECK (mode IN ('hard', 'soft')),
            alert_at TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            disabled_at BIGINT
        );
        CREATE INDEX budgets_org ON budgets(org_id, created_at);
        CREATE TABLE budget_spend (
            budget_id TEXT NOT NULL REFERENCES budgets(id),
            period_start BIGINT NOT NULL,
            spent_micros BIGINT NOT NULL,
            PRIMARY KEY (budget_id, period_start)
        );
        INSERT INTO budgets(id, org_id, scope, scope_id, label, limit_micros, period, mode, alert_at, created_at)
        SELECT 'bgt_' || substr(md5(random()::text || id), 1, 16), org_id, 'workspace', id, name, monthly_budget_micros,
               'month', 'soft', '500,800,1000', created_at
        FROM workspaces WHERE monthly_budget_micros IS NOT NULL;
        INSERT INTO budget_spend(budget_id, period_start, spent_micros)
        SELECT b.id, (extract(epoch FROM (m.month || '-01')::date) * 1000)::bigint, m.cost_micros
        FROM budgets b JOIN usage_months m ON m.org_id = b.org_id AND m.workspace_id = b.scope_id
        WHERE b.scope = 'workspace' AND m.cost_micros > 0;
        """

    /// Credit lots, as in SQLite's v10.
    private static let v8 = """
        ALTER TABLE entries DROP CONSTRAINT entries_kind_check;
        ALTER TABLE entries ADD CONSTRAINT entries_kind_check
            CHECK (kind IN ('usage', 'topup', 'grant', 'adjustment', 'refund', 'dispute', 'expiry'));
        ALTER TABLE accounts ADD COLUMN lot_expiry_next BIGINT;
        CREATE INDEX accounts_lot_expiry ON accounts(lot_expiry_next) WHERE lot_expiry_next IS NOT NULL;
        CREATE TABLE credit_lots (
            id TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            kind TEXT NOT NULL CHECK (kind IN ('topup', 'grant', 'adjustment', 'dispute', 'opening')),
            entry_id TEXT,
            amount_micros BIGINT NOT NULL CHECK (amount_micros > 0),
            remaining_micros BIGINT NOT NULL CHECK (remaining_micros >= 0 AND remaining_micros <= amount_micros),
            priority INTEGER,
            expires_at BIGINT,
            payment TEXT,
            created_at BIGINT NOT NULL,
            expired_at BIGINT
        );
        CREATE INDEX credit_lots_active ON credit_lots(org_id) WHERE remaining_micros > 0;
        CREATE INDEX credit_lots_expiring ON credit_lots(org_id, expires_at) WHERE expired_at IS NULL AND expires_at IS NOT NULL;
        CREATE INDEX credit_lots_payment ON credit_lots(org_id, payment) WHERE payment IS NOT NULL;
        INSERT INTO credit_lots(id, org_id, kind, amount_micros, remaining_micros, created_at)
        SELECT 'grt_' || substr(md5(random()::text || a.org_id), 1, 16), a.org_id, 'opening', a.balance_micros,
               a.balance_micros, o.created_at
        FROM accounts a JOIN organizations o ON o.id = a.org_id WHERE a.code = 'credit' AND a.balance_micros > 0;
        """

    private static let v2 = """
        ALTER TABLE organizations ADD COLUMN stripe_subscription_id TEXT;
        ALTER TABLE organizations ADD COLUMN plan_event_created BIGINT;
        CREATE INDEX entries_kind_external ON entries(kind, external_ref) WHERE external_ref IS NOT NULL;
        """

    /// Sign-in: four roles, sessions kept as hashes of their tokens, and the one-time states
    /// of sign-ins under way (kept here, so a sign-in may start and end on different servers).
    static let v9 = """
        ALTER TABLE memberships DROP CONSTRAINT memberships_role_check;
        ALTER TABLE memberships ADD CONSTRAINT memberships_role_check CHECK (role IN ('owner', 'admin', 'member', 'viewer'));

        CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users(id),
            created_at BIGINT NOT NULL,
            last_seen_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            revoked_at BIGINT
        );
        CREATE INDEX sessions_user ON sessions(user_id);
        CREATE INDEX sessions_expiry ON sessions(expires_at);

        CREATE TABLE sign_in_states (
            state_hash TEXT PRIMARY KEY,
            nonce TEXT NOT NULL,
            verifier TEXT NOT NULL,
            return_to TEXT,
            expires_at BIGINT NOT NULL,
            invitation_hash TEXT
        );

        CREATE TABLE invitations (
            token_hash TEXT PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            email TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
            invited_by TEXT NOT NULL,
            created_at BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            accepted_at BIGINT
        );
        CREATE INDEX invitations_org ON invitations(org_id, created_at);

        CREATE TABLE audit_log (
            seq BIGSERIAL PRIMARY KEY,
            org_id TEXT NOT NULL REFERENCES organizations(id),
            at BIGINT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL,
            request_id TEXT
        );
        CREATE INDEX audit_log_org ON audit_log(org_id, seq);
        """
}
