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

    public init(stateHash: String, nonce: String, verifier: String, returnTo: String?, expiresAt: Timestamp) {
        self.stateHash = stateHash
        self.nonce = nonce
        self.verifier = verifier
        self.returnTo = returnTo
        self.expiresAt = expiresAt
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
