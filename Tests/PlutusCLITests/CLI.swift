import Foundation
import PlutusCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Runs the real `plutus` binary built beside the tests, each test in its own PLUTUS_HOME.
struct CLI {
    let home: String

    init() {
        home = FileManager.default.temporaryDirectory.appendingPathComponent("plutus-cli-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
    }

    var database: String { home + "/plutus.db" }

    static let binary: String = {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("plutus").path,
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent(".build/debug/plutus").path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[1]
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    @discardableResult
    func run(_ arguments: String..., environment: [String: String] = [:]) throws -> Result {
        try run(arguments: arguments, environment: environment)
    }

    /// The benchmark binary, built beside `plutus`.
    static var benchBinary: String {
        URL(fileURLWithPath: binary).deletingLastPathComponent().appendingPathComponent("plutus-bench").path
    }

    func run(
        arguments: [String], environment extra: [String: String] = [:], executable: String = CLI.binary, stdin: String? = nil
    ) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PLUTUS_HOME"] = home
        environment.removeValue(forKey: "PLUTUS_DB")
        environment.removeValue(forKey: "PLUTUS_DATABASE_URL")
        for (key, value) in extra { environment[key] = value }
        process.environment = environment
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        if stdin != nil { process.standardInput = input }
        try process.run()
        if let stdin {
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try input.fileHandleForWriting.close()
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// `run` on a thread of its own, for async tests: waiting for a child on one of Swift
    /// concurrency's few threads starves the servers other tests run in this process.
    func runAsync(
        arguments: [String], environment: [String: String] = [:], executable: String = CLI.binary, stdin: String? = nil
    ) async throws -> Result {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Result, any Error>) in
            Thread {
                continuation.resume(
                    with: Swift.Result {
                        try run(arguments: arguments, environment: environment, executable: executable, stdin: stdin)
                    })
            }.start()
        }
    }

    @discardableResult
    func runAsync(_ arguments: String..., environment: [String: String] = [:]) async throws -> Result {
        try await runAsync(arguments: arguments, environment: environment)
    }

    /// `json` on a thread of its own.
    func jsonAsync(_ arguments: String...) async throws -> JSONValue { try await jsonAsync(arguments: arguments) }

    func jsonAsync(arguments: [String]) async throws -> JSONValue {
        let result = try await runAsync(arguments: arguments + ["--json"])
        #expect(result.status == 0, "plutus \(arguments.joined(separator: " ")) failed: \(result.stderr)")
        return try JSONValue.parse(result.stdout)
    }

    /// Runs a command that must succeed and parses its `--json` output.
    func json(_ arguments: String...) throws -> JSONValue { try json(arguments: arguments) }

    func json(arguments: [String]) throws -> JSONValue {
        let result = try run(arguments: arguments + ["--json"])
        #expect(result.status == 0, "plutus \(arguments.joined(separator: " ")) failed: \(result.stderr)")
        return try JSONValue.parse(result.stdout)
    }
}

/// A real `plutus serve` child process on `port`, its output discarded, the ingest rate
/// limit off.
final class ServeProcess: @unchecked Sendable {
    let process = Process()
    let port: Int

    init(port: Int, arguments: [String], environment extra: [String: String]) throws {
        self.port = port
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = ["serve", "--port", String(port)] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PLUTUS_INGEST_RATE_PER_MIN"] = "0"
        for (key, value) in extra { environment[key] = value }
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
    }

    /// SIGKILL: no chance to finish anything.
    func kill() {
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM: a graceful stop.
    func stop() {
        Glibc.kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }
}
