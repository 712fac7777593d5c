import Foundation
import JWTKit
import PlutusCore

/// The claims of an OpenID Connect ID token that sign-in reads.
struct IDTokenClaims: JWTPayload, Equatable {
    var iss: IssuerClaim
    var sub: SubjectClaim
    var aud: AudienceClaim
    var exp: ExpirationClaim
    var iat: IssuedAtClaim
    var nonce: String?
    var email: String?
    var emailVerified: BoolClaim?
    var name: String?

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, exp, iat, nonce, email, name
        case emailVerified = "email_verified"
    }

    /// Every check is made by `IDTokens.verify`, each with its own message.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Why a sign-in failed, in a sentence for the person signing in.
struct SignInFailure: Error, Equatable, CustomStringConvertible {
    let message: String
    init(_ message: String) { self.message = message }
    var description: String { message }
}

/// Verifying an ID token: its signature against the provider's keys (RS256 or ES256, by
/// `kid`), then its issuer, audience, lifetime, nonce and verified email.
enum IDTokens {
    /// Algorithms accepted; anything else (`none`, HMAC) is refused before any key is tried.
    static let algorithms: Set<String> = ["RS256", "ES256"]
    /// Clock skew allowed between this server and the provider.
    static let skewSeconds: Int64 = 300

    /// The provider's keys from its JWKS document, each under its `kid`. No key is a fallback
    /// for a `kid` not among them; a token without a `kid` is checked with the only key when
    /// the document has exactly one (OpenID Connect Core §10.1).
    struct PublishedKeys: Sendable {
        let byID: JWTKeyCollection
        let sole: JWTKeyCollection?
    }

    static func publishedKeys(jwksJSON: String) async throws(SignInFailure) -> PublishedKeys {
        let byID = JWTKeyCollection()
        let sole = JWTKeyCollection()
        let count: Int
        do {
            let set = try JSONDecoder().decode(JWKS.self, from: Data(jwksJSON.utf8))
            count = set.keys.count
            try await byID.add(jwks: set)
            if count == 1 { try await sole.add(jwk: set.keys[0], isDefault: true) }
        } catch {
            throw SignInFailure("the provider's signing keys could not be read")
        }
        guard count > 0 else { throw SignInFailure("the provider publishes no signing keys") }
        _ = await byID.clearDefault()
        return PublishedKeys(byID: byID, sole: count == 1 ? sole : nil)
    }

    /// The header's `alg` and `kid`, read without trusting anything.
    static func header(_ token: String) throws(SignInFailure) -> (alg: String, kid: String?) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let bytes = Base64URL.decode(String(parts[0])),
            case .object? = try? JSONValue.parse(bytes), let header = try? JSONValue.parse(bytes)
        else { throw SignInFailure("the provider's ID token is not a signed JWT") }
        guard let alg = header["alg"]?.stringValue else { throw SignInFailure("the provider's ID token names no algorithm") }
        return (alg, header["kid"]?.stringValue)
    }

    /// Checks `token` with `keys` (the provider's JWKS) and returns its claims, or the reason
    /// it is refused. `unknownKey` is thrown as its own case so the caller can refetch the
    /// provider's keys once.
    static func verify(
        _ token: String, keys: PublishedKeys, issuer: String, clientID: String, nonce: String, now: Timestamp
    ) async throws(SignInFailure) -> IDTokenClaims {
        let (alg, kid) = try header(token)
        guard algorithms.contains(alg) else {
            throw SignInFailure("the provider's ID token is signed with '\(alg)'; Plutus accepts only RS256 and ES256")
        }
        let collection: JWTKeyCollection
        if kid != nil {
            collection = keys.byID
        } else if let sole = keys.sole {
            collection = sole
        } else {
            throw SignInFailure("the provider's ID token names no key ('kid') and the provider publishes several")
        }
        let claims: IDTokenClaims
        do {
            claims = try await collection.verify(token, as: IDTokenClaims.self)
        } catch let error as JWTError {
            switch error.errorType {
            case .unknownKID, .noKeyProvided: throw unknownKey
            case .signatureVerificationFailed:
                throw SignInFailure("the provider's ID token does not carry a valid signature")
            default: throw SignInFailure("the provider's ID token could not be verified (\(error.errorType))")
            }
        } catch {
            throw SignInFailure("the provider's ID token could not be verified")
        }
        guard claims.iss.value == issuer else {
            throw SignInFailure("the ID token was issued by '\(claims.iss.value)', not by the configured provider '\(issuer)'")
        }
        guard claims.aud.value.contains(clientID) else {
            throw SignInFailure("the ID token was issued to another application, not to this Plutus (client id '\(clientID)')")
        }
        let nowSeconds = Double(now.millis) / 1_000
        guard claims.exp.value.timeIntervalSince1970 > nowSeconds - Double(skewSeconds) else {
            throw SignInFailure("the ID token has expired; sign in again")
        }
        guard claims.iat.value.timeIntervalSince1970 <= nowSeconds + Double(skewSeconds) else {
            throw SignInFailure("the ID token claims to be issued in the future; check this server's clock")
        }
        guard let sent = claims.nonce, Digest.constantTimeEqual(Array(sent.utf8), Array(nonce.utf8)) else {
            throw SignInFailure("the ID token does not belong to this sign-in (its nonce differs); start again")
        }
        guard let email = claims.email, !email.isEmpty else {
            throw SignInFailure("the provider did not share an email address; allow the 'email' scope")
        }
        guard claims.emailVerified?.value == true else {
            throw SignInFailure("the provider has not verified \(email); verify it with the provider, then sign in again")
        }
        return claims
    }

    /// The token's key is not among the provider's keys as fetched.
    static let unknownKey = SignInFailure("the provider's ID token is signed with a key it does not publish")
}

/// Base64url without padding (RFC 4648 §5), as JWTs, PKCE and sign-in tokens use it.
enum Base64URL {
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: String) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).map(Array.init)
    }

    /// `count` random bytes, encoded.
    static func random(bytes count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return encode((0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}
