import Hummingbird
import Logging

/// A Hummingbird app with one trivial POST route, for the benchmark's ceiling: what this
/// machine's HTTP stack does with no Plutus work at all.
public func buildCeilingApplication(
    logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void
) -> some ApplicationProtocol {
    let router = Router()
    router.post("/echo") { _, _ in #"{"ok":true}"# }
    return Application(
        router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? 0) }, logger: logger)
}
