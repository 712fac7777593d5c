import ArgumentParser
import Foundation
import PlutusClient
import PlutusCore
import PlutusStore

/// `plutus hook`: metering from a coding agent's own hooks.
struct HookCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hook", abstract: "Meter a coding agent from its hooks.", subcommands: [ClaudeCodeHook.self])
}

/// `plutus hook claude-code`: Claude Code's Stop and SubagentStop hook. It reads the hook's
/// JSON on stdin, reads the session's transcript from where the last run stopped, and
/// records each new assistant message's usage once (the message id is the event id).
struct ClaudeCodeHook: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "claude-code",
        abstract: "Meter Claude Code's model calls; install it as a Stop and SubagentStop hook.",
        discussion: """
            Reads the hook's JSON on stdin and the transcript it names. The workspace is the project \
            folder's name (the hook's cwd). With PLUTUS_REMOTE_URL and PLUTUS_API_KEY set it sends to that \
            server; else it writes to the local books (--db / --database-url, --org). It always exits 0 \
            so the agent is never stopped; problems go to stderr. The organization is --org, else \
            $PLUTUS_ORG, else the only one.
            """)

    @OptionGroup var scope: OrganizationOptions
    @Option(help: "Workspace to bill, instead of the project folder's name.") var workspace: String?
    @Option(help: "Task type of the calls.") var task = "coding"
    @Option(
        name: .customLong("state-dir"),
        help: "Where the read position of each transcript is kept (default $PLUTUS_HOME/hooks/claude-code).")
    var stateDirectory: String?
    @Option(help: "Seconds to keep trying a Plutus server that does not answer (1–50; default 15).")
    var timeout = 15

    func run() async {
        do {
            try await meter()
        } catch let error as PlutusClientError {
            note(error.description)
        } catch let failure as CLIFailure {
            note(failure.message)
        } catch let error as StoreError {
            note(error.description)
        } catch {
            note(Main.humanized(error))
        }
    }

    private func note(_ message: String) {
        FileHandle.standardError.write(Data("plutus hook claude-code: \(message)\n".utf8))
    }

    private func meter() async throws {
        let input = FileHandle.standardInput.readData(ofLength: Limits.hookPayloadBytesMax)
        guard let payload = try? JSONValue.parse(Array(input)), case .object = payload else {
            throw CLIFailure.usage("stdin is not the hook's JSON (expected {\"transcript_path\": …})")
        }
        let event = payload["hook_event_name"]?.stringValue ?? "Stop"
        let path =
            (event == "SubagentStop" ? payload["agent_transcript_path"]?.stringValue : nil)
            ?? payload["transcript_path"]?.stringValue
        guard let path, !path.isEmpty else { throw CLIFailure.usage("the hook's JSON names no transcript_path") }
        let transcriptPath = (path as NSString).expandingTildeInPath
        let cwd = payload["cwd"]?.stringValue

        var position = TranscriptPosition(directory: stateDirectory ?? Self.defaultStateDirectory, transcript: transcriptPath)
        let read = try ClaudeCodeTranscript.read(path: transcriptPath, from: position.offset)
        for problem in read.problems { note(problem) }
        guard !read.messages.isEmpty else {
            try position.save(read.endOffset)
            return
        }
        let project = workspace ?? Self.projectName(cwd ?? read.messages[0].cwd)
        let meter = try await open()
        var skipped = 0
        for message in read.messages {
            do {
                try await meter.track(
                    Call(
                        provider: "anthropic", model: message.model, usage: .native(message.usage), workspace: project,
                        taskType: task, runID: payload["session_id"]?.stringValue ?? message.sessionID, eventID: message.id,
                        time: message.time, source: "claude-code"))
            } catch let error as PlutusClientError {
                skipped += 1
                note("message \(message.id) skipped: \(error)")
            }
        }
        // When this throws, nothing advances: the next run reads these messages again, and
        // their ids keep them from being billed twice.
        try await meter.shutdown()
        try position.save(read.endOffset)
        let totals = await meter.totals
        for refusal in await meter.takeRefusals() { note("message \(refusal.eventID) refused: \(refusal.reason)") }
        var summary = "plutus: \(counted(Int64(totals.recorded), "Claude Code call")) metered"
        if let project { summary += " to \(project)" }
        summary += ", \(totals.cost.formatted(decimals: 6))"
        if totals.duplicates > 0 { summary += " (\(totals.duplicates) already metered)" }
        if totals.refused > 0 { summary += " · \(totals.refused) refused" }
        if skipped > 0 { summary += " · \(skipped) skipped" }
        print(summary)
    }

    /// Remote with `PLUTUS_REMOTE_URL` and `PLUTUS_API_KEY`, else the local books.
    private func open() async throws -> Meter {
        guard (1...50).contains(timeout) else { throw CLIFailure.usage("--timeout must be 1–50 seconds, got \(timeout)") }
        let configuration = Meter.Configuration(retryFor: .seconds(timeout), requestTimeout: .seconds(10))
        let environment = ProcessInfo.processInfo.environment
        if let remote = environment["PLUTUS_REMOTE_URL"], !remote.isEmpty {
            guard let meter = Meter.fromEnvironment(environment, configuration: configuration) else {
                throw CLIFailure.usage("PLUTUS_REMOTE_URL is set but PLUTUS_API_KEY is not")
            }
            return meter
        }
        // `--org`, else $PLUTUS_ORG (as the original's hook reads it), else the only organization.
        var scope = self.scope
        if scope.org == nil, let named = environment["PLUTUS_ORG"], !named.isEmpty { scope.org = named }
        let (store, organization) = try await scope.open()
        return try await Meter.embedded(
            store: store, organization: organization.id.rawValue, policy: try Settings.policy(), configuration: configuration)
    }

    static var defaultStateDirectory: String {
        ((DatabaseOptions.home as NSString).appendingPathComponent("hooks") as NSString).appendingPathComponent("claude-code")
    }

    /// The project folder's name: the last component of the session's working directory.
    static func projectName(_ cwd: String?) -> String? {
        guard let cwd, !cwd.isEmpty else { return nil }
        let name = (cwd as NSString).lastPathComponent
        guard !name.isEmpty, name != "/" else { return nil }
        // At most the label's bytes, cut between characters (a long name in a script of
        // several bytes per character would otherwise be refused, and every call with it).
        var kept = ""
        for character in name {
            guard kept.utf8.count + character.utf8.count <= Limits.labelBytesMax else { break }
            kept.append(character)
        }
        return kept
    }
}

