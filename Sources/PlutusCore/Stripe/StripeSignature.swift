import Crypto

/// Stripe's webhook signature scheme: the `Stripe-Signature` header carries `t=<unix
/// seconds>` and one or more `v1=<hex>` entries; each `v1` is HMAC-SHA256, keyed with the
/// endpoint's signing secret, over `"<t>.<raw body>"`. A delivery is genuine when any `v1`
/// matches any configured secret (several during rotation), compared in constant time, and
/// `t` is within the tolerance of now.
public enum StripeSignature {
    public static let toleranceSecondsDefault: Int64 = 300
    /// Longest `Stripe-Signature` header we parse.
    public static let headerBytesMax = 4_096

    public enum Failure: Error, Equatable, Sendable {
        case missingHeader
        case malformedHeader
        case noSecretConfigured
        case timestampOutsideTolerance
        case noMatchingSignature
    }

    /// The signed timestamp when the delivery is genuine.
    public static func verify(
        header: String?, payload: [UInt8], secrets: [String], now: Timestamp,
        toleranceSeconds: Int64 = toleranceSecondsDefault
    ) -> Result<Int64, Failure> {
        guard !secrets.isEmpty else { return .failure(.noSecretConfigured) }
        guard let header, !header.isEmpty else { return .failure(.missingHeader) }
        guard header.utf8.count <= headerBytesMax else { return .failure(.malformedHeader) }
        var timestamp: Int64?
        var signatures: [[UInt8]] = []
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map { $0.trimmingASCIISpacesSubstring() }
            guard pair.count == 2 else { continue }
            switch pair[0] {
            case "t": timestamp = Int64(pair[1])
            case "v1": if let bytes = hexBytes(pair[1]) { signatures.append(bytes) }
            default: continue  // v0 and unknown schemes are ignored, as Stripe's libraries do
            }
        }
        guard let timestamp, !signatures.isEmpty else { return .failure(.malformedHeader) }
        guard abs(now.seconds - timestamp) <= toleranceSeconds else { return .failure(.timestampOutsideTolerance) }
        for secret in secrets {
            let expected = mac(secret: secret, timestamp: timestamp, payload: payload)
            for signature in signatures where Digest.constantTimeEqual(signature, expected) { return .success(timestamp) }
        }
        return .failure(.noMatchingSignature)
    }

    /// The header Stripe would send for `payload` at `timestamp` (used by tests and tools).
    public static func header(payload: [UInt8], secret: String, timestamp: Int64) -> String {
        "t=\(timestamp),v1=\(Digest.hex(mac(secret: secret, timestamp: timestamp, payload: payload)))"
    }

    static func mac(secret: String, timestamp: Int64, payload: [UInt8]) -> [UInt8] {
        let key = SymmetricKey(data: Array(secret.utf8))
        var message = Array("\(timestamp).".utf8)
        message += payload
        return Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
    }

    static func hexBytes(_ text: Substring) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count == 64 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 48...57: byte - 48
        case 97...102: byte - 87
        case 65...70: byte - 55
        default: nil
        }
    }
}

extension Substring {
    func trimmingASCIISpacesSubstring() -> Substring {
        var text = self
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return text
    }
}
