import ArgumentParser
import Foundation
import Support
import Yams

/// Settings from a YAML file for the commands that run as services: `detect`, `serve`, `worker` and
/// `publish`. Top-level keys are option names (without `--`) for every one of these commands that
/// takes them; a section named after a command holds settings for it alone. Flags on the command line
/// override the file.
///
/// ```yaml
/// detectors: threshold,trw,cnn,slow,distributed
/// allowlist: /etc/flowhound/allowlist.txt
/// detect:
///   follow: true
///   output: /var/log/flowhound/alerts.jsonl
///   syslog: unix:///dev/log
/// serve:
///   port: 8080
/// ```
struct ConfigFile {
    /// One setting: an option and its values (none for a flag), where the file gave it.
    struct Setting: Equatable {
        var key: String
        /// `--key value` once per value; a flag (true) has none.
        var values: [String]
        var isFlag: Bool
        var line: Int
    }

    static let commands = ["detect", "serve", "worker", "publish"]
    /// Read when present and no --config is given.
    static let defaultPath = "/etc/flowhound/flowhound.yaml"
    /// Larger files are refused before they are parsed.
    static let maximumBytes = 1 << 20

    let path: String
    var common: [Setting] = []
    var sections: [String: [Setting]] = [:]

    struct Failure: Error, OneLineError {
        var description: String
    }

    /// Reads and checks the file's shape (not yet which options the commands take: `check`).
    init(path: String) throws(Failure) {
        self.path = path
        let bytes: [UInt8]
        do {
            bytes = try BoundedFile.read(path, limit: Self.maximumBytes)
        } catch {
            throw Failure(description: "\(path): cannot read the config file: \(error.description)")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw Failure(description: "\(path): not UTF-8 text") }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw Failure(description: Self.describe(error, path))
        } catch {
            throw Failure(description: "\(path): \(error)")
        }
        guard let root else { return }  // an empty file: no settings
        guard case .mapping(let mapping) = root else {
            throw Failure(description: "\(path):\(root.mark?.line ?? 1): the config file must be a mapping of option names to values")
        }
        for (keyNode, value) in mapping {
            let key = try Self.key(keyNode, path)
            if Self.commands.contains(key) {
                // A section with everything in it commented out is empty, not a mistake.
                if case .scalar(let scalar) = value, scalar.style == .plain, ["", "~", "null"].contains(scalar.string) {
                    sections[key] = []
                    continue
                }
                guard case .mapping(let section) = value else {
                    throw Failure(description: "\(path):\(value.mark?.line ?? 0): '\(key)' is a section: option names and values under it")
                }
                var settings: [Setting] = []
                for (k, v) in section {
                    let name = try Self.key(k, path)
                    guard !Self.commands.contains(name) else {
                        throw Failure(description: "\(path):\(k.mark?.line ?? 0): section '\(name)' inside section '\(key)'")
                    }
                    settings.append(try Self.setting(name, v, path, line: k.mark?.line ?? 0))
                }
                sections[key] = settings
            } else {
                common.append(try Self.setting(key, value, path, line: keyNode.mark?.line ?? 0))
            }
        }
    }

    private static func key(_ node: Node, _ path: String) throws(Failure) -> String {
        guard case .scalar(let scalar) = node, !scalar.string.isEmpty else {
            throw Failure(description: "\(path):\(node.mark?.line ?? 0): a key must be an option name")
        }
        let name = scalar.string
        guard !name.hasPrefix("-"), name.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }) else {
            throw Failure(
                description: "\(path):\(node.mark?.line ?? 0): '\(name.excerpt())' is not an option name (lower-case, as in --help, without the dashes)")
        }
        return name
    }

    private static func setting(_ key: String, _ value: Node, _ path: String, line: Int) throws(Failure) -> Setting {
        switch value {
        case .scalar(let scalar):
            // YAML's true and false (not a quoted "true") turn a flag on or leave it off.
            if scalar.style == .plain, let flag = Bool(scalar.string.lowercased()) {
                return Setting(key: key, values: flag ? [] : ["false"], isFlag: true, line: line)
            }
            guard !scalar.string.isEmpty || scalar.style != .plain else {
                throw Failure(description: "\(path):\(line): '\(key)' has no value")
            }
            return Setting(key: key, values: [scalar.string], isFlag: false, line: line)
        case .sequence(let items):
            var values: [String] = []
            for item in items {
                guard case .scalar(let scalar) = item else { throw Failure(description: "\(path):\(item.mark?.line ?? line): '\(key)': a list holds values") }
                values.append(scalar.string)
            }
            guard !values.isEmpty else { throw Failure(description: "\(path):\(line): '\(key)' is an empty list") }
            return Setting(key: key, values: values, isFlag: false, line: line)
        case .mapping:
            throw Failure(description: "\(path):\(line): '\(key)' takes a value or a list of values, not a mapping")
        }
    }

    static func describe(_ error: YamlError, _ path: String) -> String {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return "\(path):\(mark.line): not valid YAML: \(problem)"
        default:
            return "\(path): not valid YAML: \(error)"
        }
    }

    /// The settings `command` takes, in the file's order: the common ones it has an option for and its
    /// section's. Throws for a setting of its section that it does not take, for a common setting that
    /// no command takes, and for a value its option refuses, naming the line.
    func settings(for command: String) throws(Failure) -> [Setting] {
        var taken: [Setting] = []
        for setting in common {
            switch Self.probe(setting, command) {
            case .ok: taken.append(setting)
            case .unknown:
                if !Self.commands.contains(where: { Self.probe(setting, $0) != .unknown }) {
                    throw Failure(description: "\(path):\(setting.line): '\(setting.key)' is not an option of \(Self.commands.joined(separator: ", "))")
                }
            case .refused(let message): throw Failure(description: "\(path):\(setting.line): \(message)")
            }
        }
        for setting in sections[command] ?? [] {
            switch Self.probe(setting, command) {
            case .ok: taken.append(setting)
            case .unknown: throw Failure(description: "\(path):\(setting.line): '\(setting.key)' is not an option of \(command) (flowhound help \(command))")
            case .refused(let message): throw Failure(description: "\(path):\(setting.line): \(message)")
            }
        }
        return taken
    }

    enum Probe: Equatable {
        case ok
        case unknown
        case refused(String)
    }

    /// Whether `command` takes the setting, asked of its own parser: the setting alone, parsed as
    /// `command` would parse it. An error that names the option is the setting's; any other (a missing
    /// log, say) is not.
    static func probe(_ setting: Setting, _ command: String) -> Probe {
        let arguments = [command] + setting.arguments
        do {
            _ = try Flowhound.parseAsRoot(arguments)
            return .ok
        } catch {
            let message = Flowhound.message(for: error)
            if message.contains("Unknown option '--\(setting.key)'") || message.contains("Unexpected argument '--\(setting.key)'") {
                return .unknown
            }
            if message.contains("--\(setting.key)") && !message.contains("Missing expected argument") {
                return .refused(message.split(separator: "\n").first.map(String.init) ?? message)
            }
            return .ok
        }
    }
}

