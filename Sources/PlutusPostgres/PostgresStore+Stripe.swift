import PlutusCore
import PlutusStore
import PostgresNIO

extension PostgresStore {
    public func applyStripeEvent(_ event: StripeEvent, action: StripeAction, payload: String, at time: Timestamp)
        async throws -> StripeOutcome
    {
        try await transaction { connection in
            // One delivery of an event at a time across processes: the second waits here,
            // then finds the first one's row. The result is read so that a lock timeout is
            // thrown here (and the transaction retried): PostgresNIO hands an error raised
            // while a SELECT runs to its rows, and unread it surfaced only as the next
            // statement's "current transaction is aborted", which is not retried.
            _ = try await connection.query("SELECT pg_advisory_xact_lock(hashtextextended(\(event.id), 0))", logger: self.logger)
                .collect()
            let previous = try await connection.query(
                "SELECT status FROM stripe_events WHERE event_id = \(event.id)", logger: self.logger
            ).collect().first?.decode(String.self)
            if let previous, previous != StripeOutcome.Status.unmapped.rawValue {
                return StripeOutcome(status: .duplicate, detail: "already processed as \(previous)")
            }
            let outcome = try await PostgresStripeApplication(
                connection: connection, event: event, time: time, logger: self.logger
            ).apply(action)
            try await connection.query(
                """
                INSERT INTO stripe_events(event_id, type, status, org_id, payload, received_at, applied_at)
                VALUES (\(event.id), \(event.type), \(outcome.status.rawValue), \(outcome.organizationID?.rawValue), \(payload),
                        \(time.millis), \(outcome.status == .unmapped ? nil : time.millis))
                ON CONFLICT (event_id) DO UPDATE SET status = excluded.status, org_id = excluded.org_id,
                    applied_at = excluded.applied_at
                """, logger: self.logger)
            return outcome
        }
    }

    public func linkStripeCustomer(_ organizationID: OrganizationID, customer: String) async throws -> String {
        try await transaction { connection in
            try await connection.query(
                """
                UPDATE organizations SET stripe_customer_id = \(customer)
                WHERE id = \(organizationID.rawValue) AND stripe_customer_id IS NULL
                """, logger: self.logger)
            guard let kept = try await Self.requireOrganization(connection, organizationID, logger: self.logger).stripeCustomerID
            else { throw StoreError.backend("customer link did not stick") }
            return kept
        }
    }

    public func stripeEventStatuses(_ eventIDs: [String]) async throws -> [String: String] {
        try await withConnection { connection in
            var statuses: [String: String] = [:]
            for chunk in stride(from: 0, to: eventIDs.count, by: 500) {
                let slice = Array(eventIDs[chunk..<min(chunk + 500, eventIDs.count)])
                for row in try await connection.query(
                    "SELECT event_id, status FROM stripe_events WHERE event_id = ANY(\(slice)::text[])", logger: self.logger
                ).rows() {
                    statuses[try row.string("event_id")] = try row.string("status")
                }
            }
            return statuses
        }
    }

    public func unmappedStripeEvents(limit: Int) async throws -> [String] {
        try await withConnection { connection in
            try await connection.query(
                """
                SELECT payload FROM stripe_events WHERE status = 'unmapped' ORDER BY received_at
                LIMIT \(min(max(limit, 1), Limits.pageRowsMax))
                """, logger: self.logger
            ).collect().map { try $0.decode(String.self) }
        }
    }
}

/// One event's effect, inside the transaction that claims it: the facts `StripeEffects`
/// asks for (the organization's accounts locked before any money is read, as every other
/// writer does), then the plan it decides, written.
private struct PostgresStripeApplication {
    let connection: PostgresConnection
    let event: StripeEvent
    let time: Timestamp
    let logger: Logger

