import ArgumentParser
import Foundation
import PlutusAlerts
import PlutusCore
import PlutusServer
import PlutusStore

/// `plutus members list|add|invite|remove|role`: who signs in to an organization's
/// dashboard, with which role. Every change goes to the organization's audit log as `cli`.
struct MembersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "members", abstract: "People who sign in to an organization, and their roles.",
        discussion: """
            Roles: viewer (spend, statements, ledger), member (also API keys), admin (also top-ups, budgets, \
            invitations, the audit log), owner (also the plan, roles and removing members). An organization keeps \
            at least one owner.
            """,
        subcommands: [List.self, Add.self, Invite.self, Remove.self, Role.self], defaultSubcommand: List.self)

    static var actor: String { "cli" }

    static func role(_ text: String) throws -> MemberRole {
        guard let role = MemberRole(rawValue: text.lowercased()) else {
            throw CLIFailure.usage("--role must be one of viewer, member, admin, owner, got '\(text)'")
        }
        return role
    }

    static func audit(
        _ store: any BillingStore, _ organization: Organization, _ action: AuditAction, _ detail: String
    ) async throws {
        try await store.recordAudit(
            AuditEntry(
                organizationID: organization.id, at: Timestamp.now(), actor: actor, action: action, detail: detail,
                requestID: nil))
    }

    /// A store refusal as a one-line usage error.
    static func refusing<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as StoreError {
            switch error {
            case .lastOwner, .memberNotFound, .alreadyMember, .invalid: throw CLIFailure.usage(error.description)
            default: throw error
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Members and the invitations not yet accepted.")
        @OptionGroup var scope: OrganizationOptions
        @OptionGroup var format: OutputOptions

        func run() async throws {
            let (store, organization) = try await scope.open()
            let members = try await store.members(organization.id)
            let pending = try await store.pendingInvitations(organization.id, at: Timestamp.now())
            if format.json {
                return printJSON(
                    .object([
                        ("org_id", .string(organization.id.rawValue)), ("members", .array(members.map(RecordJSON.member))),
                        ("invitations", .array(pending.map(RecordJSON.invitation))),
                    ]))
            }
            if members.isEmpty {
                print("\(organization.name) has no members yet: plutus members add --org … --email … --role owner")
            }
            for member in members {
                print("\(member.role.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0))  \(member.email)")
            }
            for invitation in pending {
                print("invited  \(invitation.email) as \(invitation.role.rawValue), until \(invitation.expiresAt.iso8601Seconds)")
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a member (they can sign in at once) or change their role.")
        @OptionGroup var scope: OrganizationOptions
        @OptionGroup var format: OutputOptions
        @Option(help: "Their email address, as the sign-in provider knows it.") var email: String
        @Option(help: "viewer, member, admin or owner (default member).") var role: String = "member"

        func run() async throws {
            let role = try MembersCommand.role(role)
            let (store, organization) = try await scope.open()
            let before = try await store.members(organization.id).first { $0.email.lowercased() == email.lowercased() }
            let member = try await MembersCommand.refusing {
                try await store.setMember(organization.id, email: email, name: nil, role: role, at: Timestamp.now())
            }
            try await MembersCommand.audit(
                store, organization, before == nil ? .memberAdded : .roleChanged,
                "\(member.email) → \(role.rawValue)\(before.map { " (was \($0.role.rawValue))" } ?? "")")
            if format.json { return printJSON(RecordJSON.member(member)) }
            print("✓ \(member.email) is \(before == nil ? "now" : "from now on") \(role.rawValue) of \(organization.name)")
        }
    }

    struct Role: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a member's role.")
        @OptionGroup var scope: OrganizationOptions
        @OptionGroup var format: OutputOptions
        @Option(help: "The member's email address.") var email: String
        @Option(help: "viewer, member, admin or owner.") var role: String

        func run() async throws {
            let role = try MembersCommand.role(role)
            let (store, organization) = try await scope.open()
            guard
                let before = try await store.members(organization.id).first(where: { $0.email.lowercased() == email.lowercased() }
                )
            else { throw CLIFailure.usage(StoreError.memberNotFound(email).description) }
            let member = try await MembersCommand.refusing {
                try await store.setMember(organization.id, email: email, name: nil, role: role, at: Timestamp.now())
            }
            try await MembersCommand.audit(
                store, organization, .roleChanged, "\(member.email) → \(role.rawValue) (was \(before.role.rawValue))")
            if format.json { return printJSON(RecordJSON.member(member)) }
            print("✓ \(member.email): \(before.role.rawValue) → \(role.rawValue)")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a member; their sessions end when they belong to no organization any more.")
        @OptionGroup var scope: OrganizationOptions
        @Option(help: "The member's email address.") var email: String

        func run() async throws {
            let (store, organization) = try await scope.open()
            try await MembersCommand.refusing { try await store.removeMember(organization.id, email: email, at: Timestamp.now()) }
            try await MembersCommand.audit(store, organization, .memberRemoved, email.lowercased())
            print("✓ \(email.lowercased()) removed from \(organization.name)")
        }
    }

    struct Invite: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Email a one-time link that makes its person a member when they sign in with that address.",
            discussion: """
                The link is <PLUTUS_BASE_URL>/auth/invitation?token=… and expires in 7 days. It goes out through the \
                SMTP server the alerts use (PLUTUS_SMTP_*); without one, the link is printed to pass on yourself.
                """)
        @OptionGroup var scope: OrganizationOptions
        @OptionGroup var format: OutputOptions
        @Option(help: "Their email address.") var email: String
        @Option(help: "viewer, member, admin or owner (default member).") var role: String = "member"

        func run() async throws {
            let role = try MembersCommand.role(role)
            let config = Config.current
            guard let baseURL = config.environment["PLUTUS_BASE_URL"] ?? config.string("auth.base_url"), !baseURL.isEmpty else {
                throw CLIFailure.usage("invitations link to this Plutus: set PLUTUS_BASE_URL (the address browsers reach it at)")
            }
            let mailer = try Mailers.fromSettings()
            let (store, organization) = try await scope.open()
            let sent = try await MembersCommand.refusing {
                try await Invitations.send(
                    store: store, organization: organization, email: email, role: role, invitedBy: MembersCommand.actor,
                    baseURL: baseURL, mailer: mailer, at: Timestamp.now())
            }
            try await MembersCommand.audit(
                store, organization, .invitationSent,
                "\(sent.invitation.email) as \(role.rawValue)\(sent.emailed ? "" : " (not emailed)")")
            if format.json {
                return printJSON(
                    .object([
                        ("email", .string(sent.invitation.email)), ("role", .string(role.rawValue)),
                        ("expires_at", .string(sent.invitation.expiresAt.iso8601Seconds)), ("link", .string(sent.link)),
                        ("emailed", .bool(sent.emailed)), ("email_problem", .optionalString(sent.emailProblem)),
                    ]))
            }
            print(
                "✓ \(sent.invitation.email) invited to \(organization.name) as \(role.rawValue), until \(sent.invitation.expiresAt.iso8601Seconds)"
            )
            if sent.emailed {
                print("  the link went out by email")
            } else {
                print("  \(sent.emailProblem ?? "not emailed"):")
                print("  \(sent.link)")
            }
        }
    }
}

/// Invitation email through the SMTP server the alerts use.
enum Mailers {
    static func fromSettings() throws -> Mailer? {
        guard let smtp = try AlertsCommand.settings().smtp else { return nil }
        let client = SMTPClient(configuration: smtp)
        return Mailer { to, subject, body in
            _ = try await client.send(to: to, subject: subject, body: body, date: Timestamp.now())
        }
    }
}
