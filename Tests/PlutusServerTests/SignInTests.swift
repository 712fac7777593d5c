import Foundation
import PlutusCore
import PlutusServer
import PlutusStore
import PlutusStoreTesting
import Testing

@Suite("Sign-in: the real OpenID provider oidc-provider-mock, sessions and roles", .enabled(if: SDKPython.available))
struct SignInTests {
    static func signIn(_ issuer: String, rules: SignInRules = SignInRules(), provision: String? = nil) -> SignInConfiguration {
        SignInConfiguration(
            issuer: issuer, clientID: "plutus-test", clientSecret: "plutus-test-secret", rules: rules,
            provisionOrganization: provision)
    }

    /// A Plutus whose base URL is its own loopback address, signing in with `provider`.
    static func withServer(
        _ provider: OpenIDProviderMock, rules: SignInRules = SignInRules(), provision: String? = nil, mailer: Mailer? = nil,
        databasePath: String? = nil, _ body: @Sendable (TestServer) async throws -> Void
    ) async throws {
        let port = try LoopbackClient.freePort()
        try await TestServer.with(
            port: port, baseURL: "http://127.0.0.1:\(port)", signIn: signIn(provider.issuer, rules: rules, provision: provision),
            mailer: mailer, databasePath: databasePath, body)
    }

