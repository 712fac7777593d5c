import Foundation
import PlutusCore
import Yams

/// Plutus's settings, from one place: the defaults, then the config file (the original's
/// `$PLUTUS_HOME/config.yaml`, or `PLUTUS_CONFIG`), then `PLUTUS_*` environment variables,
/// then command-line flags (which the commands apply on top). Every value is checked against
/// its key's type when it is loaded; an unknown key or a wrong type stops start-up with the
/// key and where it was set.
public struct PlutusConfig: Sendable {
    /// Where a value came from.
    public enum Source: Sendable, Equatable, CustomStringConvertible {
        case builtIn
        case file(path: String, line: Int)
        case environment(String)

        public var description: String {
            switch self {
            case .builtIn: "default"
            case .file(let path, let line): "\(path):\(line)"
            case .environment(let name): "env \(name)"
            }
        }
    }

    public struct Value: Sendable, Equatable {
        /// The value as text (a list comma-joined, a mapping as JSON).
        public var text: String
        public var source: Source
    }

    public let file: String
    public let fileExists: Bool
    public private(set) var values: [String: Value]

    /// A value that is wrong where it was set.
    public struct Failure: Error, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Loads the settings for this process: the file named by `PLUTUS_CONFIG`, else
    /// `<home>/config.yaml`, then the environment.
    public static func load(environment: [String: String], home: String) throws(Failure) -> PlutusConfig {
        let file =
            environment["PLUTUS_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (home as NSString).appendingPathComponent("config.yaml")
        var config = PlutusConfig(file: file, fileExists: FileManager.default.fileExists(atPath: file), values: [:])
        for key in ConfigKey.all {
            if let value = key.defaultValue { config.values[key.name] = Value(text: value, source: .builtIn) }
        }
        if config.fileExists {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw Failure(message: "\(file): cannot be read")
            }
            try config.apply(yaml: text, path: file)
        } else if environment["PLUTUS_CONFIG"] != nil {
            throw Failure(message: "PLUTUS_CONFIG names \(file), which does not exist")
        }
        for key in ConfigKey.all {
            guard let text = environment[key.environment], !text.isEmpty else { continue }
            let source = Source.environment(key.environment)
            config.values[key.name] = Value(text: try Self.check(text, key: key, at: source), source: source)
        }
        return config
    }

