import FlowRecords
import TestSupport
import Testing

@testable import Detection

/// Ground truth from the labels of labelled datasets: each vocabulary's mapping, and how a source is
/// labelled from its flows.
@Suite struct LabelTruthTests {
    typealias Verdict = LabelTruth.Verdict

    static func classify(_ label: String?, _ detail: String? = nil, scanLabels: Set<String> = []) -> Verdict? {
        LabelTruth.classify(label: label, detailedLabel: detail, scanLabels: scanLabels)
    }

    @Test func stratosphereLabels() {
        #expect(Self.classify("Malicious", "PartOfAHorizontalPortScan") == Verdict(.scan, kind: "PartOfAHorizontalPortScan"))
        #expect(Self.classify("Malicious", "C&C-PartOfAHorizontalPortScan") == Verdict(.scan, kind: "C&C-PartOfAHorizontalPortScan"))
        #expect(Self.classify("Malicious", "External-Attack-to-Device") == Verdict(.otherMalicious, kind: "External-Attack-to-Device"))
        #expect(Self.classify("Malicious", "C&C-HeartBeat") == Verdict(.otherMalicious, kind: "C&C-HeartBeat"))
        #expect(Self.classify("malicious") == Verdict(.otherMalicious, kind: "malicious"))
        #expect(Self.classify("Benign", "Microsoft") == Verdict(.benign, kind: "Microsoft"))
        #expect(Self.classify("benign") == Verdict(.benign, kind: "benign"))
        #expect(Self.classify("Background") == Verdict(.ignored, kind: "Background"))
    }

    @Test func ctu13Labels() {
        #expect(Self.classify("flow=From-Botnet-V42-TCP-CC6") == Verdict(.otherMalicious, kind: "From-Botnet-V42-TCP-CC6"))
        #expect(Self.classify("flow=From-Botnet-V42-TCP-Attempt-SPAM") == Verdict(.otherMalicious, kind: "From-Botnet-V42-TCP-Attempt-SPAM"))
        #expect(Self.classify("From-Botnet-V50-1-TCP-Attempt") == Verdict(.otherMalicious, kind: "From-Botnet-V50-1-TCP-Attempt"))
        #expect(Self.classify("flow=From-Botnet-V44-TCP-Scan-445")?.class == .scan)
        // Later captures of the same project (StratosphereLinuxIPS's test5) write `Malware-…`.
        #expect(Self.classify("flow=Malware-UDP-DNS") == Verdict(.otherMalicious, kind: "Malware-UDP-DNS"))
        #expect(Self.classify("flow=TCP-Established-To-Microsoft-7")?.class == .unknown)
        #expect(Self.classify("flow=From-Normal-V42-Grill") == Verdict(.benign, kind: "From-Normal-V42-Grill"))
        #expect(Self.classify("flow=Normal-V42-Stribrek")?.class == .benign)
        for ignored in [
            "flow=Background-UDP-Established", "flow=Background", "flow=From-Background-CVUT-Proxy", "flow=To-Background-UDP-CVUT-DNS-Server",
            "flow=To-Botnet-V42-UDP-DNS", "flow=To-Normal-V42-UDP-NTP-server",
        ] {
            #expect(Self.classify(ignored)?.class == .ignored, "\(ignored)")
        }
    }

    @Test func cicLabels() {
        // The improved CIC-IDS2017 writes Portscan and an Attempted Category number (-1: not an attempt).
        #expect(Self.classify("Portscan", "-1") == Verdict(.scan, kind: "Portscan"))
        #expect(Self.classify("PortScan") == Verdict(.scan, kind: "PortScan"))
        #expect(Self.classify("Infiltration - Portscan", "-1") == Verdict(.scan, kind: "Infiltration - Portscan"))
        #expect(Self.classify("BENIGN", "-1") == Verdict(.benign, kind: "BENIGN"))
        for attack in [
            "DDoS", "DoS Hulk", "DoS slowloris", "DoS Hulk - Attempted", "FTP-Patator", "SSH-Patator", "Web Attack – Brute Force", "Web Attack \u{FFFD} XSS",
            "Web Attack - SQL Injection", "Infiltration", "Bot", "Botnet - Attempted", "Heartbleed", "DoS attacks-Hulk", "DDOS attack-HOIC",
            "FTP-BruteForce", "Brute Force -Web", "SQL Injection", "Infilteration",
        ] {
            #expect(Self.classify(attack, "2") == Verdict(.otherMalicious, kind: attack), "\(attack)")
        }
    }

