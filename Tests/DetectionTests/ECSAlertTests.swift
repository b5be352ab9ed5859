import Foundation
import TestSupport
import Testing

/// Alerts as a SIEM indexes them: every Elastic Common Schema field with ECS's type, arrays where ECS
/// normalises them, allowed values and category/type pairs (Tests/Fixtures/ecs), one JSON type for
/// each of Flowhound's own fields, and a mapping for each of them in the shipped index template.
@Suite(.tags(.integration)) struct ECSAlertTests {
    /// Alert lines of `flowhound detect` with `arguments`, parsed.
    static func alerts(_ arguments: [String]) throws -> [(line: String, value: JSONValue)] {
        let r = try FlowhoundCLI.run(["detect"] + arguments)
        try #require(r.status == 0, "\(r.stderr)")
        return try r.stdout.split(separator: "\n").map { (String($0), try JSONValue.parse(String($0))) }
    }

    /// The detectors an alert names.
    static func detectors(_ alert: JSONValue) -> [String] {
        guard case .array(let items) = alert["flowhound"]?["detectors"] else { return [] }
        return items.compactMap(\.stringValue)
    }

    @Test func anAlertOfEachDetectorIsValidECS() throws {
        let ecs = try ECSFields()
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let (log, _) = try DetectCommandTests.synthetic(in: base)
        var all: [(line: String, value: JSONValue)] = []
        for detector in ["threshold", "trw", "cnn", "slow"] {
            let alerts = try Self.alerts([log, "--detectors", detector, "--updates", "2m"])
            #expect(alerts.contains { Self.detectors($0.value).contains(detector) }, "no alert of \(detector)")
            all += alerts
        }
        // Distributed scans: the real honeypot excerpt, probed by 47 sources.
        let honeypot = FixtureDirectory.labelled.path("stratosphere-008-mixed.head120.conn.log.labeled")
        let distributed = try Self.alerts([honeypot, "--updates", "2m"])
        #expect(distributed.contains { Self.detectors($0.value).contains("distributed") })
        all += distributed
        if FileManager.default.fileExists(atPath: "/var/lib/location/database.db") {
            let alerts = try Self.alerts([DetectCommandTests.publicScanLog(in: base), "--detectors", "threshold", "--connection-alerts"])
            #expect(alerts.contains { $0.value["event"]?["dataset"]?.stringValue == "flowhound.connection" })
            #expect(alerts.contains { $0.value["flowhound"]?["source_reputation"] != nil })
            all += alerts
        }
        for alert in all {
            let problems = ecs.problems(alert.value)
            #expect(problems.isEmpty, "\(problems.joined(separator: "; ")) in \(alert.line)")
            #expect(alert.value["ecs"]?["version"]?.stringValue == "8.12.0" && alert.value["message"]?.stringValue?.isEmpty == false)
        }
        // One JSON type per field, whichever alert and detector wrote it.
        var kinds: [String: Set<String>] = [:]
        for alert in all {
            for (path, value) in alert.value.leaves() where value != .array([]) { kinds[path, default: []].insert(value.kind) }
        }
        let mixed = kinds.filter { $0.value.count > 1 }
        #expect(mixed.isEmpty, "fields written with more than one JSON type: \(mixed)")
        // Whole scores are written as floating-point numbers.
        #expect(kinds["flowhound.failure_ratio"] == ["float"] && kinds["event.risk_score"] == ["float"])
        #expect(kinds["flowhound.ports"] == ["integer"] && kinds["event.duration"] == ["integer"])

        // The index template maps every field the alerts write, with a type that takes its values.
        let template = try JSONValue.parse(String(contentsOf: Repository.url("Data/elasticsearch/flowhound-template.json"), encoding: .utf8))
        let mappings = try #require(template["template"]?["mappings"]?["properties"])
        for (path, kind) in kinds.sorted(by: { $0.key < $1.key }) {
            var node: JSONValue? = mappings
            for (i, part) in path.split(separator: ".").enumerated() {
                node = (i == 0 ? node : node?["properties"])?[String(part)]
            }
            let type = node?["type"]?.stringValue
            let accepted: [String: Set<String>] = [
                "string": ["keyword", "match_only_text", "ip", "date", "wildcard", "text", "constant_keyword"],
                "integer": ["long", "integer", "short"], "float": ["float", "double", "scaled_float"], "boolean": ["boolean"],
            ]
            #expect(type.map { accepted[kind.first!]?.contains($0) == true } == true, "\(path) (\(kind)) is mapped as \(type ?? "nothing")")
        }
    }

    /// An alert names the Zeek records behind it: its first and last flows' uids, as the log has them
    /// (the real honeypot sample: 104.156.155.13's first probe is CWrWCR3mLP3pSs6dvb).
    @Test func alertsNameTheirFirstAndLastZeekRecords() throws {
        let alerts = try Self.alerts([Repository.path("Samples/stratosphere-008-mixed.head300.conn.log.gz")])
        let end = try #require(alerts.last { $0.value["source"]?["ip"]?.stringValue == "104.156.155.13" })
        #expect(end.value["flowhound"]?["first_flow"]?["uid"]?.stringValue == "CWrWCR3mLP3pSs6dvb")
        let last = try #require(end.value["flowhound"]?["last_flow"])
        // The last flow is the episode's latest, and its uid the one the log gives that record.
        #expect(last["timestamp"]?.stringValue == end.value["event"]?["end"]?.stringValue)
        #expect(last["uid"]?.stringValue == "CElKRVewxz9hjPrA8")
    }

    /// Every event identifier in one run is unique, and the same when the same flows are read again.
    @Test func eventIdentifiersAreUniqueAndStable() throws {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let (log, _) = try DetectCommandTests.synthetic(in: base)
        let ids = try Self.alerts([log, "--updates", "2m"]).compactMap { $0.value["event"]?["id"]?.stringValue }
        #expect(!ids.isEmpty && Set(ids).count == ids.count)
        let again = try Self.alerts([log, "--updates", "2m"]).compactMap { $0.value["event"]?["id"]?.stringValue }
        #expect(again == ids)
    }

    /// The check finds what ECS forbids, as the alerts of Flowhound 0.1 had it.
    @Test func theCheckFindsWhatECSForbids() throws {
        let ecs = try ECSFields()
        let old = try JSONValue.parse(
            #"{"@timestamp":"2024-01-01T00:00:00Z","event":{"kind":"alert","category":["network","threat"],"type":["connection","indicator"],"risk_score":1,"severity":2.0,"sneaky":"x"},"threat":{"technique":{"id":"T1046"}},"source":{"ip":"not-an-address","port":"80"}}"#
        )
        let problems = Set(ecs.problems(old))
        for expected in [
            "ecs.version: required, missing", "event.sneaky: not an ECS field", "event.risk_score: a JSON integer where ECS has type float",
            "event.severity: a JSON float where ECS has type long", "threat.technique.id: ECS normalises it to an array",
            "source.ip: 'not-an-address' is not an IP address", "source.port: a JSON string where ECS has type long",
            "event.type: 'connection' is not expected with category 'threat'", "event.type: 'indicator' is not expected with category 'network'",
        ] {
            #expect(problems.contains(expected), "\(expected) not in \(problems.sorted())")
        }
    }
}
