import Foundation
import PlutusCore

#if canImport(Glibc)
import Glibc
#endif

/// A deliberately small HTTP/1.1 client over a real TCP socket to 127.0.0.1, able to send
/// malformed requests a proper client would refuse to. Blocking I/O runs on a thread of its
/// own: not the Swift concurrency pool, and not Dispatch's pool, which the database's queues
/// need to answer. Every call has a 10 s timeout.
public struct HTTPResult: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: [UInt8]
    /// Every `Set-Cookie` value, in order (`headers` keeps only the last).
    public var setCookies: [String] = []

    public var text: String { String(decoding: body, as: UTF8.self) }
    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

public enum LoopbackClient {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    public static func send(
        port: Int, _ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil
    ) async throws -> HTTPResult {
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        var allHeaders = headers
        if let body,
            !headers.contains(where: { $0.0.lowercased() == "content-length" || $0.0.lowercased() == "transfer-encoding" })
        {
            allHeaders.append(("Content-Length", String(body.count)))
        }
        for (name, value) in allHeaders { request += "\(name): \(value)\r\n" }
        request += "\r\n"
        return try await raw(port: port, Array(request.utf8) + (body ?? []))
    }

    public static func json(
        port: Int, _ method: String, _ path: String, bearer: String? = nil, headers: [(String, String)] = [],
        _ body: String? = nil
    ) async throws -> HTTPResult {
        var all = headers
        if let bearer { all.append(("Authorization", "Bearer \(bearer)")) }
        if body != nil { all.append(("Content-Type", "application/json")) }
        return try await send(port: port, method, path, headers: all, body: body.map { Array($0.utf8) })
    }

    /// A loopback port free at the moment of asking (bound to port 0, read back, closed), for a
    /// server whose address must be known before it starts.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw Failure(description: "bind() failed: \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Sends `bytes` as they are and reads until the server closes the connection.
    public static func raw(port: Int, _ bytes: [UInt8]) async throws -> HTTPResult {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try exchange(port: port, bytes) }) }
            thread.start()
        }
    }

    /// Sends `bytes`, reads until `marker` has arrived, then closes the connection without
    /// reading further: a client that goes away mid-answer. Returns what it read.
    public static func hangUp(port: Int, _ bytes: [UInt8], after marker: String) async throws -> [UInt8] {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(
                    with: Result {
                        try exchange(port: port, bytes, until: Array(marker.utf8))
                    })
            }
            thread.start()
        }
    }

    private static func exchange(port: Int, _ bytes: [UInt8]) throws -> HTTPResult {
        try parse(try exchange(port: port, bytes, until: nil))
    }

    private static func exchange(port: Int, _ bytes: [UInt8], until marker: [UInt8]?) throws -> [UInt8] {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure(description: "connect() failed: \(errno)") }
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent <= 0 { break }  // the server may stop reading (e.g. an oversized body): read its answer
            offset += sent
        }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            received += chunk[0..<count]
            if let marker, find(marker, in: received) != nil { break }
        }
        return received
    }

    public static func parse(_ bytes: [UInt8]) throws -> HTTPResult {
        guard let end = find([13, 10, 13, 10], in: bytes) else {
            throw Failure(description: "no HTTP response (\(bytes.count) bytes)")
        }
        let head = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = head[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw Failure(description: "bad status line") }
        var headers: [String: String] = [:]
        var cookies: [String] = []
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[name] = value
            if name == "set-cookie" { cookies.append(value) }
        }
        var body = Array(bytes[(end + 4)...])
        if headers["transfer-encoding"]?.lowercased() == "chunked" { body = try dechunk(body) }
        var result = HTTPResult(status: status, headers: headers, body: body)
        result.setCookies = cookies
        return result
    }

    private static func dechunk(_ bytes: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = []
        var index = 0
        while let lineEnd = find([13, 10], in: Array(bytes[index...])) {
            let sizeText = String(decoding: bytes[index..<(index + lineEnd)], as: UTF8.self).split(separator: ";")[0]
            guard let size = Int(sizeText, radix: 16) else { throw Failure(description: "bad chunk size") }
            index += lineEnd + 2
            if size == 0 { break }
            out += bytes[index..<(index + size)]
            index += size + 2
        }
        return out
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return start
        }
        return nil
    }
}

extension HTTPResult {
    /// The body as JSON, or `null` when it is not JSON.
    public var json: JSONValue { (try? JSONValue.parse(body)) ?? .null }
}
