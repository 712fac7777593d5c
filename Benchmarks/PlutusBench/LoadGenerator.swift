import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A small closed-loop HTTP/1.1 load generator: `connections` keep-alive sockets to
/// 127.0.0.1, each on its own thread, sending the same request back to back for a fixed
/// time and timing each exchange. Only loopback is ever targeted.
struct LoadGenerator {
    struct Result {
        var responses: [Int: Int] = [:]
        var latenciesNanos: [UInt64] = []
        var errors = 0
        var seconds: Double = 0
        /// Requests sent whose answer never came because the run stopped (wrk does not wait).
        var unanswered = 0
        /// Percentiles (fraction → milliseconds) from a generator that keeps no samples (wrk).
        var reportedPercentiles: [Double: Double] = [:]

        var total: Int { responses.values.reduce(0, +) }
        func percentile(_ fraction: Double) -> Double {
            if let reported = reportedPercentiles[fraction] { return reported }
            guard !latenciesNanos.isEmpty else { return 0 }
            let sorted = latenciesNanos.sorted()
            return Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]) / 1_000_000
        }
    }

    let port: Int
    /// The bytes of request number `n` (each connection numbers its own requests), given the
    /// body of the connection's previous answer (empty before the first).
    let makeRequest: @Sendable (_ connection: Int, _ n: Int, _ previous: [UInt8]) -> [UInt8]

    init(port: Int, path: String, headers: [(String, String)], body: [UInt8]) {
        let request = Self.request(port: port, path: path, headers: headers, body: body)
        self.init(port: port) { _, _ in request }
    }

    /// Requests cycling through `bodies`, each `RealisticEvents.placeholder` replaced by 16 hex
    /// digits unique in the bench process: the run's number, the connection, the request's.
    init(port: Int, path: String, headers: [(String, String)], bodies: [[UInt8]], run: Int) {
        let prepared = bodies.map { body in
            let request = Self.request(port: port, path: path, headers: headers, body: body)
            return (
                request, RealisticEvents.placeholderOffsets(request),
                RealisticEvents.placeholderOffsets(request, placeholder: RealisticEvents.timePlaceholder)
            )
        }
        self.init(port: port) { connection, n in
            var (request, offsets, timeOffsets) = prepared[n % prepared.count]
            // 16 hex digits from run (12 bits), connection (8), request (32) and slot (12: a
            // batch of 1,000 ids or an export of 512 spans has that many slots),
            // scrambled by a bijection so ids stay unique but differ from their first digit,
            // as real trace ids and client event ids (random, or hashes) do; written in place
            // (an export of 512 spans has 512 slots; formatting strings here would be the
            // client's largest cost).
            let prefix = UInt64(run & 0xFFF) << 52 | UInt64(connection & 0xFF) << 44 | UInt64(n & 0xFFFF_FFFF) << 12
            request.withUnsafeMutableBufferPointer { bytes in
                for (slot, offset) in offsets.enumerated() {
                    let value = Self.scrambled(prefix | UInt64(slot & 0xFFF))
                    for digit in 0..<16 {
                        let nibble = UInt8((value >> (60 - 4 * UInt64(digit))) & 0xF)
                        bytes[offset + digit] = nibble < 10 ? 0x30 + nibble : 0x57 + nibble
                    }
                }
                // Times: now, a microsecond apart, as spans finishing one after another.
                let now = UInt64(Date().timeIntervalSince1970 * 1e9)
                for (slot, offset) in timeOffsets.enumerated() {
                    let value = now &- UInt64(timeOffsets.count - slot) &* 1_000
                    for byte in 0..<8 { bytes[offset + byte] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(byte))) }
                }
            }
            return request
        }
    }

    /// SplitMix64's finalizer: each step (xor with a shift, multiplication by an odd number)
    /// is invertible, so distinct inputs stay distinct.
    static func scrambled(_ input: UInt64) -> UInt64 {
        var x = input
        x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
        x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
        return x ^ (x >> 31)
    }

    init(port: Int, makeRequest: @escaping @Sendable (_ connection: Int, _ n: Int) -> [UInt8]) {
        self.init(port: port, chained: { connection, n, _ in makeRequest(connection, n) })
    }

    /// Requests that depend on the previous answer of their connection (a settle needs the
    /// hold's id).
    init(port: Int, chained: @escaping @Sendable (_ connection: Int, _ n: Int, _ previous: [UInt8]) -> [UInt8]) {
        self.port = port
        self.makeRequest = chained
    }

    static func request(port: Int, path: String, headers: [(String, String)], body: [UInt8]) -> [UInt8] {
        var head = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
        // JSON unless the caller names another type (an OTLP export is protobuf).
        if !headers.contains(where: { $0.0.lowercased() == "content-type" }) { head += "Content-Type: application/json\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(body.count)\r\n\r\n"
        return Array(head.utf8) + body
    }

    /// Results of all connections, merged as each finishes.
    final class Collector: Sendable {
        let merged = Mutex(Result())
    }

    /// `run` on a thread of its own, so no concurrency thread (an event loop, under
    /// `plutus serve` and `plutus bench`) is blocked while it waits for its connections.
    func runOnThread(connections: Int, seconds: Double) async -> Result {
        await onThread { run(connections: connections, seconds: seconds) }
    }

    func run(connections: Int, seconds: Double) -> Result {
        let collector = Collector()
        let group = DispatchGroup()
        let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
        let start = DispatchTime.now().uptimeNanoseconds
        for connection in 0..<connections {
            group.enter()
            let thread = Thread {
                let local = worker(connection, until: deadline)
                collector.merged.withLock { merged in
                    for (status, count) in local.responses { merged.responses[status, default: 0] += count }
                    merged.latenciesNanos += local.latenciesNanos
                    merged.errors += local.errors
                }
                group.leave()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
        group.wait()
        var result = collector.merged.withLock { $0 }
        result.seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return result
    }

    private func worker(_ connection: Int, until deadline: UInt64) -> Result {
        var result = Result()
        var fd = connect()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var previous: [UInt8] = []
        while DispatchTime.now().uptimeNanoseconds < deadline {
            if fd < 0 {
                result.errors += 1
                fd = connect()
                continue
            }
            let request = makeRequest(connection, result.total + result.errors, previous)
            let begin = DispatchTime.now().uptimeNanoseconds
            if let status = exchange(fd, request, &buffer, body: &previous) {
                result.responses[status, default: 0] += 1
                result.latenciesNanos.append(DispatchTime.now().uptimeNanoseconds - begin)
            } else {
                result.errors += 1
                previous = []
                close(fd)
                fd = connect()
            }
        }
        if fd >= 0 { close(fd) }
        return result
    }

    private func connect() -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return -1 }
        var yes: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &yes, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if status != 0 {
            close(fd)
            return -1
        }
        return fd
    }

    /// Sends the request and reads one response (headers, then Content-Length bytes); `body`
    /// receives the response's body.
    private func exchange(_ fd: Int32, _ request: [UInt8], _ buffer: inout [UInt8], body: inout [UInt8]) -> Int? {
        var sent = 0
        while sent < request.count {
            let count = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { return nil }
            sent += count
        }
        var received: [UInt8] = []
        var headerEnd: Int?
        var needed = Int.max
        while received.count < needed {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else { return nil }
            received += buffer[0..<count]
            if headerEnd == nil, let end = Self.headerEnd(received) {
                headerEnd = end
                let head = String(decoding: received[..<end], as: UTF8.self).lowercased()
                guard let range = head.range(of: "content-length: ") else { return nil }
                let digits = head[range.upperBound...].prefix { $0.isNumber }
                needed = end + 4 + (Int(digits) ?? 0)
            }
        }
        guard received.count >= 12, let end = headerEnd else { return nil }
        body = Array(received[(end + 4)...])
        return Int(String(decoding: received[9..<12], as: UTF8.self))
    }

    private static func headerEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4)
        where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index
        }
        return nil
    }
}

/// Runs blocking `work` on a thread of its own, off the concurrency pool.
func onThread<T: Sendable, Failure: Error>(_ work: @escaping @Sendable () throws(Failure) -> T) async throws(Failure) -> T {
    let result: Result<T, Failure> = await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: Result(catching: work)) }.start()
    }
    return try result.get()
}

/// CPU time used so far (user and system, every thread): this process's own, or that of
/// its children that have ended (wrk).
enum ProcessCPU {
    static func seconds(of who: __rusage_who = RUSAGE_SELF) -> Double {
        var usage = rusage()
        getrusage(who.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}

/// Memory of this process.
enum ProcessMemory {
    /// The most this process has had resident so far, in bytes (Linux reports KiB).
    /// The peak resident memory of this process's own image (`VmHWM`). Not `ru_maxrss`:
    /// Linux carries that over an `execve` from the image before it, so a bench started by
    /// a large parent (the test runner, through `posix_spawn`) would report the parent's peak.
    static func peakResidentBytes() -> Int64 {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
            let kilobytes = Int64(line.split(separator: " ").dropFirst().first ?? "")
        else {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            return Int64(usage.ru_maxrss) * 1024
        }
        return kilobytes * 1024
    }
}
