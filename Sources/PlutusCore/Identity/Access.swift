/// A member's role in one organization. Each role may do what the one below it may, and more.
public enum MemberRole: String, Sendable, CaseIterable, Comparable {
    case viewer, member, admin, owner

    public static func < (lhs: MemberRole, rhs: MemberRole) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    /// Whether this role may do `action`.
    public func allows(_ action: MemberAction) -> Bool { self >= action.leastRole }
}

/// What a signed-in member may ask for, and the least role that may.
public enum MemberAction: String, Sendable, CaseIterable {
    /// The dashboard, its JSON, the events, the ledger and the statements.
    case viewSpend
    case createKeys
    case revokeKeys
    case topUp
    case manageBudgets
    case invite
    /// The audit log.
    case viewAudit
    case changePlan
    case manageRoles
    case removeMembers

    public var leastRole: MemberRole {
        switch self {
        case .viewSpend: .viewer
        case .createKeys, .revokeKeys: .member
        case .topUp, .manageBudgets, .invite, .viewAudit: .admin
        case .changePlan, .manageRoles, .removeMembers: .owner
        }
    }

    /// A sentence for the 403 a member gets when their role is not enough.
    public func refusal(_ role: MemberRole) -> String {
        "your role in this organization (\(role.rawValue)) may not \(phrase); ask an \(leastRole == .owner ? "owner" : "admin or owner")"
    }

    private var phrase: String {
        switch self {
        case .viewSpend: "see its spend"
        case .createKeys: "create API keys"
        case .revokeKeys: "revoke API keys"
        case .topUp: "top up its credit"
        case .manageBudgets: "manage budgets"
        case .invite: "invite members"
        case .viewAudit: "see the audit log"
        case .changePlan: "change the plan"
        case .manageRoles: "change roles"
        case .removeMembers: "remove members"
        }
    }
}

/// How long a sign-in lasts: it ends after `idleSeconds` without a request, and after
/// `absoluteSeconds` whatever happens. A session's last use is written at most once a
/// `touchSeconds`, so reading pages does not write on every request.
public struct SessionPolicy: Sendable, Equatable {
    public var idleSeconds: Int64
    public var absoluteSeconds: Int64
    public var touchSeconds: Int64

    public static let standard = SessionPolicy(idleSeconds: 12 * 3_600, absoluteSeconds: 7 * 86_400, touchSeconds: 60)

    public init(idleSeconds: Int64, absoluteSeconds: Int64, touchSeconds: Int64 = 60) {
        precondition(idleSeconds > 0 && absoluteSeconds >= idleSeconds && touchSeconds >= 0, "session bounds")
        self.idleSeconds = idleSeconds
        self.absoluteSeconds = absoluteSeconds
        self.touchSeconds = touchSeconds
    }

    /// When a session made at `created` and last used at `lastSeen` ends.
    public func expiry(created: Timestamp, lastSeen: Timestamp) -> Timestamp {
        min(created.adding(seconds: absoluteSeconds), lastSeen.adding(seconds: idleSeconds))
    }

    public func isLive(created: Timestamp, lastSeen: Timestamp, revoked: Bool, now: Timestamp) -> Bool {
        !revoked && now < expiry(created: created, lastSeen: lastSeen)
    }

    /// Whether a use at `now` should be written as the session's last use.
    public func shouldTouch(lastSeen: Timestamp, now: Timestamp) -> Bool {
        now.millis - lastSeen.millis >= touchSeconds * 1_000
    }
}

/// Who may sign in without being a member yet (reference §7.4): an allow-listed email or
/// domain is provisioned into an organization; anyone else only with open signup.
public struct SignInRules: Sendable, Equatable {
    public var allowedEmails: Set<String>
    /// Matched as the email's domain, exactly (a leading `@` is tolerated).
    public var allowedDomain: String?
    public var allowSignup: Bool

    public init(allowedEmails: [String] = [], allowedDomain: String? = nil, allowSignup: Bool = false) {
        self.allowedEmails = Set(allowedEmails.map { $0.lowercased() }.filter { !$0.isEmpty })
        self.allowedDomain = allowedDomain.map { ($0.hasPrefix("@") ? String($0.dropFirst()) : $0).lowercased() }
            .flatMap { $0.isEmpty ? nil : $0 }
        self.allowSignup = allowSignup
    }

    /// Whether `email` is on the allow-list, by address or by domain.
    public func allowListed(_ email: String) -> Bool {
        let email = email.lowercased()
        if allowedEmails.contains(email) { return true }
        guard let domain = allowedDomain, let at = email.lastIndex(of: "@") else { return false }
        return email[email.index(after: at)...] == domain
    }
}
