import PlutusCore
import PlutusStore
import PostgresNIO

/// Members, sessions and sign-ins under way, on PostgreSQL. A member change locks the
/// organization's row, so two changes of one organization see each other (the last owner stays).
extension PostgresStore {
    public func members(_ organizationID: OrganizationID) async throws -> [Member] {
        try await withConnection { connection in
            _ = try await Self.requireOrganization(connection, organizationID, logger: self.logger)
            return try await Self.members(connection, organizationID, logger: self.logger)
        }
    }

    static func members(_ connection: PostgresConnection, _ organizationID: OrganizationID, logger: Logger) async throws
        -> [Member]
    {
        try await connection.query(
            """
            SELECT u.id, u.email, u.name, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id
            WHERE m.org_id = \(organizationID.rawValue)
            """, logger: logger
        ).rows().map { row in
            Member(
                userID: UserID(rawValue: try row.string("id")), email: try row.string("email"),
                name: try row.optionalString("name"),
                role: try StoreError.decode(try row.string("role"), column: "memberships.role"),
                since: Timestamp(rawValue: try row.int64("created_at")))
        }.sorted { ($0.role == .owner ? 0 : 1, $0.email.lowercased()) < ($1.role == .owner ? 0 : 1, $1.email.lowercased()) }
    }

    public func memberships(email: String) async throws -> [Membership] {
        try await withConnection { connection in
            try await connection.query(
                """
                SELECT o.*, m.role AS member_role FROM memberships m JOIN users u ON u.id = m.user_id
                JOIN organizations o ON o.id = m.org_id
                WHERE lower(u.email) = lower(\(email)) ORDER BY o.created_at, o.name, o.id
                """, logger: self.logger
            ).rows().map { row in
                Membership(
                    organization: try Self.organization(row),
                    role: try StoreError.decode(try row.string("member_role"), column: "memberships.role"))
            }
        }
    }

    public func setMember(_ organizationID: OrganizationID, email: String, name: String?, role: MemberRole, at time: Timestamp)
        async throws -> Member
    {
        let email = try StoreValidation.email(email).lowercased()
        return try await transaction { connection in
            try await Self.setMember(
                connection, organizationID, email: email, name: name, role: role, at: time, logger: self.logger)
        }
    }

    static func setMember(
        _ connection: PostgresConnection, _ organizationID: OrganizationID, email: String, name: String?, role: MemberRole,
        at time: Timestamp, logger: Logger
    ) async throws -> Member {
        try await Self.lockMembers(connection, organizationID, logger: logger)
        try MemberRules.check(try await Self.members(connection, organizationID, logger: logger), email: email, becoming: role)
        let userID = try await Self.user(connection, email: email, name: name, at: time, logger: logger)
        try await connection.query(
            """
            INSERT INTO memberships(org_id, user_id, role, created_at)
            VALUES (\(organizationID.rawValue), \(userID.rawValue), \(role.rawValue), \(time.millis))
            ON CONFLICT (org_id, user_id) DO UPDATE SET role = excluded.role
            """, logger: logger)
        return try await Self.members(connection, organizationID, logger: logger).first { $0.userID == userID }!
    }

    public func removeMember(_ organizationID: OrganizationID, email: String, at time: Timestamp) async throws {
        try await transaction { connection in
            let logger = self.logger
            try await Self.lockMembers(connection, organizationID, logger: logger)
            let members = try await Self.members(connection, organizationID, logger: logger)
            try MemberRules.check(members, email: email, becoming: nil)
            let userID = members.first { $0.email.lowercased() == email.lowercased() }!.userID.rawValue
            try await connection.query(
                "DELETE FROM memberships WHERE org_id = \(organizationID.rawValue) AND user_id = \(userID)", logger: logger)
            try await connection.query(
                """
                UPDATE sessions SET revoked_at = \(time.millis)
                WHERE user_id = \(userID) AND revoked_at IS NULL
                  AND NOT EXISTS (SELECT 1 FROM memberships WHERE user_id = \(userID))
                """, logger: logger)
        }
    }

    /// Locks the organization's row for a change of its members.
    static func lockMembers(_ connection: PostgresConnection, _ organizationID: OrganizationID, logger: Logger) async throws {
        let found = try await connection.query(
            "SELECT id FROM organizations WHERE id = \(organizationID.rawValue) FOR UPDATE", logger: logger
        ).collect()
        guard !found.isEmpty else { throw StoreError.organizationNotFound(organizationID.rawValue) }
    }

    /// The person with this email, created (with `name`) when new.
    static func user(_ connection: PostgresConnection, email: String, name: String?, at time: Timestamp, logger: Logger)
        async throws -> UserID
    {
        try await connection.query(
            """
            INSERT INTO users(id, email, name, created_at) VALUES (\(UserID.random().rawValue), \(email), \(name), \(time.millis))
            ON CONFLICT (lower(email)) DO UPDATE SET name = COALESCE(users.name, excluded.name)
            """, logger: logger)
        let id = try await connection.query("SELECT id FROM users WHERE lower(email) = lower(\(email))", logger: logger)
            .collect().first!.decode(String.self)
        return UserID(rawValue: id)
    }

