/// What a customer pays Plutus for, and the two limits enforced in code: tracked tokens per
/// UTC month and workspaces.
public enum Plan: String, Sendable, CaseIterable, Codable {
    case free
    case pro
    case team
    case enterprise

    public var displayName: String {
        switch self {
        case .free: "Free"
        case .pro: "Pro"
        case .team: "Team"
        case .enterprise: "Enterprise"
        }
    }

    /// Monthly price; `nil` for a custom (negotiated) price.
    public var monthlyPrice: MicroDollars? {
        switch self {
        case .free: .zero
        case .pro: MicroDollars.dollars(20)
        case .team: MicroDollars.dollars(149)
        case .enterprise: nil
        }
    }

    /// Tracked tokens per UTC month; `nil` = unlimited.
    public var trackedTokensPerMonth: Int64? {
        self == .free ? 10_000 : nil
    }

    /// Workspaces an organization may have; `nil` = unlimited.
    public var workspacesMax: Int? {
        switch self {
        case .free: 1
        case .pro: 10
        case .team: 50
        case .enterprise: nil
        }
    }
}
