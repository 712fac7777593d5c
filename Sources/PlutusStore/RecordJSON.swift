import PlutusCore

/// The JSON shapes of stored records, shared by the CLI's `--json` and the HTTP API. Money
/// is exact decimal dollars; times are epoch seconds beside ISO 8601 (`time`).
public enum RecordJSON {
    public static func organization(_ listing: OrganizationListing) -> JSONValue {
        let org = listing.organization
        return .object([
            ("id", .string(org.id.rawValue)), ("name", .string(org.name)), ("slug", .string(org.slug)),
            ("tier", .string(org.plan.rawValue)), ("balance", .money(listing.balance)),
            ("allow_negative_balance", .bool(org.hardStopExempt)), ("ever_credited", .bool(org.everCredited)),
            ("workspaces", .int(listing.workspaceCount)), ("created_at", .number(org.createdAt.epochSecondsText)),
        ])
    }

    public static func workspace(_ workspace: Workspace) -> JSONValue {
        .object([
            ("id", .string(workspace.id.rawValue)), ("name", .string(workspace.name)), ("slug", .string(workspace.slug)),
            ("monthly_budget_usd", workspace.monthlyBudget.map(JSONValue.money) ?? .null),
            ("created_at", .number(workspace.createdAt.epochSecondsText)),
        ])
    }

    public static func key(_ key: APIKeyInfo) -> JSONValue {
        .object([
            ("id", .string(key.id.rawValue)), ("name", .optionalString(key.name)), ("prefix", .string(key.prefix)),
            ("created_at", .number(key.createdAt.epochSecondsText)),
            ("last_used_at", key.lastUsedAt.map { .number($0.epochSecondsText) } ?? .null),
            ("revoked_at", key.revokedAt.map { .number($0.epochSecondsText) } ?? .null),
        ])
    }

    public static func event(_ event: UsageEventRecord) -> JSONValue {
        .object([
            ("seq", .int(event.sequence)), ("id", .string(event.id.rawValue)),
            ("ts", .number(event.timestamp.epochSecondsText)), ("time", .string(event.timestamp.iso8601)),
            ("provider", .string(event.provider)), ("model", .optionalString(event.model)),
            ("task_type", .string(event.taskType)), ("workspace", .optionalString(event.workspaceName)),
            ("workspace_id", .optionalString(event.workspaceID?.rawValue)),
            ("event_id", .optionalString(event.clientEventID)),
            ("input_tokens", .int(event.tokens.input)), ("output_tokens", .int(event.tokens.output)),
            ("cache_read_tokens", .int(event.tokens.cacheRead)), ("cache_write_tokens", .int(event.tokens.cacheWrite)),
            ("reasoning_tokens", .int(event.tokens.reasoning)), ("cost_usd", .money(event.cost)),
            ("estimated", .bool(event.costKind.isEstimated)), ("cost_kind", .string(event.costKind.rawValue)),
            ("price_version", .string(event.priceVersion)), ("source", .string(event.source)),
            ("entry_id", .optionalString(event.entryID?.rawValue)),
        ])
    }

    public static func entry(_ entry: LedgerEntryRecord) -> JSONValue {
        .object([
            ("seq", .int(entry.sequence)), ("id", .string(entry.id.rawValue)),
            ("ts", .number(entry.timestamp.epochSecondsText)), ("time", .string(entry.timestamp.iso8601)),
            ("kind", .string(entry.kind.rawValue)), ("amount_usd", .money(entry.amount)),
            ("debit", .string(entry.debitAccount.rawValue)), ("credit", .string(entry.creditAccount.rawValue)),
            ("reference", .string(entry.reference)), ("external_ref", .optionalString(entry.externalReference)),
            ("memo", .optionalString(entry.memo)), ("balance_after", .money(entry.balanceAfter)),
        ])
    }

    /// `name` is included when given (the CLI knows it; the API key's caller does not need it).
    public static func balance(_ snapshot: BalanceSnapshot, name: String? = nil) -> JSONValue {
        var members: [(String, JSONValue)] = [("org_id", .string(snapshot.organizationID.rawValue))]
        if let name { members.append(("name", .string(name))) }
        members += [
            ("tier", .string(snapshot.plan.rawValue)), ("balance", .money(snapshot.balance)),
            ("held_usd", .money(snapshot.held)), ("available_usd", .money(snapshot.available)),
            (
                "grants",
                .array(
                    snapshot.lots.map { lot in
                        .object([
                            ("grant_id", .string(lot.id.rawValue)), ("kind", .string(lot.kind.rawValue)),
                            ("remaining_usd", .money(lot.remaining)), ("amount_usd", .money(lot.amount)),
                            ("expires_at", .optionalString(lot.expiresAt?.iso8601Seconds)),
                            ("priority", lot.priority.map(JSONValue.int) ?? .null),
                        ])
                    })
            ),
            ("ever_credited", .bool(snapshot.everCredited)), ("allow_negative_balance", .bool(snapshot.hardStopExempt)),
            ("month", .string(snapshot.month.text)), ("mtd_spend", .money(snapshot.monthSpend)),
            ("mtd_events", .int(snapshot.monthEvents)), ("tracked_tokens_mtd", .int(snapshot.monthTrackedTokens)),
            ("tracked_limit", snapshot.plan.trackedTokensPerMonth.map(JSONValue.int) ?? .null),
            ("workspaces", .int(snapshot.workspaceCount)),
            ("workspaces_limit", snapshot.plan.workspacesMax.map(JSONValue.int) ?? .null),
        ]
        return .object(members)
    }

    public static func alert(_ alert: AlertRecord) -> JSONValue {
        .object([
            ("id", .string(alert.id.rawValue)), ("kind", .string(alert.kind.rawValue)),
            ("message", .string(alert.message)), ("period", .string(alert.period)),
            ("workspace_id", .optionalString(alert.workspaceID?.rawValue)),
            ("created_at", .number(alert.createdAt.epochSecondsText)),
        ])
    }

    public static func page<Item>(_ page: Page<Item>, render: (Item) -> JSONValue) -> JSONValue {
        .object([
            ("items", .array(page.items.map(render))),
            ("next_before", page.nextBefore.map(JSONValue.int) ?? .null),
        ])
    }
}

extension RecordJSON {
    public static func member(_ member: Member) -> JSONValue {
        .object([
            ("email", .string(member.email)), ("name", .optionalString(member.name)), ("role", .string(member.role.rawValue)),
            ("since", .string(member.since.iso8601Seconds)),
        ])
    }

    public static func invitation(_ invitation: Invitation) -> JSONValue {
        .object([
            ("email", .string(invitation.email)), ("role", .string(invitation.role.rawValue)),
            ("invited_by", .string(invitation.invitedBy)), ("created_at", .string(invitation.createdAt.iso8601Seconds)),
            ("expires_at", .string(invitation.expiresAt.iso8601Seconds)),
        ])
    }

    public static func audit(_ record: AuditRecord) -> JSONValue {
        .object([
            ("seq", .number(String(record.sequence))), ("time", .string(record.entry.at.iso8601Seconds)),
            ("actor", .string(record.entry.actor)), ("action", .string(record.entry.action.rawValue)),
            ("detail", .string(record.entry.detail)), ("request_id", .optionalString(record.entry.requestID)),
        ])
    }
}
