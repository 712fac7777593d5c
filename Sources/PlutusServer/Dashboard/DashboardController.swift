import Foundation
import HTTPTypes
import Hummingbird
import PlutusCore
import PlutusStore

/// The operator's dashboard (`/`), the public `/pricing` page, the monthly statement
/// (`/report`), the dashboard's JSON (`/api/*`) and its forms (API keys, sign-in).
/// With `PLUTUS_ADMIN_TOKEN` set, everything but `/pricing` and `/login` asks for it.
struct DashboardController<Store: BillingStore>: Sendable {
    let store: Store
    let configuration: ServerConfiguration
    var access: WebAccess { WebAccess(configuration: configuration) }
    var gate: VisitorGate<Store> { VisitorGate(store: store, configuration: configuration) }

    func register(on router: Router<PlutusRequestContext>) {
        router.get("/", use: dashboard)
        router.get("/pricing", use: pricing)
        router.get("/report", use: report)
        router.get("/login", use: loginPage)
        router.post("/login", use: login)
        router.post("/logout", use: logout)
        router.post("/keys/create", use: createKey)
        router.post("/keys/revoke", use: revokeKey)
        router.get("/api/orgs", use: apiOrganizations)
        router.get("/api/summary", use: apiSummary)
        router.get("/api/events", use: apiEvents)
        router.get("/api/ledger", use: apiLedger)
    }

    // MARK: pages

