/// Serialises a `JSONValue` compactly, keys in the given order. Numbers are written from
/// their exact text, so money rendered with `MicroDollars.decimalString` stays exact.
/// Everything is written as UTF-8 bytes and turned into a `String` once at the end.
extension JSONValue {
    public func serialized() -> String {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    public func write(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: JSONBytes.null)
        case .bool(let flag): out.append(contentsOf: flag ? JSONBytes.true : JSONBytes.false)
        case .number(let text): out.append(contentsOf: text.utf8)
        case .string(let text): JSONValue.writeString(text, into: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (offset, element) in elements.enumerated() {
                if offset > 0 { out.append(UInt8(ascii: ",")) }
                element.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let members):
            out.append(UInt8(ascii: "{"))
            for (offset, member) in members.enumerated() {
                if offset > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.writeString(member.0, into: &out)
                out.append(UInt8(ascii: ":"))
                member.1.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Writes `text` as a JSON string: quotes, backslashes and control characters escaped,
    /// and U+2028/U+2029 too, so the text is also safe inside a `<script>` block.
    static func writeString(_ text: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            // Almost every string is printable ASCII with nothing to escape: copy it whole.
            if bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }) {
                out.append(contentsOf: bytes)
            } else {
                writeEscaped(bytes, into: &out)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func writeEscaped(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case 0x22: out.append(contentsOf: #"\""# as StaticString)
            case 0x5C: out.append(contentsOf: #"\\"# as StaticString)
            case 0x0A: out.append(contentsOf: #"\n"# as StaticString)
            case 0x0D: out.append(contentsOf: #"\r"# as StaticString)
            case 0x09: out.append(contentsOf: #"\t"# as StaticString)
            case 0..<0x20, 0x7F: writeUnicodeEscape(UInt16(byte), into: &out)
            case 0xE2
            where index + 1 < bytes.count && bytes[index] == 0x80
                && (bytes[index + 1] == 0xA8 || bytes[index + 1] == 0xA9):
                writeUnicodeEscape(bytes[index + 1] == 0xA8 ? 0x2028 : 0x2029, into: &out)
                index += 2
            default: out.append(byte)
            }
        }
    }

    /// `\uXXXX` with lowercase hex digits.
    private static func writeUnicodeEscape(_ unit: UInt16, into out: inout [UInt8]) {
        out.append(contentsOf: #"\u"# as StaticString)
        for shift in stride(from: 12, through: 0, by: -4) {
            let digit = UInt8((unit >> UInt16(shift)) & 0xF)
            out.append(digit < 10 ? UInt8(ascii: "0") + digit : UInt8(ascii: "a") + digit - 10)
        }
    }

    // Convenience constructors for building responses.
    public static func int(_ value: Int64) -> JSONValue { .number(String(value)) }
    public static func int(_ value: Int) -> JSONValue { .number(String(value)) }
    public static func money(_ value: MicroDollars) -> JSONValue { .number(value.decimalString) }
    public static func optionalString(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
}

/// Literal byte runs the writers append.
enum JSONBytes {
    static let null: StaticString = "null"
    static let `true`: StaticString = "true"
    static let `false`: StaticString = "false"
}

extension Array where Element == UInt8 {
    @inline(__always)
    mutating func append(contentsOf text: StaticString) {
        text.withUTF8Buffer { append(contentsOf: $0) }
    }
}

/// Writes one JSON object member by member, straight into its UTF-8 bytes, for responses
/// too large to build as a `JSONValue` first. Keys are the caller's constants; every value
/// is escaped as `JSONValue` escapes it.
public struct JSONObjectWriter {
    private var out: [UInt8] = []
    /// Whether the open object or array (innermost last) already holds a member.
    private var filled: [Bool] = [false]

    public init(capacity: Int) {
        out.reserveCapacity(capacity)
        out.append(UInt8(ascii: "{"))
    }

    private mutating func separate() {
        if filled[filled.count - 1] { out.append(UInt8(ascii: ",")) }
        filled[filled.count - 1] = true
    }

    /// Keys are the caller's constants, plain ASCII with nothing to escape: written as they are.
    private mutating func key(_ name: StaticString) {
        assert(
            name.withUTF8Buffer { $0.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C } },
            "a key needs no escaping")
        separate()
        out.append(UInt8(ascii: "\""))
        out.append(contentsOf: name)
        out.append(contentsOf: #"":"# as StaticString)
    }

    public mutating func string(_ name: StaticString, _ value: String?) {
        key(name)
        if let value { JSONValue.writeString(value, into: &out) } else { out.append(contentsOf: JSONBytes.null) }
    }

    public mutating func integer(_ name: StaticString, _ value: Int64?) {
        key(name)
        guard let value else { return out.append(contentsOf: JSONBytes.null) }
        DecimalText.write(value, scale: 0, into: &out)
    }

    /// Dollars with up to six decimals, exact (`MicroDollars.decimalString`).
    public mutating func money(_ name: StaticString, _ value: MicroDollars) {
        key(name)
        DecimalText.write(value.rawValue, scale: 6, into: &out)
    }

    public mutating func bool(_ name: StaticString, _ value: Bool) {
        key(name)
        out.append(contentsOf: value ? JSONBytes.true : JSONBytes.false)
    }

    /// Opens an array member; close it with `end("]")`.
    public mutating func beginArray(_ name: StaticString) {
        key(name)
        out.append(UInt8(ascii: "["))
        filled.append(false)
    }

    /// A number as the next element of the open array (exact dollars).
    public mutating func element(_ value: MicroDollars) {
        separate()
        DecimalText.write(value.rawValue, scale: 6, into: &out)
    }

    /// Opens an object member; close it with `end("}")`.
    public mutating func beginObject(_ name: StaticString) {
        key(name)
        out.append(UInt8(ascii: "{"))
        filled.append(false)
    }

    /// Opens an object as the next element of the open array; close it with `end("}")`.
    public mutating func beginObject() {
        separate()
        out.append(UInt8(ascii: "{"))
        filled.append(false)
    }

    public mutating func end(_ closer: Unicode.Scalar) {
        precondition(filled.count > 1, "nothing open to end")
        precondition(closer == "]" || closer == "}", "only ] or } closes")
        filled.removeLast()
        out.append(UInt8(ascii: closer))
    }

    /// The text, with the outer object closed.
    public mutating func finish() -> String {
        precondition(filled.count == 1, "an array or object is still open")
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}
