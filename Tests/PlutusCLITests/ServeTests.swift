import Foundation
import PlutusCore
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("plutus serve as a real process")
struct ServeTests {
    @Test func refusesANonLoopbackBindWithoutTokenAndConsent() throws {
        let cli = CLI()
        let refused = try cli.run("serve", "--host", "0.0.0.0", "--port", "1")
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("refusing to serve on host '0.0.0.0'"))
        let consentOnly = try cli.run("serve", "--host", "0.0.0.0", "--port", "1", "--allow-insecure")
        #expect(consentOnly.status == 2)
        #expect(!FileManager.default.fileExists(atPath: cli.database))
    }

    @Test func servesThenStopsCleanlyOnSIGTERM() async throws {
        let cli = CLI()
        let port = try Self.freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CLI.binary)
        process.arguments = ["serve", "--demo", "--port", String(port)]
        var environment = ProcessInfo.processInfo.environment
        environment["PLUTUS_HOME"] = cli.home
        environment["STRIPE_WEBHOOK_SECRET"] = "whsec_serve_test"
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        var health: String?
        for _ in 0..<100 where health == nil {
            health = try Self.curl("http://127.0.0.1:\(port)/healthz")
            if health == nil { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(health?.contains(#""demo":true"#) == true)
        // An unsigned webhook is refused and logged, with the request's id.
        let refused = try Self.curlStatus("-X", "POST", "-d", "{}", "http://127.0.0.1:\(port)/webhook/stripe")
        #expect(refused.status == "400")
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let log = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(log.contains("Plutus v"))
        #expect(log.contains("(demo data)"))
        let warning = log.split(separator: "\n").first { $0.contains("stripe webhook refused") }
        #expect(
            warning?.contains(" warning plutus: hb.request.id=\(refused.requestID) stripe webhook refused: ") == true, "\(log)")
        let verify = try cli.run("verify", "--db", cli.home + "/demo.db")
        #expect(verify.status == 0)
    }

    /// The body of a successful GET, or nil.
    static func curl(_ url: String) throws -> String? {
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        curl.arguments = ["curl", "-sf", "--max-time", "2", url]
        let pipe = Pipe()
        curl.standardOutput = pipe
        curl.standardError = FileHandle.nullDevice
        try curl.run()
        let body = pipe.fileHandleForReading.readDataToEndOfFile()
        curl.waitUntilExit()
        return curl.terminationStatus == 0 ? String(decoding: body, as: UTF8.self) : nil
    }

    /// `curl` with `arguments`: the status code and the X-Request-Id of the answer.
    static func curlStatus(_ arguments: String...) throws -> (status: String, requestID: String) {
        let curl = Process()
        curl.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        curl.arguments = ["curl", "-s", "-o", "/dev/null", "-D", "-", "--max-time", "5", "-w", "%{http_code}"] + arguments
        let pipe = Pipe()
        curl.standardOutput = pipe
        curl.standardError = FileHandle.nullDevice
        try curl.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        curl.waitUntilExit()
        let lines = output.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        let requestID = lines.first { $0.lowercased().hasPrefix("x-request-id:") }.map {
            String($0.dropFirst("x-request-id:".count)).trimmingCharacters(in: .whitespaces)
        }
        return (lines.last ?? "", requestID ?? "")
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
