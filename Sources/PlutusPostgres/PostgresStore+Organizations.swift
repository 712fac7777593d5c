import PlutusCore
import PlutusStore
import PostgresNIO

extension PostgresStore {
    public func createOrganization(name: String, plan: Plan, ownerEmail: String?) async throws -> Organization {
        let trimmed = try StoreValidation.name(name, field: "name")
        let email = try ownerEmail.map(StoreValidation.email)
        let now = Timestamp.now()
        return try await transaction { connection in
            let taken = Set(
                try await connection.query(
                    "SELECT slug FROM organizations WHERE slug LIKE \(Slug.make(from: trimmed) + "%")", logger: self.logger
                ).collect().map { try $0.decode(String.self) })
            let slug = Slug.unique(Slug.make(from: trimmed)) { taken.contains($0) }
            let org = Organization(
                id: .random(), name: trimmed, slug: slug, plan: plan, hardStopExempt: false, everCredited: false,
                stripeCustomerID: nil, createdAt: now)
            try await connection.query(
                """
                INSERT INTO organizations(id, name, slug, plan, created_at)
                VALUES (\(org.id.rawValue), \(org.name), \(org.slug), \(plan.rawValue), \(now.millis))
                """, logger: self.logger)
            try await connection.query(
                """
                INSERT INTO accounts(org_id, code, balance_micros)
                SELECT \(org.id.rawValue), code, 0 FROM unnest(\(AccountCode.allCases.map(\.rawValue))::text[]) AS code
                """, logger: self.logger)
            if let email {
                try await connection.query(
                    """
                    INSERT INTO users(id, email, created_at) VALUES (\(UserID.random().rawValue), \(email), \(now.millis))
                    ON CONFLICT (lower(email)) DO NOTHING
                    """, logger: self.logger)
                try await connection.query(
                    """
                    INSERT INTO memberships(org_id, user_id, role, created_at)
                    SELECT \(org.id.rawValue), id, 'owner', \(now.millis) FROM users WHERE lower(email) = lower(\(email))
                    """, logger: self.logger)
            }
            return org
        }
    }

    public func listOrganizations() async throws -> [OrganizationListing] {
        try await withConnection { connection in
            try await connection.query(
                """
                SELECT o.*, a.balance_micros,
                       (SELECT COUNT(*) FROM workspaces w WHERE w.org_id = o.id) AS workspace_count
                FROM organizations o JOIN accounts a ON a.org_id = o.id AND a.code = 'credit'
                ORDER BY o.created_at, o.id
                """, logger: self.logger
            ).rows().map { row in
                OrganizationListing(
                    organization: try Self.organization(row), balance: MicroDollars(rawValue: try row.int64("balance_micros")),
                    workspaceCount: Int(try row.int64("workspace_count")))
            }
        }
    }

    public func findOrganization(_ reference: String) async throws -> Organization? {
        try await withConnection { connection in try await Self.findOrganization(connection, reference, logger: self.logger) }
    }

    static func findOrganization(_ connection: PostgresConnection, _ reference: String, logger: Logger) async throws
        -> Organization?
    {
        try await connection.query(
            """
            SELECT * FROM organizations WHERE id = \(reference) OR slug = \(reference) OR name = \(reference)
            ORDER BY (id = \(reference)) DESC, (slug = \(reference)) DESC, created_at LIMIT 1
            """, logger: logger
        ).rows().first.map(organization)
    }

    static func requireOrganization(_ connection: PostgresConnection, _ id: OrganizationID, logger: Logger) async throws
        -> Organization
    {
        guard
            let row = try await connection.query("SELECT * FROM organizations WHERE id = \(id.rawValue)", logger: logger)
                .rows().first
        else { throw StoreError.organizationNotFound(id.rawValue) }
        return try organization(row)
    }

    static func organization(_ row: PostgresRandomAccessRow) throws -> Organization {
        Organization(
            id: OrganizationID(rawValue: try row.string("id")), name: try row.string("name"), slug: try row.string("slug"),
            plan: try StoreError.decode(try row.string("plan"), column: "organizations.plan"),
            hardStopExempt: try row.bool("hard_stop_exempt"),
            everCredited: try row.bool("ever_credited"), stripeCustomerID: try row.optionalString("stripe_customer_id"),
            createdAt: Timestamp(rawValue: try row.int64("created_at")))
    }

