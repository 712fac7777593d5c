import Foundation
import Hummingbird
import Logging
import PlutusCore
import PlutusSQLite
import PlutusStoreTesting
import Synchronization
import Testing

/// A local HTTP endpoint on 127.0.0.1 that records every request and answers with the
/// statuses queued in `failNext`, then 200.
final class Receiver: Sendable {
    struct Recorded: Sendable {
        var path: String
        var headers: [String: String]
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
    }

    private let requests = Mutex<[Recorded]>([])
    private let statuses = Mutex<[Int]>([])

    func failNext(_ codes: [Int]) { statuses.withLock { $0 = codes } }
    var recorded: [Recorded] { requests.withLock { $0 } }

    /// Runs `body` with the receiver's base URL, then stops it.
    func with(_ body: @Sendable (String) async throws -> Void) async throws {
        let router = Router()
        router.post("**") { request, _ -> Response in
            let bytes = try await request.body.collect(upTo: 1_048_576)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            self.requests.withLock {
                $0.append(Recorded(path: request.uri.path, headers: headers, body: Array(bytes.readableBytesView)))
            }
            let status = self.statuses.withLock { $0.isEmpty ? 200 : $0.removeFirst() }
            return Response(status: .init(code: status), body: ResponseBody(byteBuffer: ByteBuffer(string: "answer \(status)")))
        }
        var logger = Logger(label: "alert-receiver")
        logger.logLevel = .critical
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else {
                throw LoopbackClient.Failure(description: "the server never reported its port")
            }
            try await body("http://127.0.0.1:\(port)")
            group.cancelAll()
        }
    }
}

/// A clock the test moves by hand.
final class TestClock: Sendable {
    private let current: Mutex<Timestamp>
    init(_ start: Timestamp) { current = Mutex(start) }
    var now: Timestamp { current.withLock { $0 } }
    func advance(millis: Int64) { current.withLock { $0 = Timestamp(rawValue: $0.rawValue + millis) } }
    var closure: @Sendable () -> Timestamp { { self.now } }
}

/// A fresh SQLite store in its own directory; `path` reopens it.
func makeStore() throws -> (store: SQLiteStore, path: String) {
    let path = Scratch.directory() + "/plutus.db"
    return (try SQLiteStore(path: path), path)
}
