import GRDB
import PlutusCore
import PlutusStore

/// The alert outbox. The SQL is kept portable (no SQLite-only syntax) so PostgreSQL can run
/// the same statements with `$n` placeholders.
extension SQLiteStore {
    public func pendingAlertDeliveries(channel: String, createdSince: Timestamp, now: Timestamp, limit: Int) async throws
        -> [PendingAlertDelivery]
    {
        precondition(!channel.isEmpty, "a channel has a name")
        return try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT a.id, a.org_id, a.workspace_id, a.kind, a.message, a.period, a.created_at,
                        o.name AS org_name, COALESCE(s.attempts, 0) AS attempts
                    FROM alerts a
                    JOIN organizations o ON o.id = a.org_id
                    LEFT JOIN alert_delivery_states s ON s.alert_id = a.id AND s.channel = ?
                    WHERE a.created_at >= ?
                        AND (s.alert_id IS NULL OR (s.status = 'failed' AND s.next_attempt_at <= ?))
                    ORDER BY a.created_at, a.id
                    LIMIT ?
                    """,
                arguments: [channel, createdSince.millis, now.millis, min(max(limit, 1), Limits.alertDeliveryBatchMax)]
            ).map { row in
                let kind: AlertKind = try StoreError.decode(row["kind"], column: "alerts.kind")
                let alert = AlertRecord(
                    id: AlertID(rawValue: row["id"]), organizationID: OrganizationID(rawValue: row["org_id"]),
                    workspaceID: (row["workspace_id"] as String?).map(WorkspaceID.init(rawValue:)), kind: kind,
                    message: row["message"], period: row["period"], createdAt: Timestamp(rawValue: row["created_at"]))
                return PendingAlertDelivery(
                    alert: alert, organizationName: row["org_name"], channel: channel, attemptsMade: row["attempts"])
            }
        }
    }

    public func recordAlertDelivery(_ attempt: AlertDeliveryAttempt) async throws {
        try await writeTransaction { db in
            try db.execute(
                sql: """
                    INSERT INTO alert_deliveries(alert_id, channel, attempt, status, reply, error, next_attempt_at, attempted_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    attempt.alertID.rawValue, attempt.channel, attempt.attempt, attempt.status.rawValue, attempt.reply,
                    attempt.errorText, attempt.nextAttemptAt?.millis, attempt.attemptedAt.millis,
                ])
            try db.execute(
                sql: """
                    INSERT INTO alert_delivery_states(alert_id, channel, status, attempts, next_attempt_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (alert_id, channel) DO UPDATE SET status = excluded.status,
                        attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at,
                        updated_at = excluded.updated_at
                    """,
                arguments: [
                    attempt.alertID.rawValue, attempt.channel, attempt.status.rawValue, attempt.attempt,
                    attempt.nextAttemptAt?.millis, attempt.attemptedAt.millis,
                ])
        }
    }

    public func alertDeliveryLog(limit: Int) async throws -> [AlertDeliveryAttempt] {
        try await read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM alert_deliveries ORDER BY seq DESC LIMIT ?",
                arguments: [min(max(limit, 1), Limits.pageRowsMax)]
            ).map { row in
                let status: AlertDeliveryStatus = try StoreError.decode(row["status"], column: "alert_deliveries.status")
                return AlertDeliveryAttempt(
                    alertID: AlertID(rawValue: row["alert_id"]), channel: row["channel"], attempt: row["attempt"],
                    status: status, reply: row["reply"], errorText: row["error"],
                    attemptedAt: Timestamp(rawValue: row["attempted_at"]),
                    nextAttemptAt: (row["next_attempt_at"] as Int64?).map(Timestamp.init(rawValue:)))
            }
        }
    }
}
