import Crypto

/// Ingest API keys: `plutus_sk_` followed by 32 URL-safe base64 characters (24 random
/// bytes). Only the SHA-256 of the whole secret is ever stored.
public enum APIKeySecret {
    public static let scheme = "plutus_sk_"
    /// Characters shown for recognition (`plutus_sk_` + 4).
    public static let displayPrefixLength = 14
    public static let secretLength = 42

    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(24)
        for _ in 0..<3 {
            let word = generator.next() as UInt64
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: word >> shift)) }
        }
        return scheme + base64URL(bytes)
    }

    /// `true` when `text` looks like a Plutus secret (checked before any database work).
    public static func isWellFormed(_ text: String) -> Bool {
        guard text.utf8.count == secretLength, text.hasPrefix(scheme) else { return false }
        return text.utf8.dropFirst(scheme.utf8.count).allSatisfy { byte in
            (65...90).contains(byte) || (97...122).contains(byte) || (48...57).contains(byte)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
        }
    }

    /// Lower-case hex SHA-256 of the whole secret.
    public static func hash(_ secret: String) -> String { Digest.sha256Hex(Array(secret.utf8)) }

    public static func displayPrefix(_ secret: String) -> String { String(secret.prefix(displayPrefixLength)) }

    private static func base64URL(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var out: [UInt8] = []
        var index = 0
        while index + 3 <= bytes.count {
            let chunk = UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2])
            for shift in [18, 12, 6, 0] { out.append(alphabet[Int((chunk >> UInt32(shift)) & 63)]) }
            index += 3
        }
        precondition(index == bytes.count, "key material must be a multiple of 3 bytes")
        return String(decoding: out, as: UTF8.self)
    }
}

/// Hashing helpers shared by keys, idempotency and webhooks.
public enum Digest {
    public static func sha256(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        Array(SHA256.hash(data: Array(bytes)))
    }

    public static func sha256Hex(_ bytes: some Sequence<UInt8>) -> String {
        hex(SHA256.hash(data: Array(bytes)))
    }

    public static func hex(_ digest: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Compares two byte strings in time independent of where they differ.
    public static func constantTimeEqual(_ lhs: some Collection<UInt8>, _ rhs: some Collection<UInt8>) -> Bool {
        guard lhs.count == rhs.count else { return false }
        var difference: UInt8 = 0
        for (a, b) in zip(lhs, rhs) { difference |= a ^ b }
        return difference == 0
    }
}

/// HMAC-SHA256, for tokens derived from a server secret.
public enum HMACSHA256 {
    public static func code(key: [UInt8], message: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }
}
