/// Serialises a `JSONValue` compactly, keys in the given order. Numbers are written from
/// their exact text, so money rendered with `MicroDollars.decimalString` stays exact.
extension JSONValue {
    public func serialized() -> String {
        var out = ""
        out.reserveCapacity(256)
        write(into: &out)
        return out
    }

    public func write(into out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let flag): out += flag ? "true" : "false"
        case .number(let text): out += text
        case .string(let text): JSONValue.writeString(text, into: &out)
        case .array(let elements):
            out += "["
            for (offset, element) in elements.enumerated() {
                if offset > 0 { out += "," }
                element.write(into: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (offset, member) in members.enumerated() {
                if offset > 0 { out += "," }
                JSONValue.writeString(member.0, into: &out)
                out += ":"
                member.1.write(into: &out)
            }
            out += "}"
        }
    }

    static func writeString(_ text: String, into out: inout String) {
        out += "\""
        // Almost every string is printable ASCII with nothing to escape: copy it whole.
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }) {
            out += text
            out += "\""
            return
        }
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    // Convenience constructors for building responses.
    public static func int(_ value: Int64) -> JSONValue { .number(String(value)) }
    public static func int(_ value: Int) -> JSONValue { .number(String(value)) }
    public static func money(_ value: MicroDollars) -> JSONValue { .number(value.decimalString) }
    public static func optionalString(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
}

/// Writes one JSON object member by member, straight into its text, for responses too
/// large to build as a `JSONValue` first. Keys are the caller's constants; every value is
/// escaped as `JSONValue` escapes it.
public struct JSONObjectWriter {
    private var out: String
    /// Whether the open object or array (innermost last) already holds a member.
    private var filled: [Bool] = [false]

    public init(capacity: Int) {
        out = "{"
        out.reserveCapacity(capacity)
    }

    private mutating func separate() {
        if filled[filled.count - 1] { out += "," }
        filled[filled.count - 1] = true
    }

    /// Keys are the caller's constants, plain ASCII with nothing to escape: written as they are.
    private mutating func key(_ name: String) {
        assert(name.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F && $0 != 0x22 && $0 != 0x5C }, "a key needs no escaping")
        separate()
        out += "\""
        out += name
        out += "\":"
    }

    public mutating func string(_ name: String, _ value: String?) {
        key(name)
        if let value { JSONValue.writeString(value, into: &out) } else { out += "null" }
    }

    /// `text` must be a JSON number literal (`String(Int64)`, `MicroDollars.decimalString`).
    public mutating func number(_ name: String, _ text: String?) {
        key(name)
        out += text ?? "null"
    }

    public mutating func bool(_ name: String, _ value: Bool) {
        key(name)
        out += value ? "true" : "false"
    }

    /// Opens an array member; close it with `end("]")`.
    public mutating func beginArray(_ name: String) {
        key(name)
        out += "["
        filled.append(false)
    }

    /// Opens an object as the next element of the open array; close it with `end("}")`.
    public mutating func beginObject() {
        separate()
        out += "{"
        filled.append(false)
    }

    public mutating func end(_ closer: Character) {
        precondition(filled.count > 1, "nothing open to end")
        filled.removeLast()
        out.append(closer)
    }

    /// The text, with the outer object closed.
    public mutating func finish() -> String {
        precondition(filled.count == 1, "an array or object is still open")
        out += "}"
        return out
    }
}