/// How far a transcript has been read, kept in a small file per transcript.
struct TranscriptPosition {
    let file: String
    let transcript: String
    private(set) var offset: Int64 = 0

    init(directory: String, transcript: String) {
        self.transcript = transcript
        file = (directory as NSString).appendingPathComponent(Digest.sha256Hex(Array(transcript.utf8)).prefix(32) + ".json")
        if let data = FileManager.default.contents(atPath: file), let saved = try? JSONValue.parse(Array(data)),
            saved["transcript"]?.stringValue == transcript, case .number(let text)? = saved["offset"],
            let value = Int64(text), value >= 0
        {
            offset = value
        }
    }

    /// Saves the new position: written aside and renamed, so a crash leaves the old one.
    mutating func save(_ newOffset: Int64) throws {
        guard newOffset != offset || !FileManager.default.fileExists(atPath: file) else { return }
        let directory = (file as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let text = JSONValue.object([("transcript", .string(transcript)), ("offset", .number(String(newOffset)))]).serialized()
        let temporary = file + ".\(ProcessInfo.processInfo.processIdentifier).tmp"
        try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, file) == 0 else {
            throw CLIFailure.runtime("cannot save the read position in \(file): \(String(cString: strerror(errno)))")
        }
        offset = newOffset
    }
}

