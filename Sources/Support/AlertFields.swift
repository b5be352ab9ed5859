#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Flowhound's version, as `--version`, alerts (`observer.version`) and model cards give it.
public let flowhoundVersion = "0.1.0"

/// The Elastic Common Schema fields that every Flowhound alert writes alike: the schema's version,
/// the observer, the event's kind and categories, severity and risk score, and the ATT&CK technique
/// of a scan. Checked against ECS's own field definitions in the tests (Tests/Fixtures/ecs).
public enum AlertFields {
    /// The ECS version the alerts follow (`ecs.version`).
    public static let ecsVersion = "8.12.0"

    /// Where and when an alert is written: the parts of it that are not in the flows.
    public struct Context: Sendable {
        /// Unix seconds when the alert was written (`event.created`).
        public var created: Double
        /// The machine that wrote it (`observer.hostname`).
        public var hostname: String

        public init(created: Double, hostname: String) {
            self.created = created
            self.hostname = hostname
        }

        /// Now, on this machine.
        public static func now() -> Context {
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            return Context(created: Double(now.tv_sec) + Double(now.tv_nsec) / 1e9, hostname: hostname)
        }

        static let hostname: String = {
            var buffer = [CChar](repeating: 0, count: 256)
            guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }()
    }

    /// How urgent an alert is. `event.severity` is the number, `event.risk_score` the score Elastic
    /// Security gives the same level, and syslog the severity of RFC 5424 (`Syslog`).
    public enum Severity: Int, Sendable, Comparable, CaseIterable {
        case low = 1
        case medium = 2
        case high = 3
        case critical = 4

        public var name: String {
            switch self {
            case .low: "low"
            case .medium: "medium"
            case .high: "high"
            case .critical: "critical"
            }
        }

        /// 21, 47, 73, 99.
        public var riskScore: Double {
            switch self {
            case .low: 21
            case .medium: 47
            case .high: 73
            case .critical: 99
            }
        }

        /// RFC 5424: notice (5), warning (4), error (3), critical (2).
        public var syslogSeverity: Int { 6 - rawValue }

        public static func < (a: Severity, b: Severity) -> Bool { a.rawValue < b.rawValue }

        /// One level up, at most critical.
        public var raised: Severity { Severity(rawValue: min(rawValue + 1, Severity.critical.rawValue))! }
    }

    public struct ECS: Encodable, Sendable {
        var version = AlertFields.ecsVersion
        public init() {}
    }

    public struct Observer: Encodable, Sendable {
        var vendor = "Flowhound", product = "Flowhound", type = "ids", version = flowhoundVersion
        var hostname: String
        public init(_ context: Context) { hostname = context.hostname }
    }

    /// `event.*` of an alert.
    public struct Event: Encodable, Sendable {
        static let kind = "alert"
        /// A network observation that an intrusion detector raised; `info` is the event type both
        /// categories expect (ECS's `expected_event_types`).
        static let category = ["network", "intrusion_detection"], type = ["info"]
        static let module = "flowhound"
        var id: String, action: String, dataset: String
        /// Unix seconds, written as ISO 8601 times with milliseconds (`CivilTime.iso8601Milliseconds`).
        var created: Double, start: Double, end: Double
        /// Nanoseconds.
        var duration: Int64
        var severity: Int, risk_score: Double

        public init(
            id: String, action: String, dataset: String, context: Context, start: Double, end: Double, severity: Severity,
            riskScore: Double? = nil
        ) {
            self.id = id
            self.action = action
            self.dataset = dataset
            created = context.created
            self.start = start
            self.end = end
            let seconds = max(0, end - start)
            duration = seconds.isFinite ? Int64(min(seconds * 1e9, 9e18).rounded()) : 0
            self.severity = severity.rawValue
            risk_score = riskScore ?? severity.riskScore
        }

