import Hummingbird
import PlutusCore

/// The checks every browser-facing route shares. Forms that change state carry the
/// synchronizer token `_csrf` and must come from this origin (Origin, else Referer), with
/// sign-in on or off. When `PLUTUS_ADMIN_TOKEN` is set, the dashboard and its JSON ask
/// for it: as `Authorization: Bearer`, or as the session cookie `/login` sets (an HMAC of
/// the token, so the cookie never holds the token itself).
struct WebAccess: Sendable {
    let configuration: ServerConfiguration

    static let sessionCookieName = "plutus_admin"
    /// How long a dashboard sign-in lasts.
    static let sessionSecondsMax = 12 * 3_600

    /// The synchronizer token; fixed for the process (or the configured secret).
    var csrfToken: String {
        Digest.hex(HMACSHA256.code(key: configuration.csrfSecret, message: Array("plutus-csrf-v1".utf8)))
    }

    /// The cookie value that proves sign-in; `nil` when no admin token is configured.
    var sessionValue: String? {
        configuration.adminToken.map { token in
            Digest.hex(HMACSHA256.code(key: Array(token.utf8), message: Array("plutus-dashboard-session-v1".utf8)))
        }
    }

    /// The origin this server is reached at: the configured public URL, else the Host header.
    func origin(_ request: Request) -> String? {
        if let base = configuration.baseURL { return base.lowercased() }
        return request.head.authority.map { "http://\($0.lowercased())" }
    }

    /// Origin decides when present (a mismatch fails even if Referer matches); else Referer;
    /// neither fails closed.
    static func sameOrigin(_ request: Request, origin: String) -> Bool {
        if let sent = request.headers[.origin] { return sent.lowercased() == origin }
        if let referer = request.headers[.referer]?.lowercased() { return referer == origin || referer.hasPrefix(origin + "/") }
        return false
    }

    /// A state-changing form passes when it comes from this origin with the right token.
    func formAllowed(_ request: Request, _ form: [String: String]) -> Bool {
        guard let origin = origin(request), Self.sameOrigin(request, origin: origin), let token = form["_csrf"] else {
            return false
        }
        return Digest.constantTimeEqual(Array(token.utf8), Array(csrfToken.utf8))
    }

    /// Where a browser without the admin sign-in is sent.
    static var signInRedirect: Response { Response(status: .seeOther, headers: [.location: "/login"]) }

    /// True when the request presents the operator's admin token (as a bearer or the admin
    /// cookie), or when the server has neither an admin token nor customer sign-in (an open
    /// dashboard on a loopback address).
    func operatorSignedIn(_ request: Request) -> Bool {
        guard let token = configuration.adminToken, let session = sessionValue else { return configuration.signIn == nil }
        if let presented = HTTPInput.bearer(request) {
            return Digest.constantTimeEqual(Array(presented.utf8), Array(token.utf8))
        }
        guard let cookie = request.cookies[Self.sessionCookieName]?.value else { return false }
        return Digest.constantTimeEqual(Array(cookie.utf8), Array(session.utf8))
    }

    /// The `Set-Cookie` value that signs a browser in (or, with `nil`, out).
    func sessionCookie(_ value: String?) -> String {
        let secure = configuration.baseURL?.lowercased().hasPrefix("https://") == true ? "; Secure" : ""
        let age = value == nil ? 0 : Self.sessionSecondsMax
        return "\(Self.sessionCookieName)=\(value ?? ""); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(age)\(secure)"
    }
}
