import HTTPTypes
import Hummingbird
import PlutusCore
import PlutusStore

/// `/v1/admin/*` behind `Authorization: Bearer $PLUTUS_ADMIN_TOKEN`, compared in constant
/// time. With no token configured every admin path answers 404.
struct AdminController<Store: BillingStore>: Sendable {
    let store: Store
    let configuration: ServerConfiguration
    var adminToken: String? { configuration.adminToken }
    var audit: AuditTrail<Store> { AuditTrail(store: store) }

    func register(on router: Router<PlutusRequestContext>) {
        let admin = router.group("/v1/admin").add(middleware: AdminGate(token: adminToken))
        admin.get("orgs", use: listOrganizations)
        admin.post("orgs", use: createOrganization)
        admin.post("credits", use: postCredit)
        admin.get("keys", use: listKeys)
        admin.post("keys", use: createKey)
        admin.post("keys/revoke", use: revokeKey)
        admin.post("budgets", use: createBudget)
        admin.get("budgets", use: listBudgets)
        admin.post("budgets/{id}/disable", use: disableBudget)
        admin.get("members", use: listMembers)
        admin.post("members", use: addMember)
        admin.post("members/remove", use: removeMember)
        admin.post("invitations", use: invite)
        admin.get("**") { request, _ -> Response in throw Self.noRoute(request) }
        admin.post("**") { request, _ -> Response in throw Self.noRoute(request) }
    }

    static func noRoute(_ request: Request) -> APIError {
        APIError(.notFound, "no admin route for \(request.uri.path)", code: "not_found")
    }

    struct AdminGate: RouterMiddleware {
        typealias Context = PlutusRequestContext
        let token: String?

        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
            -> Response
        {
            guard let token else { throw APIError.adminDisabled }
            guard let presented = HTTPInput.bearer(request),
                Digest.constantTimeEqual(Array(presented.utf8), Array(token.utf8))
            else { throw APIError.invalidAdminToken }
            return try await next(request, context)
        }
    }

    // MARK: fields of admin bodies

    static func string(_ body: JSONValue, _ field: String, required: Bool) throws -> String? {
        guard let value = body[field], value != .null else {
            if required { throw APIError.badRequest("\(field) is required", field: field) }
            return nil
        }
        guard case .string(let text) = value else {
            throw APIError.badRequest("\(field) must be a string", code: "wrong_type", field: field)
        }
        return text
    }

    func organization(_ body: JSONValue, field: String = "org_id") async throws -> Organization {
        guard let reference = try Self.string(body, field, required: true), let org = try await store.findOrganization(reference)
        else { throw APIError.unknownOrg }
        return org
    }

    // MARK: handlers

    @Sendable func createBudget(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let body = try await HTTPInput.object(request)
        let input: BudgetInput
        do {
            input = try BudgetValidation.validate(body)
        } catch {
            throw APIError.badRequest(error.message, code: "invalid_budget", field: error.field.isEmpty ? nil : error.field)
        }
        let org = try await organization(body)
        let now = Timestamp.now()
        let budget = try await store.createBudget(BudgetRequest(organizationID: org.id, input), at: now)
        await audit.record(
            org.id, actor: AuditTrail<Store>.operatorActor, .budgetChanged, "created \(budget.id.rawValue)", context: context)
        let standing = try await store.budgets(org.id, at: now, includingDisabled: false).first { $0.budget.id == budget.id }
        var out = JSONObjectWriter(capacity: 512)
        BudgetJSON.write(
            standing ?? BudgetStanding(budget: budget, spent: .zero, held: .zero, periodStart: now, resetsAt: nil), into: &out)
        return JSONResponse.make(.created, text: out.finish())
    }

    /// `?org_id=`: the organization's budgets with spend, holds and reset time;
    /// `include_disabled=true` lists the disabled ones too.
    @Sendable func listBudgets(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        guard let reference = query.get("org_id") ?? query.get("org"), !reference.isEmpty else {
            throw APIError.badRequest("org_id is required (the organization's id, slug or name)", field: "org_id")
        }
        guard let org = try await store.findOrganization(reference) else { throw APIError.unknownOrg }
        let disabled: Bool
        switch query.get("include_disabled") {
        case nil, "false", "0": disabled = false
        case "true", "1": disabled = true
        case let other?:
            throw APIError.badRequest("'include_disabled' must be true or false, got '\(other)'", field: "include_disabled")
        }
        let standings = try await store.budgets(org.id, at: Timestamp.now(), includingDisabled: disabled)
        var out = JSONObjectWriter(capacity: 128 + standings.count * 512)
        out.string("org_id", org.id.rawValue)
        out.beginArray("budgets")
        for standing in standings {
            out.beginObject()
            BudgetJSON.write(standing, into: &out)
            out.end("}")
        }
        out.end("]")
        return JSONResponse.make(.ok, text: out.finish())
    }