    @Test func unknownAndMissingLabels() {
        #expect(Self.classify("Suspicious") == Verdict(.unknown, kind: "Suspicious"))
        #expect(Self.classify("0") == Verdict(.unknown, kind: "0"))
        #expect(Self.classify(nil) == nil)
        #expect(Self.classify("") == nil)
        #expect(Self.classify("-") == nil)
    }

    @Test func scanLabelsOverrideTheVocabulary() {
        let extra: Set<String> = ["external-attack-to-device", "ddos"]
        #expect(Self.classify("Malicious", "External-Attack-to-Device", scanLabels: extra) == Verdict(.scan, kind: "External-Attack-to-Device"))
        #expect(Self.classify("DDoS", "-1", scanLabels: extra) == Verdict(.scan, kind: "DDoS"))
        #expect(Self.classify("Benign", "Microsoft", scanLabels: extra) == Verdict(.benign, kind: "Microsoft"))
    }

    static func flow(_ source: String, _ label: String?, _ detail: String? = nil) -> FlowRecord {
        FlowRecord(
            start: 0, end: 0, source: ip(source), destination: ip("10.9.9.9"), sourcePort: 40000, destinationPort: 80, transport: .tcp, label: label,
            detailedLabel: detail)
    }

    /// Flows of several sources, one line a source: what each source's flows say, and what it becomes.
    static func mixed() -> LabelTruth {
        var labels = LabelTruth()
        let flows: [FlowRecord] =
            // A scanner with benign flows too: a scan, of the kind of its scan flows.
            [flow("10.0.0.1", "Benign", "Microsoft"), flow("10.0.0.1", "Malicious", "PartOfAHorizontalPortScan")]
            // Benign flows and background: benign, of its most frequent kind.
            + [flow("10.0.0.2", "Benign", "ESET"), flow("10.0.0.2", "Benign", "Microsoft"), flow("10.0.0.2", "Benign", "ESET"), flow("10.0.0.2", "Background")]
            // Benign flows and one of a label not known: unlabelled.
            + [flow("10.0.0.3", "Benign", "ESET"), flow("10.0.0.3", "Suspicious")]
            // Benign flows and a C&C flow: other malicious.
            + [flow("10.0.0.4", "Benign", "ESET"), flow("10.0.0.4", "Malicious", "C&C")]
            // Background and flows without a label: nothing.
            + [flow("10.0.0.5", "Background"), flow("10.0.0.5", nil), flow("10.0.0.5", "-")]
            // A scanner with more scan flows than 10.0.0.1, of two kinds: the kind in a tie is the first alphabetically.
            + [flow("10.0.0.6", "Portscan", "-1"), flow("10.0.0.6", "PortScan"), flow("10.0.0.6", "Portscan"), flow("10.0.0.6", "PortScan")]
            // One benign flow.
            + [flow("10.0.0.7", "BENIGN", "-1")]
        for f in flows { labels.add(f) }
        return labels
    }