    func apply(_ action: StripeAction) async throws -> StripeOutcome {
        let questions = StripeEffects.questions(for: action)
        var facts = StripeEffects.Facts()
        var locked: [OrganizationID: [AccountCode: (id: Int64, balance: Int64)]] = [:]
        func lock(_ org: OrganizationID) async throws {
            guard locked[org] == nil else { return }
            locked[org] = try await PostgresStore.lockForMoney(connection, org, now: time, logger: logger).accounts
        }
        if let hint = questions.organization {
            facts.organization = try await organization(hint)
            if let org = facts.organization, questions.topUpOfPayment != nil { try await lock(org.id) }
        }
        if let payment = questions.topUpOfPayment { facts.topUp = try await existingTopUp(payment: payment) }
        if questions.planEventCreated, let org = facts.organization {
            facts.planEventCreated = try await connection.query(
                "SELECT plan_event_created FROM organizations WHERE id = \(org.id.rawValue) FOR UPDATE", logger: logger
            ).collect().first?.decode(Int64?.self)
        }
        if let (kind, key) = questions.reversed, let topUp = facts.topUp {
            try await lock(topUp.organizationID)
            facts.reversedSoFar = try await reversedSoFar(topUp.organizationID, kind: kind, key: key)
        }
        let plan = StripeEffects.decide(action, event: event, at: time, facts: facts)
        var outcome = plan.outcome
        for write in plan.writes {
            switch write {
            case .linkCustomer(let org, let customer):
                try await connection.query(
                    """
                    UPDATE organizations SET stripe_customer_id = \(customer) WHERE id = \(org.rawValue) AND stripe_customer_id IS NULL
                    AND NOT EXISTS (SELECT 1 FROM organizations WHERE stripe_customer_id = \(customer))
                    """, logger: logger)
            case .post(let org, let kind, let signedAmount, let externalReference, let memo, let marksCredited):
                try await lock(org)
                let entry = try await PostgresStore.postEntry(
                    connection, organizationID: org, accounts: locked[org]!.mapValues(\.id), kind: kind,
                    signedAmount: signedAmount,
                    reference: event.id, externalReference: externalReference, memo: memo, at: time,
                    lot: LotTerms(payment: questions.topUpOfPayment), logger: logger)
                if marksCredited {
                    try await connection.query(
                        "UPDATE organizations SET ever_credited = TRUE WHERE id = \(org.rawValue)", logger: logger)
                }
                outcome.balanceAfter = entry.balanceAfter
            case .alert(let org, let draft):
                _ = try await PostgresStore.logAlert(connection, org, draft, at: time, logger: logger)
            case .setPlan(let org, let plan, let subscription, let created):
                try await connection.query(
                    """
                    UPDATE organizations SET plan = \(plan.rawValue), stripe_subscription_id = \(subscription),
                        plan_event_created = \(created) WHERE id = \(org.rawValue)
                    """, logger: logger)
            }
        }
        return outcome
    }

    /// The organization named by the event (an id, slug or name), else the one with its customer.
    private func organization(_ hint: StripeOrganizationHint) async throws -> Organization? {
        if let reference = hint.organization,
            let org = try await PostgresStore.findOrganization(connection, reference, logger: logger)
        {
            return org
        }
        guard let customer = hint.customer else { return nil }
        return try await connection.query(
            "SELECT * FROM organizations WHERE stripe_customer_id = \(customer)", logger: logger
        ).rows().first.map(PostgresStore.organization)
    }

    private func existingTopUp(payment: String) async throws -> StripeEffects.TopUp? {
        guard
            let row = try await connection.query(
                "SELECT org_id, amount_micros FROM entries WHERE kind = 'topup' AND external_ref = \(payment) LIMIT 1",
                logger: logger
            ).rows().first
        else { return nil }
        return StripeEffects.TopUp(
            organizationID: OrganizationID(rawValue: try row.string("org_id")),
            amount: MicroDollars(rawValue: try row.int64("amount_micros")))
    }

    /// The net amount reversed so far by entries of `kind` under `key` (a charge or dispute id).
    private func reversedSoFar(_ organizationID: OrganizationID, kind: EntryKind, key: String) async throws -> MicroDollars {
        let signedSum =
            try await connection.query(
                """
                SELECT COALESCE(SUM(CASE WHEN c.code = 'credit' THEN e.amount_micros ELSE -e.amount_micros END), 0)::int8
                FROM entries e JOIN accounts c ON c.id = e.credit_account_id
                WHERE e.kind = \(kind.rawValue) AND e.external_ref = \(key) AND e.org_id = \(organizationID.rawValue)
                """, logger: logger
            ).collect().first?.decode(Int64.self) ?? 0
        return MicroDollars(rawValue: -signedSum)
    }
}
