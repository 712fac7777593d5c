import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Load from `wrk` (Debian's package), when it is installed: a native, event-driven load
/// generator in a process of its own, two threads for any number of connections, so the
/// client takes less of the machine than `LoadGenerator`'s thread per connection. Only
/// 127.0.0.1 is targeted. A Lua script counts the responses by status and prints the
/// latency percentiles.
struct WrkLoad {
    /// `wrk` on the PATH, if any.
    static var executable: String? {
        let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return paths.map { "\($0)/wrk" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    let executable: String
    let port: Int
    let path: String
    let headers: [(String, String)]
    /// The bodies sent in turn; `RealisticEvents.placeholder` in them becomes an id unique in
    /// the bench process (the run's number `run`, wrk's thread, a counter).
    let bodies: [[UInt8]]
    var run = 0
    /// Holds and their settles instead: `bodies[0]` is sent to `POST /v1/reservations`, and
    /// `bodies[1]` settles each hold the answers name, on the thread that placed it.
    var holdsAndSettles = false

    init(executable: String, port: Int, path: String, headers: [(String, String)], body: [UInt8]) {
        self.init(executable: executable, port: port, path: path, headers: headers, bodies: [body])
    }

    init(executable: String, port: Int, path: String, headers: [(String, String)], bodies: [[UInt8]], run: Int = 0) {
        self.executable = executable
        self.port = port
        self.path = path
        self.headers = headers
        self.bodies = bodies
        self.run = run
    }

    /// The script: the requests, a per-thread count of statuses, and a summary on stdout. A
    /// single body without ids is formatted once; otherwise each request is.
    var script: String {
        var lines = ["wrk.method = \"POST\"", "wrk.headers[\"Content-Type\"] = \"application/json\""]
        for (name, value) in headers { lines.append("wrk.headers[\"\(name)\"] = \"\(value)\"") }
        let texts = bodies.map { String(decoding: $0, as: UTF8.self) }
        precondition(texts.allSatisfy { !$0.contains("]==]") }, "the bodies fit in Lua long strings")
        lines.append("bodies = {" + texts.map { "[==[\($0)]==]" }.joined(separator: ",\n") + "}")
        lines.append("wrk.body = bodies[1]")
        let varies = texts.count > 1 || texts.contains { $0.contains(RealisticEvents.placeholder) }
        lines.append("varies = \(varies)")
        lines.append("run = \(run & 0xFFFF)")
        lines.append(
            """
            local threads = {}
            function setup(thread)
              thread:set("tid", #threads)
              table.insert(threads, thread)
            end
            function init(args)
              statuses = {}
              sent = 0
              prepared = wrk.format()
            end
            function request()
              sent = sent + 1
              if not varies then return prepared end
              local slot = 0
              local body = string.gsub(bodies[(sent - 1) % #bodies + 1], "@@@@@@@@@@@@@@@@", function()
                slot = slot + 1
                return string.format("%04x%02x%08x%02x", run, tid, sent % 4294967296, slot % 256)
              end)
              return wrk.format(nil, nil, nil, body)
            end
            function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
            \(holdsAndSettles ? Self.holdsAndSettlesLua : "")
            function done(summary, latency, requests)
              local merged = {}
              local sent = 0
              for _, thread in ipairs(threads) do
                for status, count in pairs(thread:get("statuses")) do merged[status] = (merged[status] or 0) + count end
                sent = sent + thread:get("sent")
              end
              io.write(string.format("sent %d\\n", sent))
              for status, count in pairs(merged) do io.write(string.format("status %d %d\\n", status, count)) end
              local e = summary.errors
              io.write(string.format("errors %d\\n", e.connect + e.read + e.write + e.timeout))
              io.write(string.format("seconds %f\\n", summary.duration / 1e6))
              io.write(string.format("p50 %f\\np99 %f\\n", latency:percentile(50) / 1e3, latency:percentile(99) / 1e3))
            end
            """)
        return lines.joined(separator: "\n")
    }

    /// Replaces `request` and `response`: a queued hold's id is settled before a new hold is placed.
    private static let holdsAndSettlesLua = """
        local unsettled = {}
        function request()
          sent = sent + 1
          local id = table.remove(unsettled)
          if id then return wrk.format("POST", "/v1/reservations/" .. id .. "/settle", nil, bodies[2]) end
          return wrk.format("POST", "/v1/reservations", nil, bodies[1])
        end
        function response(status, headers, body)
          statuses[status] = (statuses[status] or 0) + 1
          if status == 201 then
            local id = string.match(body, '"reservation_id":"(rsv_[%w]+)"')
            if id then table.insert(unsettled, id) end
          end
        end
        """

    /// Runs wrk for `seconds` and returns what it measured, with the CPU seconds wrk used.
    func run(connections: Int, seconds: Double) throws -> (result: LoadGenerator.Result, clientCPUSeconds: Double) {
        let scriptURL = FileManager.default.temporaryDirectory.appendingPathComponent("plutus-bench-\(UUID().uuidString).lua")
        try script.write(to: scriptURL, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: scriptURL) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [
            "-t\(min(2, connections))", "-c\(connections)", "-d\(Int(seconds.rounded()))s", "-s", scriptURL.path,
            "http://127.0.0.1:\(port)\(path)",
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let cpuBefore = ProcessCPU.seconds(of: RUSAGE_CHILDREN)
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CLIFailure.runtime("wrk exited with \(process.terminationStatus)") }
        var result = LoadGenerator.Result()
        var sent = 0
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ")
            switch (fields.first, fields.count) {
            case ("status"?, 3): result.responses[Int(fields[1]) ?? 0, default: 0] += Int(fields[2]) ?? 0
            case ("errors"?, 2): result.errors = Int(fields[1]) ?? 0
            case ("sent"?, 2): sent = Int(fields[1]) ?? 0
            case ("seconds"?, 2): result.seconds = Double(fields[1]) ?? seconds
            case ("p50"?, 2): result.reportedPercentiles[0.5] = Double(fields[1])
            case ("p99"?, 2): result.reportedPercentiles[0.99] = Double(fields[1])
            default: continue
            }
        }
        // wrk stops without waiting for the answers on its way: those requests may or may not
        // have been recorded by the server.
        result.unanswered = max(0, sent - result.total)
        return (result, ProcessCPU.seconds(of: RUSAGE_CHILDREN) - cpuBefore)
    }
}
