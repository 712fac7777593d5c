import Foundation
import Logging

/// The server's log lines on standard error: `<UTC time> <level> <label>: <key=value …> <message>`.
///
/// Hummingbird gives every request its own logger with `hb.request.id` set. swift-log's
/// `StreamLogHandler` formats all of its metadata into a string each time a key is set,
/// which took about 4 % of the request handlers' time on single-event ingest although almost
/// no request logs. This handler keeps the metadata as it is and formats it only when a line
/// is written.
public struct ServerLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info
    private let label: String

    public init(label: String) {
        self.label = label
    }

    /// A logger with this handler, at `level`.
    public static func logger(label: String, level: Logger.Level = .info) -> Logger {
        var logger = Logger(label: label) { ServerLogHandler(label: $0) }
        logger.logLevel = level
        return logger
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let explicit = event.metadata { all.merge(explicit) { $1 } }
        if let error = event.error { all["error"] = .string(String(describing: error)) }
        Self.writeToStandardError(Self.line(event, label: label, metadata: all, at: Date()))
    }

    /// One `write(2)` per line when it fits, so lines from several threads do not interleave.
    /// A failed write is dropped, as `fwrite` would: logging never stops the server (Foundation's
    /// `FileHandle.write` traps on a closed stream).
    static func writeToStandardError(_ line: String) {
        let bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                write(STDERR_FILENO, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }

    /// One log line, with the metadata sorted by key so lines compare across runs.
    static func line(_ event: LogEvent, label: String, metadata: Logger.Metadata, at time: Date) -> String {
        let pairs = metadata.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let fields = pairs.isEmpty ? "" : " " + pairs.joined(separator: " ")
        return "\(time.formatted(.iso8601)) \(event.level) \(label):\(fields) \(event.message)\n"
    }
}
