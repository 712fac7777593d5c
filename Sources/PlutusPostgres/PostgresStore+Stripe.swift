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

/// One event's effect, inside the transaction that claims it. Money moves only after the
/// organization's accounts are locked, as every other writer does.
private struct PostgresStripeApplication {
    let connection: PostgresConnection
    let event: StripeEvent
    let time: Timestamp
    let logger: Logger

    func apply(_ action: StripeAction) async throws -> StripeOutcome {
        switch action {
        case .ignore(let reason):
            return StripeOutcome(status: .ignored, detail: reason)
        case .credit(let hint, let amount, let payment):
            guard let org = try await organization(hint) else { return unmapped() }
            let (_, accounts) = try await PostgresStore.lockOrganization(connection, org.id, logger: logger)
            try await linkCustomer(org, hint.customer)
            if try await existingTopUp(payment: payment) != nil {
                return StripeOutcome(
                    status: .alreadyCredited, organizationID: org.id, detail: "payment \(payment) was credited before")
            }
            let entry = try await PostgresStore.postEntry(
                connection, organizationID: org.id, accounts: accounts.mapValues(\.id), kind: .topUp, signedAmount: amount,
                reference: event.id, externalReference: payment, memo: "Stripe checkout", at: time, logger: logger)
            try await connection.query(
                "UPDATE organizations SET ever_credited = TRUE WHERE id = \(org.id.rawValue)", logger: logger)
            return StripeOutcome(status: .credited, organizationID: org.id, amount: amount, balanceAfter: entry.balanceAfter)
        case .awaitingPayment(let hint):
            let org = try await organization(hint)
            return StripeOutcome(
                status: .awaitingPayment, organizationID: org?.id, detail: "no credit until the payment succeeds")
        case .paymentFailed(let hint):
            guard let org = try await organization(hint) else { return unmapped() }
            _ = try await PostgresStore.logAlert(
                connection, org.id,
                AlertDraft(
                    kind: .paymentFailed, subject: event.id, period: time.day.text, workspaceID: nil,
                    message: "Stripe reported a failed payment."), at: time, logger: logger)
            return StripeOutcome(status: .paymentFailed, organizationID: org.id)
        case .linkCustomer(let hint):
            guard let org = try await organization(hint) else { return unmapped() }
            try await linkCustomer(org, hint.customer)
            return StripeOutcome(status: .customerLinked, organizationID: org.id)
        case .setPlan(let hint, let plan, let subscription):
            guard let org = try await organization(hint) else { return unmapped() }
            try await linkCustomer(org, hint.customer)
            return try await setPlan(org, plan: plan, subscription: subscription)
        case .refund(let hint, let charge, let refundedTotal):
            guard let payment = hint.paymentIntent, let topUp = try await existingTopUp(payment: payment) else {
                return StripeOutcome(status: .notACreditPurchase, detail: "the charge bought no prepaid credit")
            }
            return try await converge(
                topUp.organizationID, kind: .refund, key: charge, reversedTarget: min(refundedTotal, topUp.amount),
                status: .refunded, memo: "Stripe refund")
        case .dispute(let hint, let dispute, let amount, let reversed):
            guard let payment = hint.paymentIntent, let topUp = try await existingTopUp(payment: payment) else {
                return StripeOutcome(status: .notACreditPurchase, detail: "the disputed charge bought no prepaid credit")
            }
            return try await converge(
                topUp.organizationID, kind: .dispute, key: dispute, reversedTarget: reversed ? min(amount, topUp.amount) : .zero,
                status: reversed ? .disputed : .restored, memo: reversed ? "Stripe dispute" : "Stripe dispute won")
        }
    }

    private func unmapped() -> StripeOutcome {
        StripeOutcome(status: .unmapped, detail: "no organization matches this event; it can be replayed later")
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

    private func linkCustomer(_ org: Organization, _ customer: String?) async throws {
        guard let customer, org.stripeCustomerID == nil else { return }
        try await connection.query(
            """
            UPDATE organizations SET stripe_customer_id = \(customer) WHERE id = \(org.id.rawValue) AND stripe_customer_id IS NULL
            AND NOT EXISTS (SELECT 1 FROM organizations WHERE stripe_customer_id = \(customer))
            """, logger: logger)
    }

    private func existingTopUp(payment: String) async throws -> (organizationID: OrganizationID, amount: MicroDollars)? {
        guard
            let row = try await connection.query(
                "SELECT org_id, amount_micros FROM entries WHERE kind = 'topup' AND external_ref = \(payment) LIMIT 1",
                logger: logger
            ).rows().first
        else { return nil }
        return (OrganizationID(rawValue: try row.string("org_id")), MicroDollars(rawValue: try row.int64("amount_micros")))
    }

    /// Subscription state only moves forward in Stripe's event order, and never touches a
    /// plan set by hand (team, enterprise).
    private func setPlan(_ org: Organization, plan: Plan, subscription: String) async throws -> StripeOutcome {
        guard org.plan == .free || org.plan == .pro else {
            return StripeOutcome(status: .ignored, organizationID: org.id, detail: "\(org.plan.rawValue) plan is managed by hand")
        }
        let last = try await connection.query(
            "SELECT plan_event_created FROM organizations WHERE id = \(org.id.rawValue) FOR UPDATE", logger: logger
        ).collect().first?.decode(Int64?.self)
        if let last, last > event.created {
            return StripeOutcome(status: .stale, organizationID: org.id, detail: "a newer subscription event was applied")
        }
        try await connection.query(
            """
            UPDATE organizations SET plan = \(plan.rawValue), stripe_subscription_id = \(subscription),
                plan_event_created = \(event.created) WHERE id = \(org.id.rawValue)
            """, logger: logger)
        return StripeOutcome(status: .planSet, organizationID: org.id, detail: plan.rawValue)
    }

    /// Moves the net reversal recorded under `key` (a charge or dispute id) to `reversedTarget`.
    private func converge(
        _ organizationID: OrganizationID, kind: EntryKind, key: String, reversedTarget: MicroDollars,
        status: StripeOutcome.Status, memo: String
    ) async throws -> StripeOutcome {
        let (_, accounts) = try await PostgresStore.lockOrganization(connection, organizationID, logger: logger)
        let signedSum =
            try await connection.query(
                """
                SELECT COALESCE(SUM(CASE WHEN c.code = 'credit' THEN e.amount_micros ELSE -e.amount_micros END), 0)::int8
                FROM entries e JOIN accounts c ON c.id = e.credit_account_id
                WHERE e.kind = \(kind.rawValue) AND e.external_ref = \(key) AND e.org_id = \(organizationID.rawValue)
                """, logger: logger
            ).collect().first?.decode(Int64.self) ?? 0
        let reversedSoFar = MicroDollars(rawValue: -signedSum)
        guard let delta = reversedTarget.subtracting(reversedSoFar), delta != .zero else {
            return StripeOutcome(
                status: .noop, organizationID: organizationID, detail: "already at \(reversedTarget.decimalString)")
        }
        let entry = try await PostgresStore.postEntry(
            connection, organizationID: organizationID, accounts: accounts.mapValues(\.id), kind: kind,
            signedAmount: delta.negated!, reference: event.id, externalReference: key, memo: memo, at: time, logger: logger)
        return StripeOutcome(
            status: status, organizationID: organizationID, amount: delta.negated, balanceAfter: entry.balanceAfter)
    }
}
