import Foundation
import HTTPTypes
import Hummingbird
import PlutusCore
import PlutusStore
import Synchronization

/// Customer sign-in with the configured OpenID provider: the authorization-code flow with
/// PKCE (S256), a `state` bound to the browser by a short-lived cookie and used once (kept in
/// the database, so a sign-in may end on another server), and a `nonce` in the ID token.
/// Every failure is a page saying what went wrong and how to start again.
struct AuthController<Store: BillingStore>: Sendable {
    let store: Store
    let configuration: ServerConfiguration
    let provider: OpenIDProvider?
    let throttle: SignupThrottle
    var gate: VisitorGate<Store> { VisitorGate(store: store, configuration: configuration) }
    var access: WebAccess { WebAccess(configuration: configuration) }
    var audit: AuditTrail<Store> { AuditTrail(store: store) }

    static var stateCookieName: String { "plutus_sign_in" }

    init(store: Store, configuration: ServerConfiguration) {
        self.store = store
        self.configuration = configuration
        provider = configuration.signIn.map(OpenIDProvider.init(configuration:))
        throttle = SignupThrottle()
    }

    func register(on router: Router<PlutusRequestContext>) {
        router.get("/auth/login", use: login)
        router.get("/auth/invitation", use: invitation)
        router.get("/auth/callback", use: callback)
        router.post("/auth/logout", use: logout)
    }

    static func failure(_ status: HTTPResponse.Status, _ message: String) -> Response {
        HTMLPage.response(
            status, title: "Sign-in failed",
            bodyHTML: "<p>\(HTMLPage.escape(message))</p><p><a href=\"/auth/login\">Start again</a></p>")
    }

    private var redirectURI: String? { configuration.baseURL.map { $0 + "/auth/callback" } }

    @Sendable func login(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        guard let provider, let signIn = configuration.signIn, let redirectURI else {
            return Self.failure(.notFound, "sign-in is not configured on this server (PLUTUS_OIDC_ISSUER and PLUTUS_BASE_URL)")
        }
        let endpoints: OpenIDProvider.Endpoints
        do {
            endpoints = try await provider.discovered()
        } catch {
            return Self.failure(.badGateway, error.message)
        }
        let state = Base64URL.random(bytes: 32)
        let nonce = Base64URL.random(bytes: 32)
        let verifier = Base64URL.random(bytes: 48)
        let challenge = Base64URL.encode(Digest.sha256(verifier.utf8))
        let returnTo = request.uri.queryParameters.get("return_to").flatMap {
            $0.hasPrefix("/") && !$0.hasPrefix("//") ? $0 : nil
        }
        // Begun at an invitation's link: the callback accepts it for the person who signs in.
        let invitation = request.uri.queryParameters.get("invitation").flatMap { $0.isEmpty ? nil : $0 }
        try await store.saveSignInState(
            SignInState(
                stateHash: Digest.sha256Hex(Array(state.utf8)), nonce: nonce, verifier: verifier, returnTo: returnTo,
                expiresAt: Timestamp.now().adding(seconds: SignInConfiguration.stateSeconds),
                invitationHash: invitation.map { Digest.sha256Hex(Array($0.utf8)) }))
        let query = [
            ("response_type", "code"), ("client_id", signIn.clientID), ("redirect_uri", redirectURI),
            ("scope", "openid email profile"), ("state", state), ("nonce", nonce), ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ].map { "\($0)=\(OpenIDProvider.formEncode($1))" }.joined(separator: "&")
        let separator = endpoints.authorization.contains("?") ? "&" : "?"
        let secure = configuration.baseURL?.lowercased().hasPrefix("https://") == true ? "; Secure" : ""
        return Response(
            status: .seeOther,
            headers: [
                .location: endpoints.authorization + separator + query,
                .setCookie:
                    "\(Self.stateCookieName)=\(state); Path=/auth; HttpOnly; SameSite=Lax; Max-Age=\(SignInConfiguration.stateSeconds)\(secure)",
                .cacheControl: "no-store",
            ])
    }

