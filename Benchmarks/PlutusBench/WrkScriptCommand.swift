import ArgumentParser

/// `plutus-bench wrk-script`: prints the Lua script the bench gives `wrk` for one of its
/// ingest loads, so the same load can drive any `plutus serve` (an older build, for one),
/// as `Benchmarks/interleave.sh` does.
struct WrkScriptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wrk-script",
        abstract: "Print the wrk Lua script of one of the bench's ingest loads.")

    enum Load: String, ExpressibleByArgument, CaseIterable {
        case bare
        case bareBatch = "bare-batch"
        case realistic
        case realisticBatch = "realistic-batch"
        case workspaceBatch = "workspace-batch"
        /// Holds and their settles, one after the other on each connection.
        case pairs
    }

    @Option(help: "The load: \(Load.allCases.map(\.rawValue).joined(separator: ", ")).")
    var load: Load

    @Option(help: "The API key to send as a bearer token.")
    var key: String

    @Option(name: .customLong("run"), help: "A number that makes the run's event ids differ from other runs' (0–65535).")
    var runNumber: Int = 0

    func run() throws {
        // The bench's bare rows: one event, and a batch of 100 others.
        let single = #"{"provider":"anthropic","model":"claude-sonnet-4-5","input_tokens":1200,"output_tokens":300}"#
        let bare = #"{"provider":"openai","model":"gpt-5-mini","input_tokens":800,"output_tokens":200}"#
        let bodies: [[UInt8]]
        switch load {
        case .bare: bodies = [Array(single.utf8)]
        case .bareBatch: bodies = [Array(("[" + Array(repeating: bare, count: 100).joined(separator: ",") + "]").utf8)]
        case .realistic: bodies = RealisticEvents.bodies(count: 64, events: 1, seed: 1)
        case .realisticBatch: bodies = RealisticEvents.bodies(count: 8, events: 100, seed: 2)
        case .workspaceBatch: bodies = RealisticEvents.bodies(count: 8, events: 100, seed: 3, workspaceOnly: true)
        case .pairs: bodies = [Array(BenchCommand.holdBody.utf8), Array(BenchCommand.settleBody.utf8)]
        }
        var load = WrkLoad(
            executable: "wrk", port: 0, path: "/v1/usage", headers: [("Authorization", "Bearer \(key)")], bodies: bodies,
            run: runNumber)
        load.holdsAndSettles = self.load == .pairs
        print(load.script)
    }
}
