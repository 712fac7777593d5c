import GRDB
import PlutusCore
import PlutusStore

extension SQLiteStore {
    public func createOrganization(name: String, plan: Plan, ownerEmail: String?) async throws -> Organization {
        let trimmed = try StoreValidation.name(name, field: "name")
        let email = try ownerEmail.map(StoreValidation.email)
        let now = Timestamp.now()
        return try await writeTransaction { db in
            let slug = try Slug.unique(Slug.make(from: trimmed)) { candidate in
                try Bool.fetchOne(db, sql: "SELECT 1 FROM organizations WHERE slug = ?", arguments: [candidate]) ?? false
            }
            let org = Organization(
                id: .random(), name: trimmed, slug: slug, plan: plan, hardStopExempt: false, everCredited: false,
                stripeCustomerID: nil, createdAt: now)
            try db.execute(
                sql: "INSERT INTO organizations(id, name, slug, plan, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [org.id.rawValue, org.name, org.slug, plan.rawValue, now.millis])
            for code in AccountCode.allCases {
                try db.execute(
                    sql: "INSERT INTO accounts(org_id, code, balance_micros) VALUES (?, ?, 0)",
                    arguments: [org.id.rawValue, code.rawValue])
            }
            if let email {
                var userID = try String.fetchOne(db, sql: "SELECT id FROM users WHERE email = ?", arguments: [email])
                if userID == nil {
                    let fresh = UserID.random().rawValue
                    try db.execute(
                        sql: "INSERT INTO users(id, email, created_at) VALUES (?, ?, ?)",
                        arguments: [fresh, email, now.millis])
                    userID = fresh
                }
                try db.execute(
                    sql: "INSERT INTO memberships(org_id, user_id, role, created_at) VALUES (?, ?, 'owner', ?)",
                    arguments: [org.id.rawValue, userID, now.millis])
            }
            return org
        }
    }

    public func listOrganizations() async throws -> [OrganizationListing] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT o.*, a.balance_micros,
                           (SELECT COUNT(*) FROM workspaces w WHERE w.org_id = o.id) AS workspace_count
                    FROM organizations o JOIN accounts a ON a.org_id = o.id AND a.code = 'credit'
                    ORDER BY o.created_at, o.id
                    """
            ).map { row in
                OrganizationListing(
                    organization: try Self.organization(row), balance: MicroDollars(rawValue: row["balance_micros"]),
                    workspaceCount: row["workspace_count"])
            }
        }
    }

    public func findOrganization(_ reference: String) async throws -> Organization? {
        try await read { db in try Self.findOrganization(db, reference) }
    }

    static func findOrganization(_ db: Database, _ reference: String) throws -> Organization? {
        let row = try Row.fetchOne(
            db,
            sql: """
                SELECT * FROM organizations WHERE id = ?1 OR slug = ?1 OR name = ?1
                ORDER BY (id = ?1) DESC, (slug = ?1) DESC, created_at LIMIT 1
                """, arguments: [reference])
        return try row.map(organization)
    }

    static func requireOrganization(_ db: Database, _ id: OrganizationID) throws -> Organization {
        guard
            let row = try Row.fetchOne(
                try db.cachedStatement(sql: "SELECT * FROM organizations WHERE id = ?"), arguments: [id.rawValue])
        else { throw StoreError.organizationNotFound(id.rawValue) }
        return try organization(row)
    }

    static func organization(_ row: Row) throws -> Organization {
        Organization(
            id: OrganizationID(rawValue: row["id"]), name: row["name"], slug: row["slug"],
            plan: try StoreError.decode(row["plan"], column: "organizations.plan"), hardStopExempt: row["hard_stop_exempt"],
            everCredited: row["ever_credited"], stripeCustomerID: row["stripe_customer_id"],
            createdAt: Timestamp(rawValue: row["created_at"]))
    }

    public func setHardStopExempt(_ organizationID: OrganizationID, exempt: Bool) async throws -> Organization {
        try await writeTransaction { db in
            try db.execute(
                sql: "UPDATE organizations SET hard_stop_exempt = ? WHERE id = ?",
                arguments: [exempt, organizationID.rawValue])
            return try Self.requireOrganization(db, organizationID)
        }
    }

    // MARK: workspaces

    public func createWorkspace(_ organizationID: OrganizationID, name: String, monthlyBudget: MicroDollars?)
        async throws -> Workspace
    {
        let trimmed = try StoreValidation.name(name, field: "name")
        try StoreValidation.budget(monthlyBudget)
        let now = Timestamp.now()
        return try await writeTransaction { db in
            _ = try Self.requireOrganization(db, organizationID)
            if try Self.findWorkspace(db, organizationID, trimmed) != nil { throw StoreError.nameTaken(trimmed) }
            return try Self.insertWorkspace(db, organizationID, name: trimmed, budget: monthlyBudget, at: now)
        }
    }

    static func insertWorkspace(
        _ db: Database, _ organizationID: OrganizationID, name: String, budget: MicroDollars?, at now: Timestamp
    ) throws -> Workspace {
        let slug = try Slug.unique(Slug.make(from: name)) { candidate in
            try Bool.fetchOne(
                db, sql: "SELECT 1 FROM workspaces WHERE org_id = ? AND slug = ?",
                arguments: [organizationID.rawValue, candidate]) ?? false
        }
        let workspace = Workspace(
            id: .random(), organizationID: organizationID, name: name, slug: slug, monthlyBudget: budget, createdAt: now)
        try db.execute(
            sql: """
                INSERT INTO workspaces(id, org_id, name, slug, monthly_budget_micros, created_at)
                VALUES (?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                workspace.id.rawValue, organizationID.rawValue, name, slug, budget?.rawValue, now.millis,
            ])
        if let budget { try insertBudget(db, .workspaceMonthly(workspace, limit: budget, at: now)) }
        return workspace
    }

    /// The workspace of this organization whose id, slug or name is `reference`.
    static func findWorkspace(_ db: Database, _ organizationID: OrganizationID, _ reference: String) throws -> Workspace? {
        try Row.fetchOne(
            try db.cachedStatement(
                sql: """
                    SELECT * FROM workspaces WHERE org_id = ?1 AND (id = ?2 OR slug = ?2 OR name = ?2)
                    ORDER BY (id = ?2) DESC, (slug = ?2) DESC, created_at LIMIT 1
                    """), arguments: [organizationID.rawValue, reference]
        ).map(workspace)
    }

    static func workspace(_ row: Row) -> Workspace {
        Workspace(
            id: WorkspaceID(rawValue: row["id"]), organizationID: OrganizationID(rawValue: row["org_id"]),
            name: row["name"], slug: row["slug"],
            monthlyBudget: (row["monthly_budget_micros"] as Int64?).map(MicroDollars.init(rawValue:)),
            createdAt: Timestamp(rawValue: row["created_at"]))
    }

    public func listWorkspaces(_ organizationID: OrganizationID) async throws -> [Workspace] {
        try await read { db in
            _ = try Self.requireOrganization(db, organizationID)
            return try Row.fetchAll(
                db, sql: "SELECT * FROM workspaces WHERE org_id = ? ORDER BY created_at, rowid",
                arguments: [organizationID.rawValue]
            ).map(Self.workspace)
        }
    }

    // MARK: API keys

    public func createAPIKey(_ organizationID: OrganizationID, name: String?) async throws -> CreatedAPIKey {
        let label = try name.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0 }
            .map { try StoreValidation.name($0, field: "name") }
        let secret = APIKeySecret.generate()
        let now = Timestamp.now()
        return try await writeTransaction { db in
            _ = try Self.requireOrganization(db, organizationID)
            let info = APIKeyInfo(
                id: .random(), organizationID: organizationID, name: label, prefix: APIKeySecret.displayPrefix(secret),
                createdAt: now, lastUsedAt: nil, revokedAt: nil)
            try db.execute(
                sql: "INSERT INTO api_keys(id, org_id, name, prefix, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [
                    info.id.rawValue, organizationID.rawValue, label, info.prefix, APIKeySecret.hash(secret), now.millis,
                ])
            return CreatedAPIKey(info: info, secret: secret)
        }
    }

    public func listAPIKeys(_ organizationID: OrganizationID) async throws -> [APIKeyInfo] {
        try await read { db in
            _ = try Self.requireOrganization(db, organizationID)
            return try Row.fetchAll(
                db, sql: "SELECT * FROM api_keys WHERE org_id = ? ORDER BY created_at DESC, rowid DESC",
                arguments: [organizationID.rawValue]
            ).map { row in
                APIKeyInfo(
                    id: APIKeyID(rawValue: row["id"]), organizationID: organizationID, name: row["name"],
                    prefix: row["prefix"], createdAt: Timestamp(rawValue: row["created_at"]),
                    lastUsedAt: (row["last_used_at"] as Int64?).map(Timestamp.init(rawValue:)),
                    revokedAt: (row["revoked_at"] as Int64?).map(Timestamp.init(rawValue:)))
            }
        }
    }

    public func revokeAPIKey(_ organizationID: OrganizationID, keyID: APIKeyID) async throws -> Bool {
        let now = Timestamp.now()
        defer { keyCache.clear() }
        return try await writeTransaction { db in
            try db.execute(
                sql: "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND org_id = ? AND revoked_at IS NULL",
                arguments: [now.millis, keyID.rawValue, organizationID.rawValue])
            return db.changesCount == 1
        }
    }

    public func authenticateAPIKey(secret: String) async throws -> APIKeyIdentity? {
        guard APIKeySecret.isWellFormed(secret) else { return nil }
        let hash = APIKeySecret.hash(secret)
        if let cached = keyCache.identity(hash: hash, now: Timestamp.now()) { return cached }
        let found = try await read { db -> (APIKeyIdentity, Int64?)? in
            guard
                let row = try Row.fetchOne(
                    try db.cachedStatement(
                        sql: "SELECT id, org_id, last_used_at FROM api_keys WHERE token_hash = ? AND revoked_at IS NULL"),
                    arguments: [hash])
            else { return nil }
            let identity = APIKeyIdentity(
                keyID: APIKeyID(rawValue: row["id"]), organizationID: OrganizationID(rawValue: row["org_id"]))
            return (identity, row["last_used_at"])
        }
        guard let (identity, lastUsed) = found else { return nil }
        let now = Timestamp.now()
        keyCache.remember(hash: hash, identity, now: now)
        if lastUsed.map({ now.millis - $0 >= StoreValidation.keyTouchIntervalMillis }) ?? true {
            try await writeTransaction { db in
                try db.execute(
                    sql: "UPDATE api_keys SET last_used_at = ? WHERE id = ?", arguments: [now.millis, identity.keyID.rawValue])
            }
        }
        return identity
    }
}
