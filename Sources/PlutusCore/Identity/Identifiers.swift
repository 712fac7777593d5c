import Synchronization

/// Identifiers are `<prefix>_<16 lowercase hex>` (8 random bytes), as in the original.
/// Each entity has its own type so an organization id cannot stand where a workspace id
/// is expected.
public protocol PrefixedID: RawRepresentable, Hashable, Sendable, Comparable, CustomStringConvertible
where RawValue == String {
    static var prefix: String { get }
    init(rawValue: String)
}

extension PrefixedID {
    /// A fresh random identifier.
    public static func random() -> Self {
        var generator = SystemRandomNumberGenerator()
        return random(using: &generator)
    }

    public static func random(using generator: inout some RandomNumberGenerator) -> Self {
        let bits = generator.next() as UInt64
        let hex = String(bits, radix: 16)
        return Self(rawValue: "\(prefix)_" + String(repeating: "0", count: 16 - hex.count) + hex)
    }

    /// A fresh identifier that sorts by creation time: `<prefix>_` + 12 hex digits of
    /// milliseconds + 12 hex digits of a per-process counter that starts at a random value.
    /// Rows keyed by these land at the end of their indexes instead of all over them, which
    /// keeps each commit's written pages few. One process never mints the same one twice
    /// (the counter wraps after 2^48 ids); two processes only collide by minting the same
    /// counter value in the same millisecond. Usage events rely on this: SQLite keeps no
    /// unique index on their ids, and `verify` checks them.
    public static func timeOrdered(at time: Timestamp) -> Self {
        let millis = UInt64(max(0, time.rawValue)) & 0xFFFF_FFFF_FFFF
        return Self(rawValue: IdentifierBits.hex(prefix: prefix, high: millis, low: IdentifierBits.nextInSequence()))
    }

    /// `true` when `text` has this type's prefix and shape.
    public static func isWellFormed(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        let head = Array((prefix + "_").utf8)
        guard bytes.count == head.count + 16, Array(bytes.prefix(head.count)) == head else { return false }
        return bytes.dropFirst(head.count).allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
    public var description: String { rawValue }
}

public struct OrganizationID: PrefixedID {
    public static let prefix = "org"
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

public struct WorkspaceID: PrefixedID {
    public static let prefix = "ws"
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

public struct UserID: PrefixedID {
    public static let prefix = "usr"
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

public struct UsageEventID: PrefixedID {
    public static let prefix = "evt"
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

public struct EntryID: PrefixedID {
    public static let prefix = "ent"
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

public struct AlertID: PrefixedID {
    public static let prefix = "alr"
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

public struct ReservationID: PrefixedID {
    public static let prefix = "rsv"
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

public struct APIKeyID: PrefixedID {
    public static let prefix = "key"
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

/// Slugs: lower-case every alphanumeric character, turn every run of other characters
/// into one `-`, trim `-` from both ends, `default` when nothing is left.
public enum Slug {
    public static func make(from name: String) -> String {
        var out = ""
        var pendingDash = false
        for character in name.lowercased() {
            if character.isLetter || character.isNumber {
                if pendingDash && !out.isEmpty { out.append("-") }
                pendingDash = false
                out.append(character)
            } else {
                pendingDash = true
            }
        }
        return out.isEmpty ? "default" : out
    }

    /// `base`, or `base-2`, `base-3`, … — the first that `isTaken` says is free.
    public static func unique(_ base: String, isTaken: (String) throws -> Bool) rethrows -> String {
        if try !isTaken(base) { return base }
        var counter = 2
        while try isTaken("\(base)-\(counter)") { counter += 1 }
        return "\(base)-\(counter)"
    }
}

/// Bits for time-ordered identifiers, which need to be unique, not secret: the next value
/// of a 48-bit counter that starts at a random value (one `getrandom` per process).
enum IdentifierBits {
    private static let sequence: Mutex<UInt64> = {
        var system = SystemRandomNumberGenerator()
        return Mutex(system.next())
    }()

    /// The next value of this process's 48-bit counter: no repeat within 2^48 calls.
    static func nextInSequence() -> UInt64 {
        sequence.withLock { value -> UInt64 in
            value = (value &+ 1) & 0xFFFF_FFFF_FFFF
            return value
        }
    }

    /// `<prefix>_` followed by `high` and `low` as 12 lowercase hex digits each.
    static func hex(prefix: String, high: UInt64, low: UInt64) -> String {
        let digits: StaticString = "0123456789abcdef"
        let head = prefix.utf8.count
        // One allocation: the prefix, '_', then the 24 digits written in place.
        return String(unsafeUninitializedCapacity: head + 25) { buffer in
            _ = buffer.initialize(fromContentsOf: prefix.utf8)
            buffer[head] = UInt8(ascii: "_")
            digits.withUTF8Buffer { table in
                for index in 0..<12 {
                    let shift = UInt64(44 - index * 4)
                    buffer[head + 1 + index] = table[Int((high >> shift) & 0xF)]
                    buffer[head + 13 + index] = table[Int((low >> shift) & 0xF)]
                }
            }
            return head + 25
        }
    }
}
