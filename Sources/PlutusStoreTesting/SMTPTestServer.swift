import Foundation
import PlutusCore
import Synchronization
import Testing

public enum Scratch {
    /// A fresh directory under the system temporary directory.
    public static func directory() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("plutus-test-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// Runs a program to completion without blocking a thread: the termination handler resumes.
@discardableResult
public func runProgram(_ path: String, _ arguments: [String], timeoutSeconds: Int = 60) async throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    let status = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int32, any Error>) in
        process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
        do {
            try process.run()
        } catch {
            process.terminationHandler = nil
            continuation.resume(throwing: error)
        }
    }
    return status
}

/// A real SMTP server (Python aiosmtpd, `Tests/PlutusAlertsTests/smtp_server.py`) on 127.0.0.1.
/// The interpreter comes from `PLUTUS_TEST_PYTHON` (set by `scripts/test`), else
/// `.build/venv/bin/python` in the package.
public struct SMTPTestServer: Sendable {
    public static let python: String? = {
        if let configured = ProcessInfo.processInfo.environment["PLUTUS_TEST_PYTHON"], !configured.isEmpty {
            return configured
        }
        let candidate = packageRoot + "/.build/venv/bin/python"
        return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
    }()

    public static let skipReason: Comment =
        "needs Python with aiosmtpd: set PLUTUS_TEST_PYTHON (scripts/test does) or create .build/venv with `pip install aiosmtpd`"

    public static var packageRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .path
    }

    /// How long the server may take to start.
    public static let startSecondsMax = 30

    public let port: Int
    public let recordPath: String

    /// A self-signed certificate for 127.0.0.1 and localhost, made with `openssl`.
    public static func makeCertificate(in directory: String) async throws -> (cert: String, key: String) {
        let cert = directory + "/cert.pem"
        let key = directory + "/key.pem"
        let status = try await runProgram(
            "/usr/bin/env",
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            ])
        try #require(status == 0, "openssl could not make a test certificate")
        return (cert, key)
    }

    /// Starts the server, runs `body` against it, then closes its standard input so it exits.
    public static func with(
        tls: String = "none", auth: Bool = false, certificate: (cert: String, key: String)? = nil,
        _ body: (SMTPTestServer) async throws -> Void
    ) async throws {
        let python = try #require(python, skipReason)
        let directory = Scratch.directory()
        let record = directory + "/received.jsonl"
        var arguments = [packageRoot + "/Tests/PlutusAlertsTests/smtp_server.py", "--record", record, "--tls", tls]
        if auth { arguments.append("--auth") }
        if let certificate { arguments += ["--cert", certificate.cert, "--key", certificate.key] }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = arguments
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let printed = Mutex("")
        output.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            printed.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
        try process.run()
        defer {
            output.fileHandleForReading.readabilityHandler = nil
            try? input.fileHandleForWriting.close()
        }
        var port: Int?
        for _ in 0..<(startSecondsMax * 10) {
            let text = printed.withLock { $0 }
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("READY ") }) {
                port = Int(line.dropFirst("READY ".count))
                break
            }
            if !process.isRunning { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        guard let port else {
            process.terminate()
            Issue.record("the SMTP test server did not start (is aiosmtpd installed for \(python)?)")
            return
        }
        try await body(SMTPTestServer(port: port, recordPath: record))
    }

    /// Messages the server accepted, in order.
    public var received: [JSONValue] {
        guard let text = try? String(contentsOfFile: recordPath, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONValue.parse(String($0)) }
    }
}
