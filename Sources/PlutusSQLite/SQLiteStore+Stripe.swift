import GRDB
import PlutusCore
import PlutusStore

extension SQLiteStore {
    public func applyStripeEvent(_ event: StripeEvent, action: StripeAction, payload: String, at time: Timestamp)
        async throws -> StripeOutcome
    {
        try await groupWrite { db in
            let previous = try String.fetchOne(
                db, sql: "SELECT status FROM stripe_events WHERE event_id = ?", arguments: [event.id])
            if let previous, previous != StripeOutcome.Status.unmapped.rawValue {
                return StripeOutcome(status: .duplicate, detail: "already processed as \(previous)")
            }
            let outcome = try StripeApplication(db: db, event: event, time: time).apply(action)
            try db.execute(
                sql: """
                    INSERT INTO stripe_events(event_id, type, status, org_id, payload, received_at, applied_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(event_id) DO UPDATE SET status = excluded.status, org_id = excluded.org_id,
                        applied_at = excluded.applied_at
                    """,
                arguments: [
                    event.id, event.type, outcome.status.rawValue, outcome.organizationID?.rawValue, payload, time.millis,
                    outcome.status == .unmapped ? nil : time.millis,
                ])
            return outcome
        }
    }

    public func linkStripeCustomer(_ organizationID: OrganizationID, customer: String) async throws -> String {
        try await writeTransaction { db in
            try db.execute(
                sql: "UPDATE organizations SET stripe_customer_id = ? WHERE id = ? AND stripe_customer_id IS NULL",
                arguments: [customer, organizationID.rawValue])
            guard let kept = try Self.requireOrganization(db, organizationID).stripeCustomerID else {
                throw StoreError.backend("customer link did not stick")
            }
            return kept
        }
    }

    public func stripeEventStatuses(_ eventIDs: [String]) async throws -> [String: String] {
        try await read { db in
            var statuses: [String: String] = [:]
            for chunk in stride(from: 0, to: eventIDs.count, by: 500) {
                let slice = Array(eventIDs[chunk..<min(chunk + 500, eventIDs.count)])
                let marks = Array(repeating: "?", count: slice.count).joined(separator: ",")
                for row in try Row.fetchAll(
                    db, sql: "SELECT event_id, status FROM stripe_events WHERE event_id IN (\(marks))",
                    arguments: StatementArguments(slice))
                {
                    statuses[row["event_id"]] = row["status"]
                }
            }
            return statuses
        }
    }

    public func unmappedStripeEvents(limit: Int) async throws -> [String] {
        try await read { db in
            try String.fetchAll(
                db, sql: "SELECT payload FROM stripe_events WHERE status = 'unmapped' ORDER BY received_at LIMIT ?",
                arguments: [min(max(limit, 1), Limits.pageRowsMax)])
        }
    }
}

/// One event's effect, inside the transaction that claims it: the facts `StripeEffects`
/// asks for, read under the write lock, then the plan it decides, written.
private struct StripeApplication {
    let db: Database
    let event: StripeEvent
    let time: Timestamp

    func apply(_ action: StripeAction) throws -> StripeOutcome {
        let questions = StripeEffects.questions(for: action)
        var facts = StripeEffects.Facts()
        if let hint = questions.organization { facts.organization = try organization(hint) }
        if let payment = questions.topUpOfPayment { facts.topUp = try existingTopUp(payment: payment) }
        if questions.planEventCreated, let org = facts.organization {
            facts.planEventCreated = try Int64.fetchOne(
                db, sql: "SELECT plan_event_created FROM organizations WHERE id = ?", arguments: [org.id.rawValue])
        }
        if let (kind, key) = questions.reversed, let topUp = facts.topUp {
            facts.reversedSoFar = try reversedSoFar(topUp.organizationID, kind: kind, key: key)
        }
        let plan = StripeEffects.decide(action, event: event, at: time, facts: facts)
        var outcome = plan.outcome
        for write in plan.writes {
            switch write {
            case .linkCustomer(let org, let customer):
                try db.execute(
                    sql: """
                        UPDATE organizations SET stripe_customer_id = ? WHERE id = ? AND stripe_customer_id IS NULL
                        AND NOT EXISTS (SELECT 1 FROM organizations WHERE stripe_customer_id = ?)
                        """, arguments: [customer, org.rawValue, customer])
            case .post(let org, let kind, let signedAmount, let externalReference, let memo, let marksCredited):
                let (_, accounts, _) = try SQLiteStore.lockForMoney(db, org, now: time)
                let entry = try SQLiteStore.postEntry(
                    db, organizationID: org, accounts: accounts.mapValues(\.id), kind: kind,
                    signedAmount: signedAmount,
                    reference: event.id, externalReference: externalReference, memo: memo, at: time,
                    lot: .init(payment: questions.topUpOfPayment))
                if marksCredited {
                    try db.execute(sql: "UPDATE organizations SET ever_credited = 1 WHERE id = ?", arguments: [org.rawValue])
                }
                outcome.balanceAfter = entry.balanceAfter
            case .alert(let org, let draft):
                _ = try SQLiteStore.logAlert(db, org, draft, at: time)
            case .setPlan(let org, let plan, let subscription, let created):
                try db.execute(
                    sql: "UPDATE organizations SET plan = ?, stripe_subscription_id = ?, plan_event_created = ? WHERE id = ?",
                    arguments: [plan.rawValue, subscription, created, org.rawValue])
            }
        }
        return outcome
    }

    /// The organization named by the event (an id, slug or name), else the one with its customer.
    private func organization(_ hint: StripeOrganizationHint) throws -> Organization? {
        if let reference = hint.organization, let org = try SQLiteStore.findOrganization(db, reference) { return org }
        if let customer = hint.customer,
            let row = try Row.fetchOne(db, sql: "SELECT * FROM organizations WHERE stripe_customer_id = ?", arguments: [customer])
        {
            return try SQLiteStore.organization(row)
        }
        return nil
    }

    private func existingTopUp(payment: String) throws -> StripeEffects.TopUp? {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT org_id, amount_micros FROM entries WHERE kind = 'topup' AND external_ref = ? LIMIT 1",
                arguments: [payment])
        else { return nil }
        return StripeEffects.TopUp(
            organizationID: OrganizationID(rawValue: row["org_id"]), amount: MicroDollars(rawValue: row["amount_micros"]))
    }

    /// The net amount reversed so far by entries of `kind` under `key` (a charge or dispute id).
    private func reversedSoFar(_ organizationID: OrganizationID, kind: EntryKind, key: String) throws -> MicroDollars {
        let signedSum =
            try Int64.fetchOne(
                db,
                sql: """
                    SELECT COALESCE(SUM(CASE WHEN c.code = 'credit' THEN e.amount_micros ELSE -e.amount_micros END), 0)
                    FROM entries e JOIN accounts c ON c.id = e.credit_account_id
                    WHERE e.kind = ? AND e.external_ref = ? AND e.org_id = ?
                    """, arguments: [kind.rawValue, key, organizationID.rawValue]) ?? 0
        return MicroDollars(rawValue: -signedSum)
    }
}