    @Sendable func callback(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        guard let provider, let signIn = configuration.signIn, let redirectURI else {
            return Self.failure(.notFound, "sign-in is not configured on this server")
        }
        let query = request.uri.queryParameters
        if let error = query.get("error") {
            return Self.failure(.forbidden, "the provider refused the sign-in: \(error) \(query.get("error_description") ?? "")")
        }
        guard let code = query.get("code"), let state = query.get("state"), !code.isEmpty, !state.isEmpty else {
            return Self.failure(.badRequest, "the provider's answer lacks its code or state")
        }
        guard let cookie = request.cookies[Self.stateCookieName]?.value,
            Digest.constantTimeEqual(Array(cookie.utf8), Array(state.utf8))
        else {
            return Self.failure(.forbidden, "this sign-in was not started in this browser (its state does not match)")
        }
        let now = Timestamp.now()
        guard let pending = try await store.takeSignInState(stateHash: Digest.sha256Hex(Array(state.utf8)), at: now) else {
            return Self.failure(.forbidden, "this sign-in has expired or was used already")
        }
        let claims: IDTokenClaims
        do {
            let token = try await provider.exchange(code: code, verifier: pending.verifier, redirectURI: redirectURI)
            claims = try await provider.verify(token, nonce: pending.nonce, now: now)
        } catch {
            return Self.failure(.forbidden, error.message)
        }
        let email = (claims.email ?? "").lowercased()
        if let invitationHash = pending.invitationHash {
            do {
                let member = try await store.acceptInvitation(tokenHash: invitationHash, email: email, name: claims.name, at: now)
                if let invitation = try await store.invitation(tokenHash: invitationHash) {
                    await audit.record(
                        invitation.organizationID, actor: email, .invitationAccepted,
                        "\(email) joined as \(member.role.rawValue), invited by \(invitation.invitedBy)", context: context)
                }
            } catch StoreError.invitationRefused(let reason) {
                return Self.failure(.forbidden, reason)
            }
        } else {
            let address = Self.clientAddress(request, peer: context.peerAddress, trustForwardedFor: signIn.trustForwardedFor)
            if let refusal = try await admit(email: email, name: claims.name, address: address, signIn: signIn, now: now) {
                return Self.failure(.forbidden, refusal)
            }
        }
        for membership in try await store.memberships(email: email) {
            await audit.record(
                membership.organization.id, actor: email, .signIn, "as \(membership.role.rawValue)", context: context)
        }
        // A new session at every sign-in; the browser's previous one ends.
        if let previous = request.cookies[VisitorGate<Store>.sessionCookieName]?.value, !previous.isEmpty {
            try await store.revokeSession(tokenHash: Digest.sha256Hex(Array(previous.utf8)), at: now)
        }
        let token = Base64URL.random(bytes: 32)
        _ = try await store.createSession(
            email: email, tokenHash: Digest.sha256Hex(Array(token.utf8)), policy: signIn.sessions, at: now)
        var response = Response(status: .seeOther, headers: [.location: pending.returnTo ?? "/", .cacheControl: "no-store"])
        response.headers.append(HTTPField(name: .setCookie, value: gate.sessionCookie(token)))
        response.headers.append(
            HTTPField(name: .setCookie, value: "\(Self.stateCookieName)=; Path=/auth; HttpOnly; SameSite=Lax; Max-Age=0"))
        return response
    }

    /// The page an invitation's link opens: who invites whom to what, and the way to sign in
    /// and accept; a used, expired or unknown link says so.
    @Sendable func invitation(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        guard configuration.signIn != nil else {
            return Self.failure(.notFound, "sign-in is not configured on this server")
        }
        let token = request.uri.queryParameters.get("token") ?? ""
        let found = token.isEmpty ? nil : try await store.invitation(tokenHash: Digest.sha256Hex(Array(token.utf8)))
        let now = Timestamp.now()
        if let refusal = InvitationRules.refusal(found, email: found?.email ?? "", at: now) {
            return HTMLPage.response(
                .gone, title: "Invitation",
                bodyHTML: "<p>\(HTMLPage.escape(refusal))</p><p><a href=\"/auth/login\">Sign in</a></p>")
        }
        let invitation = found!
        let org = try await store.findOrganization(invitation.organizationID.rawValue)
        let link = "/auth/login?invitation=" + OpenIDProvider.formEncode(token)
        return HTMLPage.response(
            .ok, title: "You're invited",
            bodyHTML: """
                <p>\(HTMLPage.escape(invitation.invitedBy)) invites <b>\(HTMLPage.escape(invitation.email))</b> to \
                <b>\(HTMLPage.escape(org?.name ?? "an organization"))</b> as \(invitation.role.rawValue).</p>
                <p><a class="button" id="accept" href="\(HTMLPage.escape(link))">Sign in as \(HTMLPage.escape(invitation.email)) to accept →</a></p>
                <p class="muted">The link works once, until \(invitation.expiresAt.iso8601Seconds).</p>
                """)
    }