    /// An HTML response with the dashboard's CSP: scripts and styles only with this nonce.
    static func html(_ status: HTTPResponse.Status, _ template: String, _ context: Any, nonce: String) -> Response {
        Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8",
                .contentSecurityPolicy:
                    "default-src 'none'; style-src 'nonce-\(nonce)'; script-src 'nonce-\(nonce)'; connect-src 'self'; "
                    + "img-src 'self' data:; form-action 'self' https://checkout.stripe.com https://billing.stripe.com; "
                    + "frame-ancestors 'none'; base-uri 'none'",
                .cacheControl: "no-store",
            ],
            body: ResponseBody(byteBuffer: ByteBuffer(string: Templates.render(template, context))))
    }

    static func notice(_ status: HTTPResponse.Status, _ title: String, _ message: String) -> Response {
        HTMLPage.response(
            status, title: title, bodyHTML: "<p>\(HTMLPage.escape(message))</p><p><a href=\"/\">Back to the dashboard</a></p>")
    }

    /// The visitor, or the response that sends a browser to sign in.
    private enum Visit {
        case admitted(Visitor)
        case refused(Response)
    }

    private func visit(_ request: Request) async throws -> Visit {
        guard let visitor = try await gate.visitor(request) else { return .refused(WebAccess.signInRedirect) }
        return .admitted(visitor)
    }

    private func apiVisitor(_ request: Request) async throws -> Visitor {
        guard let visitor = try await gate.visitor(request) else { throw APIError.invalidAdminToken }
        return visitor
    }

    /// The organization `?org=` names, or the visitor's first one when none is named, among
    /// those the visitor may see.
    private func organization(_ reference: String?, visitor: Visitor) async throws -> (Organization?, [OrganizationListing]) {
        let visible = visitor.organizations
        let all = try await store.listOrganizations().filter { visible?.contains($0.organization.id) ?? true }
        if let reference, !reference.isEmpty { return (try await store.findOrganization(reference), all) }
        return (all.first?.organization, all)
    }

    @Sendable func dashboard(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let visitor: Visitor
        switch try await visit(request) {
        case .refused(let redirect): return redirect
        case .admitted(let found): visitor = found
        }
        let query = request.uri.queryParameters
        let reference = query.get("org")
        let (found, all) = try await organization(reference, visitor: visitor)
        if let found, !visitor.may(.viewSpend, in: found.id) {
            return VisitorGate<Store>.forbidden("you are not a member of \(found.name)")
        }
        guard let org = found else {
            if reference == nil, case .member = visitor {
                return HTMLPage.response(
                    .ok, title: "No organization yet",
                    bodyHTML: "<p>You belong to no organization on this Plutus yet; ask an administrator to invite you.</p>")
            }
            if reference == nil {
                return HTMLPage.response(
                    .ok, title: "No organizations yet",
                    bodyHTML: """
                        <p>This database has no organization to show. Create one from a shell on this server:</p>
                        <pre><code>plutus org create "Acme" --tier pro
                        plutus topup --org acme --amount 50
                        plutus keys create --org acme --name my-agent</code></pre>
                        <p>or look around first with demo data: <code>plutus serve --demo</code>.</p>
                        <p><a href="/">Reload</a> · <a href="/pricing">Plans and prices</a></p>
                        """)
            }
            return Self.notice(.notFound, "No such organization", "no organization matches '\(reference ?? "")'")
        }
        let now = Timestamp.now()
        let today = now.day
        let toDay = query.get("to").flatMap(CivilDay.init(text:)) ?? today
        var fromDay = query.get("from").flatMap(CivilDay.init(text:)) ?? today.adding(days: 1 - DashboardView.defaultRangeDays)
        if fromDay > toDay { fromDay = toDay }
        let spanMax = Int64(Limits.summaryDaysMax)
        if toDay.daysSinceEpoch - fromDay.daysSinceEpoch >= spanMax { fromDay = toDay.adding(days: -(spanMax - 1)) }
        let workspaces = try await store.listWorkspaces(org.id)
        let workspace = query.get("workspace").flatMap { id in workspaces.first { $0.id.rawValue == id } }
        let ledgerBefore = query.get("ledger_before").flatMap(Int64.init)

        let days = fromDay..<toDay.adding(days: 1)
        let month = try await store.usageSummary(
            org.id, days: now.month.start.day..<today.adding(days: 1), workspace: workspace?.id)
        let snapshot = try await store.balance(org.id, at: now)
        let facts = DashboardPage.Facts(
            organization: org, all: all, workspaces: workspaces, workspace: workspace, days: fromDay...toDay, now: now,
            range: try await store.usageSummary(org.id, days: days, workspace: workspace?.id),
            month: month,
            trailing: try await store.usageSummary(
                org.id, days: today.adding(days: 1 - DashboardView.burnWindowDays)..<today.adding(days: 1),
                workspace: workspace?.id),
            monthByWorkspace: workspace == nil ? month : try await store.usageSummary(org.id, days: month.days, workspace: nil),
            balance: snapshot.balance, held: snapshot.held,
            budgets: try await store.budgets(org.id, at: now, includingDisabled: false),
            history: try await store.creditHistory(org.id, days: days),
            feed: try await store.usageEvents(org.id, page: PageRequest(limit: DashboardView.feedRows, workspace: workspace?.id))
                .items,
            ledger: try await store.ledgerEntries(
                org.id, page: PageRequest(limit: DashboardView.ledgerRows, before: ledgerBefore)),
            ledgerBefore: ledgerBefore, alerts: try await store.recentAlerts(org.id, limit: DashboardView.alertsShown),
            keys: try await store.listAPIKeys(org.id), catalog: try await store.priceCatalog(),
            role: visitor.role(in: org.id) ?? .viewer, email: visitor.email)
        let nonce = HTMLPage.nonce()
        let page = DashboardPage(facts, configuration: configuration, csrf: access.csrfToken, nonce: nonce)
        return Self.html(.ok, "dashboard", page, nonce: nonce)
    }

    static func percentEncoded(_ text: String) -> String { DashboardView.percentEncoded(text) }

    @Sendable func pricing(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let catalog = try await store.priceCatalog()
        let nonce = HTMLPage.nonce()
        let plans = Plan.allCases.map { plan -> [String: Any] in
            [
                "name": plan.displayName,
                "price": plan.monthlyPrice.map { $0 == .zero ? "$0/mo" : "\($0.formatted(decimals: 0))/mo" } ?? "Custom",
                "tokens": plan.trackedTokensPerMonth.map { "\(DashboardView.grouped($0)) tracked tokens a month" }
                    ?? "Unlimited tracked tokens",
                "workspaces": plan.workspacesMax.map { "\($0) workspace\($0 == 1 ? "" : "s")" } ?? "Unlimited workspaces",
            ]
        }
        let prices = catalog.rows.map { row -> [String: Any] in
            [
                "provider": row.provider, "model": row.model, "input": row.price.input.exact,
                "output": row.price.output.exact, "cacheRead": row.price.cacheRead.exact,
                "cacheWrite": row.price.cacheWrite.exact, "reasoning": row.price.reasoning.exact,
            ]
        }
        return Self.html(
            .ok, "pricing",
            [
                "title": "Pricing", "nonce": nonce, "plans": plans, "prices": prices, "catalogVersion": catalog.version,
                "asOf": catalog.asOf,
            ], nonce: nonce)
    }

    @Sendable func report(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let visitor: Visitor
        switch try await visit(request) {
        case .refused(let redirect): return redirect
        case .admitted(let found): visitor = found
        }
        let query = request.uri.queryParameters
        guard let reference = query.get("org"), let org = try await store.findOrganization(reference) else {
            return Self.notice(.notFound, "No such organization", "no organization matches '\(query.get("org") ?? "")'")
        }
        guard visitor.may(.viewSpend, in: org.id) else {
            return VisitorGate<Store>.forbidden("you are not a member of \(org.name)")
        }
        let now = Timestamp.now()
        guard let month = query.get("month").map(CivilMonth.init(text:)) ?? now.month, month.start <= now else {
            return Self.notice(.badRequest, "Statement", "month must be YYYY-MM and not in the future")
        }
        let statement = try await MonthlyStatement.load(store, org, month: month, now: now)
        switch query.get("format") ?? "html" {
        case "html":
            let nonce = HTMLPage.nonce()
            return Self.html(.ok, "statement", statement.context(nonce: nonce), nonce: nonce)
        case "csv":
            return Response(
                status: .ok,
                headers: [
                    .contentType: "text/csv; charset=utf-8",
                    .contentDisposition: "attachment; filename=\"\(statement.fileName).csv\"",
                ],
                body: ResponseBody(byteBuffer: ByteBuffer(string: statement.csv)))
        case "pdf":
            do {
                let pdf = try await StatementPDF.render(statement.html)
                return Response(
                    status: .ok,
                    headers: [
                        .contentType: "application/pdf",
                        .contentDisposition: "attachment; filename=\"\(statement.fileName).pdf\"",
                    ],
                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: pdf)))
            } catch let error as StatementPDF.Unavailable {
                return Self.notice(.notImplemented, "PDF not available", error.message)
            }
        default:
            return Self.notice(.badRequest, "Statement", "format must be html, csv or pdf")
        }
    }

    // MARK: sign-in

    @Sendable func loginPage(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        guard configuration.adminToken != nil || configuration.signIn != nil else {
            return Response(status: .seeOther, headers: [.location: "/"])
        }
        let nonce = HTMLPage.nonce()
        return Self.html(.ok, "login", loginContext(nonce: nonce, failed: false), nonce: nonce)
    }

    private func loginContext(nonce: String, failed: Bool) -> [String: Any] {
        [
            "title": "Sign in", "nonce": nonce, "csrf": access.csrfToken, "failed": failed,
            "oidc": configuration.signIn != nil, "token": configuration.adminToken != nil,
        ]
    }

    @Sendable func login(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let form = FormBody.parse(try await HTTPInput.body(request))
        guard access.formAllowed(request, form) else { return Self.blocked }
        guard let token = configuration.adminToken, let session = access.sessionValue else {
            return Response(status: .seeOther, headers: [.location: "/"])
        }
        guard let presented = form["token"], Digest.constantTimeEqual(Array(presented.utf8), Array(token.utf8)) else {
            let nonce = HTMLPage.nonce()
            return Self.html(.unauthorized, "login", loginContext(nonce: nonce, failed: true), nonce: nonce)
        }
        return Response(status: .seeOther, headers: [.location: "/", .setCookie: access.sessionCookie(session)])
    }

    @Sendable func logout(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let form = FormBody.parse(try await HTTPInput.body(request))
        guard access.formAllowed(request, form) else { return Self.blocked }
        if let token = request.cookies[VisitorGate<Store>.sessionCookieName]?.value, !token.isEmpty {
            try await store.revokeSession(tokenHash: Digest.sha256Hex(Array(token.utf8)), at: Timestamp.now())
        }
        var response = Response(status: .seeOther, headers: [.location: "/login", .setCookie: access.sessionCookie(nil)])
        response.headers.append(HTTPField(name: .setCookie, value: gate.sessionCookie(nil)))
        return response
    }

    static var blocked: Response { notice(.forbidden, "Request blocked", "cross-origin request blocked") }

    // MARK: API keys

    /// A form that passed its checks, or the response that refuses it.
    enum FormCheck {
        case passed(Organization, [String: String], actor: String)
        case refused(Response)
    }

    /// Checks sign-in and CSRF, finds the form's organization, and checks the visitor's role
    /// there allows `action`.
    private func formOrganization(_ request: Request, _ action: MemberAction) async throws -> FormCheck {
        let form = FormBody.parse(try await HTTPInput.body(request))
        guard let visitor = try await gate.visitor(request) else { return .refused(WebAccess.signInRedirect) }
        guard access.formAllowed(request, form) else { return .refused(Self.blocked) }
        guard let reference = form["org"], !reference.isEmpty, let org = try await store.findOrganization(reference) else {
            return .refused(Self.notice(.badRequest, "No such organization", "no organization matches '\(form["org"] ?? "")'"))
        }
        guard let role = visitor.role(in: org.id) else {
            return .refused(VisitorGate<Store>.forbidden("you are not a member of \(org.name)"))
        }
        guard role.allows(action) else { return .refused(VisitorGate<Store>.forbidden(action.refusal(role))) }
        return .passed(org, form, actor: visitor.email ?? AuditTrail<Store>.operatorActor)
    }

    @Sendable func createKey(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let (org, form, actor): (Organization, [String: String], String)
        switch try await formOrganization(request, .createKeys) {
        case .refused(let response): return response
        case .passed(let found, let fields, let who): (org, form, actor) = (found, fields, who)
        }
        let name = (form["name"] ?? "").trimmingCharacters(in: .whitespaces)
        guard name.utf8.count <= Limits.nameBytesMax, !UsageValidation.containsControlCharacter(name) else {
            return Self.notice(
                .badRequest, "API keys", "a key name is at most \(Limits.nameBytesMax) bytes without control characters")
        }
        let created = try await store.createAPIKey(org.id, name: name.isEmpty ? nil : name)
        await AuditTrail(store: store).record(
            org.id, actor: actor, .keyCreated, "\(created.info.name ?? "(unnamed)") \(created.info.prefix)…", context: context)
        let nonce = HTMLPage.nonce()
        return Self.html(
            .ok, "key-created",
            [
                "title": "API key created", "nonce": nonce, "secret": created.secret, "name": created.info.name ?? "(unnamed)",
                "prefix": created.info.prefix, "backURL": "/?org=\(Self.percentEncoded(org.id.rawValue))",
                "origin": configuration.baseURL
                    ?? "http://\(request.head.authority ?? "127.0.0.1:\(ServerConfiguration.defaultPort)")",
            ], nonce: nonce)
    }

    @Sendable func revokeKey(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let (org, form, actor): (Organization, [String: String], String)
        switch try await formOrganization(request, .revokeKeys) {
        case .refused(let response): return response
        case .passed(let found, let fields, let who): (org, form, actor) = (found, fields, who)
        }
        guard let key = form["key"], try await store.revokeAPIKey(org.id, keyID: APIKeyID(rawValue: key)) else {
            return Self.notice(.notFound, "API keys", "no active key with that id in \(org.name)")
        }
        await AuditTrail(store: store).record(org.id, actor: actor, .keyRevoked, key, context: context)
        return Response(status: .seeOther, headers: [.location: "/?org=\(Self.percentEncoded(org.id.rawValue))"])
    }

    // MARK: JSON

    private func apiOrganization(_ request: Request) async throws -> Organization {
        let visitor = try await apiVisitor(request)
        guard let reference = request.uri.queryParameters.get("org"), let org = try await store.findOrganization(reference)
        else { throw APIError.unknownOrg }
        guard visitor.may(.viewSpend, in: org.id) else {
            throw APIError(.forbidden, "you are not a member of this organization", code: "forbidden")
        }
        return org
    }

    private func pageRequest(_ request: Request) throws -> PageRequest {
        PageRequest(
            limit: Int(
                try HTTPInput.integer(request, "limit", in: 1...Int64(Limits.pageRowsMax)) ?? Int64(Limits.pageRowsDefault)),
            before: try HTTPInput.integer(request, "before", in: 1...Int64.max),
            workspace: request.uri.queryParameters.get("workspace").flatMap { $0.isEmpty ? nil : WorkspaceID(rawValue: $0) })
    }

    @Sendable func apiOrganizations(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let visible = try await apiVisitor(request).organizations
        let listings = try await store.listOrganizations().filter { visible?.contains($0.organization.id) ?? true }
        return JSONResponse.make(.ok, .object([("orgs", .array(listings.map(RecordJSON.organization)))]))
    }

    @Sendable func apiEvents(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let org = try await apiOrganization(request)
        let page = try await store.usageEvents(org.id, page: try pageRequest(request))
        return JSONResponse.make(.ok, RecordJSON.page(page, render: RecordJSON.event))
    }

    @Sendable func apiLedger(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let org = try await apiOrganization(request)
        let page = try await store.ledgerEntries(org.id, page: try pageRequest(request))
        return JSONResponse.make(.ok, RecordJSON.page(page, render: RecordJSON.entry))
    }

    /// Usage over `from`…`to` (UTC days, both included; default: this month so far).
    @Sendable func apiSummary(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let org = try await apiOrganization(request)
        let query = request.uri.queryParameters
        let now = Timestamp.now()
        func day(_ name: String, _ fallback: CivilDay) throws -> CivilDay {
            guard let text = query.get(name) else { return fallback }
            guard let day = CivilDay(text: text) else { throw APIError.badRequest("\(name) must be YYYY-MM-DD", field: name) }
            return day
        }
        let from = try day("from", now.month.start.day)
        let to = try day("to", now.day)
        guard from <= to, to.daysSinceEpoch - from.daysSinceEpoch < Int64(Limits.summaryDaysMax) else {
            throw APIError.badRequest(
                "from must not be after to, and the range at most \(Limits.summaryDaysMax) days", field: "from")
        }
        var workspace: WorkspaceID?
        if let id = query.get("workspace") {
            guard try await store.listWorkspaces(org.id).contains(where: { $0.id.rawValue == id }) else {
                throw APIError.badRequest("no such workspace in this organization", field: "workspace")
            }
            workspace = WorkspaceID(rawValue: id)
        }
        let summary = try await store.usageSummary(org.id, days: from..<to.adding(days: 1), workspace: workspace)
        let balance = try await store.balance(org.id, at: now)
        return JSONResponse.make(.ok, SummaryJSON.summary(summary, organization: org, balance: balance.balance))
    }
}
