import PlutusCore

/// A person's place in one organization.
public struct Member: Sendable, Equatable {
    public var userID: UserID
    public var email: String
    public var name: String?
    public var role: MemberRole
    public var since: Timestamp

    public init(userID: UserID, email: String, name: String?, role: MemberRole, since: Timestamp) {
        self.userID = userID
        self.email = email
        self.name = name
        self.role = role
        self.since = since
    }
}

/// One organization a person belongs to, and their role in it.
public struct Membership: Sendable, Equatable {
    public var organization: Organization
    public var role: MemberRole

    public init(organization: Organization, role: MemberRole) {
        self.organization = organization
        self.role = role
    }
}

/// A browser's sign-in, as stored: only the SHA-256 of its token is kept.
public struct SessionRecord: Sendable, Equatable {
    public var tokenHash: String
    public var userID: UserID
    public var email: String
    public var createdAt: Timestamp
    public var lastSeenAt: Timestamp
    public var expiresAt: Timestamp
    public var revokedAt: Timestamp?

    public init(
        tokenHash: String, userID: UserID, email: String, createdAt: Timestamp, lastSeenAt: Timestamp, expiresAt: Timestamp,
        revokedAt: Timestamp?
    ) {
        self.tokenHash = tokenHash
        self.userID = userID
        self.email = email
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
    }

    /// Live at `now`: not revoked, and before its expiry (which the store keeps as the
    /// policy's, from its creation and last use).
    public func isLive(at now: Timestamp) -> Bool { revokedAt == nil && now < expiresAt }
}

/// A sign-in under way with an OpenID provider: what its callback must match, kept under the
/// hash of its `state` until used once or expired.
public struct SignInState: Sendable, Equatable {
    public var stateHash: String
    public var nonce: String
    /// The PKCE code verifier.
    public var verifier: String
    /// A path on this server to go to afterwards.
    public var returnTo: String?
    public var expiresAt: Timestamp
    /// The hash of the invitation this sign-in accepts, if it began at an invitation's link.
    public var invitationHash: String?

    public init(
        stateHash: String, nonce: String, verifier: String, returnTo: String?, expiresAt: Timestamp,
        invitationHash: String? = nil
    ) {
        self.stateHash = stateHash
        self.nonce = nonce
        self.verifier = verifier
        self.returnTo = returnTo
        self.expiresAt = expiresAt
        self.invitationHash = invitationHash
    }
}

/// The rules of members, written once for both stores.
public enum MemberRules {
    /// A change of `email`'s role in an organization whose members are `members`, to `role`
    /// (`nil`: removed). An organization keeps at least one owner.
    public static func check(_ members: [Member], email: String, becoming role: MemberRole?) throws(StoreError) {
        let owners = members.filter { $0.role == .owner }
        guard let current = members.first(where: { $0.email.lowercased() == email.lowercased() }) else {
            if role == nil { throw StoreError.memberNotFound(email) }
            return
        }
        if current.role == .owner, role != .owner, owners.count == 1 {
            throw StoreError.lastOwner(email)
        }
    }
}

/// An invitation to join an organization, kept under the hash of the token its link carries.
public struct Invitation: Sendable, Equatable {
    public var tokenHash: String
    public var organizationID: OrganizationID
    public var email: String
    public var role: MemberRole
    public var invitedBy: String
    public var createdAt: Timestamp
    public var expiresAt: Timestamp
    public var acceptedAt: Timestamp?

    public init(
        tokenHash: String, organizationID: OrganizationID, email: String, role: MemberRole, invitedBy: String,
        createdAt: Timestamp, expiresAt: Timestamp, acceptedAt: Timestamp?
    ) {
        self.tokenHash = tokenHash
        self.organizationID = organizationID
        self.email = email
        self.role = role
        self.invitedBy = invitedBy
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.acceptedAt = acceptedAt
    }
}

/// The rules of invitations, written once for both stores.
public enum InvitationRules {
    /// How long an invitation's link works.
    public static let lifetimeSeconds: Int64 = 7 * 86_400

    /// Why `invitation` cannot make `email` a member at `time`; `nil` when it can.
    public static func refusal(_ invitation: Invitation?, email: String, at time: Timestamp) -> String? {
        guard let invitation else { return "this invitation link is not known; ask for a new one" }
        if invitation.acceptedAt != nil { return "this invitation was used already; sign in instead" }
        if time >= invitation.expiresAt { return "this invitation has expired; ask for a new one" }
        if invitation.email.lowercased() != email.lowercased() {
            return "this invitation is for \(invitation.email), but you signed in as \(email); sign in with that address"
        }
        return nil
    }
}

/// What the audit log records.
public enum AuditAction: String, Sendable, CaseIterable {
    case signIn = "sign_in"
    case keyCreated = "key_created"
    case keyRevoked = "key_revoked"
    case topUpStarted = "top_up_started"
    case planChangeStarted = "plan_change_started"
    case budgetChanged = "budget_changed"
    case memberAdded = "member_added"
    case roleChanged = "role_changed"
    case memberRemoved = "member_removed"
    case invitationSent = "invitation_sent"
    case invitationAccepted = "invitation_accepted"
}

/// One line of an organization's audit log: who did what, when, in which request.
public struct AuditEntry: Sendable, Equatable {
    public var organizationID: OrganizationID
    public var at: Timestamp
    /// The person's email, `operator` (the admin token) or `cli`.
    public var actor: String
    public var action: AuditAction
    /// What it was done to, in a few words (`key ci-agent`, `ada@acme.example → admin`).
    public var detail: String
    public var requestID: String?

    public init(
        organizationID: OrganizationID, at: Timestamp, actor: String, action: AuditAction, detail: String,
        requestID: String?
    ) {
        self.organizationID = organizationID
        self.at = at
        self.actor = actor
        self.action = action
        self.detail = String(detail.prefix(Self.detailCharactersMax))
        self.requestID = requestID
    }

    /// A detail is cut to this many characters.
    public static let detailCharactersMax = 300
}

/// An audit line as stored, with its place in the log.
public struct AuditRecord: Sendable, Equatable {
    public var sequence: Int64
    public var entry: AuditEntry

    public init(sequence: Int64, entry: AuditEntry) {
        self.sequence = sequence
        self.entry = entry
    }
}