    public func createSession(email: String, tokenHash: String, policy: SessionPolicy, at time: Timestamp) async throws
        -> SessionRecord
    {
        try await transaction { connection in
            let logger = self.logger
            guard
                let id = try await connection.query("SELECT id FROM users WHERE lower(email) = lower(\(email))", logger: logger)
                    .collect().first?.decode(String.self)
            else { throw StoreError.memberNotFound(email) }
            let expires = policy.expiry(created: time, lastSeen: time)
            try await connection.query(
                """
                INSERT INTO sessions(token_hash, user_id, created_at, last_seen_at, expires_at)
                VALUES (\(tokenHash), \(id), \(time.millis), \(time.millis), \(expires.millis))
                """, logger: logger)
            return try await Self.session(connection, tokenHash, logger: logger)!
        }
    }

    public func session(tokenHash: String) async throws -> SessionRecord? {
        try await withConnection { connection in try await Self.session(connection, tokenHash, logger: self.logger) }
    }

    static func session(_ connection: PostgresConnection, _ tokenHash: String, logger: Logger) async throws -> SessionRecord? {
        try await connection.query(
            """
            SELECT s.token_hash, s.user_id, u.email, s.created_at, s.last_seen_at, s.expires_at, s.revoked_at
            FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = \(tokenHash)
            """, logger: logger
        ).rows().first.map { row in
            SessionRecord(
                tokenHash: try row.string("token_hash"), userID: UserID(rawValue: try row.string("user_id")),
                email: try row.string("email"), createdAt: Timestamp(rawValue: try row.int64("created_at")),
                lastSeenAt: Timestamp(rawValue: try row.int64("last_seen_at")),
                expiresAt: Timestamp(rawValue: try row.int64("expires_at")),
                revokedAt: try row.optionalInt64("revoked_at").map { Timestamp(rawValue: $0) })
        }
    }

    public func touchSession(tokenHash: String, policy: SessionPolicy, at time: Timestamp) async throws {
        try await withConnection { connection in
            // The idle expiry moves, never past the absolute one (kept by the policy's formula).
            let absolute = policy.absoluteSeconds * 1_000
            let idle = policy.idleSeconds * 1_000
            try await connection.query(
                """
                UPDATE sessions SET last_seen_at = \(time.millis),
                       expires_at = LEAST(created_at + \(absolute), \(time.millis) + \(idle))
                WHERE token_hash = \(tokenHash) AND revoked_at IS NULL AND expires_at > \(time.millis)
                """, logger: self.logger)
        }
    }

    public func revokeSession(tokenHash: String, at time: Timestamp) async throws {
        _ = try await withConnection { connection in
            try await connection.query(
                "UPDATE sessions SET revoked_at = \(time.millis) WHERE token_hash = \(tokenHash) AND revoked_at IS NULL",
                logger: self.logger)
        }
    }

    public func revokeSessions(email: String, at time: Timestamp) async throws -> Int {
        try await withConnection { connection in
            try await connection.query(
                """
                UPDATE sessions SET revoked_at = \(time.millis)
                WHERE revoked_at IS NULL AND expires_at > \(time.millis)
                  AND user_id = (SELECT id FROM users WHERE lower(email) = lower(\(email)))
                RETURNING token_hash
                """, logger: self.logger
            ).collect().count
        }
    }

    public func purgeSignIns(before time: Timestamp) async throws -> Int {
        try await transaction { connection in
            let sessions = try await connection.query(
                "DELETE FROM sessions WHERE expires_at < \(time.millis) OR revoked_at < \(time.millis) RETURNING token_hash",
                logger: self.logger
            ).collect().count
            let states = try await connection.query(
                "DELETE FROM sign_in_states WHERE expires_at < \(time.millis) RETURNING state_hash", logger: self.logger
            ).collect().count
            return sessions + states
        }
    }

    public func saveSignInState(_ state: SignInState) async throws {
        _ = try await withConnection { connection in
            try await connection.query(
                """
                INSERT INTO sign_in_states(state_hash, nonce, verifier, return_to, expires_at, invitation_hash)
                VALUES (\(state.stateHash), \(state.nonce), \(state.verifier), \(state.returnTo), \(state.expiresAt.millis),
                        \(state.invitationHash))
                """, logger: self.logger)
        }
    }

    public func takeSignInState(stateHash: String, at time: Timestamp) async throws -> SignInState? {
        try await withConnection { connection in
            // DELETE … RETURNING: of two callbacks with one state, only one gets it.
            guard
                let row = try await connection.query(
                    """
                    DELETE FROM sign_in_states WHERE state_hash = \(stateHash)
                    RETURNING nonce, verifier, return_to, expires_at, invitation_hash
                    """,
                    logger: self.logger
                ).rows().first
            else { return nil }
            let state = SignInState(
                stateHash: stateHash, nonce: try row.string("nonce"), verifier: try row.string("verifier"),
                returnTo: try row.optionalString("return_to"), expiresAt: Timestamp(rawValue: try row.int64("expires_at")),
                invitationHash: try row.optionalString("invitation_hash"))
            return time < state.expiresAt ? state : nil
        }
    }

