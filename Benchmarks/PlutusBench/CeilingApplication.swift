import Hummingbird
import Logging

/// A Hummingbird app for the benchmark's ceilings: `POST /echo`, a trivial route (what this
/// machine's HTTP stack does with no Plutus work at all), and `POST /durable`, which answers
/// once `durableWrite` has put one row on disk (HTTP plus a durable group commit, with no
/// metering, ledger, JSON parsing or authentication).
public func buildCeilingApplication(
    logger: Logger, durableWrite: @escaping @Sendable () async throws -> Void,
    onServerRunning: @escaping @Sendable (Int) async -> Void
) -> some ApplicationProtocol {
    let router = Router()
    router.post("/echo") { _, _ in #"{"ok":true}"# }
    router.post("/durable") { _, _ in
        try await durableWrite()
        return #"{"ok":true}"#
    }
    return Application(
        router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) }, logger: logger)
}
