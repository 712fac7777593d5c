import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A real `plutus serve` on a free loopback port for one test, its output captured; `stop()` sends SIGTERM
/// and returns what it wrote.
final class ServeSession: @unchecked Sendable {
    let process = Process()
    let port: Int
    private let stdout = Pipe()
    private let stderr = Pipe()
    private var stopped = false

    init(_ cli: CLI, arguments: [String] = [], environment extra: [String: String] = [:], port: Int? = nil) throws {
        self.port = try port ?? ServeTests.freePort()
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = ["serve", "--port", String(self.port)] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PLUTUS_HOME"] = cli.home
        environment.removeValue(forKey: "PLUTUS_ADMIN_TOKEN")
        for (key, value) in extra { environment[key] = value }
        process.environment = environment
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
    }

    var base: String { "http://127.0.0.1:\(port)" }

    /// Waits for `/healthz` (30 s at most); a server that never answers fails the test.
    func waitUntilUp() async throws {
        for _ in 0..<300 {
            if try ServeTests.curl(base + "/healthz") != nil { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw CLIHarnessFailure("plutus serve did not answer /healthz on port \(port)")
    }

    /// SIGTERM, then everything it wrote.
    @discardableResult
    func stop() -> (stdout: String, stderr: String) {
        guard !stopped else { return ("", "") }
        stopped = true
        kill(process.processIdentifier, SIGTERM)
        let out = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let err = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (out, err)
    }

    deinit { stop() }
}