extension ConfigFile.Setting {
    /// As command-line arguments: `--key value` per value, `--key` for a flag that is on.
    var arguments: [String] {
        if isFlag { return values.isEmpty ? ["--\(key)"] : [] }
        return values.flatMap { ["--\(key)", $0] }
    }

    /// `key = value`, as `config show` prints it.
    var text: String {
        if isFlag { return "\(key) = \(values.isEmpty ? "true" : "false")" }
        return "\(key) = \(values.joined(separator: ", "))"
    }
}

/// Applies the config file to a command line of `detect`, `serve`, `worker` or `publish`: the file's
/// settings come first, less those the command line gives itself, so that its flags win. The file is
/// `--config FILE` when given, else /etc/flowhound/flowhound.yaml when it exists.
enum ConfigInjection {
    /// The command line to parse, or `arguments` as they are for other commands.
    static func apply(to arguments: [String]) throws -> [String] {
        guard let command = arguments.first, ConfigFile.commands.contains(command) else { return arguments }
        guard let path = configPath(in: arguments) else { return arguments }
        let file = try ConfigFile(path: path)
        let given = optionsGiven(in: Array(arguments.dropFirst()))
        let settings = try file.settings(for: command).filter { !given.contains($0.key) }
        return [command] + settings.flatMap(\.arguments) + arguments.dropFirst()
    }

    /// The config file named by --config, or the default one when it exists; nil for none.
    static func configPath(in arguments: [String]) -> String? {
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if a == "--" { break }
            if a == "--config", i + 1 < arguments.count { return arguments[i + 1] }
            if a.hasPrefix("--config=") { return String(a.dropFirst("--config=".count)) }
            i += 1
        }
        return FileManager.default.fileExists(atPath: ConfigFile.defaultPath) ? ConfigFile.defaultPath : nil
    }

    /// The long names of the options a command line gives (`-o` is `output`).
    static func optionsGiven(in arguments: [String]) -> Set<String> {
        var names: Set<String> = []
        for a in arguments {
            if a == "--" { break }
            if a == "-o" { names.insert("output") }
            if a.hasPrefix("--") {
                let name = a.dropFirst(2).split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
                names.insert(name)
                // --no-progress overrides progress, and the other way round.
                if name.hasPrefix("no-") { names.insert(String(name.dropFirst(3))) } else { names.insert("no-" + name) }
            }
        }
        return names
    }
}

