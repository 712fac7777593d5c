import Foundation
import Logging
import Testing

@testable import PlutusServer

@Suite("The server's log handler")
struct ServerLogHandlerTests {
    @Test func keepsMetadataAsSetAndCopiesByValue() {
        var logger = ServerLogHandler.logger(label: "plutus", level: .warning)
        #expect(logger.logLevel == .warning)
        logger[metadataKey: "hb.request.id"] = .string("abc123")
        var copy = logger
        copy[metadataKey: "hb.request.id"] = .string("other")
        #expect(logger[metadataKey: "hb.request.id"]?.description == "abc123")
        #expect(copy[metadataKey: "hb.request.id"]?.description == "other")
        copy[metadataKey: "hb.request.id"] = nil
        #expect(copy[metadataKey: "hb.request.id"] == nil)
    }

    @Test func formatsOneLineWithSortedMetadata() {
        let event = LogEvent(
            level: .error, message: "request failed", metadata: nil, source: "PlutusServer", file: #fileID,
            function: #function, line: #line)
        let line = ServerLogHandler.line(
            event, label: "plutus", metadata: ["zeta": "2", "alpha": "1"], at: Date(timeIntervalSince1970: 1_764_547_200))
        #expect(line == "2025-12-01T00:00:00Z error plutus: alpha=1 zeta=2 request failed\n")
        let bare = ServerLogHandler.line(event, label: "plutus", metadata: [:], at: Date(timeIntervalSince1970: 0))
        #expect(bare == "1970-01-01T00:00:00Z error plutus: request failed\n")
    }
}
