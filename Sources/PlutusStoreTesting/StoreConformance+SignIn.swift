import PlutusCore
import PlutusStore
import Testing

/// Members, sessions and sign-ins under way: what every store must do with them.
extension StoreConformance {
    /// Four roles; an organization keeps an owner; a person belongs to several organizations.
    public static func membersHaveRolesAndAnOrganizationKeepsAnOwner(_ store: some BillingStore) async throws {
        let acme = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: "founder@acme.example").id
        let other = try await store.createOrganization(name: "Other", plan: .free, ownerEmail: nil).id
        let viewer = try await store.setMember(acme, email: "Viewer@Acme.example", name: "Vi", role: .viewer, at: now)
        #expect(viewer.role == .viewer && viewer.email == "viewer@acme.example" && viewer.name == "Vi")
        _ = try await store.setMember(acme, email: "admin@acme.example", name: nil, role: .admin, at: now)
        _ = try await store.setMember(other, email: "viewer@acme.example", name: nil, role: .owner, at: now)
        let members = try await store.members(acme)
        #expect(members.map(\.email) == ["founder@acme.example", "admin@acme.example", "viewer@acme.example"])
        #expect(members.map(\.role) == [.owner, .admin, .viewer])
        // Email is matched case-insensitively; a role changes in place.
        let promoted = try await store.setMember(acme, email: "VIEWER@acme.example", name: nil, role: .member, at: now)
        #expect(promoted.userID == viewer.userID && promoted.role == .member)
        let theirs = try await store.memberships(email: "viewer@ACME.example")
        #expect(theirs.map(\.organization.id) == [acme, other] && theirs.map(\.role) == [.member, .owner])
        // The only owner can be neither demoted nor removed.
        await #expect(throws: StoreError.lastOwner("founder@acme.example")) {
            _ = try await store.setMember(acme, email: "founder@acme.example", name: nil, role: .admin, at: now)
        }
        await #expect(throws: StoreError.lastOwner("founder@acme.example")) {
            try await store.removeMember(acme, email: "founder@acme.example", at: now)
        }
        _ = try await store.setMember(acme, email: "admin@acme.example", name: nil, role: .owner, at: now)
        _ = try await store.setMember(acme, email: "founder@acme.example", name: nil, role: .admin, at: now)
        try await store.removeMember(acme, email: "founder@acme.example", at: now)
        #expect(try await store.members(acme).map(\.email) == ["admin@acme.example", "viewer@acme.example"])
        await #expect(throws: StoreError.memberNotFound("nobody@acme.example")) {
            try await store.removeMember(acme, email: "nobody@acme.example", at: now)
        }
        await #expect(throws: StoreError.self) {
            _ = try await store.setMember(acme, email: "not an email", name: nil, role: .viewer, at: now)
        }
    }

    /// A session is kept by its token's hash, ends after its idle time or its lifetime, moves its
    /// idle expiry when used, and is revoked alone or with all of its person's.
    public static func sessionsExpireAndAreRevoked(_ store: some BillingStore) async throws {
        let acme = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: "owner@acme.example").id
        let policy = SessionPolicy(idleSeconds: 3_600, absoluteSeconds: 4 * 3_600)
        let session = try await store.createSession(email: "Owner@acme.example", tokenHash: "hash-1", policy: policy, at: now)
        #expect(session.email == "owner@acme.example" && session.expiresAt == now.adding(seconds: 3_600))
        #expect(try await store.session(tokenHash: "hash-1") == session)
        #expect(try await store.session(tokenHash: "hash-unknown") == nil)
        // Used after 50 minutes: live for another hour; never past four hours from the start.
        let later = now.adding(seconds: 3_000)
        try await store.touchSession(tokenHash: "hash-1", policy: policy, at: later)
        var read = try #require(try await store.session(tokenHash: "hash-1"))
        #expect(read.lastSeenAt == later && read.expiresAt == later.adding(seconds: 3_600))
        for step in 2...5 {
            try await store.touchSession(tokenHash: "hash-1", policy: policy, at: now.adding(seconds: Int64(step) * 3_000))
        }
        read = try #require(try await store.session(tokenHash: "hash-1"))
        #expect(read.expiresAt == now.adding(seconds: 4 * 3_600))
        #expect(read.isLive(at: now.adding(seconds: 4 * 3_600 - 1)) && !read.isLive(at: now.adding(seconds: 4 * 3_600)))
        // An idle session ends after its idle time.
        _ = try await store.createSession(email: "owner@acme.example", tokenHash: "hash-2", policy: policy, at: now)
        #expect(try #require(try await store.session(tokenHash: "hash-2")).isLive(at: now.adding(seconds: 3_599)))
        #expect(!(try #require(try await store.session(tokenHash: "hash-2")).isLive(at: now.adding(seconds: 3_600))))
        // Sign out everywhere.
        _ = try await store.createSession(email: "owner@acme.example", tokenHash: "hash-3", policy: policy, at: now)
        try await store.revokeSession(tokenHash: "hash-3", at: now)
        #expect(try #require(try await store.session(tokenHash: "hash-3")).isLive(at: now) == false)
        #expect(try await store.revokeSessions(email: "OWNER@acme.example", at: now) == 2)
        #expect(!(try #require(try await store.session(tokenHash: "hash-1")).isLive(at: now)))
        // Someone who is nobody gets no session.
        await #expect(throws: StoreError.memberNotFound("stranger@example.com")) {
            _ = try await store.createSession(email: "stranger@example.com", tokenHash: "hash-4", policy: policy, at: now)
        }
        // Leaving the last organization ends the person's sessions.
        _ = try await store.setMember(acme, email: "leaver@acme.example", name: nil, role: .member, at: now)
        _ = try await store.createSession(email: "leaver@acme.example", tokenHash: "hash-5", policy: policy, at: now)
        try await store.removeMember(acme, email: "leaver@acme.example", at: now)
        #expect(!(try #require(try await store.session(tokenHash: "hash-5")).isLive(at: now)))
        // Purging removes what ended.
        #expect(try await store.purgeSignIns(before: now.adding(seconds: 5 * 3_600)) == 4)
        #expect(try await store.session(tokenHash: "hash-1") == nil)
    }

    /// A sign-in under way is used once, and not after it expires.
    public static func signInStatesAreUsedOnce(_ store: some BillingStore) async throws {
        let state = SignInState(
            stateHash: "state-1", nonce: "nonce-1", verifier: "verifier-1", returnTo: "/report",
            expiresAt: now.adding(seconds: 600))
        try await store.saveSignInState(state)
        #expect(try await store.takeSignInState(stateHash: "state-1", at: now) == state)
        #expect(try await store.takeSignInState(stateHash: "state-1", at: now) == nil)
        try await store.saveSignInState(
            SignInState(stateHash: "state-2", nonce: "n", verifier: "v", returnTo: nil, expiresAt: now.adding(seconds: 600)))
        #expect(try await store.takeSignInState(stateHash: "state-2", at: now.adding(seconds: 600)) == nil)
        #expect(try await store.takeSignInState(stateHash: "state-unknown", at: now) == nil)
        // Concurrent callbacks with one state: exactly one gets it.
        try await store.saveSignInState(
            SignInState(stateHash: "state-3", nonce: "n", verifier: "v", returnTo: nil, expiresAt: now.adding(seconds: 600)))
        let taken = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<8 { group.addTask { try await store.takeSignInState(stateHash: "state-3", at: now) == nil ? 0 : 1 } }
            return try await group.reduce(0, +)
        }
        #expect(taken == 1)
    }

    /// An invitation makes its person a member once, before it expires, and no one else.
    public static func invitationsAreAcceptedOnceByTheirPerson(_ store: some BillingStore) async throws {
        let acme = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: "owner@acme.example").id
        func invitation(_ hash: String, _ email: String, expiresIn: Int64 = InvitationRules.lifetimeSeconds) -> Invitation {
            Invitation(
                tokenHash: hash, organizationID: acme, email: email, role: .admin, invitedBy: "owner@acme.example",
                createdAt: now, expiresAt: now.adding(seconds: expiresIn), acceptedAt: nil)
        }
        try await store.createInvitation(invitation("inv-1", "Ada@acme.example"))
        let pending = try await store.pendingInvitations(acme, at: now)
        #expect(pending.map(\.email) == ["ada@acme.example"] && pending.map(\.role) == [.admin])
        await #expect(throws: StoreError.alreadyMember("owner@acme.example")) {
            try await store.createInvitation(invitation("inv-0", "OWNER@acme.example"))
        }
        await #expect(
            throws: StoreError.invitationRefused(
                "this invitation is for ada@acme.example, but you signed in as eve@acme.example; sign in with that address")
        ) {
            _ = try await store.acceptInvitation(tokenHash: "inv-1", email: "eve@acme.example", name: nil, at: now)
        }
        // Eight acceptances at once: one makes Ada a member, the others find it used.
        let accepted = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    do {
                        _ = try await store.acceptInvitation(tokenHash: "inv-1", email: "ada@ACME.example", name: "Ada", at: now)
                        return 1
                    } catch StoreError.invitationRefused {
                        return 0
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(accepted == 1)
        #expect(try await store.members(acme).first { $0.email == "ada@acme.example" }?.role == .admin)
        #expect(try await store.invitation(tokenHash: "inv-1")?.acceptedAt == now)
        #expect(try await store.pendingInvitations(acme, at: now).isEmpty)
        await #expect(throws: StoreError.invitationRefused("this invitation was used already; sign in instead")) {
            _ = try await store.acceptInvitation(tokenHash: "inv-1", email: "ada@acme.example", name: nil, at: now)
        }
        try await store.createInvitation(invitation("inv-2", "late@acme.example", expiresIn: 60))
        #expect(try await store.pendingInvitations(acme, at: now.adding(seconds: 60)).isEmpty)
        await #expect(throws: StoreError.invitationRefused("this invitation has expired; ask for a new one")) {
            _ = try await store.acceptInvitation(
                tokenHash: "inv-2", email: "late@acme.example", name: nil, at: now.adding(seconds: 60))
        }
        await #expect(throws: StoreError.invitationRefused("this invitation link is not known; ask for a new one")) {
            _ = try await store.acceptInvitation(tokenHash: "inv-unknown", email: "ada@acme.example", name: nil, at: now)
        }
        #expect(try await store.members(acme).count == 2)
    }

    /// The audit log keeps each organization's lines, newest first, a page at a time.
    public static func theAuditLogKeepsWhoDidWhat(_ store: some BillingStore) async throws {
        let acme = try await store.createOrganization(name: "Acme", plan: .pro, ownerEmail: nil).id
        let other = try await store.createOrganization(name: "Other", plan: .pro, ownerEmail: nil).id
        let actions: [AuditAction] = [.signIn, .keyCreated, .roleChanged, .keyRevoked]
        for (index, action) in actions.enumerated() {
            try await store.recordAudit(
                AuditEntry(
                    organizationID: acme, at: now.adding(seconds: Int64(index)), actor: "ada@acme.example", action: action,
                    detail: "step \(index)", requestID: "req-\(index)"))
        }
        try await store.recordAudit(
            AuditEntry(
                organizationID: other, at: now, actor: "operator", action: .memberAdded,
                detail: String(repeating: "x", count: 1_000), requestID: nil))
        let newest = try await store.auditLog(acme, before: nil, limit: 3)
        #expect(newest.map(\.entry.action) == [.keyRevoked, .roleChanged, .keyCreated])
        #expect(
            newest[0].entry.detail == "step 3" && newest[0].entry.requestID == "req-3"
                && newest[0].entry.at == now.adding(seconds: 3))
        let older = try await store.auditLog(acme, before: newest[2].sequence, limit: 3)
        #expect(older.map(\.entry.action) == [.signIn] && older[0].entry.actor == "ada@acme.example")
        let theirs = try await store.auditLog(other, before: nil, limit: 10)
        #expect(
            theirs.count == 1 && theirs[0].entry.detail.count == AuditEntry.detailCharactersMax
                && theirs[0].entry.requestID == nil)
    }
}