/// `--config FILE` on the commands that read one.
struct ConfigOption: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Settings from this YAML file (default: /etc/flowhound/flowhound.yaml when it exists); flags override it. See 'flowhound config show'.",
            valueName: "file"))
    var config: String?
}

struct Config: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The config file: what it sets for each command.",
        subcommands: [Show.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the settings a command runs with, and where each comes from.",
            discussion: """
                For detect, serve, worker and publish (or the COMMAND given, with the flags you would give it): \
                every option, its value, and whether it comes from the command line, the config file (with \
                its line) or the default. The file is --config FILE, or /etc/flowhound/flowhound.yaml when it \
                exists. Unknown keys and refused values are errors naming the line.
                """)

        @Option(help: ArgumentHelp("The config file (default: /etc/flowhound/flowhound.yaml when it exists).", valueName: "file"))
        var config: String?

        @Argument(parsing: .captureForPassthrough, help: "A command (detect, serve, worker, publish) and the flags to show it with.")
        var commandLine: [String] = []

        func validate() throws {
            if let first = commandLine.first, !ConfigFile.commands.contains(first) {
                throw ValidationError("'\(first)' reads no config file: give one of \(ConfigFile.commands.joined(separator: ", "))")
            }
        }

        func run() throws {
            try Diagnostics.run {
                let path = config ?? (FileManager.default.fileExists(atPath: ConfigFile.defaultPath) ? ConfigFile.defaultPath : nil)
                let file = try path.map { try ConfigFile(path: $0) }
                print(path.map { "config file: \($0)" } ?? "config file: none (\(ConfigFile.defaultPath) does not exist)")
                let commands = commandLine.first.map { [$0] } ?? ConfigFile.commands
                for command in commands {
                    let flags = commandLine.first == command ? Array(commandLine.dropFirst()) : []
                    let given = ConfigInjection.optionsGiven(in: flags)
                    let settings = try file?.settings(for: command) ?? []
                    print("\n\(command):")
                    for option in try Self.options(of: command) {
                        let value: String, source: String
                        if given.contains(option.name) {
                            value = Self.value(of: option.name, in: flags)
                            source = "command line"
                        } else if let s = settings.last(where: { $0.key == option.name }) {
                            value = String(s.text.dropFirst(s.key.count + 3))
                            source = "\(file!.path):\(s.line)"
                        } else {
                            value = option.defaultValue ?? (option.isFlag ? "false" : "-")
                            source = "default"
                        }
                        print(
                            "  \(option.name.padding(toLength: 26, withPad: " ", startingAt: 0)) \(value.padding(toLength: 30, withPad: " ", startingAt: 0)) \(source)"
                        )
                    }
                }
            }
        }

        /// What a command line gives an option (the last value; `true` for a flag).
        static func value(of name: String, in flags: [String]) -> String {
            var found = "true"
            for (i, a) in flags.enumerated() {
                if a == "--\(name)" || (name == "output" && a == "-o") { found = i + 1 < flags.count && !flags[i + 1].hasPrefix("--") ? flags[i + 1] : "true" }
                if a.hasPrefix("--\(name)=") { found = String(a.dropFirst(name.count + 3)) }
            }
            return found
        }

        struct OptionInfo {
            var name: String
            var defaultValue: String?
            var isFlag: Bool
        }

        /// The command's options and their defaults, as its own parser describes them
        /// (`--experimental-dump-help` of this same executable).
        static func options(of command: String) throws -> [OptionInfo] {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).resolvingSymlinksInPath()
            if !FileManager.default.isExecutableFile(atPath: process.executableURL!.path) {
                process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            }
            process.arguments = [command, "--experimental-dump-help"]
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = FileHandle.nullDevice
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            struct Dump: Decodable {
                struct Command: Decodable { var arguments: [Argument]? }
                struct Argument: Decodable {
                    struct Name: Decodable { var kind: String, name: String }
                    var kind: String, names: [Name]?, defaultValue: String?, shouldDisplay: Bool?
                }
                var command: Command
            }
            let dump = try JSONDecoder().decode(Dump.self, from: data)
            return (dump.command.arguments ?? []).compactMap { a in
                guard a.kind != "positional", a.shouldDisplay != false, let long = a.names?.first(where: { $0.kind == "long" })?.name,
                    long != "help", long != "version", long != "config"
                else { return nil }
                return OptionInfo(name: long, defaultValue: a.defaultValue, isFlag: a.kind == "flag")
            }
        }
    }
}
