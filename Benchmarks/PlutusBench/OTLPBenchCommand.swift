import ArgumentParser
import Foundation
import Logging
import PlutusCore
import PlutusOTLPProto
import PlutusSQLite
import PlutusServer
import PlutusStore
import SwiftProtobuf

/// `plutus-bench otlp`: OTLP spans ingested per second beside `/v1/usage` batches, in one run.
struct OTLPBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "otlp",
        abstract: "Measure OTLP span ingest (protobuf, 512 spans per export) beside /v1/usage batches of 512 events.",
        discussion: """
            Runs in one process on a fresh temporary database (synchronous=FULL): POST /v1/traces with \
            exports of 512 GenAI spans (application/x-protobuf, each span one usage event with its own \
            (traceId, spanId)) and POST /v1/usage with JSON batches of 512 events, both at 8 connections, \
            in alternating pairs, from the built-in load generator. Prints each run and the median share of \
            span ingest against batch ingest (the target is at least 50 %). Afterwards checks that the \
            events recorded equal the events acknowledged and that the books verify. Only 127.0.0.1 is targeted.
            """)

    @Option(help: "Seconds per run (1–60).") var seconds: Double = 3
    @Option(help: "Alternating pairs of runs (1–10).") var pairs = 3
    @Option(help: "Connections (1–64).") var connections = 8

    enum Runs: String, ExpressibleByArgument, CaseIterable {
        case both, usage, traces
    }

    @Option(help: "Which runs: both (the comparison), or only usage or traces (to profile one).") var only: Runs = .both

    static let spansPerExport = 512

    /// An export of `spansPerExport` spans, each one model call. Every trace id is
    /// `RealisticEvents.placeholder` (16 bytes), which the load generator replaces per request
    /// with digits that look random, as trace ids are, so no export repeats another's ids;
    /// span ids count up within the export; every end time is the time of sending.
    static func export() throws -> [UInt8] {
        func attribute(_ key: String, _ value: String) -> Opentelemetry_Proto_Common_V1_KeyValue {
            var pair = Opentelemetry_Proto_Common_V1_KeyValue()
            pair.key = key
            pair.value.stringValue = value
            return pair
        }
        func attribute(_ key: String, _ value: Int64) -> Opentelemetry_Proto_Common_V1_KeyValue {
            var pair = Opentelemetry_Proto_Common_V1_KeyValue()
            pair.key = key
            pair.value.intValue = value
            return pair
        }
        var scope = Opentelemetry_Proto_Trace_V1_ScopeSpans()
        scope.scope.name = "opentelemetry.instrumentation.openai.v1"
        for index in 0..<spansPerExport {
            var span = Opentelemetry_Proto_Trace_V1_Span()
            span.traceID = Data(RealisticEvents.placeholder.utf8)
            var spanID = UInt64(index + 1).bigEndian
            span.spanID = withUnsafeBytes(of: &spanID) { Data($0) }
            span.name = "chat gpt-5-mini"
            span.kind = 3  // SPAN_KIND_CLIENT
            // The load generator writes the time of sending here, so each export's spans end
            // when it is sent, as an exporter's do.
            span.endTimeUnixNano = RealisticEvents.timePlaceholderValue
            span.attributes = [
                attribute("gen_ai.operation.name", "chat"), attribute("gen_ai.provider.name", "openai"),
                attribute("gen_ai.request.model", "gpt-5-mini"), attribute("gen_ai.response.model", "gpt-5-mini"),
                attribute("gen_ai.usage.input_tokens", 800), attribute("gen_ai.usage.output_tokens", 200),
                attribute("server.address", "api.openai.com"),
            ]
            scope.spans.append(span)
        }
        var resource = Opentelemetry_Proto_Trace_V1_ResourceSpans()
        resource.resource.attributes = [attribute("service.name", "bench-agent"), attribute("plutus.workspace", "agents")]
        resource.scopeSpans = [scope]
        var request = Opentelemetry_Proto_Collector_Trace_V1_ExportTraceServiceRequest()
        request.resourceSpans = [resource]
        return Array(try request.serializedData())
    }

    func run() async throws {
        guard (1...60).contains(seconds) else { throw CLIFailure.usage("--seconds must be between 1 and 60") }
        guard (1...10).contains(pairs) else { throw CLIFailure.usage("--pairs must be between 1 and 10") }
        guard (1...64).contains(connections) else { throw CLIFailure.usage("--connections must be between 1 and 64") }
        let books = try await BenchBooks.make()
        defer { books.remove() }
        let (store, key) = (books.store, books.key)
        let configuration = ServerConfiguration(
            host: "127.0.0.1", port: 0, ingestRatePerMinute: 0, version: PlutusBench.version)
        let logger = ServerLogHandler.logger(label: "plutus-bench", level: .critical)
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = buildApplication(configuration: configuration, store: store, logger: logger) { continuation.yield($0) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { return }
            try await measure(port: port, key: key, store: store, org: books.organization)
            group.cancelAll()
        }
    }

    private func measure(port: Int, key: String, store: SQLiteStore, org: OrganizationID) async throws {
        let event = #"{"provider":"openai","model":"gpt-5-mini","input_tokens":800,"output_tokens":200}"#
        let batch = Array(("[" + Array(repeating: event, count: Self.spansPerExport).joined(separator: ",") + "]").utf8)
        let export = try Self.export()
        let auth = ("Authorization", "Bearer \(key)")
        print(
            "plutus-bench otlp — \(ProcessInfo.processInfo.activeProcessorCount) cores, \(Int(seconds)) s per run, "
                + "\(connections) connections, SQLite synchronous=FULL, the built-in load generator; "
                + "a batch is \(batch.count) bytes of JSON, an export \(export.count) bytes of protobuf\n")
        var rows: [[String]] = []
        var shares: [Double] = []
        var acknowledged = 0
        var run = 0
        func load(_ label: String, _ path: String, _ body: [UInt8], headers: [(String, String)]) async -> (
            row: [String], rate: Double
        ) {
            run += 1
            let generator = LoadGenerator(port: port, path: path, headers: headers, bodies: [body], run: run)
            let cpuBefore = ProcessCPU.seconds()
            let result = await generator.runOnThread(connections: connections, seconds: seconds)
            let cpu = ProcessCPU.seconds() - cpuBefore
            let ok = result.responses[200] ?? 0
            acknowledged += ok * Self.spansPerExport
            let rate = Double(ok * Self.spansPerExport) / result.seconds
            return (
                [
                    label, String(format: "%.0f", Double(result.total) / result.seconds), String(format: "%.0f", rate),
                    String(format: "%.2f", result.percentile(0.5)), String(format: "%.2f", result.percentile(0.99)),
                    BenchCommand.cpuPerRequest(cpu, result.total), String(result.total - ok), String(result.errors),
                ], rate
            )
        }
        for _ in 0..<pairs {
            let usage =
                only == .traces
                ? nil
                : await load("POST /v1/usage, batch of \(Self.spansPerExport) (JSON)", "/v1/usage", batch, headers: [auth])
            let traces =
                only == .usage
                ? nil
                : await load(
                    "POST /v1/traces, \(Self.spansPerExport) spans (protobuf)", "/v1/traces", export,
                    headers: [auth, ("Content-Type", "application/x-protobuf")])
            rows += [usage?.row, traces?.row].compactMap { $0 }
            if let usage, let traces, usage.rate > 0 { shares.append(traces.rate / usage.rate) }
        }
        if only == .both {
            // Beside them, once: batches whose events carry ids that look random (as UUIDs
            // do), to show what exactly-once costs /v1/usage itself.
            let withID =
                #"{"provider":"openai","model":"gpt-5-mini","input_tokens":800,"output_tokens":200,"event_id":"\#(RealisticEvents.placeholder)"}"#
            let identified = Array(
                ("[" + Array(repeating: withID, count: Self.spansPerExport).joined(separator: ",") + "]").utf8)
            rows.append(
                await load(
                    "POST /v1/usage, batch of \(Self.spansPerExport) with event ids", "/v1/usage", identified,
                    headers: [auth]
                ).row)
        }
        print(
            TextTable.render(
                ["run", "req/s", "events/s", "p50 ms", "p99 ms", "cpu µs/req", "non-2xx", "errors"], rows,
                numeric: [1, 2, 3, 4, 5, 6, 7]))
        if !shares.isEmpty {
            let median = shares.sorted()[shares.count / 2]
            print(
                "\nOTLP spans/s against /v1/usage events/s in each pair: "
                    + shares.map { String(format: "%.0f%%", $0 * 100) }.joined(separator: ", ")
                    + String(format: "; median %.0f%%", median * 100) + " (target ≥ 50 %)" + (median >= 0.5 ? " ✓" : " ✗"))
        }
        let recorded = try await store.balance(org, at: Timestamp.now()).monthEvents
        print("acknowledged \(acknowledged) events; the database holds \(recorded)" + (recorded >= acknowledged ? " ✓" : " ✗"))
        let report = try await store.verify()
        print("verify: " + (report.isClean ? "clean ✓" : "✗ \(report)"))
        if Int64(acknowledged) > recorded || !report.isClean {
            throw CLIFailure.runtime("recorded events differ from acknowledged ones")
        }
    }
}
