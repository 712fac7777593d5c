import Foundation
import HTTPTypes
import Hummingbird
import PlutusCore
import PlutusStore

/// An organization's people, as its members see them: `/members` (who belongs, with which
/// role; admins invite, owners change roles and remove) and `/audit` (who did what; admins
/// and owners, as a page or CSV). Every form checks sign-in, CSRF and the role on the server.
struct TeamController<Store: BillingStore>: Sendable {
    let store: Store
    let configuration: ServerConfiguration
    var gate: VisitorGate<Store> { VisitorGate(store: store, configuration: configuration) }
    var access: WebAccess { WebAccess(configuration: configuration) }
    var audit: AuditTrail<Store> { AuditTrail(store: store) }

    /// Audit lines on one page.
    static var auditPageRows: Int { 100 }

    func register(on router: Router<PlutusRequestContext>) {
        router.get("/members", use: members)
        router.post("/members/invite", use: invite)
        router.post("/members/role", use: changeRole)
        router.post("/members/remove", use: remove)
        router.get("/audit", use: auditLog)
        router.post("/budgets/create", use: createBudget)
        router.post("/budgets/disable", use: disableBudget)
    }

    /// The visitor and the organization `?org=` names, when the visitor may `action` there.
    private func visit(_ request: Request, org reference: String?, _ action: MemberAction) async throws
        -> Result<(Visitor, Organization, MemberRole), Refusal>
    {
        guard let visitor = try await gate.visitor(request) else { return .failure(Refusal(WebAccess.signInRedirect)) }
        guard let reference, !reference.isEmpty, let org = try await store.findOrganization(reference) else {
            return .failure(
                Refusal(Self.page(.badRequest, "No such organization", "no organization matches '\(reference ?? "")'")))
        }
        guard let role = visitor.role(in: org.id) else {
            return .failure(Refusal(VisitorGate<Store>.forbidden("you are not a member of \(org.name)")))
        }
        guard role.allows(action) else { return .failure(Refusal(VisitorGate<Store>.forbidden(action.refusal(role)))) }
        return .success((visitor, org, role))
    }

    struct Refusal: Error {
        let response: Response
        init(_ response: Response) { self.response = response }
    }

    static func page(_ status: HTTPResponse.Status, _ title: String, _ message: String) -> Response {
        HTMLPage.response(
            status, title: title, bodyHTML: "<p>\(HTMLPage.escape(message))</p><p><a href=\"/\">Back to the dashboard</a></p>")
    }

    private func hidden(_ name: String, _ value: String) -> String {
        "<input type=\"hidden\" name=\"\(name)\" value=\"\(HTMLPage.escape(value))\">"
    }

    @Sendable func members(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let (org, role): (Organization, MemberRole)
        switch try await visit(request, org: request.uri.queryParameters.get("org"), .viewSpend) {
        case .failure(let refusal): return refusal.response
        case .success(let found): (org, role) = (found.1, found.2)
        }
        let csrf = hidden("_csrf", access.csrfToken) + hidden("org", org.id.rawValue)
        let people = try await store.members(org.id)
        let roleOptions = { (selected: MemberRole) in
            MemberRole.allCases.reversed().map {
                "<option value=\"\($0.rawValue)\"\($0 == selected ? " selected" : "")>\($0.rawValue)</option>"
            }.joined()
        }
        var rows = ""
        for person in people {
            var actions = ""
            if role.allows(.manageRoles) {
                actions += """
                    <form class="inline" method="post" action="/members/role">\(csrf)\(hidden("email", person.email))\
                    <select name="role" aria-label="Role of \(HTMLPage.escape(person.email))">\(roleOptions(person.role))</select> \
                    <button type="submit">Change</button></form>
                    """
            }
            if role.allows(.removeMembers) {
                actions += """
                    <form class="inline" method="post" action="/members/remove">\(csrf)\(hidden("email", person.email))\
                    <button type="submit">Remove</button></form>
                    """
            }
            rows += """
                <tr><td>\(HTMLPage.escape(person.email))</td><td>\(person.role.rawValue)</td><td>\(actions)</td></tr>
                """
        }
        var body = """
            <p><a href="/?org=\(DashboardView.percentEncoded(org.id.rawValue))">← \(HTMLPage.escape(org.name))</a>\
            \(role.allows(.viewAudit) ? " · <a href=\"/audit?org=\(DashboardView.percentEncoded(org.id.rawValue))\">Audit log</a>" : "")</p>
            <table id="members"><thead><tr><th>Email</th><th>Role</th><th></th></tr></thead><tbody>\(rows)</tbody></table>
            """
        if role.allows(.invite) {
            let pending = try await store.pendingInvitations(org.id, at: Timestamp.now())
            if !pending.isEmpty {
                body +=
                    "<h2>Invited</h2><ul>"
                    + pending.map {
                        "<li>\(HTMLPage.escape($0.email)) as \($0.role.rawValue), until \($0.expiresAt.iso8601Seconds)</li>"
                    }.joined() + "</ul>"
            }
            if configuration.signIn != nil, configuration.baseURL != nil {
                body += """
                    <form method="post" action="/members/invite">\(csrf)<label>Invite by email \
                    <input name="email" type="email" required></label> <select name="role" aria-label="Role">\
                    \(roleOptions(.member))</select> <button type="submit">Send invitation</button></form>
                    """
            }
        }
        return HTMLPage.response(.ok, title: "\(org.name) · members", bodyHTML: body)
    }