        enum CodingKeys: String, CodingKey {
            case kind, category, type, module, id, action, dataset, created, start, end, duration, severity, risk_score
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(Self.kind, forKey: .kind)
            try c.encode(Self.category, forKey: .category)
            try c.encode(Self.type, forKey: .type)
            try c.encode(Self.module, forKey: .module)
            try c.encode(id, forKey: .id)
            try c.encode(action, forKey: .action)
            try c.encode(dataset, forKey: .dataset)
            try c.encode(CivilTime.iso8601Milliseconds(created), forKey: .created)
            try c.encode(CivilTime.iso8601Milliseconds(start), forKey: .start)
            try c.encode(CivilTime.iso8601Milliseconds(end), forKey: .end)
            try c.encode(duration, forKey: .duration)
            try c.encode(severity, forKey: .severity)
            try c.encode(risk_score, forKey: .risk_score)
        }
    }

    public struct Rule: Encodable, Sendable {
        var id: String, name: String, category: String, description: String
        var ruleset = "flowhound", version = flowhoundVersion
        public init(id: String, name: String, category: String, description: String) {
            self.id = id
            self.name = name
            self.category = category
            self.description = description
        }
    }

    /// MITRE ATT&CK T1046, Network Service Discovery (tactic TA0007, Discovery), with ECS's arrays.
    public struct Threat: Encodable, Sendable {
        struct Item: Encodable, Sendable {
            var id: [String], name: [String], reference: [String]
        }
        var framework = "MITRE ATT&CK"
        var tactic = Item(id: ["TA0007"], name: ["Discovery"], reference: ["https://attack.mitre.org/tactics/TA0007/"])
        var technique = Item(id: ["T1046"], name: ["Network Service Discovery"], reference: ["https://attack.mitre.org/techniques/T1046/"])
        public init() {}
    }
}

// Each shared part written directly (`JSONLineWriter`), members in sorted key order: the same bytes
// as `jsonLine` writes of it, which a test checks.
extension AlertFields.ECS {
    public func write(to w: inout JSONLineWriter) {
        w.beginObject()
        w.key("version"); w.string(version)
        w.endObject()
    }
}

extension AlertFields.Observer {
    public func write(to w: inout JSONLineWriter) {
        w.beginObject()
        w.key("hostname"); w.string(hostname)
        w.key("product"); w.string(product)
        w.key("type"); w.string(type)
        w.key("vendor"); w.string(vendor)
        w.key("version"); w.string(version)
        w.endObject()
    }
}

extension AlertFields.Event {
    public func write(to w: inout JSONLineWriter) {
        w.beginObject()
        w.key("action"); w.string(action)
        w.key("category"); w.strings(Self.category)
        w.key("created"); w.time(created)
        w.key("dataset"); w.string(dataset)
        w.key("duration"); w.integer(duration)
        w.key("end"); w.time(end)
        w.key("id"); w.string(id)
        w.key("kind"); w.string(Self.kind)
        w.key("module"); w.string(Self.module)
        w.key("risk_score"); w.double(risk_score)
        w.key("severity"); w.integer(severity)
        w.key("start"); w.time(start)
        w.key("type"); w.strings(Self.type)
        w.endObject()
    }
}

extension AlertFields.Rule {
    public func write(to w: inout JSONLineWriter) {
        w.beginObject()
        w.key("category"); w.string(category)
        w.key("description"); w.string(description)
        w.key("id"); w.string(id)
        w.key("name"); w.string(name)
        w.key("ruleset"); w.string(ruleset)
        w.key("version"); w.string(version)
        w.endObject()
    }
}

extension AlertFields.Threat {
    /// The threat every alert carries, written once: building its six arrays for each alert cost more
    /// than writing the bytes.
    public static func writeStandard(to w: inout JSONLineWriter) { w.raw(bytes: standard) }

    private static let standard: [UInt8] = {
        var w = JSONLineWriter(capacity: 256)
        AlertFields.Threat().write(to: &w)
        return w.bytes
    }()

    public func write(to w: inout JSONLineWriter) {
        func item(_ i: Item) {
            w.beginObject()
            w.key("id"); w.strings(i.id)
            w.key("name"); w.strings(i.name)
            w.key("reference"); w.strings(i.reference)
            w.endObject()
        }
        w.beginObject()
        w.key("framework"); w.string(framework)
        w.key("tactic"); item(tactic)
        w.key("technique"); item(technique)
        w.endObject()
    }
}
