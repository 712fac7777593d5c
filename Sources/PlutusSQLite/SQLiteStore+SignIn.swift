import GRDB
import PlutusCore
import PlutusStore

/// Members, sessions and sign-ins under way, on SQLite.
extension SQLiteStore {
    public func members(_ organizationID: OrganizationID) async throws -> [Member] {
        try await read { db in
            _ = try Self.requireOrganization(db, organizationID)
            return try Self.members(db, organizationID)
        }
    }

    static func members(_ db: Database, _ organizationID: OrganizationID) throws -> [Member] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT u.id, u.email, u.name, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id
                WHERE m.org_id = ?
                """, arguments: [organizationID.rawValue]
        ).map { row in
            Member(
                userID: UserID(rawValue: row[0]), email: row[1], name: row[2],
                role: try StoreError.decode(row[3], column: "memberships.role"), since: Timestamp(rawValue: row[4]))
        }.sorted { ($0.role == .owner ? 0 : 1, $0.email.lowercased()) < ($1.role == .owner ? 0 : 1, $1.email.lowercased()) }
    }

    public func memberships(email: String) async throws -> [Membership] {
        try await read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT o.id, m.role FROM memberships m JOIN users u ON u.id = m.user_id JOIN organizations o ON o.id = m.org_id
                    WHERE u.email = ? ORDER BY o.created_at, o.name, o.id
                    """, arguments: [email]
            ).map { row in
                Membership(
                    organization: try Self.requireOrganization(db, OrganizationID(rawValue: row[0])),
                    role: try StoreError.decode(row[1], column: "memberships.role"))
            }
        }
    }

    public func setMember(_ organizationID: OrganizationID, email: String, name: String?, role: MemberRole, at time: Timestamp)
        async throws -> Member
    {
        let email = try StoreValidation.email(email).lowercased()
        return try await writeTransaction { db in
            try Self.setMember(db, organizationID, email: email, name: name, role: role, at: time)
        }
    }

    static func setMember(
        _ db: Database, _ organizationID: OrganizationID, email: String, name: String?, role: MemberRole, at time: Timestamp
    ) throws -> Member {
        _ = try Self.requireOrganization(db, organizationID)
        try MemberRules.check(try Self.members(db, organizationID), email: email, becoming: role)
        let userID = try Self.user(db, email: email, name: name, at: time)
        try db.execute(
            sql: """
                INSERT INTO memberships(org_id, user_id, role, created_at) VALUES (?, ?, ?, ?)
                ON CONFLICT(org_id, user_id) DO UPDATE SET role = excluded.role
                """, arguments: [organizationID.rawValue, userID.rawValue, role.rawValue, time.millis])
        return try Self.members(db, organizationID).first { $0.userID == userID }!
    }

    public func removeMember(_ organizationID: OrganizationID, email: String, at time: Timestamp) async throws {
        try await writeTransaction { db in
            _ = try Self.requireOrganization(db, organizationID)
            let members = try Self.members(db, organizationID)
            try MemberRules.check(members, email: email, becoming: nil)
            let userID = members.first { $0.email.lowercased() == email.lowercased() }!.userID
            try db.execute(
                sql: "DELETE FROM memberships WHERE org_id = ? AND user_id = ?",
                arguments: [organizationID.rawValue, userID.rawValue])
            let elsewhere =
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM memberships WHERE user_id = ?", arguments: [userID.rawValue]) ?? 0
            if elsewhere == 0 {
                try db.execute(
                    sql: "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
                    arguments: [time.millis, userID.rawValue])
            }
        }
    }

    /// The person with this email, created (with `name`) when new.
    static func user(_ db: Database, email: String, name: String?, at time: Timestamp) throws -> UserID {
        if let id = try String.fetchOne(db, sql: "SELECT id FROM users WHERE email = ?", arguments: [email]) {
            if let name { try db.execute(sql: "UPDATE users SET name = ? WHERE id = ? AND name IS NULL", arguments: [name, id]) }
            return UserID(rawValue: id)
        }
        let id = UserID.random()
        try db.execute(
            sql: "INSERT INTO users(id, email, name, created_at) VALUES (?, ?, ?, ?)",
            arguments: [id.rawValue, email, name, time.millis])
        return id
    }

    public func createSession(email: String, tokenHash: String, policy: SessionPolicy, at time: Timestamp) async throws
        -> SessionRecord
    {
        try await writeTransaction { db in
            guard let id = try String.fetchOne(db, sql: "SELECT id FROM users WHERE email = ?", arguments: [email]) else {
                throw StoreError.memberNotFound(email)
            }
            let expires = policy.expiry(created: time, lastSeen: time)
            try db.execute(
                sql: "INSERT INTO sessions(token_hash, user_id, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [tokenHash, id, time.millis, time.millis, expires.millis])
            return try Self.session(db, tokenHash)!
        }
    }

    public func session(tokenHash: String) async throws -> SessionRecord? {
        try await read { db in try Self.session(db, tokenHash) }
    }

    static func session(_ db: Database, _ tokenHash: String) throws -> SessionRecord? {
        try Row.fetchOne(
            db,
            sql: """
                SELECT s.token_hash, s.user_id, u.email, s.created_at, s.last_seen_at, s.expires_at, s.revoked_at
                FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?
                """, arguments: [tokenHash]
        ).map { row in
            SessionRecord(
                tokenHash: row[0], userID: UserID(rawValue: row[1]), email: row[2], createdAt: Timestamp(rawValue: row[3]),
                lastSeenAt: Timestamp(rawValue: row[4]), expiresAt: Timestamp(rawValue: row[5]),
                revokedAt: (row[6] as Int64?).map { Timestamp(rawValue: $0) })
        }
    }

    public func touchSession(tokenHash: String, policy: SessionPolicy, at time: Timestamp) async throws {
        try await writeTransaction { db in
            guard let session = try Self.session(db, tokenHash), session.isLive(at: time) else { return }
            let expires = policy.expiry(created: session.createdAt, lastSeen: time)
            try db.execute(
                sql: "UPDATE sessions SET last_seen_at = ?, expires_at = ? WHERE token_hash = ?",
                arguments: [time.millis, expires.millis, tokenHash])
        }
    }

    public func revokeSession(tokenHash: String, at time: Timestamp) async throws {
        try await writeTransaction { db in
            try db.execute(
                sql: "UPDATE sessions SET revoked_at = ? WHERE token_hash = ? AND revoked_at IS NULL",
                arguments: [time.millis, tokenHash])
        }
    }

    public func revokeSessions(email: String, at time: Timestamp) async throws -> Int {
        try await writeTransaction { db in
            try db.execute(
                sql: """
                    UPDATE sessions SET revoked_at = ?1
                    WHERE revoked_at IS NULL AND expires_at > ?1 AND user_id = (SELECT id FROM users WHERE email = ?2)
                    """, arguments: [time.millis, email])
            return db.changesCount
        }
    }

    public func purgeSignIns(before time: Timestamp) async throws -> Int {
        try await writeTransaction { db in
            try db.execute(
                sql: "DELETE FROM sessions WHERE expires_at < ?1 OR revoked_at < ?1", arguments: [time.millis])
            let sessions = db.changesCount
            try db.execute(sql: "DELETE FROM sign_in_states WHERE expires_at < ?", arguments: [time.millis])
            return sessions + db.changesCount
        }
    }

    public func saveSignInState(_ state: SignInState) async throws {
        try await writeTransaction { db in
            try db.execute(
                sql: """
                    INSERT INTO sign_in_states(state_hash, nonce, verifier, return_to, expires_at, invitation_hash)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    state.stateHash, state.nonce, state.verifier, state.returnTo, state.expiresAt.millis, state.invitationHash,
                ])
        }
    }

    public func takeSignInState(stateHash: String, at time: Timestamp) async throws -> SignInState? {
        try await writeTransaction { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql:
                        "SELECT nonce, verifier, return_to, expires_at, invitation_hash FROM sign_in_states WHERE state_hash = ?",
                    arguments: [stateHash])
            else { return nil }
            try db.execute(sql: "DELETE FROM sign_in_states WHERE state_hash = ?", arguments: [stateHash])
            let state = SignInState(
                stateHash: stateHash, nonce: row[0], verifier: row[1], returnTo: row[2], expiresAt: Timestamp(rawValue: row[3]),
                invitationHash: row[4])
            return time < state.expiresAt ? state : nil
        }
    }

    // MARK: invitations and the audit log

    public func createInvitation(_ invitation: Invitation) async throws {
        let email = try StoreValidation.email(invitation.email).lowercased()
        try await writeTransaction { db in
            _ = try Self.requireOrganization(db, invitation.organizationID)
            if try Self.members(db, invitation.organizationID).contains(where: { $0.email.lowercased() == email }) {
                throw StoreError.alreadyMember(email)
            }
            try db.execute(
                sql: """
                    INSERT INTO invitations(token_hash, org_id, email, role, invited_by, created_at, expires_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    invitation.tokenHash, invitation.organizationID.rawValue, email, invitation.role.rawValue,
                    invitation.invitedBy, invitation.createdAt.millis, invitation.expiresAt.millis,
                ])
        }
    }

    public func invitation(tokenHash: String) async throws -> Invitation? {
        try await read { db in try Self.invitation(db, tokenHash) }
    }

    static let invitationColumns = "token_hash, org_id, email, role, invited_by, created_at, expires_at, accepted_at"

    static func invitation(_ row: Row) throws -> Invitation {
        Invitation(
            tokenHash: row[0], organizationID: OrganizationID(rawValue: row[1]), email: row[2],
            role: try StoreError.decode(row[3], column: "invitations.role"), invitedBy: row[4],
            createdAt: Timestamp(rawValue: row[5]), expiresAt: Timestamp(rawValue: row[6]),
            acceptedAt: (row[7] as Int64?).map { Timestamp(rawValue: $0) })
    }

    static func invitation(_ db: Database, _ tokenHash: String) throws -> Invitation? {
        try Row.fetchOne(
            db, sql: "SELECT \(invitationColumns) FROM invitations WHERE token_hash = ?", arguments: [tokenHash]
        ).map(invitation)
    }

    public func pendingInvitations(_ organizationID: OrganizationID, at time: Timestamp) async throws -> [Invitation] {
        try await read { db in
            _ = try Self.requireOrganization(db, organizationID)
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.invitationColumns) FROM invitations
                    WHERE org_id = ? AND accepted_at IS NULL AND expires_at > ? ORDER BY created_at DESC, token_hash
                    """, arguments: [organizationID.rawValue, time.millis]
            ).map(Self.invitation)
        }
    }

    public func acceptInvitation(tokenHash: String, email: String, name: String?, at time: Timestamp) async throws -> Member {
        try await writeTransaction { db in
            let found = try Self.invitation(db, tokenHash)
            if let refusal = InvitationRules.refusal(found, email: email, at: time) {
                throw StoreError.invitationRefused(refusal)
            }
            let invitation = found!
            try db.execute(
                sql: "UPDATE invitations SET accepted_at = ? WHERE token_hash = ?", arguments: [time.millis, tokenHash])
            return try Self.setMember(
                db, invitation.organizationID, email: invitation.email.lowercased(), name: name, role: invitation.role, at: time)
        }
    }

    public func recordAudit(_ entry: AuditEntry) async throws {
        try await writeTransaction { db in
            try db.execute(
                sql: "INSERT INTO audit_log(org_id, at, actor, action, detail, request_id) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [
                    entry.organizationID.rawValue, entry.at.millis, entry.actor, entry.action.rawValue, entry.detail,
                    entry.requestID,
                ])
        }
    }

    public func auditLog(_ organizationID: OrganizationID, before: Int64?, limit: Int) async throws -> [AuditRecord] {
        try await read { db in
            _ = try Self.requireOrganization(db, organizationID)
            return try Row.fetchAll(
                db,
                sql: """
                    SELECT seq, at, actor, action, detail, request_id FROM audit_log
                    WHERE org_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?
                    """, arguments: [organizationID.rawValue, before ?? Int64.max, limit]
            ).map { row in
                AuditRecord(
                    sequence: row[0],
                    entry: AuditEntry(
                        organizationID: organizationID, at: Timestamp(rawValue: row[1]), actor: row[2],
                        action: try StoreError.decode(row[3], column: "audit_log.action"), detail: row[4], requestID: row[5]))
            }
        }
    }
}
