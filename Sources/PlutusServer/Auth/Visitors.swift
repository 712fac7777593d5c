import Hummingbird
import PlutusCore
import PlutusStore

/// Who is asking, as the browser-facing routes see them.
enum Visitor: Sendable {
    /// The operator (`PLUTUS_ADMIN_TOKEN`, or a server with neither token nor sign-in): every
    /// organization, every action.
    case `operator`
    /// A signed-in person: their organizations and role in each.
    case member(SessionRecord, [Membership])

    /// The role in `organization`, `nil` for an organization the visitor may not see.
    func role(in organization: OrganizationID) -> MemberRole? {
        switch self {
        case .operator: .owner
        case .member(_, let memberships): memberships.first { $0.organization.id == organization }?.role
        }
    }

    /// Whether the visitor may `action` in `organization`.
    func may(_ action: MemberAction, in organization: OrganizationID) -> Bool {
        role(in: organization)?.allows(action) ?? false
    }

    /// The organizations the visitor sees; `nil` for all of them.
    var organizations: Set<OrganizationID>? {
        switch self {
        case .operator: nil
        case .member(_, let memberships): Set(memberships.map(\.organization.id))
        }
    }

    var email: String? {
        if case .member(let session, _) = self { return session.email }
        return nil
    }
}

/// Resolves a request to its visitor: the operator's token (as a bearer or the admin
/// cookie), else a live session cookie (its last use written at most once a minute).
struct VisitorGate<Store: BillingStore>: Sendable {
    let store: Store
    let configuration: ServerConfiguration
    var access: WebAccess { WebAccess(configuration: configuration) }

    static var sessionCookieName: String { "plutus_session" }

    func visitor(_ request: Request) async throws -> Visitor? {
        if access.operatorSignedIn(request) { return .operator }
        guard let signIn = configuration.signIn, let token = request.cookies[Self.sessionCookieName]?.value, !token.isEmpty
        else { return nil }
        let now = Timestamp.now()
        guard let session = try await store.session(tokenHash: Digest.sha256Hex(Array(token.utf8))), session.isLive(at: now)
        else { return nil }
        if signIn.sessions.shouldTouch(lastSeen: session.lastSeenAt, now: now) {
            try await store.touchSession(tokenHash: session.tokenHash, policy: signIn.sessions, at: now)
        }
        return .member(session, try await store.memberships(email: session.email))
    }

    /// The `Set-Cookie` value of a session (or, with `nil`, one that clears it).
    func sessionCookie(_ token: String?) -> String {
        let secure = configuration.baseURL?.lowercased().hasPrefix("https://") == true ? "; Secure" : ""
        let age = token == nil ? 0 : (configuration.signIn?.sessions.absoluteSeconds ?? 0)
        return "\(Self.sessionCookieName)=\(token ?? ""); Path=/; HttpOnly; SameSite=Lax; Max-Age=\(age)\(secure)"
    }

    /// The 403 page for an organization the visitor may not see, or an action their role does not allow.
    static func forbidden(_ message: String) -> Response {
        HTMLPage.response(
            .forbidden, title: "Not allowed",
            bodyHTML: "<p>\(HTMLPage.escape(message))</p><p><a href=\"/\">Back to the dashboard</a></p>")
    }
}