    /// The form's organization and the visitor, when sign-in, CSRF and the role allow `action`.
    private func form(_ request: Request, _ action: MemberAction) async throws
        -> Result<(Visitor, Organization, MemberRole, [String: String]), Refusal>
    {
        let form = FormBody.parse(try await HTTPInput.body(request))
        guard access.formAllowed(request, form) else { return .failure(Refusal(DashboardController<Store>.blocked)) }
        switch try await visit(request, org: form["org"], action) {
        case .failure(let refusal): return .failure(refusal)
        case .success(let (visitor, org, role)): return .success((visitor, org, role, form))
        }
    }

    private func backToMembers(_ org: Organization) -> Response {
        Response(status: .seeOther, headers: [.location: "/members?org=\(DashboardView.percentEncoded(org.id.rawValue))"])
    }

    private func storeRefusal(_ error: StoreError) -> Response? {
        switch error {
        case .lastOwner, .memberNotFound, .alreadyMember, .invalid: Self.page(.conflict, "Members", error.description)
        default: nil
        }
    }

    @Sendable func invite(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let (visitor, org, _, fields): (Visitor, Organization, MemberRole, [String: String])
        switch try await form(request, .invite) {
        case .failure(let refusal): return refusal.response
        case .success(let found): (visitor, org, _, fields) = found
        }
        guard let baseURL = configuration.baseURL, configuration.signIn != nil else {
            return Self.page(.conflict, "Members", "invitations need sign-in to be configured on this server")
        }
        guard let role = MemberRole(rawValue: fields["role"] ?? "member") else {
            return Self.page(.badRequest, "Members", "role must be one of viewer, member, admin, owner")
        }
        // Only an owner makes owners.
        if role == .owner, visitor.role(in: org.id) != .owner {
            return VisitorGate<Store>.forbidden(MemberAction.manageRoles.refusal(visitor.role(in: org.id) ?? .viewer))
        }
        let email = (fields["email"] ?? "").trimmingCharacters(in: .whitespaces)
        let actor = visitor.email ?? AuditTrail<Store>.operatorActor
        let sent: Invitations.Sent
        do {
            sent = try await Invitations.send(
                store: store, organization: org, email: email, role: role, invitedBy: actor, baseURL: baseURL,
                mailer: configuration.mailer, at: Timestamp.now())
        } catch let error as StoreError {
            guard let refusal = storeRefusal(error) else { throw error }
            return refusal
        }
        await audit.record(
            org.id, actor: actor, .invitationSent,
            "\(sent.invitation.email) as \(role.rawValue)\(sent.emailed ? "" : " (not emailed)")",
            context: context)
        let emailed =
            sent.emailed
            ? "An email with the link went to \(HTMLPage.escape(sent.invitation.email))."
            : "\(HTMLPage.escape(sent.emailProblem ?? "")): <code>\(HTMLPage.escape(sent.link))</code>"
        return HTMLPage.response(
            .ok, title: "Invitation sent",
            bodyHTML: """
                <p>\(HTMLPage.escape(sent.invitation.email)) is invited to \(HTMLPage.escape(org.name)) as \(role.rawValue).</p>
                <p>\(emailed)</p><p><a href="/members?org=\(DashboardView.percentEncoded(org.id.rawValue))">Back to the members</a></p>
                """)
    }