    public func setHardStopExempt(_ organizationID: OrganizationID, exempt: Bool) async throws -> Organization {
        try await transaction { connection in
            try await connection.query(
                "UPDATE organizations SET hard_stop_exempt = \(exempt) WHERE id = \(organizationID.rawValue)", logger: self.logger
            )
            return try await Self.requireOrganization(connection, organizationID, logger: self.logger)
        }
    }

    // MARK: workspaces

    public func createWorkspace(_ organizationID: OrganizationID, name: String, monthlyBudget: MicroDollars?)
        async throws -> Workspace
    {
        let trimmed = try StoreValidation.name(name, field: "name")
        try StoreValidation.budget(monthlyBudget)
        let now = Timestamp.now()
        return try await transaction { connection in
            // The accounts lock serializes workspace creation with ingest, which creates
            // workspaces on the fly.
            _ = try await Self.lockOrganization(connection, organizationID, logger: self.logger)
            let existing = try await Self.workspaces(connection, organizationID, logger: self.logger)
            if WorkspaceMatch.find(trimmed, in: existing) != nil { throw StoreError.nameTaken(trimmed) }
            let workspace = WorkspaceMatch.new(
                name: trimmed, organizationID: organizationID, budget: monthlyBudget, at: now, among: existing)
            try await Self.insertWorkspaces(connection, [workspace], logger: self.logger)
            if let monthlyBudget {
                try await Self.insertBudget(
                    connection, .workspaceMonthly(workspace, limit: monthlyBudget, at: now), logger: self.logger)
            }
            return workspace
        }
    }

    /// The organization's workspaces, oldest first.
    static func workspaces(_ connection: PostgresConnection, _ organizationID: OrganizationID, logger: Logger) async throws
        -> [Workspace]
    {
        try await connection.query(
            "SELECT * FROM workspaces WHERE org_id = \(organizationID.rawValue) ORDER BY created_at, seq", logger: logger
        ).rows().map(workspace)
    }

    static func insertWorkspaces(_ connection: PostgresConnection, _ workspaces: [Workspace], logger: Logger) async throws {
        for workspace in workspaces {
            try await connection.query(
                """
                INSERT INTO workspaces(id, org_id, name, slug, monthly_budget_micros, created_at)
                VALUES (\(workspace.id.rawValue), \(workspace.organizationID.rawValue), \(workspace.name), \(workspace.slug),
                        \(workspace.monthlyBudget?.rawValue), \(workspace.createdAt.millis))
                """, logger: logger)
        }
    }

    static func workspace(_ row: PostgresRandomAccessRow) throws -> Workspace {
        Workspace(
            id: WorkspaceID(rawValue: try row.string("id")), organizationID: OrganizationID(rawValue: try row.string("org_id")),
            name: try row.string("name"), slug: try row.string("slug"),
            monthlyBudget: try row.optionalInt64("monthly_budget_micros").map(MicroDollars.init(rawValue:)),
            createdAt: Timestamp(rawValue: try row.int64("created_at")))
    }

    public func listWorkspaces(_ organizationID: OrganizationID) async throws -> [Workspace] {
        try await withConnection { connection in
            _ = try await Self.requireOrganization(connection, organizationID, logger: self.logger)
            return try await Self.workspaces(connection, organizationID, logger: self.logger)
        }
    }

    // MARK: API keys