    // MARK: invitations and the audit log

    public func createInvitation(_ invitation: Invitation) async throws {
        let email = try StoreValidation.email(invitation.email).lowercased()
        try await transaction { connection in
            let logger = self.logger
            try await Self.lockMembers(connection, invitation.organizationID, logger: logger)
            if try await Self.members(connection, invitation.organizationID, logger: logger).contains(where: {
                $0.email.lowercased() == email
            }) {
                throw StoreError.alreadyMember(email)
            }
            try await connection.query(
                """
                INSERT INTO invitations(token_hash, org_id, email, role, invited_by, created_at, expires_at)
                VALUES (\(invitation.tokenHash), \(invitation.organizationID.rawValue), \(email), \(invitation.role.rawValue),
                        \(invitation.invitedBy), \(invitation.createdAt.millis), \(invitation.expiresAt.millis))
                """, logger: logger)
        }
    }

    static func invitation(_ row: PostgresRandomAccessRow) throws -> Invitation {
        Invitation(
            tokenHash: try row.string("token_hash"), organizationID: OrganizationID(rawValue: try row.string("org_id")),
            email: try row.string("email"), role: try StoreError.decode(try row.string("role"), column: "invitations.role"),
            invitedBy: try row.string("invited_by"), createdAt: Timestamp(rawValue: try row.int64("created_at")),
            expiresAt: Timestamp(rawValue: try row.int64("expires_at")),
            acceptedAt: try row.optionalInt64("accepted_at").map { Timestamp(rawValue: $0) })
    }

    public func invitation(tokenHash: String) async throws -> Invitation? {
        try await withConnection { connection in
            try await connection.query("SELECT * FROM invitations WHERE token_hash = \(tokenHash)", logger: self.logger)
                .rows().first.map(Self.invitation)
        }
    }

    public func pendingInvitations(_ organizationID: OrganizationID, at time: Timestamp) async throws -> [Invitation] {
        try await withConnection { connection in
            _ = try await Self.requireOrganization(connection, organizationID, logger: self.logger)
            return try await connection.query(
                """
                SELECT * FROM invitations
                WHERE org_id = \(organizationID.rawValue) AND accepted_at IS NULL AND expires_at > \(time.millis)
                ORDER BY created_at DESC, token_hash
                """, logger: self.logger
            ).rows().map(Self.invitation)
        }
    }

    public func acceptInvitation(tokenHash: String, email: String, name: String?, at time: Timestamp) async throws -> Member {
        try await transaction { connection in
            let logger = self.logger
            // FOR UPDATE: of two acceptances of one invitation, the second sees the first's.
            let found = try await connection.query(
                "SELECT * FROM invitations WHERE token_hash = \(tokenHash) FOR UPDATE", logger: logger
            ).rows().first.map(Self.invitation)
            if let refusal = InvitationRules.refusal(found, email: email, at: time) {
                throw StoreError.invitationRefused(refusal)
            }
            let invitation = found!
            try await connection.query(
                "UPDATE invitations SET accepted_at = \(time.millis) WHERE token_hash = \(tokenHash)", logger: logger)
            return try await Self.setMember(
                connection, invitation.organizationID, email: invitation.email.lowercased(), name: name, role: invitation.role,
                at: time, logger: logger)
        }
    }

    public func recordAudit(_ entry: AuditEntry) async throws {
        _ = try await withConnection { connection in
            try await connection.query(
                """
                INSERT INTO audit_log(org_id, at, actor, action, detail, request_id)
                VALUES (\(entry.organizationID.rawValue), \(entry.at.millis), \(entry.actor), \(entry.action.rawValue),
                        \(entry.detail), \(entry.requestID))
                """, logger: self.logger)
        }
    }

    public func auditLog(_ organizationID: OrganizationID, before: Int64?, limit: Int) async throws -> [AuditRecord] {
        try await withConnection { connection in
            _ = try await Self.requireOrganization(connection, organizationID, logger: self.logger)
            return try await connection.query(
                """
                SELECT seq, at, actor, action, detail, request_id FROM audit_log
                WHERE org_id = \(organizationID.rawValue) AND seq < \(before ?? Int64.max) ORDER BY seq DESC LIMIT \(limit)
                """, logger: self.logger
            ).rows().map { row in
                AuditRecord(
                    sequence: try row.int64("seq"),
                    entry: AuditEntry(
                        organizationID: organizationID, at: Timestamp(rawValue: try row.int64("at")),
                        actor: try row.string("actor"),
                        action: try StoreError.decode(try row.string("action"), column: "audit_log.action"),
                        detail: try row.string("detail"), requestID: try row.optionalString("request_id")))
            }
        }
    }
}