    @Test func aSourceIsLabelledFromItsFlows() {
        let labels = Self.mixed()
        #expect(labels.sourceVerdict(ip("10.0.0.1")) == Verdict(.scan, kind: "PartOfAHorizontalPortScan"))
        #expect(labels.sourceVerdict(ip("10.0.0.2")) == Verdict(.benign, kind: "ESET"))
        #expect(labels.sourceVerdict(ip("10.0.0.3")) == nil)
        #expect(labels.sourceVerdict(ip("10.0.0.4")) == Verdict(.otherMalicious, kind: "C&C"))
        #expect(labels.sourceVerdict(ip("10.0.0.5")) == nil)
        #expect(labels.sourceVerdict(ip("10.0.0.6")) == Verdict(.scan, kind: "PortScan"))
        #expect(labels.sourceVerdict(ip("10.0.0.7")) == Verdict(.benign, kind: "BENIGN"))

        // Scanning and benign sources, most flows of their class first; other malicious apart.
        let (truth, other) = labels.groundTruth()
        #expect(truth.sources == [ip("10.0.0.6"), ip("10.0.0.2"), ip("10.0.0.1"), ip("10.0.0.7")])
        #expect(truth[ip("10.0.0.6")]?.label == "scan" && truth[ip("10.0.0.6")]?.kind == "PortScan")
        #expect(truth[ip("10.0.0.2")]?.label == "benign" && truth[ip("10.0.0.2")]?.kind == "ESET")
        #expect(other.map(\.source) == [ip("10.0.0.4")] && other.map(\.kind) == ["C&C"])
    }

    @Test func theSummaryCountsFlowsAndNamesUnknownLabels() {
        var labels = Self.mixed()
        for _ in 0..<3 { labels.add(Self.flow("10.0.0.8", "Weird")) }
        let s = labels.summary
        #expect(s.flows == 21)
        #expect(s.flowsByClass == ["scan": 5, "benign": 7, "other-malicious": 1, "ignored": 2, "unknown": 4, "unlabelled": 2])
        #expect(s.labelledFlows == 19 && s.unknownFlows == 4)
        #expect(s.scanners == 2 && s.benignSources == 2 && s.otherMaliciousSources == 1 && s.undecidedSources == 2)
        #expect(s.otherMaliciousKinds == ["C&C": 1])
        #expect(s.unknownLabels == [LabelTruth.LabelCount(label: "Weird", flows: 3), LabelTruth.LabelCount(label: "Suspicious", flows: 1)])
    }

    @Test func scanLabelsThatMatchNothingAreNamed() {
        var labels = LabelTruth(scanLabels: ["External-Attack-to-Device", "Nothing-Like-It"])
        labels.add(Self.flow("10.0.0.1", "Malicious", "External-Attack-to-Device"))
        labels.add(Self.flow("10.0.0.2", "Benign", "Dropbox"))
        let s = labels.summary
        #expect(s.scanners == 1 && s.benignSources == 1)
        #expect(s.unmatchedScanLabels == ["Nothing-Like-It"])
    }

    @Test func theEvaluationKeepsOtherMaliciousSourcesApart() {
        let labels = Self.mixed()
        // Flagged: one scanner, one benign source, the other malicious one, one the labels do not name.
        let flagged: Set<IPAddress> = [ip("10.0.0.6"), ip("10.0.0.2"), ip("10.0.0.4"), ip("10.0.0.3")]
        let e = DetectionEvaluation(flagged: flagged, labels: labels)
        #expect(e.scanners == 2 && e.benignSources == 2)
        #expect(e.truePositives == 1 && e.falseNegatives == 1 && e.falsePositives == 1)
        #expect(e.misses == [DetectionEvaluation.Miss(source: "10.0.0.1", kind: "PartOfAHorizontalPortScan")])
        #expect(e.falseAlarms == [DetectionEvaluation.Miss(source: "10.0.0.2", kind: "ESET")])
        #expect(e.otherMaliciousSources == 1 && e.otherMaliciousFlagged == [DetectionEvaluation.Miss(source: "10.0.0.4", kind: "C&C")])
        #expect(e.unlabelledFlagged == ["10.0.0.3"])
        #expect(e.recallByKind == ["PortScan": 1, "PartOfAHorizontalPortScan": 0])
        #expect(e.labels?.scanners == 2)

        // From a truth file, there is no label summary and nothing is other malicious.
        let fromFile = DetectionEvaluation(flagged: flagged, truth: labels.groundTruth().truth)
        #expect(fromFile.labels == nil && fromFile.otherMaliciousSources == 0)
        #expect(fromFile.unlabelledFlagged == ["10.0.0.3", "10.0.0.4"])
    }
}