    public func createAPIKey(_ organizationID: OrganizationID, name: String?) async throws -> CreatedAPIKey {
        let label = try name.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
            .map { try StoreValidation.name($0, field: "name") }
        let secret = APIKeySecret.generate()
        let now = Timestamp.now()
        return try await transaction { connection in
            _ = try await Self.requireOrganization(connection, organizationID, logger: self.logger)
            let info = APIKeyInfo(
                id: .random(), organizationID: organizationID, name: label, prefix: APIKeySecret.displayPrefix(secret),
                createdAt: now, lastUsedAt: nil, revokedAt: nil)
            try await connection.query(
                """
                INSERT INTO api_keys(id, org_id, name, prefix, token_hash, created_at)
                VALUES (\(info.id.rawValue), \(organizationID.rawValue), \(label), \(info.prefix), \(APIKeySecret.hash(secret)),
                        \(now.millis))
                """, logger: self.logger)
            return CreatedAPIKey(info: info, secret: secret)
        }
    }

    public func listAPIKeys(_ organizationID: OrganizationID) async throws -> [APIKeyInfo] {
        try await withConnection { connection in
            _ = try await Self.requireOrganization(connection, organizationID, logger: self.logger)
            return try await connection.query(
                "SELECT * FROM api_keys WHERE org_id = \(organizationID.rawValue) ORDER BY created_at DESC, seq DESC",
                logger: self.logger
            ).rows().map { row in
                APIKeyInfo(
                    id: APIKeyID(rawValue: try row.string("id")), organizationID: organizationID,
                    name: try row.optionalString("name"), prefix: try row.string("prefix"),
                    createdAt: Timestamp(rawValue: try row.int64("created_at")),
                    lastUsedAt: try row.optionalInt64("last_used_at").map(Timestamp.init(rawValue:)),
                    revokedAt: try row.optionalInt64("revoked_at").map(Timestamp.init(rawValue:)))
            }
        }
    }

    public func revokeAPIKey(_ organizationID: OrganizationID, keyID: APIKeyID) async throws -> Bool {
        let now = Timestamp.now()
        defer { keyCache.clear() }
        return try await transaction { connection in
            try await connection.query(
                """
                UPDATE api_keys SET revoked_at = \(now.millis)
                WHERE id = \(keyID.rawValue) AND org_id = \(organizationID.rawValue) AND revoked_at IS NULL
                RETURNING id
                """, logger: self.logger
            ).collect().count == 1
        }
    }

    public func authenticateAPIKey(secret: String) async throws -> APIKeyIdentity? {
        guard APIKeySecret.isWellFormed(secret) else { return nil }
        let hash = APIKeySecret.hash(secret)
        let now = Timestamp.now()
        if let cached = keyCache.identity(hash: hash, now: now) { return cached }
        return try await withConnection { connection in
            guard
                let row = try await connection.query(
                    "SELECT id, org_id, last_used_at FROM api_keys WHERE token_hash = \(hash) AND revoked_at IS NULL",
                    logger: self.logger
                ).rows().first
            else { return nil }
            let identity = APIKeyIdentity(
                keyID: APIKeyID(rawValue: try row.string("id")),
                organizationID: OrganizationID(rawValue: try row.string("org_id")))
            self.keyCache.remember(hash: hash, identity, now: now)
            if try row.optionalInt64("last_used_at").map({ now.millis - $0 >= StoreValidation.keyTouchIntervalMillis }) ?? true {
                try await connection.query(
                    "UPDATE api_keys SET last_used_at = \(now.millis) WHERE id = \(identity.keyID.rawValue)", logger: self.logger)
            }
            return identity
        }
    }
}

/// Workspace lookup by id, slug or name, in memory, with the precedence the SQL lookups use:
/// an id match, then a slug match, then the oldest with that name.
enum WorkspaceMatch {
    static func find(_ reference: String, in workspaces: [Workspace]) -> Workspace? {
        workspaces.first { $0.id.rawValue == reference } ?? workspaces.first { $0.slug == reference }
            ?? workspaces.first { $0.name == reference }
    }

    /// A new workspace with a slug unique among `existing`.
    static func new(
        name: String, organizationID: OrganizationID, budget: MicroDollars?, at time: Timestamp, among existing: [Workspace]
    )
        -> Workspace
    {
        let slugs = Set(existing.map(\.slug))
        return Workspace(
            id: .random(), organizationID: organizationID, name: name,
            slug: Slug.unique(Slug.make(from: name)) { slugs.contains($0) }, monthlyBudget: budget, createdAt: time)
    }
}