    /// Reads a YAML document of nested mappings whose leaves are this Plutus's keys.
    mutating func apply(yaml: String, path: String) throws(Failure) {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw Failure(message: "\(path): not valid YAML: \(error)")
        }
        guard let root else { return }
        guard case .mapping(let mapping) = root else {
            throw Failure(message: "\(path):\(Self.line(root)): the file must be a mapping of sections (server:, ingest:, …)")
        }
        try walk(mapping, prefix: "", path: path)
    }

    private mutating func walk(_ mapping: Node.Mapping, prefix: String, path: String) throws(Failure) {
        for (keyNode, value) in mapping {
            guard case .scalar(let scalar) = keyNode else {
                throw Failure(message: "\(path):\(Self.line(keyNode)): keys must be plain names")
            }
            let name = prefix.isEmpty ? scalar.string : prefix + "." + scalar.string
            let source = Source.file(path: path, line: Self.line(keyNode))
            if let key = ConfigKey.named(name) {
                values[name] = Value(text: try Self.text(value, key: key, at: source), source: source)
            } else if case .mapping(let nested) = value, ConfigKey.all.contains(where: { $0.name.hasPrefix(name + ".") }) {
                try walk(nested, prefix: name, path: path)
            } else if case .scalar(let leaf) = value, leaf.tag.description.hasSuffix("null"),
                ConfigKey.all.contains(where: { $0.name.hasPrefix(name + ".") })
            {
                continue  // an empty section
            } else {
                let near = ConfigKey.all.map(\.name).min { Self.distance($0, name) < Self.distance($1, name) } ?? ""
                throw Failure(
                    message: "\(source): unknown key '\(name)' (did you mean '\(near)'? `plutus config keys` lists them)")
            }
        }
    }

    /// The text of a file value, checked against its key's type.
    private static func text(_ node: Node, key: ConfigKey, at source: Source) throws(Failure) -> String {
        switch (key.kind, node) {
        case (.mapping, .mapping):
            return json(node).serialized()
        case (.mapping, _):
            throw Failure(message: "\(source): '\(key.name)' must be a mapping")
        case (.list, .sequence(let items)):
            var parts: [String] = []
            for item in items {
                guard case .scalar(let scalar) = item else {
                    throw Failure(message: "\(source): '\(key.name)' must be a list of text")
                }
                parts.append(scalar.string)
            }
            return parts.joined(separator: ",")
        case (_, .scalar(let scalar)):
            if scalar.tag.description.hasSuffix("null") { return "" }
            return try check(scalar.string, key: key, at: source)
        default:
            throw Failure(message: "\(source): '\(key.name)' must be \(describe(key.kind))")
        }
    }

    /// Checks text against the key's type; returns it normalised (booleans as true/false).
    static func check(_ text: String, key: ConfigKey, at source: Source) throws(Failure) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        func wrong() -> Failure { Failure(message: "\(source): '\(key.name)' must be \(describe(key.kind)), got '\(text)'") }
        switch key.kind {
        case .string, .list:
            return trimmed
        case .integer(let range):
            guard let value = Int64(trimmed), range.contains(value) else { throw wrong() }
            return String(value)
        case .boolean:
            switch trimmed.lowercased() {
            case "1", "true", "yes", "on": return "true"
            case "0", "false", "no", "off": return "false"
            default: throw wrong()
            }
        case .money:
            guard case .success(let amount) = MicroDollars.parse(trimmed), !amount.isNegative else { throw wrong() }
            return amount.decimalString
        case .choice(let words):
            guard words.contains(trimmed.lowercased()) else { throw wrong() }
            return trimmed.lowercased()
        case .mapping:
            guard (try? JSONValue.parse(trimmed)).map({ if case .object = $0 { true } else { false } }) == true else {
                throw wrong()
            }
            return trimmed
        }
    }

    static func describe(_ kind: ConfigKey.Kind) -> String {
        switch kind {
        case .string: "text"
        case .integer(let range): "an integer from \(range.lowerBound) to \(range.upperBound)"
        case .boolean: "true or false"
        case .money: "a non-negative amount of dollars"
        case .list: "a list (or comma-separated text)"
        case .mapping: "a mapping"
        case .choice(let words): words.joined(separator: ", ")
        }
    }

    private static func json(_ node: Node) -> JSONValue {
        switch node {
        case .mapping(let mapping):
            return .object(mapping.map { key, value in (key.string ?? "", json(value)) })
        case .sequence(let items):
            return .array(items.map(json))
        case .scalar(let scalar):
            if scalar.tag.description.hasSuffix("null") { return .null }
            if case .success = DecimalText.scaled(scalar.string, scale: 6), scalar.style == .plain {
                return .number(scalar.string)
            }
            if scalar.style == .plain, ["true", "false"].contains(scalar.string) { return .bool(scalar.string == "true") }
            return .string(scalar.string)
        case .alias:
            return .null
        }
    }

    private static func line(_ node: Node) -> Int { (node.mark?.line ?? 0) }

    /// Edit distance, to suggest the key a typo meant.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a)
        let b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where i <= a.count {
            var previous = row[0]
            row[0] = i
            for j in 1...max(b.count, 1) where j <= b.count {
                let saved = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = saved
            }
        }
        return row[b.count]
    }

    // MARK: reading

    public func value(_ name: String) -> Value? {
        precondition(ConfigKey.named(name) != nil, "\(name) is not a configuration key")
        guard let value = values[name], !value.text.isEmpty else { return nil }
        return value
    }

    public func string(_ name: String) -> String? { value(name)?.text }
    public func bool(_ name: String) -> Bool? { value(name).map { $0.text == "true" } }
    public func integer(_ name: String) -> Int64? { value(name).flatMap { Int64($0.text) } }
    public func money(_ name: String) -> MicroDollars? { value(name).flatMap { try? MicroDollars.parse($0.text).get() } }
    public func list(_ name: String) -> [String] {
        (value(name)?.text ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// The effective settings as environment variables, for the parts of Plutus that read
    /// them by those names (alert channels): every key set anywhere, under its variable.
    public var environment: [String: String] {
        var out: [String: String] = [:]
        for key in ConfigKey.all { if let value = value(key.name) { out[key.environment] = value.text } }
        // The original's switch: `alerts.enabled: false` turns email off.
        if bool("alerts.enabled") == false { out.removeValue(forKey: "PLUTUS_SMTP_HOST") }
        return out
    }

    /// `plutus config show`: every key, its effective value (secrets masked) and where it came from.
    public func rendered(showUnset: Bool) -> [(key: String, value: String, source: String)] {
        ConfigKey.all.compactMap { key in
            guard let value = values[key.name], !value.text.isEmpty else {
                return showUnset ? (key.name, "–", "unset") : nil
            }
            let shown = key.secret ? Self.masked(value.text) : value.text
            return (key.name, shown, value.source.description + (key.used ? "" : " (not used by this Plutus)"))
        }
    }

    static func masked(_ secret: String) -> String {
        secret.count <= 8 ? "••••" : String(secret.prefix(4)) + "••••" + String(secret.suffix(2))
    }
}