    @Sendable func changeRole(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let (visitor, org, _, fields): (Visitor, Organization, MemberRole, [String: String])
        switch try await form(request, .manageRoles) {
        case .failure(let refusal): return refusal.response
        case .success(let found): (visitor, org, _, fields) = found
        }
        guard let role = MemberRole(rawValue: fields["role"] ?? "") else {
            return Self.page(.badRequest, "Members", "role must be one of viewer, member, admin, owner")
        }
        let email = fields["email"] ?? ""
        guard let before = try await store.members(org.id).first(where: { $0.email.lowercased() == email.lowercased() }) else {
            return Self.page(.notFound, "Members", StoreError.memberNotFound(email).description)
        }
        do {
            _ = try await store.setMember(org.id, email: email, name: nil, role: role, at: Timestamp.now())
        } catch let error as StoreError {
            guard let refusal = storeRefusal(error) else { throw error }
            return refusal
        }
        await audit.record(
            org.id, actor: visitor.email ?? AuditTrail<Store>.operatorActor, .roleChanged,
            "\(before.email) → \(role.rawValue) (was \(before.role.rawValue))", context: context)
        return backToMembers(org)
    }

    @Sendable func remove(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let (visitor, org, _, fields): (Visitor, Organization, MemberRole, [String: String])
        switch try await form(request, .removeMembers) {
        case .failure(let refusal): return refusal.response
        case .success(let found): (visitor, org, _, fields) = found
        }
        let email = fields["email"] ?? ""
        do {
            try await store.removeMember(org.id, email: email, at: Timestamp.now())
        } catch let error as StoreError {
            guard let refusal = storeRefusal(error) else { throw error }
            return refusal
        }
        await audit.record(
            org.id, actor: visitor.email ?? AuditTrail<Store>.operatorActor, .memberRemoved, email.lowercased(), context: context)
        return backToMembers(org)
    }

    private func backToDashboard(_ org: Organization) -> Response {
        Response(status: .seeOther, headers: [.location: "/?org=\(DashboardView.percentEncoded(org.id.rawValue))"])
    }

    /// The dashboard's budget form: the fields of `POST /v1/admin/budgets`, checked by the same rules.
    @Sendable func createBudget(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let (visitor, org, _, fields): (Visitor, Organization, MemberRole, [String: String])
        switch try await form(request, .manageBudgets) {
        case .failure(let refusal): return refusal.response
        case .success(let found): (visitor, org, _, fields) = found
        }
        let limit = (fields["limit_usd"] ?? "").trimmingCharacters(in: .whitespaces)
        guard case .success = MicroDollars.parse(limit) else {
            return Self.page(.badRequest, "Budgets", "the limit must be an amount in dollars, like 250 or 19.99")
        }
        var members: [(String, JSONValue)] = [
            ("scope", .string(fields["scope"] ?? "")), ("limit_usd", .number(limit)),
            ("period", .string(fields["period"] ?? "month")), ("mode", .string(fields["mode"] ?? "hard")),
        ]
        if let scopeID = fields["scope_id"]?.trimmingCharacters(in: .whitespaces), !scopeID.isEmpty, fields["scope"] != "org" {
            members.append(("scope_id", .string(scopeID)))
        }
        let input: BudgetInput
        do {
            input = try BudgetValidation.validate(.object(members))
        } catch {
            return Self.page(.badRequest, "Budgets", error.message)
        }
        let budget: Budget
        do {
            budget = try await store.createBudget(BudgetRequest(organizationID: org.id, input), at: Timestamp.now())
        } catch let error as StoreError {
            if case .invalid = error { return Self.page(.badRequest, "Budgets", error.description) }
            throw error
        }
        await audit.record(
            org.id, actor: visitor.email ?? AuditTrail<Store>.operatorActor, .budgetChanged,
            "created \(budget.id.rawValue): \(budget.title)", context: context)
        return backToDashboard(org)
    }