    /// Whether `email` may sign in (reference §7.4): a member; else allow-listed, joining the
    /// provisioning organization as a member; else, with open signup, the owner of a new Free
    /// organization, within the signup caps. Returns why not.
    private func admit(email: String, name: String?, address: String, signIn: SignInConfiguration, now: Timestamp)
        async throws -> String?
    {
        if !(try await store.memberships(email: email)).isEmpty { return nil }
        if signIn.rules.allowListed(email) {
            let target: Organization?
            if let reference = signIn.provisionOrganization {
                target = try await store.findOrganization(reference)
            } else {
                let all = try await store.listOrganizations()
                target = all.count == 1 ? all[0].organization : nil
            }
            if let target {
                _ = try await store.setMember(target.id, email: email, name: name, role: .member, at: now)
                return nil
            }
        }
        guard signIn.rules.allowSignup else {
            return "\(email) is not a member of any organization on this Plutus; ask an administrator to invite you"
        }
        if signIn.newOrganizationsPerDayMax > 0 {
            let since = now.adding(seconds: -86_400)
            let recent = try await store.listOrganizations().filter { $0.organization.createdAt > since }.count
            if recent >= signIn.newOrganizationsPerDayMax { return "the daily signup limit is reached; try again tomorrow" }
        }
        if let refusal = throttle.admit(address: address, signIn: signIn, now: now) { return refusal }
        let local = String(email.split(separator: "@").first ?? "")
        let label = (name?.isEmpty == false ? name! : local)
        _ = try await store.createOrganization(name: "\(label)'s workspace", plan: .free, ownerEmail: email)
        return nil
    }

    /// The socket's peer, or the first `X-Forwarded-For` entry when the proxy in front is trusted.
    static func clientAddress(_ request: Request, peer: String?, trustForwardedFor: Bool) -> String {
        if trustForwardedFor, let forwarded = request.headers[HTTPField.Name("X-Forwarded-For")!],
            let first = forwarded.split(separator: ",").first
        {
            return first.trimmingCharacters(in: .whitespaces)
        }
        return peer ?? "unknown"
    }

    @Sendable func logout(_ request: Request, context: PlutusRequestContext) async throws -> Response {
        let form = FormBody.parse(try await HTTPInput.body(request))
        guard access.formAllowed(request, form) else { return DashboardController<Store>.blocked }
        let now = Timestamp.now()
        if let token = request.cookies[VisitorGate<Store>.sessionCookieName]?.value, !token.isEmpty {
            let hash = Digest.sha256Hex(Array(token.utf8))
            if form["everywhere"] == "1", let session = try await store.session(tokenHash: hash) {
                _ = try await store.revokeSessions(email: session.email, at: now)
            } else {
                try await store.revokeSession(tokenHash: hash, at: now)
            }
        }
        var response = Response(status: .seeOther, headers: [.location: configuration.signIn == nil ? "/login" : "/auth/login"])
        response.headers.append(HTTPField(name: .setCookie, value: gate.sessionCookie(nil)))
        return response
    }
}

/// The per-process signup caps: per address in 24 h and in any hour.
final class SignupThrottle: Sendable {
    private let state = Mutex<(byAddress: [String: [Int64]], all: [Int64])>(([:], []))

    func admit(address: String, signIn: SignInConfiguration, now: Timestamp) -> String? {
        state.withLock { state in
            let day = now.millis - 86_400_000
            let hour = now.millis - 3_600_000
            state.all.removeAll { $0 < hour }
            var mine = (state.byAddress[address] ?? []).filter { $0 >= day }
            if signIn.signupsPerAddressPerDayMax > 0, mine.count >= signIn.signupsPerAddressPerDayMax {
                return "too many signups from your network; try again later"
            }
            if signIn.signupsPerHourMax > 0, state.all.count >= signIn.signupsPerHourMax {
                return "signups are rate-limited for the moment; try again later"
            }
            mine.append(now.millis)
            state.byAddress[address] = mine
            state.all.append(now.millis)
            return nil
        }
    }
}
