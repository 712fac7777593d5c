import Prometheus

/// The counters and histograms behind `GET /metrics`, one registry per application.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()

    static let latencyBuckets: [Duration] = [
        .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .seconds(5),
    ]

    func request(route: String, method: String, status: Int, duration: Duration) {
        registry.makeCounter(
            name: "plutus_http_requests_total", labels: [("route", route), ("method", method), ("status", String(status))]
        ).increment()
        registry.makeDurationHistogram(
            name: "plutus_http_request_duration_seconds", labels: [("route", route)], buckets: Self.latencyBuckets
        ).record(duration)
    }

    func events(recorded: Int, rejected: [String: Int], duplicates: Int) {
        if recorded > 0 {
            registry.makeCounter(name: "plutus_usage_events_total", labels: [("outcome", "recorded")])
                .increment(by: Int64(recorded))
        }
        if duplicates > 0 {
            registry.makeCounter(name: "plutus_usage_events_total", labels: [("outcome", "duplicate")])
                .increment(by: Int64(duplicates))
        }
        for (reason, count) in rejected where count > 0 {
            registry.makeCounter(name: "plutus_usage_events_total", labels: [("outcome", "rejected_\(reason)")])
                .increment(by: Int64(count))
        }
    }

    func webhook(outcome: String) {
        registry.makeCounter(name: "plutus_webhook_deliveries_total", labels: [("outcome", outcome)]).increment()
    }

    func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