    @Sendable func disableBudget(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let (visitor, org, _, fields): (Visitor, Organization, MemberRole, [String: String])
        switch try await form(request, .manageBudgets) {
        case .failure(let refusal): return refusal.response
        case .success(let found): (visitor, org, _, fields) = found
        }
        let text = fields["budget"] ?? ""
        guard BudgetID.isWellFormed(text) else { return Self.page(.notFound, "Budgets", "no budget '\(text)' in \(org.name)") }
        do {
            _ = try await store.disableBudget(org.id, BudgetID(rawValue: text), at: Timestamp.now())
        } catch StoreError.budgetNotFound {
            return Self.page(.notFound, "Budgets", "no budget '\(text)' in \(org.name)")
        }
        await audit.record(
            org.id, actor: visitor.email ?? AuditTrail<Store>.operatorActor, .budgetChanged, "disabled \(text)", context: context)
        return backToDashboard(org)
    }

    /// `?org=` (`&before=` a line's number for older ones; `&format=csv` for all of it).
    @Sendable func auditLog(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        let org: Organization
        switch try await visit(request, org: query.get("org"), .viewAudit) {
        case .failure(let refusal): return refusal.response
        case .success(let found): org = found.1
        }
        if query.get("format") == "csv" {
            var csv = "seq,time,actor,action,detail,request_id\n"
            var before: Int64? = nil
            while true {
                let lines = try await store.auditLog(org.id, before: before, limit: Limits.pageRowsMax)
                for line in lines {
                    let entry = line.entry
                    csv +=
                        [
                            String(line.sequence), entry.at.iso8601Seconds, entry.actor, entry.action.rawValue, entry.detail,
                            entry.requestID ?? "",
                        ].map(MonthlyStatement.csvField).joined(separator: ",") + "\n"
                }
                guard lines.count == Limits.pageRowsMax, let last = lines.last else { break }
                before = last.sequence
            }
            return Response(
                status: .ok,
                headers: [
                    .contentType: "text/csv; charset=utf-8",
                    .contentDisposition: "attachment; filename=\"plutus-audit-\(org.slug).csv\"",
                ],
                body: ResponseBody(byteBuffer: ByteBuffer(string: csv)))
        }
        let before = query.get("before").flatMap(Int64.init)
        let lines = try await store.auditLog(org.id, before: before, limit: Self.auditPageRows)
        let reference = DashboardView.percentEncoded(org.id.rawValue)
        var rows = ""
        for line in lines {
            let entry = line.entry
            rows += """
                <tr><td>\(entry.at.iso8601Seconds)</td><td>\(HTMLPage.escape(entry.actor))</td><td>\(entry.action.rawValue)</td>\
                <td>\(HTMLPage.escape(entry.detail))</td><td><code>\(HTMLPage.escape(entry.requestID ?? ""))</code></td></tr>
                """
        }
        if lines.isEmpty { rows = "<tr><td colspan=\"5\">Nothing recorded yet.</td></tr>" }
        let older =
            lines.count == Self.auditPageRows
            ? "<p><a href=\"/audit?org=\(reference)&before=\(lines.last!.sequence)\">Older →</a></p>" : ""
        return HTMLPage.response(
            .ok, title: "\(org.name) · audit log",
            bodyHTML: """
                <p><a href="/?org=\(reference)">← \(HTMLPage.escape(org.name))</a> · <a href="/members?org=\(reference)">Members</a> · \
                <a href="/audit?org=\(reference)&format=csv">Download CSV</a></p>
                <table id="audit"><thead><tr><th>Time (UTC)</th><th>Who</th><th>What</th><th>Detail</th><th>Request</th></tr></thead>
                <tbody>\(rows)</tbody></table>\(older)
                """)
    }
}
