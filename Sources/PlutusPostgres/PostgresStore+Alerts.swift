import PlutusCore
import PlutusStore
import PostgresNIO

/// The alert outbox, shared by every server on the database.
extension PostgresStore {
    /// A claimed alert is due again after this long if its claimer never reported back
    /// (longer than any channel's own time limit).
    public static let alertClaimLeaseMillis: Int64 = 120_000

    /// Due alerts, claimed for this process: each is leased (`claimed` until the lease ends)
    /// in the same transaction that picks it, skipping rows another process is claiming, so
    /// two servers never deliver the same alert on the same channel at once. The upsert
    /// re-checks the state row as last committed: a poller whose snapshot was taken before
    /// another committed its claim (the alert row itself is not locked by then) would
    /// otherwise claim that alert a second time.
    public func pendingAlertDeliveries(channel: String, createdSince: Timestamp, now: Timestamp, limit: Int) async throws
        -> [PendingAlertDelivery]
    {
        precondition(!channel.isEmpty, "a channel has a name")
        let leaseEnd = now.millis + Self.alertClaimLeaseMillis
        return try await transaction { connection in
            try await connection.query(
                """
                WITH due AS (
                    SELECT a.id, COALESCE(s.attempts, 0) AS attempts FROM alerts a
                    LEFT JOIN alert_delivery_states s ON s.alert_id = a.id AND s.channel = \(channel)
                    WHERE a.created_at >= \(createdSince.millis)
                      AND (s.alert_id IS NULL OR (s.status IN ('failed', 'claimed') AND s.next_attempt_at <= \(now.millis)))
                    ORDER BY a.created_at, a.id
                    LIMIT \(min(max(limit, 1), Limits.alertDeliveryBatchMax))
                    FOR UPDATE OF a SKIP LOCKED),
                claimed AS (
                    INSERT INTO alert_delivery_states(alert_id, channel, status, attempts, next_attempt_at, updated_at)
                    SELECT id, \(channel), 'claimed', attempts, \(leaseEnd), \(now.millis) FROM due
                    ON CONFLICT (alert_id, channel) DO UPDATE SET status = 'claimed',
                        next_attempt_at = excluded.next_attempt_at, updated_at = excluded.updated_at
                    WHERE alert_delivery_states.status IN ('failed', 'claimed')
                      AND alert_delivery_states.next_attempt_at <= \(now.millis)
                    RETURNING alert_id, attempts)
                SELECT a.id, a.org_id, a.workspace_id, a.kind, a.message, a.period, a.created_at, o.name AS org_name,
                       c.attempts::int8 AS attempts
                FROM claimed c JOIN alerts a ON a.id = c.alert_id JOIN organizations o ON o.id = a.org_id
                ORDER BY a.created_at, a.id
                """, logger: self.logger
            ).rows().map { row in
                let kind: AlertKind = try StoreError.decode(try row.string("kind"), column: "alerts.kind")
                let alert = AlertRecord(
                    id: AlertID(rawValue: try row.string("id")),
                    organizationID: OrganizationID(rawValue: try row.string("org_id")),
                    workspaceID: try row.optionalString("workspace_id").map(WorkspaceID.init(rawValue:)), kind: kind,
                    message: try row.string("message"), period: try row.string("period"),
                    createdAt: Timestamp(rawValue: try row.int64("created_at")))
                return PendingAlertDelivery(
                    alert: alert, organizationName: try row.string("org_name"), channel: channel,
                    attemptsMade: Int(try row.int64("attempts")))
            }
        }
    }

    public func recordAlertDelivery(_ attempt: AlertDeliveryAttempt) async throws {
        try await transaction { connection in
            try await connection.query(
                """
                INSERT INTO alert_deliveries(alert_id, channel, attempt, status, reply, error, next_attempt_at, attempted_at)
                VALUES (\(attempt.alertID.rawValue), \(attempt.channel), \(Int32(attempt.attempt)), \(attempt.status.rawValue),
                        \(attempt.reply), \(attempt.errorText), \(attempt.nextAttemptAt?.millis), \(attempt.attemptedAt.millis))
                """, logger: self.logger)
            try await connection.query(
                """
                INSERT INTO alert_delivery_states(alert_id, channel, status, attempts, next_attempt_at, updated_at)
                VALUES (\(attempt.alertID.rawValue), \(attempt.channel), \(attempt.status.rawValue), \(Int32(attempt.attempt)),
                        \(attempt.nextAttemptAt?.millis), \(attempt.attemptedAt.millis))
                ON CONFLICT (alert_id, channel) DO UPDATE SET status = excluded.status, attempts = excluded.attempts,
                    next_attempt_at = excluded.next_attempt_at, updated_at = excluded.updated_at
                """, logger: self.logger)
        }
    }

    public func alertDeliveryLog(limit: Int) async throws -> [AlertDeliveryAttempt] {
        try await withConnection { connection in
            try await connection.query(
                "SELECT * FROM alert_deliveries ORDER BY seq DESC LIMIT \(min(max(limit, 1), Limits.pageRowsMax))",
                logger: self.logger
            ).rows().map { row in
                let status: AlertDeliveryStatus = try StoreError.decode(
                    try row.string("status"), column: "alert_deliveries.status")
                return AlertDeliveryAttempt(
                    alertID: AlertID(rawValue: try row.string("alert_id")), channel: try row.string("channel"),
                    attempt: Int(try row["attempt"].decode(Int32.self)), status: status, reply: try row.optionalString("reply"),
                    errorText: try row.optionalString("error"), attemptedAt: Timestamp(rawValue: try row.int64("attempted_at")),
                    nextAttemptAt: try row.optionalInt64("next_attempt_at").map(Timestamp.init(rawValue:)))
            }
        }
    }
}
