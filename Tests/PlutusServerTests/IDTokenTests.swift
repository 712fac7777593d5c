import Foundation
import JWTKit
import PlutusCore
import Testing
import _CryptoExtras

@testable import PlutusServer

/// ID tokens signed here with test keys, checked the way a sign-in checks the provider's:
/// each way a token can be wrong is refused with its own message.
@Suite struct IDTokenTests {
    static let issuer = "https://id.example.test"
    static let clientID = "plutus-client"
    static let nonce = "nonce-of-this-sign-in"
    static let now = Timestamp.seconds(1_800_000_000)

    /// The provider's signing keys, and the keys Plutus reads from the JWKS it publishes.
    struct Keys {
        let signing: JWTKeyCollection
        let published: IDTokens.PublishedKeys
    }

    static func keys() async throws -> Keys {
        let signing = JWTKeyCollection()
        let ec = ES256PrivateKey()
        await signing.add(ecdsa: ec, kid: "ec-1")
        let rsa = try Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
        await signing.add(rsa: rsa, digestAlgorithm: .sha256, kid: "rsa-1")
        let point = try #require(ec.publicKey.parameters)
        let (modulus, exponent) = try rsa.publicKey.getKeyPrimitives()
        let jwks = JWKS(keys: [
            .ecdsa(.es256, identifier: "ec-1", x: point.x, y: point.y, curve: .p256),
            .rsa(.rs256, identifier: "rsa-1", modulus: Base64URL.encode(modulus), exponent: Base64URL.encode(exponent)),
        ])
        let json = String(decoding: try JSONEncoder().encode(jwks), as: UTF8.self)
        return Keys(signing: signing, published: try await IDTokens.publishedKeys(jwksJSON: json))
    }

    static func claims(
        iss: String = issuer, aud: String = clientID, expiresIn: Int64 = 600, issuedAgo: Int64 = 0, nonce: String? = nonce,
        email: String? = "ada@acme.example", verified: Bool? = true
    ) -> IDTokenClaims {
        IDTokenClaims(
            iss: IssuerClaim(value: iss), sub: SubjectClaim(value: "user-1"), aud: AudienceClaim(value: [aud]),
            exp: ExpirationClaim(value: date(now.adding(seconds: expiresIn))),
            iat: IssuedAtClaim(value: date(now.adding(seconds: -issuedAgo))), nonce: nonce, email: email,
            emailVerified: verified.map { BoolClaim(value: $0) }, name: "Ada")
    }

    static func date(_ time: Timestamp) -> Date { Date(timeIntervalSince1970: Double(time.millis) / 1_000) }

    static func verify(_ token: String, _ keys: Keys) async throws(SignInFailure) -> IDTokenClaims {
        try await IDTokens.verify(token, keys: keys.published, issuer: issuer, clientID: clientID, nonce: nonce, now: now)
    }

    /// The message `token` is refused with.
    static func refusal(_ token: String, _ keys: Keys) async -> String? {
        do {
            _ = try await verify(token, keys)
            return nil
        } catch {
            return error.message
        }
    }

    /// A token with the given header and claims, signed with nothing or with a shared secret.
    static func unsigned(header: String, claims: IDTokenClaims, signature: String = "") throws -> String {
        let body = try JSONEncoder().encode(claims)
        return "\(Base64URL.encode(Array(header.utf8))).\(Base64URL.encode(body)).\(signature)"
    }

    @Test func goodTokensFromEitherKeyAreAccepted() async throws {
        let keys = try await Self.keys()
        for kid in ["ec-1", "rsa-1"] {
            let token = try await keys.signing.sign(Self.claims(), kid: JWKIdentifier(string: kid))
            let claims = try await Self.verify(token, keys)
            #expect(claims.email == "ada@acme.example" && claims.name == "Ada" && claims.sub.value == "user-1")
        }
        // A minute past expiry is within the clock skew allowed between the two servers.
        let late = try await keys.signing.sign(Self.claims(expiresIn: -60), kid: "ec-1")
        #expect(await Self.refusal(late, keys) == nil)
    }

    @Test func theIssuerIsKeptExactlyAndItsDiscoveryFound() {
        let auth0 = SignInConfiguration(issuer: "https://acme.auth0.com/", clientID: "c", clientSecret: "s")
        #expect(auth0.issuer == "https://acme.auth0.com/")
        #expect(auth0.discoveryURL == "https://acme.auth0.com/.well-known/openid-configuration")
        let keycloak = SignInConfiguration(issuer: "https://id.example/realms/acme", clientID: "c", clientSecret: "s")
        #expect(keycloak.discoveryURL == "https://id.example/realms/acme/.well-known/openid-configuration")
    }

