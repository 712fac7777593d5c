import Prometheus
import Synchronization

/// The counters and histograms behind `GET /metrics`, one registry per application.
final class ServerMetrics: Sendable {
    let registry: PrometheusCollectorRegistry

    static let latencyBuckets: [Duration] = [
        .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
        .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .seconds(5),
    ]

    // Built once, not per request. MetricNameDescriptor predates Sendable; these are
    // immutable after initialization.
    nonisolated(unsafe) static let requests = MetricNameDescriptor(
        namespace: "plutus", metricName: "http_requests", unitName: "total",
        helpText: "HTTP requests by route, method and status.")
    nonisolated(unsafe) static let requestDuration = MetricNameDescriptor(
        namespace: "plutus", metricName: "http_request_duration", unitName: "seconds", helpText: "HTTP request latency by route.")
    nonisolated(unsafe) static let usageEvents = MetricNameDescriptor(
        namespace: "plutus", metricName: "usage_events", unitName: "total", helpText: "Usage events by outcome.")
    nonisolated(unsafe) static let webhookDeliveries = MetricNameDescriptor(
        namespace: "plutus", metricName: "webhook_deliveries", unitName: "total",
        helpText: "Stripe webhook deliveries by outcome.")

    /// One request series: its route, method and status.
    private struct RequestSeries: Hashable {
        let route: String
        let method: String
        let status: Int
    }

    /// The counter and histogram of each request series seen, so a request costs one lookup
    /// here instead of the registry building the metric's name and labels again. Bounded by
    /// the routes, methods and statuses Plutus answers with.
    private let requestSeries = Mutex<[RequestSeries: (count: Counter, duration: DurationHistogram)]>([:])
    private let recordedEvents: Counter
    private let duplicateEvents: Counter
    private let overBalanceEvents: Counter
    private let freeLimitEvents: Counter

    init() {
        let registry = PrometheusCollectorRegistry()
        self.registry = registry
        func events(_ outcome: String) -> Counter {
            registry.makeCounter(descriptor: Self.usageEvents, labels: [("outcome", outcome)])
        }
        recordedEvents = events("recorded")
        duplicateEvents = events("duplicate")
        overBalanceEvents = events("rejected_over_balance")
        freeLimitEvents = events("rejected_free_limit")
    }

    func request(route: String, method: String, status: Int, duration: Duration) {
        let series = RequestSeries(route: route, method: method, status: status)
        let metrics = requestSeries.withLock { known in
            if let metrics = known[series] { return metrics }
            let metrics = (
                registry.makeCounter(
                    descriptor: Self.requests, labels: [("route", route), ("method", method), ("status", String(status))]),
                registry.makeDurationHistogram(
                    descriptor: Self.requestDuration, labels: [("route", route)], buckets: Self.latencyBuckets)
            )
            known[series] = metrics
            return metrics
        }
        metrics.count.increment()
        metrics.duration.record(duration)
    }

    func events(recorded: Int, overBalance: Int, freeLimit: Int, duplicates: Int) {
        if recorded > 0 { recordedEvents.increment(by: Int64(recorded)) }
        if duplicates > 0 { duplicateEvents.increment(by: Int64(duplicates)) }
        if overBalance > 0 { overBalanceEvents.increment(by: Int64(overBalance)) }
        if freeLimit > 0 { freeLimitEvents.increment(by: Int64(freeLimit)) }
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
