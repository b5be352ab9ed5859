import FlowRecords
import Foundation
import Support
import Synthesis
import TestSupport
import Testing

@testable import Detection

/// A scan alert's line is written directly (`ScanAlert.json`), member by member; it must be the
/// same bytes as the `Encodable` document (`ECS`) gives through `jsonLine`, for every kind of alert
/// and every field that may be missing, long, or odd.
@Suite struct AlertJSONTests {
    /// A reputation as another layer adds it: its own fields, under `flowhound.source_reputation`.
    struct Reputation: AddressReputation, Encodable {
        var country: String? = "NL"
        var asn: UInt32? = 64_500
        var asOrganization: String? = "Example \"Transit\"\nB.V."
        var summary = "suspicious (0.97)"
        var tableCell = "0.97!"
        var isSuspicious = true
        var probability = 0.97, drivers = ["asn", "country"]
    }

    /// Every alert of a synthetic mix with every scan kind, updates included.
    static let alerts: [ScanAlert] = {
        var config = SynthConfig()
        config.seed = 12
        config.duration = 2 * 3600
        config.benignSources = 20
        config.scanPrevalence = 0.4
        config.scanBehaviours = SynthConfig.allScans + SynthConfig.namedOnlyScans
        var settings = DetectionSettings()
        settings.updateInterval = 300
        var recipe = DetectionRecipe()
        recipe.settings = settings
        let detection = recipe.make(model: try! ScanModel.load(pathOrDefault: nil))
        var alerts: [ScanAlert] = []
        detection.onAlert = { alerts.append($0) }
        for flow in TrafficGenerator(config: config).generate().flows { try! detection.add(flow) }
        try! detection.finish()
        return alerts
    }()

    @Test func everyAlertOfAMixIsWrittenAsItsDocumentIs() throws {
        #expect(Set(Self.alerts.map(\.phase)) == [.start, .update, .end])
        #expect(Set(Self.alerts.map(\.scanType)).count >= 3)
        for alert in Self.alerts {
            #expect(alert.json(.fixed) == alert.encodableJSON(.fixed))
            var reputed = alert
            reputed.sourceReputation = Reputation()
            #expect(reputed.json(.fixed) == reputed.encodableJSON(.fixed))
        }
    }

    /// What a mix seldom has: no transport or flows, IPv6, long and truncated lists, text to escape,
    /// scores that are not finite, a reputation without its AS organisation or country.
    @Test func oddFieldsAreWrittenAsTheDocumentWritesThem() throws {
        var alert = try #require(Self.alerts.first)
        alert.transport = nil
        alert.firstFlow = nil
        alert.lastFlow = nil
        alert.source = IPAddress("2001:db8::7")!
        alert.ports = (1...1500).map { UInt16($0) }
        alert.answeredPorts = (1...1200).map { UInt16($0 * 3) }
        alert.hosts = (1...150).map { IPAddress(ipv4: 0x0A00_0000 + UInt32($0)) }
        alert.reasons = ["trw": "a \"quoted\"\\ reason\twith\u{1}control", "cnn": "é"]
        alert.scores = ["trw": .infinity, "cnn": .nan, "threshold": 1e-9, "slow": 0.333_333]
        alert.busiestHost = nil
        alert.busiestPort = nil
        #expect(alert.json(.fixed) == alert.encodableJSON(.fixed))
        var partial = Reputation()
        partial.asOrganization = nil
        partial.country = nil
        alert.sourceReputation = partial
        #expect(alert.json(.fixed) == alert.encodableJSON(.fixed))
        alert.flows = 0
        alert.failedFlows = 0
        alert.ports = [443]
        #expect(alert.json(.fixed) == alert.encodableJSON(.fixed))
    }
}