    @Test func aForeignSignatureIsRefused() async throws {
        let keys = try await Self.keys()
        let impostor = JWTKeyCollection()
        await impostor.add(ecdsa: ES256PrivateKey(), kid: "ec-1")
        let forged = try await impostor.sign(Self.claims(), kid: "ec-1")
        #expect(await Self.refusal(forged, keys) == "the provider's ID token does not carry a valid signature")
        // A good token whose claims were edited after signing.
        let good = try await keys.signing.sign(Self.claims(), kid: "ec-1")
        let parts = good.split(separator: ".").map(String.init)
        let edited = try Self.unsigned(header: "", claims: Self.claims(email: "mallory@acme.example")).split(separator: ".")
        let tampered = [parts[0], String(edited[0]), parts[2]].joined(separator: ".")
        #expect(await Self.refusal(tampered, keys) == "the provider's ID token does not carry a valid signature")
    }

    @Test func aKeyTheProviderDoesNotPublishIsRefused() async throws {
        let keys = try await Self.keys()
        await keys.signing.add(ecdsa: ES256PrivateKey(), kid: "ec-2")
        let token = try await keys.signing.sign(Self.claims(), kid: "ec-2")
        #expect(await Self.refusal(token, keys) == IDTokens.unknownKey.message)
        #expect(IDTokens.unknownKey.message == "the provider's ID token is signed with a key it does not publish")
    }

    @Test func withOneKeyPublishedATokenNeedNotNameIt() async throws {
        let key = ES256PrivateKey()
        let signing = JWTKeyCollection()
        await signing.add(ecdsa: key)
        let point = try #require(key.publicKey.parameters)
        let one = JWKS(keys: [.ecdsa(.es256, identifier: "only", x: point.x, y: point.y, curve: .p256)])
        let keys = Keys(
            signing: signing,
            published: try await IDTokens.publishedKeys(jwksJSON: String(decoding: try JSONEncoder().encode(one), as: UTF8.self)))
        let token = try await signing.sign(Self.claims())
        #expect(await Self.refusal(token, keys) == nil)
        // Naming another key is still refused: the only key is no fallback for a wrong `kid`.
        let named = try await signing.sign(Self.claims(), header: ["kid": "other"])
        #expect(await Self.refusal(named, keys) == IDTokens.unknownKey.message)
        // Signed by a key that is not the published one.
        let impostor = JWTKeyCollection()
        await impostor.add(ecdsa: ES256PrivateKey())
        #expect(
            await Self.refusal(try await impostor.sign(Self.claims()), keys)
                == "the provider's ID token does not carry a valid signature")
    }

    @Test func unsignedAndSharedSecretTokensAreRefusedBeforeAnyKey() async throws {
        let keys = try await Self.keys()
        let none = try Self.unsigned(header: #"{"alg":"none","kid":"ec-1","typ":"JWT"}"#, claims: Self.claims())
        #expect(
            await Self.refusal(none, keys) == "the provider's ID token is signed with 'none'; Plutus accepts only RS256 and ES256"
        )
        let hmac = try Self.unsigned(
            header: #"{"alg":"HS256","kid":"ec-1","typ":"JWT"}"#, claims: Self.claims(), signature: "c2lnbmF0dXJl")
        #expect(
            await Self.refusal(hmac, keys)
                == "the provider's ID token is signed with 'HS256'; Plutus accepts only RS256 and ES256")
        #expect(await Self.refusal("not-a-token", keys) == "the provider's ID token is not a signed JWT")
        // With several keys published, a token must say which one signed it.
        let noKid = try await keys.signing.sign(Self.claims())
        #expect(
            await Self.refusal(noKid, keys) == "the provider's ID token names no key ('kid') and the provider publishes several")
    }

    @Test func eachWrongClaimHasItsOwnMessage() async throws {
        let keys = try await Self.keys()
        func refusal(_ claims: IDTokenClaims) async throws -> String? {
            await Self.refusal(try await keys.signing.sign(claims, kid: "rsa-1"), keys)
        }
        #expect(
            try await refusal(Self.claims(aud: "someone-else"))
                == "the ID token was issued to another application, not to this Plutus (client id 'plutus-client')")
        #expect(
            try await refusal(Self.claims(iss: "https://evil.example"))
                == "the ID token was issued by 'https://evil.example', not by the configured provider 'https://id.example.test'")
        #expect(try await refusal(Self.claims(expiresIn: -3_600)) == "the ID token has expired; sign in again")
        #expect(
            try await refusal(Self.claims(issuedAgo: -3_600))
                == "the ID token claims to be issued in the future; check this server's clock")
        #expect(
            try await refusal(Self.claims(nonce: "another-sign-in"))
                == "the ID token does not belong to this sign-in (its nonce differs); start again")
        #expect(
            try await refusal(Self.claims(nonce: nil))
                == "the ID token does not belong to this sign-in (its nonce differs); start again")
        #expect(
            try await refusal(Self.claims(verified: false))
                == "the provider has not verified ada@acme.example; verify it with the provider, then sign in again")
        #expect(
            try await refusal(Self.claims(verified: nil))
                == "the provider has not verified ada@acme.example; verify it with the provider, then sign in again")
        #expect(
            try await refusal(Self.claims(email: nil)) == "the provider did not share an email address; allow the 'email' scope")
    }
}
