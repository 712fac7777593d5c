import Prometheus

/// The counters and histograms behind `GET /metrics`, one registry per application.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()

    static let latencyBuckets: [Duration] = [
        .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .seconds(5),
    ]

    // Built once, not per request. MetricNameDescriptor predates Sendable; these are
    // immutable after initialization.
    nonisolated(unsafe) static let requests = MetricNameDescriptor(
        namespace: "plutus", metricName: "http_requests", unitName: "total", helpText: "HTTP requests by route, method and status.")
    nonisolated(unsafe) static let requestDuration = MetricNameDescriptor(
        namespace: "plutus", metricName: "http_request_duration", unitName: "seconds", helpText: "HTTP request latency by route.")
    nonisolated(unsafe) static let usageEvents = MetricNameDescriptor(
        namespace: "plutus", metricName: "usage_events", unitName: "total", helpText: "Usage events by outcome.")
    nonisolated(unsafe) static let webhookDeliveries = MetricNameDescriptor(
        namespace: "plutus", metricName: "webhook_deliveries", unitName: "total", helpText: "Stripe webhook deliveries by outcome.")

    func request(route: String, method: String, status: Int, duration: Duration) {
        registry.makeCounter(
            descriptor: Self.requests, labels: [("route", route), ("method", method), ("status", String(status))]
        ).increment()
        registry.makeDurationHistogram(
            descriptor: Self.requestDuration, labels: [("route", route)], buckets: Self.latencyBuckets
        ).record(duration)
    }

    func events(recorded: Int, rejected: [String: Int], duplicates: Int) {
        if recorded > 0 {
            registry.makeCounter(descriptor: Self.usageEvents, labels: [("outcome", "recorded")])
                .increment(by: Int64(recorded))
        }
        if duplicates > 0 {
            registry.makeCounter(descriptor: Self.usageEvents, labels: [("outcome", "duplicate")])
                .increment(by: Int64(duplicates))
        }
        for (reason, count) in rejected where count > 0 {
            registry.makeCounter(descriptor: Self.usageEvents, labels: [("outcome", "rejected_\(reason)")])
                .increment(by: Int64(count))
        }
    }

    func webhook(outcome: String) {
        registry.makeCounter(descriptor: Self.webhookDeliveries, labels: [("outcome", outcome)]).increment()
    }

    func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}
