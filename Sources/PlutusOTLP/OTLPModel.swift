import PlutusCore

/// An attribute's value, as OTLP's `AnyValue` carries it.
public indirect enum OTLPValue: Sendable, Equatable {
    case string(String)
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case bytes([UInt8])
    case array([OTLPValue])
    case map([OTLPAttribute])

    /// The value as text, for labels: strings as they are, numbers and booleans written out.
    public var text: String? {
        switch self {
        case .string(let text): text
        case .int(let value): String(value)
        case .bool(let value): String(value)
        case .double(let value): String(value)
        default: nil
        }
    }

    /// The value as a token count: an integer, an integral double, or a decimal string of digits.
    public var count: Int64? {
        switch self {
        case .int(let value): value
        case .double(let value): value.rounded() == value && abs(value) < 9e15 ? Int64(value) : nil
        case .string(let text): Int64(text)
        default: nil
        }
    }
}

public struct OTLPAttribute: Sendable, Equatable {
    public var key: String
    public var value: OTLPValue

    public init(key: String, value: OTLPValue) {
        self.key = key
        self.value = value
    }
}

/// A span's, record's or resource's attributes, looked up by key (the first one wins).
public struct OTLPAttributes: Sendable, Equatable {
    public var list: [OTLPAttribute]

    public init(_ list: [OTLPAttribute] = []) { self.list = list }

    public subscript(key: String) -> OTLPValue? { list.first { $0.key == key }?.value }

    /// The first of `keys` present, as text.
    public func text(_ keys: String...) -> String? {
        for key in keys { if let text = self[key]?.text, !text.isEmpty { return text } }
        return nil
    }
}

/// One span of an export, with what it inherits from its resource and scope.
public struct OTLPSpan: Sendable, Equatable {
    public var traceID: [UInt8]
    public var spanID: [UInt8]
    public var name: String
    public var startNanos: UInt64
    public var endNanos: UInt64
    public var attributes: OTLPAttributes
    public var resource: OTLPAttributes
    public var scope: String

    public init(
        traceID: [UInt8], spanID: [UInt8], name: String, startNanos: UInt64, endNanos: UInt64, attributes: OTLPAttributes,
        resource: OTLPAttributes, scope: String
    ) {
        self.traceID = traceID
        self.spanID = spanID
        self.name = name
        self.startNanos = startNanos
        self.endNanos = endNanos
        self.attributes = attributes
        self.resource = resource
        self.scope = scope
    }
}

/// One log record of an export, with what it inherits from its resource and scope.
public struct OTLPLogRecord: Sendable, Equatable {
    public var timeNanos: UInt64
    public var observedNanos: UInt64
    public var eventName: String
    public var body: OTLPValue?
    public var attributes: OTLPAttributes
    public var resource: OTLPAttributes
    public var scope: String
    public var traceID: [UInt8]
    public var spanID: [UInt8]

    public init(
        timeNanos: UInt64, observedNanos: UInt64, eventName: String, body: OTLPValue?, attributes: OTLPAttributes,
        resource: OTLPAttributes, scope: String, traceID: [UInt8], spanID: [UInt8]
    ) {
        self.timeNanos = timeNanos
        self.observedNanos = observedNanos
        self.eventName = eventName
        self.body = body
        self.attributes = attributes
        self.resource = resource
        self.scope = scope
        self.traceID = traceID
        self.spanID = spanID
    }
}

/// Why an export cannot be read at all (it is answered with a 400 naming the problem).
public struct OTLPDecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension OTLPAttributes {
    /// Checks the per-item attribute limit.
    func checked(_ what: String) throws(OTLPDecodeError) -> OTLPAttributes {
        guard list.count <= Limits.otlpAttributesPerItemMax else {
            throw OTLPDecodeError("a \(what) has \(list.count) attributes; at most \(Limits.otlpAttributesPerItemMax) are read")
        }
        return self
    }
}

enum Hex {
    static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        let bytes = Array(text.utf8)
        guard bytes.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 97...102: c - 87
            case 65...70: c - 55
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count / 2)
        var index = 0
        while index < bytes.count {
            guard let high = nibble(bytes[index]), let low = nibble(bytes[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }
}
