import HTTPTypes
import Hummingbird
import PlutusCore
import PlutusStore

/// `/v1/admin/members` and `/v1/admin/invitations`: the operator manages who signs in to
/// which organization, with which role. Every change goes to the organization's audit log.
extension AdminController {
    static func role(_ body: JSONValue) throws -> MemberRole {
        if body["role"] == .null {
            throw APIError.badRequest("role must be one of viewer, member, admin, owner, not null", field: "role")
        }
        guard let text = try string(body, "role", required: false) else { return .member }
        guard let role = MemberRole(rawValue: text) else {
            throw APIError.badRequest(
                "role must be one of \(MemberRole.allCases.map(\.rawValue).joined(separator: ", ")), got '\(text)'",
                field: "role")
        }
        return role
    }

    static func email(_ body: JSONValue) throws -> String {
        let text = try string(body, "email", required: true) ?? ""
        guard let email = try? StoreValidation.email(text) else {
            throw APIError.badRequest("email must be an email address, got '\(text)'", field: "email")
        }
        return email.lowercased()
    }

    /// `{"org_id", "email", "role"}`: adds a member (who can sign in at once) or changes
    /// their role; 201 for a new member, 200 for a change.
    @Sendable func addMember(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let body = try await HTTPInput.object(request)
        let org = try await organization(body)
        let email = try Self.email(body)
        let role = try Self.role(body)
        let before = try await store.members(org.id).first { $0.email.lowercased() == email }
        let member = try await store.setMember(org.id, email: email, name: nil, role: role, at: Timestamp.now())
        await audit.record(
            org.id, actor: AuditTrail<Store>.operatorActor, before == nil ? .memberAdded : .roleChanged,
            "\(email) → \(role.rawValue)\(before.map { " (was \($0.role.rawValue))" } ?? "")", context: context)
        var fields: [(String, JSONValue)] = [("org_id", .string(org.id.rawValue))]
        if case .object(let rest) = RecordJSON.member(member) { fields += rest }
        return JSONResponse.make(before == nil ? .created : .ok, .object(fields))
    }

    /// `?org_id=`: the members, owners first, and the invitations not yet accepted.
    @Sendable func listMembers(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        guard let reference = query.get("org_id") ?? query.get("org"), !reference.isEmpty else {
            throw APIError.badRequest("org_id is required (the organization's id, slug or name)", field: "org_id")
        }
        guard let org = try await store.findOrganization(reference) else { throw APIError.unknownOrg }
        let members = try await store.members(org.id)
        let pending = try await store.pendingInvitations(org.id, at: Timestamp.now())
        return JSONResponse.make(
            .ok,
            .object([
                ("org_id", .string(org.id.rawValue)), ("members", .array(members.map(RecordJSON.member))),
                ("invitations", .array(pending.map(RecordJSON.invitation))),
            ]))
    }

    /// `{"org_id", "email"}`: removes a member (never the last owner); their sessions end
    /// when they belong to no organization any more.
    @Sendable func removeMember(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let body = try await HTTPInput.object(request)
        let org = try await organization(body)
        let email = try Self.email(body)
        try await store.removeMember(org.id, email: email, at: Timestamp.now())
        await audit.record(org.id, actor: AuditTrail<Store>.operatorActor, .memberRemoved, email, context: context)
        return JSONResponse.make(
            .ok, .object([("removed", .bool(true)), ("org_id", .string(org.id.rawValue)), ("email", .string(email))]))
    }

    /// `{"org_id", "email", "role"}`: emails a one-time link that makes its person a member
    /// when they sign in with that address; 201 with the link and whether the email went out.
    @Sendable func invite(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let body = try await HTTPInput.object(request)
        let org = try await organization(body)
        let email = try Self.email(body)
        let role = try Self.role(body)
        guard configuration.signIn != nil, let baseURL = configuration.baseURL else {
            throw APIError(
                .conflict, "invitations need sign-in: set PLUTUS_OIDC_ISSUER (or PLUTUS_GOOGLE_CLIENT_ID) and PLUTUS_BASE_URL",
                code: "sign_in_disabled")
        }
        let sent = try await Invitations.send(
            store: store, organization: org, email: email, role: role, invitedBy: AuditTrail<Store>.operatorActor,
            baseURL: baseURL, mailer: configuration.mailer, at: Timestamp.now())
        await audit.record(
            org.id, actor: AuditTrail<Store>.operatorActor, .invitationSent,
            "\(email) as \(role.rawValue)\(sent.emailed ? "" : " (not emailed)")", context: context)
        var fields: [(String, JSONValue)] = [("org_id", .string(org.id.rawValue))]
        if case .object(let rest) = RecordJSON.invitation(sent.invitation) { fields += rest }
        fields += [
            ("link", .string(sent.link)), ("emailed", .bool(sent.emailed)), ("email_problem", .optionalString(sent.emailProblem)),
        ]
        return JSONResponse.make(.created, .object(fields))
    }
}

/// Writes the audit log. A line that cannot be written is logged, and the action it
/// describes (done already) stands.
struct AuditTrail<Store: BillingStore>: Sendable {
    let store: Store
    static var operatorActor: String { "operator" }

    func record(
        _ organizationID: OrganizationID, actor: String, _ action: AuditAction, _ detail: String,
        context: PlutusRequestContext
    ) async {
        do {
            try await store.recordAudit(
                AuditEntry(
                    organizationID: organizationID, at: Timestamp.now(), actor: actor, action: action, detail: detail,
                    requestID: context.id))
        } catch {
            context.logger.error("audit line not written: \(action.rawValue) \(detail): \(error)")
        }
    }
}
