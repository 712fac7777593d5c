import Foundation

/// Runs a child process to its end without blocking Swift concurrency's threads: its output
/// is read, and its exit awaited, on threads of their own. (A test that blocked a pool
/// thread while its child talks to a server in the same process could starve that server.)
public enum ChildProcess {
    public struct Finished: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, timeoutSeconds: Double = 120
    ) async throws -> Finished {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let timer = Thread {
            Thread.sleep(forTimeInterval: timeoutSeconds)
            if process.isRunning { process.terminate() }
        }
        timer.start()
        async let out = read(output.fileHandleForReading)
        async let err = read(errors.fileHandleForReading)
        let (stdout, stderr) = await (out, err)
        let status = await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            Thread {
                process.waitUntilExit()
                continuation.resume(returning: process.terminationStatus)
            }.start()
        }
        return Finished(status: status, stdout: stdout, stderr: stderr)
    }

    static func read(_ handle: FileHandle) async -> String {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)) }.start()
        }
    }
}
