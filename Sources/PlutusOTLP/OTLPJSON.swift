import Foundation
import PlutusCore

/// OTLP/JSON (`application/json`): the protobuf messages in the JSON mapping, with trace and
/// span ids as hex, 64-bit integers as strings or numbers, and field names in lowerCamelCase
/// (the proto names are accepted too).
public enum OTLPJSON {
    public static func spans(_ body: JSONValue) throws(OTLPDecodeError) -> [OTLPSpan] {
        var spans: [OTLPSpan] = []
        for resourceSpans in try list(body, "resourceSpans", "resource_spans") {
            let resource = try attributes(member(member(resourceSpans, "resource"), "attributes")).checked("resource")
            for scopeSpans in try list(resourceSpans, "scopeSpans", "scope_spans") {
                let scope = member(scopeSpans, "scope").flatMap { $0["name"]?.stringValue } ?? ""
                for span in try list(scopeSpans, "spans") {
                    spans.append(
                        OTLPSpan(
                            traceID: try id(span, "traceId", "trace_id"), spanID: try id(span, "spanId", "span_id"),
                            name: member(span, "name")?.stringValue ?? "",
                            startNanos: try nanos(span, "startTimeUnixNano", "start_time_unix_nano"),
                            endNanos: try nanos(span, "endTimeUnixNano", "end_time_unix_nano"),
                            attributes: try attributes(member(span, "attributes")).checked("span"), resource: resource,
                            scope: scope))
                    guard spans.count <= Limits.otlpItemsPerExportMax else {
                        throw OTLPDecodeError("an export carries at most \(Limits.otlpItemsPerExportMax) spans")
                    }
                }
            }
        }
        return spans
    }

    public static func logRecords(_ body: JSONValue) throws(OTLPDecodeError) -> [OTLPLogRecord] {
        var records: [OTLPLogRecord] = []
        for resourceLogs in try list(body, "resourceLogs", "resource_logs") {
            let resource = try attributes(member(member(resourceLogs, "resource"), "attributes")).checked("resource")
            for scopeLogs in try list(resourceLogs, "scopeLogs", "scope_logs") {
                let scope = member(scopeLogs, "scope").flatMap { $0["name"]?.stringValue } ?? ""
                for record in try list(scopeLogs, "logRecords", "log_records") {
                    records.append(
                        OTLPLogRecord(
                            timeNanos: try nanos(record, "timeUnixNano", "time_unix_nano"),
                            observedNanos: try nanos(record, "observedTimeUnixNano", "observed_time_unix_nano"),
                            eventName: member(record, "eventName", "event_name")?.stringValue ?? "",
                            body: try member(record, "body").map(value),
                            attributes: try attributes(member(record, "attributes")).checked("log record"),
                            resource: resource, scope: scope, traceID: try id(record, "traceId", "trace_id"),
                            spanID: try id(record, "spanId", "span_id")))
                    guard records.count <= Limits.otlpItemsPerExportMax else {
                        throw OTLPDecodeError("an export carries at most \(Limits.otlpItemsPerExportMax) log records")
                    }
                }
            }
        }
        return records
    }

    static func member(_ object: JSONValue?, _ names: String...) -> JSONValue? {
        guard let object else { return nil }
        for name in names { if let found = object[name], found != .null { return found } }
        return nil
    }

    static func list(_ object: JSONValue, _ names: String...) throws(OTLPDecodeError) -> [JSONValue] {
        var found: JSONValue?
        for name in names { if let value = object[name], value != .null { found = value } }
        guard let found else { return [] }
        guard case .array(let items) = found else { throw OTLPDecodeError("\(names[0]) must be an array") }
        return items
    }

    static func id(_ object: JSONValue, _ names: String...) throws(OTLPDecodeError) -> [UInt8] {
        var found: JSONValue?
        for name in names { if let value = object[name], value != .null { found = value } }
        guard let found else { return [] }
        guard case .string(let text) = found, let bytes = Hex.decode(text) else {
            throw OTLPDecodeError("\(names[0]) must be hex, got \(found.stringValue.map { "\"\($0)\"" } ?? "a non-string")")
        }
        return bytes
    }

    static func nanos(_ object: JSONValue, _ names: String...) throws(OTLPDecodeError) -> UInt64 {
        var found: JSONValue?
        for name in names { if let value = object[name], value != .null { found = value } }
        switch found {
        case nil: return 0
        case .string(let text)?, .number(let text)?:
            guard let value = UInt64(text) else { throw OTLPDecodeError("\(names[0]) must be an integer, got \(text)") }
            return value
        default: throw OTLPDecodeError("\(names[0]) must be an integer")
        }
    }

    static func attributes(_ list: JSONValue?) throws(OTLPDecodeError) -> OTLPAttributes {
        guard let list, list != .null else { return OTLPAttributes() }
        guard case .array(let items) = list else { throw OTLPDecodeError("attributes must be an array") }
        var out: [OTLPAttribute] = []
        out.reserveCapacity(items.count)
        for item in items {
            guard let key = item["key"]?.stringValue else { throw OTLPDecodeError("an attribute has no key") }
            out.append(OTLPAttribute(key: key, value: try item["value"].map(value) ?? .string("")))
        }
        return OTLPAttributes(out)
    }

    static func value(_ any: JSONValue) throws(OTLPDecodeError) -> OTLPValue {
        if let text = member(any, "stringValue", "string_value") {
            guard case .string(let string) = text else { throw OTLPDecodeError("stringValue must be a string") }
            return .string(string)
        }
        if let flag = member(any, "boolValue", "bool_value") {
            guard case .bool(let bool) = flag else { throw OTLPDecodeError("boolValue must be a boolean") }
            return .bool(bool)
        }
        if let number = member(any, "intValue", "int_value") {
            switch number {
            case .string(let text), .number(let text):
                guard let value = Int64(text) else { throw OTLPDecodeError("intValue must be an integer, got \(text)") }
                return .int(value)
            default: throw OTLPDecodeError("intValue must be an integer")
            }
        }
        if let number = member(any, "doubleValue", "double_value") {
            switch number {
            case .string(let text), .number(let text):
                guard let value = Double(text) else { throw OTLPDecodeError("doubleValue must be a number, got \(text)") }
                return .double(value)
            default: throw OTLPDecodeError("doubleValue must be a number")
            }
        }
        if let array = member(any, "arrayValue", "array_value") {
            var values: [OTLPValue] = []
            for item in try list(array, "values") { values.append(try value(item)) }
            return .array(values)
        }
        if let map = member(any, "kvlistValue", "kvlist_value") {
            return .map(try attributes(map["values"]).list)
        }
        if let bytes = member(any, "bytesValue", "bytes_value") {
            guard case .string(let text) = bytes, let data = Data(base64Encoded: text) else {
                throw OTLPDecodeError("bytesValue must be base64")
            }
            return .bytes(Array(data))
        }
        return .string("")
    }
}