    @Test func aMemberSignsInSeesOnlyTheirOrganizationAndSignsOut() async throws {
        try await OpenIDProviderMock.with { provider in
            try await Self.withServer(provider) { server in
                let acme = try await server.store.createOrganization(name: "Acme", plan: .pro, ownerEmail: "founder@acme.example")
                let beta = try await server.store.createOrganization(name: "Beta", plan: .pro, ownerEmail: "boss@beta.example")
                _ = try await server.store.setMember(acme.id, email: "ada@acme.example", name: nil, role: .member, at: .now())
                try await provider.person("ada", email: "Ada@acme.example", name: "Ada Lovelace")

                var browser = Browser(port: server.port)
                // Not signed in: the dashboard sends the browser to sign in, and the page offers the provider.
                #expect(try await browser.get("/").status == 303)
                #expect(try await browser.get("/login").text.contains("href=\"/auth/login\""))

                let start = try await browser.get("/auth/login")
                let stateCookie = try #require(start.setCookies.first { $0.hasPrefix("plutus_sign_in=") })
                #expect(
                    stateCookie.contains("HttpOnly") && stateCookie.contains("SameSite=Lax") && !stateCookie.contains("Secure"))
                let stateValue = String(stateCookie.dropFirst("plutus_sign_in=".count).prefix { $0 != ";" })
                let location = try #require(start.header("location"))
                for part in ["code_challenge_method=S256", "code_challenge=", "nonce=", "state=", "client_id=plutus-test"] {
                    #expect(location.contains(part), "the authorization request lacks \(part)")
                }
                let back = try await provider.authorize(location, as: "ada")
                let callback = String(try #require(back.header("location")).dropFirst("http://127.0.0.1:\(server.port)".count))
                let signedIn = try await browser.get(callback)
                #expect(signedIn.status == 303 && signedIn.header("location") == "/")
                let sessionCookie = try #require(signedIn.setCookies.first { $0.hasPrefix("plutus_session=") })
                #expect(
                    sessionCookie.contains("HttpOnly") && sessionCookie.contains("SameSite=Lax")
                        && sessionCookie.contains("Path=/"))
                // Only the token's hash is kept.
                let token = try #require(browser.cookies["plutus_session"])
                let kept = try #require(try await server.store.session(tokenHash: Digest.sha256Hex(Array(token.utf8))))
                #expect(kept.email == "ada@acme.example" && kept.tokenHash != token)
                #expect(try await server.store.session(tokenHash: token) == nil)

                // The state was used once: the same answer from the provider is refused, even
                // with the state's cookie put back.
                #expect(browser.cookies["plutus_sign_in"] == nil)
                browser.cookies["plutus_sign_in"] = stateValue
                let replayed = try await browser.get(callback)
                browser.cookies["plutus_sign_in"] = nil
                #expect(replayed.status == 403 && replayed.text.contains("this sign-in has expired or was used already"))

                let home = try await browser.get("/")
                #expect(home.status == 200 && home.text.contains("<h1>Acme"))
                #expect(home.text.contains("ada@acme.example · member") && home.text.contains("Sign out"))
                #expect(!home.text.contains("Beta"), "another organization is listed")
                #expect(home.text.contains("action=\"/keys/create\""), "a member creates keys")
                let theirs = try await browser.get("/?org=\(beta.id.rawValue)")
                #expect(theirs.status == 403 && theirs.text.contains("you are not a member of Beta"))
                #expect(try await browser.get("/report?org=\(beta.id.rawValue)&month=2026-12").status == 403)
                for api in ["summary", "events", "ledger"] {
                    let refused = try await browser.get("/api/\(api)?org=\(beta.id.rawValue)")
                    #expect(
                        refused.status == 403 && refused.text.contains("\"forbidden\""), "/api/\(api) answered \(refused.status)")
                    #expect(try await browser.get("/api/\(api)?org=\(acme.id.rawValue)").status == 200)
                }
                let listed = try JSONValue.parse(try await browser.get("/api/orgs").text)
                #expect(listed["orgs"]?[0]?["id"] == .string(acme.id.rawValue) && listed["orgs"]?[1] == nil)

                // A member creates a key in their organization, and in no other.
                let csrf = DashboardTests.csrf(home)
                let made = try await browser.post(
                    "/keys/create", [("org", acme.id.rawValue), ("name", "ada-agent"), ("_csrf", csrf)])
                #expect(made.status == 200 && made.text.contains("ada-agent"))
                let elsewhere = try await browser.post(
                    "/keys/create", [("org", beta.id.rawValue), ("name", "x"), ("_csrf", csrf)])
                #expect(elsewhere.status == 403)
                #expect(try await server.store.listAPIKeys(beta.id).isEmpty)

                // Signing out ends the session on the server, not only in the browser.
                let out = try await browser.post("/auth/logout", [("_csrf", csrf)])
                #expect(out.status == 303 && browser.cookies["plutus_session"] == nil)
                #expect(!(try #require(try await server.store.session(tokenHash: kept.tokenHash)).isLive(at: .now())))
                var stolen = Browser(port: server.port)
                stolen.cookies["plutus_session"] = token
                #expect(try await stolen.get("/").status == 303)
            }
        }
    }

    @Test func aViewerCannotCreateKeysOrTopUpEvenByHand() async throws {
        try await OpenIDProviderMock.with { provider in
            try await Self.withServer(provider) { server in
                let acme = try await server.store.createOrganization(name: "Acme", plan: .pro, ownerEmail: "founder@acme.example")
                _ = try await server.store.setMember(acme.id, email: "vic@acme.example", name: nil, role: .viewer, at: .now())
                let key = try await server.store.createAPIKey(acme.id, name: "ci")
                try await provider.person("vic", email: "vic@acme.example")
                var browser = Browser(port: server.port)
                try await browser.expectSignedIn(provider, as: "vic")
                let home = try await browser.get("/")
                #expect(home.status == 200 && home.text.contains("vic@acme.example · viewer"))
                #expect(!home.text.contains("action=\"/keys/create\"") && !home.text.contains("action=\"/keys/revoke\""))
                #expect(!home.text.contains("action=\"/billing/checkout/credit\""))
                let csrf = DashboardTests.csrf(home)
                let made = try await browser.post("/keys/create", [("org", acme.id.rawValue), ("name", "x"), ("_csrf", csrf)])
                #expect(
                    made.status == 403 && made.text.contains("your role in this organization (viewer) may not create API keys"))
                let revoked = try await browser.post(
                    "/keys/revoke", [("org", acme.id.rawValue), ("key", key.info.id.rawValue), ("_csrf", csrf)])
                #expect(revoked.status == 403)
                let topUp = try await browser.post(
                    "/billing/checkout/credit", [("org", acme.id.rawValue), ("amount", "50"), ("_csrf", csrf)])
                #expect(topUp.status == 403 && topUp.text.contains("may not top up its credit; ask an admin or owner"))
                let plan = try await browser.post("/billing/checkout/pro", [("org", acme.id.rawValue), ("_csrf", csrf)])
                #expect(plan.status == 403 && plan.text.contains("may not change the plan; ask an owner"))
                let keys = try await server.store.listAPIKeys(acme.id)
                #expect(keys.count == 1 && keys[0].revokedAt == nil)
                // What a viewer may do: see the spend and the statement.
                #expect(try await browser.get("/report?org=\(acme.id.rawValue)&month=2026-12").status == 200)
            }
        }
    }

    @Test func whoMaySignIn() async throws {
        try await OpenIDProviderMock.with { provider in
            try await provider.person("unverified", email: "eve@acme.example", verified: false)
            try await provider.person("stranger", email: "sam@elsewhere.example")
            try await provider.person("colleague", email: "cy@acme.example", name: "Cy")
            try await Self.withServer(provider, rules: SignInRules(allowedDomain: "acme.example")) { server in
                let acme = try await server.store.createOrganization(name: "Acme", plan: .pro, ownerEmail: "founder@acme.example")
                var browser = Browser(port: server.port)
                let unverified = try await browser.signIn(provider, as: "unverified")
                #expect(unverified.status == 403)
                #expect(
                    unverified.text.contains("the provider has not verified eve@acme.example")
                        && unverified.text.contains("/auth/login"))
                let stranger = try await browser.signIn(provider, as: "stranger")
                #expect(stranger.status == 403)
                #expect(stranger.text.contains("sam@elsewhere.example is not a member of any organization on this Plutus"))
                #expect(browser.cookies["plutus_session"] == nil)
                // Someone from the allowed domain joins the only organization as a member.
                try await browser.expectSignedIn(provider, as: "colleague")
                #expect(try await server.store.members(acme.id).map(\.email) == ["founder@acme.example", "cy@acme.example"])
                #expect(try await server.store.memberships(email: "cy@acme.example").map(\.role) == [.member])

                // A callback from another browser (no state cookie) is refused.
                var other = Browser(port: server.port)
                let start = try await other.get("/auth/login")
                let back = try await provider.authorize(try #require(start.header("location")), as: "colleague")
                var thief = Browser(port: server.port)
                let path = String(try #require(back.header("location")).dropFirst("http://127.0.0.1:\(server.port)".count))
                let refused = try await thief.get(path)
                #expect(refused.status == 403 && refused.text.contains("this sign-in was not started in this browser"))
                // The provider saying no is a page too.
                let denied = try await other.get("/auth/callback?error=access_denied&state=x")
                #expect(denied.status == 403 && denied.text.contains("the provider refused the sign-in: access_denied"))
                #expect(try await other.get("/auth/callback").status == 400)
            }
        }
    }

    @Test func openSignupCreatesAFreeOrganizationWithinItsCaps() async throws {
        try await OpenIDProviderMock.with { provider in
            try await provider.person("newcomer", email: "neo@startup.example", name: "Neo")
            try await provider.person("second", email: "two@startup.example")
            try await provider.person("third", email: "three@startup.example")
            try await provider.person("fourth", email: "four@startup.example")
            try await Self.withServer(provider, rules: SignInRules(allowSignup: true)) { server in
                var browser = Browser(port: server.port)
                try await browser.expectSignedIn(provider, as: "newcomer")
                let theirs = try await server.store.memberships(email: "neo@startup.example")
                #expect(theirs.count == 1 && theirs[0].role == .owner && theirs[0].organization.plan == .free)
                #expect(theirs[0].organization.name == "Neo's workspace")
                let home = try await browser.get("/")
                #expect(home.status == 200 && home.text.contains("neo@startup.example · owner"))
                // Three signups a day from one address (this test's), then a clear refusal.
                #expect(try await Browser(port: server.port).signInStatus(provider, "second") == 303)
                #expect(try await Browser(port: server.port).signInStatus(provider, "third") == 303)
                var fourth = Browser(port: server.port)
                let refused = try await fourth.signIn(provider, as: "fourth")
                #expect(refused.status == 403 && refused.text.contains("too many signups from your network"))
                #expect(try await server.store.memberships(email: "four@startup.example").isEmpty)
            }
        }
    }

    @Test func aSessionMadeOnOneServerWorksOnAnotherAndEndsEverywhere() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("plutus-shared-\(UUID().uuidString).db").path
        try await OpenIDProviderMock.with { provider in
            try await provider.person("ada", email: "ada@acme.example")
            try await Self.withServer(provider, databasePath: path) { first in
                let acme = try await first.store.createOrganization(name: "Acme", plan: .pro, ownerEmail: "ada@acme.example")
                try await Self.withServer(provider, databasePath: path) { second in
                    var here = Browser(port: first.port)
                    try await here.expectSignedIn(provider, as: "ada")
                    var laptop = Browser(port: first.port)
                    try await laptop.expectSignedIn(provider, as: "ada")
                    var there = Browser(port: second.port)
                    there.cookies = here.cookies
                    let page = try await there.get("/?org=\(acme.id.rawValue)")
                    #expect(page.status == 200 && page.text.contains("ada@acme.example · owner"))
                    // Signing out everywhere on the second server ends the laptop's session on the first.
                    let out = try await there.post("/auth/logout", [("everywhere", "1"), ("_csrf", DashboardTests.csrf(page))])
                    #expect(out.status == 303)
                    #expect(try await laptop.get("/").status == 303)
                    #expect(try await here.get("/").status == 303)
                }
            }
        }
    }
}