    /// `{"org_id"}`: the budget stops counting and refusing; it stays listed as disabled.
    @Sendable func disableBudget(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let text = context.parameters.get("id") ?? ""
        guard BudgetID.isWellFormed(text) else { throw APIError.from(StoreError.budgetNotFound(text))! }
        let body = try await HTTPInput.object(request)
        let org = try await organization(body)
        let now = Timestamp.now()
        let budget = try await store.disableBudget(org.id, BudgetID(rawValue: text), at: now)
        await audit.record(org.id, actor: AuditTrail<Store>.operatorActor, .budgetChanged, "disabled \(text)", context: context)
        var out = JSONObjectWriter(capacity: 512)
        BudgetJSON.write(
            BudgetStanding(budget: budget, spent: .zero, held: .zero, periodStart: budget.period.start(at: now), resetsAt: nil),
            into: &out, figures: false)
        return JSONResponse.make(.ok, text: out.finish())
    }

    @Sendable func listOrganizations(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let limit = try HTTPInput.integer(request, "limit", in: 1...1_000) ?? 100
        let offset = try HTTPInput.integer(request, "offset", in: 0...10_000_000) ?? 0
        let listings = try await store.listOrganizations().dropFirst(Int(offset)).prefix(Int(limit))
        return JSONResponse.make(
            .ok,
            .object([
                (
                    "orgs",
                    .array(
                        listings.map { listing in
                            .object([
                                ("id", .string(listing.organization.id.rawValue)), ("name", .string(listing.organization.name)),
                                ("slug", .string(listing.organization.slug)),
                                ("tier", .string(listing.organization.plan.rawValue)),
                                ("balance", .money(listing.balance)),
                            ])
                        })
                )
            ]))
    }

    @Sendable func createOrganization(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let body = try await HTTPInput.object(request)
        let name = (try Self.string(body, "name", required: false) ?? "").trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty else { throw APIError.badRequest("name is required", field: "name") }
        let tierText = (try Self.string(body, "tier", required: false) ?? "free").lowercased()
        guard let plan = Plan(rawValue: tierText) else {
            throw APIError.badRequest("tier must be \(Plan.allCases.map(\.rawValue).joined(separator: "|"))", field: "tier")
        }
        let email = try Self.string(body, "owner_email", required: false)
        let key = try HTTPInput.idempotencyKey(request)
        func rendered(_ org: Organization) -> [(String, JSONValue)] {
            [
                ("id", .string(org.id.rawValue)), ("name", .string(org.name)), ("slug", .string(org.slug)),
                ("tier", .string(org.plan.rawValue)),
            ]
        }
        // One name, one organization: a second create with the name (or the slug it would
        // take) is a conflict that names the first, not a silent `acme-2` twin. With an
        // Idempotency-Key, a retry of the same create (same name and tier) is answered as a
        // replay of it.
        var existing = try await store.findOrganization(name)
        if existing == nil { existing = try await store.findOrganization(Slug.make(from: name)) }
        if let existing {
            if key != nil, existing.name == name, existing.plan == plan {
                return JSONResponse.make(.ok, .object(rendered(existing) + [("idempotent_replay", .bool(true))]))
            }
            throw APIError(
                .conflict,
                "an organization named '\(existing.name)' already exists (\(existing.id.rawValue), slug '\(existing.slug)')",
                code: "name_taken", field: "name")
        }
        let org = try await store.createOrganization(name: name, plan: plan, ownerEmail: email)
        return JSONResponse.make(.created, .object(rendered(org)))
    }

