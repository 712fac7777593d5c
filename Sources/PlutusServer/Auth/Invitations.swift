import PlutusCore
import PlutusStore

/// Sends one email; `serve` and the CLI build it from the SMTP settings the alerts use.
public struct Mailer: Sendable {
    public let send: @Sendable (_ to: String, _ subject: String, _ body: String) async throws -> Void

    public init(send: @escaping @Sendable (_ to: String, _ subject: String, _ body: String) async throws -> Void) {
        self.send = send
    }
}

/// Inviting someone to an organization: a one-time link (only its token's hash is kept)
/// that expires, sent by email when a mailer is configured.
public enum Invitations {
    public struct Sent: Sendable {
        public var invitation: Invitation
        public var link: String
        /// Whether the email went out; `emailProblem` says why not.
        public var emailed: Bool
        public var emailProblem: String?
    }

    /// Creates the invitation and emails its link. The invitation stands even when the
    /// email fails: the link in the answer can be passed on by hand.
    public static func send(
        store: some BillingStore, organization: Organization, email: String, role: MemberRole, invitedBy: String,
        baseURL: String, mailer: Mailer?, at time: Timestamp
    ) async throws -> Sent {
        let token = Base64URL.random(bytes: 32)
        let invitation = Invitation(
            tokenHash: Digest.sha256Hex(Array(token.utf8)), organizationID: organization.id, email: email, role: role,
            invitedBy: invitedBy, createdAt: time, expiresAt: time.adding(seconds: InvitationRules.lifetimeSeconds),
            acceptedAt: nil)
        try await store.createInvitation(invitation)
        let link = baseURL + "/auth/invitation?token=" + token
        var sent = Sent(
            invitation: invitation, link: link, emailed: false,
            emailProblem: "no SMTP server is configured (PLUTUS_SMTP_HOST); pass the link on yourself")
        if let mailer {
            let days = InvitationRules.lifetimeSeconds / 86_400
            let body = """
                \(invitedBy) invites you to \(organization.name) on Plutus, as \(role.rawValue).

                Sign in with this address (\(email.lowercased())) to accept:

                \(link)

                The link works once and expires in \(days) days. If you did not expect it, ignore this email.
                """
            do {
                try await mailer.send(email.lowercased(), "You're invited to \(organization.name) on Plutus", body)
                sent.emailed = true
                sent.emailProblem = nil
            } catch {
                sent.emailProblem = "the email could not be sent (\(error)); pass the link on yourself"
            }
        }
        return sent
    }
}
