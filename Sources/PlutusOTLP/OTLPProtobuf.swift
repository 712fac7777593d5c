import CZlib
import PlutusCore
import PlutusOTLPProto
import SwiftProtobuf

/// OTLP/protobuf (`application/x-protobuf`, the exporters' default), read with the committed
/// SwiftProtobuf messages.
public enum OTLPProtobuf {
    typealias TraceRequest = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest
    typealias LogsRequest = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceRequest

    public static func spans(_ bytes: [UInt8]) throws(OTLPDecodeError) -> [OTLPSpan] {
        let request: TraceRequest
        do {
            request = try TraceRequest(serializedBytes: bytes)
        } catch {
            throw OTLPDecodeError("the body is not an OTLP ExportTraceServiceRequest in protobuf")
        }
        var spans: [OTLPSpan] = []
        for resourceSpans in request.resourceSpans {
            let resource = try attributes(resourceSpans.resource.attributes).checked("resource")
            for scopeSpans in resourceSpans.scopeSpans {
                for span in scopeSpans.spans {
                    spans.append(
                        OTLPSpan(
                            traceID: Array(span.traceID), spanID: Array(span.spanID), name: span.name,
                            startNanos: span.startTimeUnixNano, endNanos: span.endTimeUnixNano,
                            attributes: try attributes(span.attributes).checked("span"), resource: resource,
                            scope: scopeSpans.scope.name))
                    guard spans.count <= Limits.otlpItemsPerExportMax else {
                        throw OTLPDecodeError("an export carries at most \(Limits.otlpItemsPerExportMax) spans")
                    }
                }
            }
        }
        return spans
    }

    public static func logRecords(_ bytes: [UInt8]) throws(OTLPDecodeError) -> [OTLPLogRecord] {
        let request: LogsRequest
        do {
            request = try LogsRequest(serializedBytes: bytes)
        } catch {
            throw OTLPDecodeError("the body is not an OTLP ExportLogsServiceRequest in protobuf")
        }
        var records: [OTLPLogRecord] = []
        for resourceLogs in request.resourceLogs {
            let resource = try attributes(resourceLogs.resource.attributes).checked("resource")
            for scopeLogs in resourceLogs.scopeLogs {
                for record in scopeLogs.logRecords {
                    records.append(
                        OTLPLogRecord(
                            timeNanos: record.timeUnixNano, observedNanos: record.observedTimeUnixNano,
                            eventName: record.eventName, body: record.hasBody ? value(record.body) : nil,
                            attributes: try attributes(record.attributes).checked("log record"), resource: resource,
                            scope: scopeLogs.scope.name, traceID: Array(record.traceID), spanID: Array(record.spanID)))
                    guard records.count <= Limits.otlpItemsPerExportMax else {
                        throw OTLPDecodeError("an export carries at most \(Limits.otlpItemsPerExportMax) log records")
                    }
                }
            }
        }
        return records
    }

    /// The export's answer: empty when everything was taken, else a partial success naming
    /// how many items were rejected and why.
    public static func traceResponse(rejected: Int, message: String) -> [UInt8] {
        var response = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceResponse()
        if rejected > 0 || !message.isEmpty {
            response.partialSuccess.rejectedSpans = Int64(rejected)
            response.partialSuccess.errorMessage = message
        }
        return (try? response.serializedBytes()) ?? []
    }

    public static func logsResponse(rejected: Int, message: String) -> [UInt8] {
        var response = Opentelemetry_Proto_Collector_Logs_V1_ExportLogsServiceResponse()
        if rejected > 0 || !message.isEmpty {
            response.partialSuccess.rejectedLogRecords = Int64(rejected)
            response.partialSuccess.errorMessage = message
        }
        return (try? response.serializedBytes()) ?? []
    }

    static func attributes(_ list: [Opentelemetry_Proto_Common_V1_KeyValue]) -> OTLPAttributes {
        OTLPAttributes(list.map { OTLPAttribute(key: $0.key, value: value($0.value)) })
    }

    static func value(_ any: Opentelemetry_Proto_Common_V1_AnyValue) -> OTLPValue {
        switch any.value {
        case .stringValue(let text)?: .string(text)
        case .boolValue(let flag)?: .bool(flag)
        case .intValue(let number)?: .int(number)
        case .doubleValue(let number)?: .double(number)
        case .bytesValue(let data)?: .bytes(Array(data))
        case .arrayValue(let array)?: .array(array.values.map(value))
        case .kvlistValue(let list)?: .map(list.values.map { OTLPAttribute(key: $0.key, value: value($0.value)) })
        case nil: .string("")
        }
    }
}

/// Inflating gzip bodies (`Content-Encoding: gzip`), bounded.
public enum Gunzip {
    public enum Failure: Error, Equatable {
        case invalid
        case tooLarge
    }

    public static func inflate(_ bytes: [UInt8], limit: Int = Limits.otlpInflatedBytesMax) throws(Failure) -> [UInt8] {
        // Start near the usual ratio and grow, so a small body never costs the whole limit.
        var capacity = min(limit, max(65_536, bytes.count * 8))
        var output: [UInt8] = []
        var written = -2
        while true {
            output = [UInt8](repeating: 0, count: capacity)
            written = bytes.withUnsafeBufferPointer { input in
                output.withUnsafeMutableBufferPointer { out in
                    plutus_gunzip(input.baseAddress, input.count, out.baseAddress, out.count)
                }
            }
            guard written == -2, capacity < limit else { break }
            capacity = min(limit, capacity * 4)
        }
        if written == -2 { throw .tooLarge }
        guard written >= 0 else { throw .invalid }
        output.removeSubrange(Int(written)...)
        return output
    }
}