/// The assistant messages of a Claude Code transcript (JSON Lines).
enum ClaudeCodeTranscript {
    struct Message {
        var id: String
        var model: String?
        var usage: JSONValue
        var time: Date?
        var cwd: String?
        var sessionID: String?
    }

    struct Read {
        var messages: [Message]
        /// Just past the last whole line read; the next run starts here.
        var endOffset: Int64
        var problems: [String]
    }

    /// The token fields of Anthropic's usage object that are billed.
    static let tokenFields = ["input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"]

    /// Reads whole lines from `offset` (from the start when the file is now shorter: it was
    /// rewritten). Claude Code writes one line per content block of a message, each with the
    /// message's usage; the lines of one message id are merged, keeping each count's largest.
    static func read(path: String, from offset: Int64) throws -> Read {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CLIFailure.runtime("cannot read the transcript \(path)")
        }
        defer { try? handle.close() }
        let size = Int64(try handle.seekToEnd())
        let start = offset <= size ? offset : 0
        try handle.seek(toOffset: UInt64(start))
        let length = Int(min(size - start, Limits.hookTranscriptBytesMax))
        let bytes = length > 0 ? Array(try handle.read(upToCount: length) ?? Data()) : []
        guard let lastNewline = bytes.lastIndex(of: UInt8(ascii: "\n")) else {
            return Read(messages: [], endOffset: start, problems: [])
        }
        var messages: [Message] = []
        var index: [String: Int] = [:]
        var problems: [String] = []
        var lineStart = 0
        var lineNumber = 0
        while lineStart <= lastNewline {
            let lineEnd = bytes[lineStart...lastNewline].firstIndex(of: UInt8(ascii: "\n"))!
            defer { lineStart = lineEnd + 1 }
            lineNumber += 1
            let line = bytes[lineStart..<lineEnd]
            guard !line.isEmpty else { continue }
            guard line.count <= Limits.hookLineBytesMax else {
                problems.append("a transcript line of \(line.count) bytes was skipped")
                continue
            }
            guard let entry = try? JSONValue.parse(line) else {
                problems.append("a transcript line that is not JSON was skipped")
                continue
            }
            guard entry["type"]?.stringValue == "assistant", let message = entry["message"],
                let id = message["id"]?.stringValue, !id.isEmpty, case .object(let usage)? = message["usage"]
            else { continue }
            let model = message["model"]?.stringValue
            if model == "<synthetic>" { continue }  // Claude Code's own notices: no model ran
            var counts: [String: Int64] = [:]
            for (name, value) in usage where tokenFields.contains(name) {
                if case .number(let text) = value, let count = Int64(text), count >= 0 { counts[name] = count }
            }
            if let existing = index[id] {
                messages[existing].usage = merged(messages[existing].usage, counts)
            } else {
                index[id] = messages.count
                messages.append(
                    Message(
                        id: id, model: model, usage: merged(.object([]), counts),
                        time: entry["timestamp"]?.stringValue.flatMap(Timestamp.parseISO8601).map {
                            Date(timeIntervalSince1970: Double($0.millis) / 1000)
                        }, cwd: entry["cwd"]?.stringValue, sessionID: entry["sessionId"]?.stringValue))
            }
        }
        // A message with no tokens at all (an interrupted turn) has nothing to bill.
        let billable = messages.filter { message in
            tokenFields.contains { field in
                if case .number(let text)? = message.usage[field] { return text != "0" }
                return false
            }
        }
        return Read(messages: billable, endOffset: start + Int64(lastNewline) + 1, problems: problems)
    }

    /// An Anthropic usage object with each count the larger of `usage`'s and `counts`'.
    private static func merged(_ usage: JSONValue, _ counts: [String: Int64]) -> JSONValue {
        var members: [(String, JSONValue)] = []
        for field in tokenFields {
            var value = counts[field]
            if case .number(let text)? = usage[field], let existing = Int64(text) { value = max(value ?? 0, existing) }
            if let value { members.append((field, .number(String(value)))) }
        }
        return .object(members)
    }
}
