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

/// One event's effect, inside the transaction that claims it.
private struct StripeApplication {
    let db: Database
    let event: StripeEvent
    let time: Timestamp

    func apply(_ action: StripeAction) throws -> StripeOutcome {
        switch action {
        case .ignore(let reason):
            return StripeOutcome(status: .ignored, detail: reason)
        case .credit(let hint, let amount, let payment):
            guard let org = try organization(hint) else { return unmapped() }
            try linkCustomer(org, hint.customer)
            if try existingTopUp(payment: payment) != nil {
                return StripeOutcome(
                    status: .alreadyCredited, organizationID: org.id, detail: "payment \(payment) was credited before")
            }
            let entry = try SQLiteStore.postEntry(
                db, organizationID: org.id, accounts: try SQLiteStore.accountIDs(db, org.id), kind: .topUp,
                signedAmount: amount, reference: event.id, externalReference: payment, memo: "Stripe checkout", at: time)
            try db.execute(sql: "UPDATE organizations SET ever_credited = 1 WHERE id = ?", arguments: [org.id.rawValue])
            return StripeOutcome(status: .credited, organizationID: org.id, amount: amount, balanceAfter: entry.balanceAfter)
        case .awaitingPayment(let hint):
            let org = try organization(hint)
            return StripeOutcome(
                status: .awaitingPayment, organizationID: org?.id, detail: "no credit until the payment succeeds")
        case .paymentFailed(let hint):
            guard let org = try organization(hint) else { return unmapped() }
            _ = try SQLiteStore.logAlert(
                db, org.id,
                AlertDraft(
                    kind: .paymentFailed, subject: event.id, period: time.day.text, workspaceID: nil,
                    message: "Stripe reported a failed payment."), at: time)
            return StripeOutcome(status: .paymentFailed, organizationID: org.id)
        case .linkCustomer(let hint):
            guard let org = try organization(hint) else { return unmapped() }
            try linkCustomer(org, hint.customer)
            return StripeOutcome(status: .customerLinked, organizationID: org.id)
        case .setPlan(let hint, let plan, let subscription):
            guard let org = try organization(hint) else { return unmapped() }
            try linkCustomer(org, hint.customer)
            return try setPlan(org, plan: plan, subscription: subscription)
        case .refund(let hint, let charge, let refundedTotal):
            guard let payment = hint.paymentIntent, let topUp = try existingTopUp(payment: payment) else {
                return StripeOutcome(status: .notACreditPurchase, detail: "the charge bought no prepaid credit")
            }
            let target = min(refundedTotal, topUp.amount)
            return try converge(
                topUp.organizationID, kind: .refund, key: charge, reversedTarget: target, status: .refunded, memo: "Stripe refund"
            )
        case .dispute(let hint, let dispute, let amount, let reversed):
            guard let payment = hint.paymentIntent, let topUp = try existingTopUp(payment: payment) else {
                return StripeOutcome(status: .notACreditPurchase, detail: "the disputed charge bought no prepaid credit")
            }
            let target = reversed ? min(amount, topUp.amount) : .zero
            return try converge(
                topUp.organizationID, kind: .dispute, key: dispute, reversedTarget: target,
                status: reversed ? .disputed : .restored, memo: reversed ? "Stripe dispute" : "Stripe dispute won")
        }
    }

    private func unmapped() -> StripeOutcome {
        StripeOutcome(status: .unmapped, detail: "no organization matches this event; it can be replayed later")
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

    private func linkCustomer(_ org: Organization, _ customer: String?) throws {
        guard let customer, org.stripeCustomerID == nil else { return }
        try db.execute(
            sql: """
                UPDATE organizations SET stripe_customer_id = ? WHERE id = ? AND stripe_customer_id IS NULL
                AND NOT EXISTS (SELECT 1 FROM organizations WHERE stripe_customer_id = ?)
                """, arguments: [customer, org.id.rawValue, customer])
    }

    private func existingTopUp(payment: String) throws -> (organizationID: OrganizationID, amount: MicroDollars)? {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT org_id, amount_micros FROM entries WHERE kind = 'topup' AND external_ref = ? LIMIT 1",
                arguments: [payment])
        else { return nil }
        return (OrganizationID(rawValue: row["org_id"]), MicroDollars(rawValue: row["amount_micros"]))
    }

    /// Subscription state only moves forward in Stripe's event order, and never touches a
    /// plan set by hand (team, enterprise).
    private func setPlan(_ org: Organization, plan: Plan, subscription: String) throws -> StripeOutcome {
        guard org.plan == .free || org.plan == .pro else {
            return StripeOutcome(status: .ignored, organizationID: org.id, detail: "\(org.plan.rawValue) plan is managed by hand")
        }
        let last = try Int64.fetchOne(
            db, sql: "SELECT plan_event_created FROM organizations WHERE id = ?", arguments: [org.id.rawValue])
        if let last, last > event.created {
            return StripeOutcome(status: .stale, organizationID: org.id, detail: "a newer subscription event was applied")
        }
        try db.execute(
            sql: "UPDATE organizations SET plan = ?, stripe_subscription_id = ?, plan_event_created = ? WHERE id = ?",
            arguments: [plan.rawValue, subscription, event.created, org.id.rawValue])
        return StripeOutcome(status: .planSet, organizationID: org.id, detail: plan.rawValue)
    }

    /// Moves the net reversal recorded under `key` (a charge or dispute id) to
    /// `reversedTarget`: repeated or overlapping events never reverse twice, and a won
    /// dispute puts the money back.
    private func converge(
        _ organizationID: OrganizationID, kind: EntryKind, key: String, reversedTarget: MicroDollars,
        status: StripeOutcome.Status, memo: String
    ) throws -> StripeOutcome {
        let signedSum =
            try Int64.fetchOne(
                db,
                sql: """
                    SELECT COALESCE(SUM(CASE WHEN c.code = 'credit' THEN e.amount_micros ELSE -e.amount_micros END), 0)
                    FROM entries e JOIN accounts c ON c.id = e.credit_account_id
                    WHERE e.kind = ? AND e.external_ref = ? AND e.org_id = ?
                    """, arguments: [kind.rawValue, key, organizationID.rawValue]) ?? 0
        let reversedSoFar = MicroDollars(rawValue: -signedSum)
        guard let delta = reversedTarget.subtracting(reversedSoFar), delta != .zero else {
            return StripeOutcome(
                status: .noop, organizationID: organizationID, detail: "already at \(reversedTarget.decimalString)")
        }
        let entry = try SQLiteStore.postEntry(
            db, organizationID: organizationID, accounts: try SQLiteStore.accountIDs(db, organizationID), kind: kind,
            signedAmount: delta.negated!, reference: event.id, externalReference: key, memo: memo, at: time)
        return StripeOutcome(
            status: status, organizationID: organizationID, amount: delta.negated, balanceAfter: entry.balanceAfter)
    }
}