    /// Grant or adjust. Idempotent: the `Idempotency-Key` becomes the entry's reference, so a
    /// retry returns the original entry (200, `idempotent_replay`) instead of posting twice.
    @Sendable func postCredit(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let body = try await HTTPInput.object(request)
        let org = try await organization(body)
        let kindText = try Self.string(body, "kind", required: false) ?? "grant"
        let kind: EntryKind
        switch kindText {
        case "grant": kind = .grant
        case "adjust", "adjustment": kind = .adjustment
        default: throw APIError.badRequest("kind must be grant|adjust", field: "kind")
        }
        let amount = try Self.amount(body["amount_usd"])
        if kind == .grant && amount.isNegative {
            throw APIError.badRequest("a grant must be positive; use kind=adjust to debit", field: "amount_usd")
        }
        let memo = try Self.string(body, "reason", required: false) ?? "admin \(kindText)"
        let key = try HTTPInput.idempotencyKey(request)
        let reference = "admin:" + (key ?? UsageEventID.random().rawValue.replacingOccurrences(of: "evt_", with: ""))
        let now = Timestamp.now()
        var expiresAt: Timestamp?
        if let text = try Self.string(body, "expires_at", required: false) {
            guard let parsed = Timestamp.parseISO8601(text) else {
                throw APIError.badRequest(
                    "expires_at must be an ISO 8601 time with a zone, e.g. 2027-01-01T00:00:00Z", field: "expires_at")
            }
            expiresAt = parsed
        }
        var priority: Int?
        if let value = body["priority"], value != .null {
            guard case .number(let text) = value, let parsed = Int(text) else {
                throw APIError.badRequest("priority must be a whole number", field: "priority")
            }
            priority = parsed
        }
        let movement: CreditMovement
        do {
            movement = try CreditMovement(
                kind: kind, amount: amount, reference: reference, memo: memo, expiresAt: expiresAt, priority: priority, now: now)
        } catch {
            let field = error.field == "memo" ? "reason" : error.field == "amount" ? "amount_usd" : error.field
            throw APIError.badRequest("\(field) \(error.problem)", field: field)
        }
        let result = try await store.postCredit(org.id, movement, at: now)
        var members: [(String, JSONValue)] = [
            ("org_id", .string(org.id.rawValue)), ("kind", .string(kindText)), ("amount_usd", .money(amount)),
            ("balance_after", .money(result.entry.balanceAfter)), ("entry_id", .string(result.entry.id.rawValue)),
            ("expires_at", .optionalString(movement.expiresAt?.iso8601Seconds)),
            ("priority", movement.priority.map(JSONValue.int) ?? .null),
        ]
        if case .alreadyPosted = result {
            members.append(("idempotent_replay", .bool(true)))
            return JSONResponse.make(.ok, .object(members))
        }
        return JSONResponse.make(.created, .object(members))
    }

    static func amount(_ value: JSONValue?) throws -> MicroDollars {
        let text: String
        switch value {
        case .number(let literal): text = literal
        case .string(let literal): text = literal.trimmingCharacters(in: .whitespaces)
        default: throw APIError.badRequest("amount_usd must be a number", field: "amount_usd")
        }
        guard case .success(let amount) = MicroDollars.parse(text), amount != .zero else {
            throw APIError.badRequest("amount_usd must be a non-zero finite number", field: "amount_usd")
        }
        return amount
    }

    /// `?org_id=` like every other admin call (`?org=` still works); a missing org is a 400
    /// naming the parameter, an unknown one a 404.
    @Sendable func listKeys(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        guard let reference = query.get("org_id") ?? query.get("org"), !reference.isEmpty else {
            throw APIError.badRequest("org_id is required (the organization's id, slug or name)", field: "org_id")
        }
        guard let org = try await store.findOrganization(reference) else { throw APIError.unknownOrg }
        let keys = try await store.listAPIKeys(org.id)
        return JSONResponse.make(
            .ok,
            .object([
                ("org_id", .string(org.id.rawValue)),
                ("keys", .array(keys.map(RecordJSON.key))),
            ]))
    }

    @Sendable func createKey(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let body = try await HTTPInput.object(request)
        let org = try await organization(body)
        let name = try Self.string(body, "name", required: false)
        let created = try await store.createAPIKey(org.id, name: name)
        await audit.record(
            org.id, actor: AuditTrail<Store>.operatorActor, .keyCreated,
            "\(created.info.name ?? "(unnamed)") \(created.info.prefix)…",
            context: context)
        return JSONResponse.make(
            .created,
            .object([
                ("id", .string(created.info.id.rawValue)), ("org_id", .string(org.id.rawValue)),
                ("name", .optionalString(created.info.name)), ("secret", .string(created.secret)),
            ]))
    }

    @Sendable func revokeKey(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let body = try await HTTPInput.object(request)
        let org = try await organization(body)
        guard let keyID = try Self.string(body, "key_id", required: true), APIKeyID.isWellFormed(keyID) else {
            throw APIError.badRequest("key_id must look like key_0123456789abcdef", field: "key_id")
        }
        guard try await store.revokeAPIKey(org.id, keyID: APIKeyID(rawValue: keyID)) else {
            throw APIError(.notFound, "unknown or already revoked key", code: "unknown_key")
        }
        await audit.record(org.id, actor: AuditTrail<Store>.operatorActor, .keyRevoked, keyID, context: context)
        return JSONResponse.make(.ok, .object([("revoked", .bool(true)), ("key_id", .string(keyID))]))
    }
}
