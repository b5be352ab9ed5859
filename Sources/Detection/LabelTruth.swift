import FlowRecords

/// Ground truth taken from the labels that labelled datasets carry on each flow (`FlowRecord.label`
/// and `detailedLabel`), for evaluating detection on them without a `source,label,kind` file.
///
/// Each flow's label is mapped to a `Class` (labels compared ignoring case; `matches` below compares
/// letters and digits only, so `PortScan`, `Portscan` and `Port Scan` are one):
///
/// | vocabulary | label (detailed label) | class | kind |
/// |---|---|---|---|
/// | any | label or detailed label named in `scanLabels` | scan | detailed label, else label |
/// | Stratosphere Zeek (`label`, `detailedlabel`) | `Malicious`, detailed label containing "scan" (`PartOfAHorizontalPortScan`) | scan | detailed label |
/// | | `Malicious`, any other detailed label (`External-Attack-to-Device`, `C&C`, `DDoS`) or none | other malicious | detailed label, else `Malicious` |
/// | | `Benign` | benign | detailed label (`Microsoft`), else `Benign` |
/// | | `Background` | ignored | |
/// | CTU-13 Argus binetflow (`Label`, `flow=` prefix optional) | `From-Botnet…` or `Malware…` containing "scan" | scan | label without `flow=` |
/// | | other `From-Botnet…`, `Malware…` | other malicious | label without `flow=` |
/// | | `From-Normal…`, `Normal…` | benign | label without `flow=` |
/// | | `Background…`, `From-Background…`, `To-…` (a label about the destination) | ignored | |
/// | CIC-IDS2017, CSE-CIC-IDS2018 (CICFlowMeter `Label`) | containing "portscan" (`PortScan`, `Portscan`, `Infiltration - Portscan`) | scan | label |
/// | | `BENIGN` | benign | label |
/// | | the other attacks: DoS, DDoS, FTP/SSH-Patator, Web Attack, Bot, Infiltration, Heartbleed, brute force, SQL injection | other malicious | label |
/// | any | anything else | unknown | |
///
/// A detailed label is used as the kind only when it is a name: CIC's `Attempted Category` (`-1`,
/// `0`...) is a number and is not. A flow without a label (empty, or Zeek's `-`) is unlabelled.
///
/// A source (the flow's initiator) is then labelled from its flows:
/// - **scan** when at least one of its flows is a scan;
/// - **other malicious** when none is, but one is other malicious (not counted as scan or benign);
/// - **benign** when its flows with a class are all benign (flows ignored or unlabelled say nothing
///   of their source and count neither way);
/// - **unlabelled** otherwise: a source with a flow of an unknown label (and no scan or malicious
///   one), or with ignored and unlabelled flows only.
///
/// The kind of a labelled source is the kind of most of its flows of that class (ties: the first in
/// alphabetical order). Unknown labels are never guessed: `summary.unknownLabels` counts and names them.
public struct LabelTruth: Sendable {
    /// What one flow's label says of its source.
    public enum Class: String, Codable, Sendable, CaseIterable {
        case scan
        case benign
        /// Malicious but not a scan (CIC's other attacks, Stratosphere's other malicious detailed
        /// labels, CTU-13's other botnet flows): counted neither as scan nor as benign.
        case otherMalicious = "other-malicious"
        /// A known label that says nothing of the flow's source (Stratosphere and CTU-13 background,
        /// CTU-13 `To-…` labels).
        case ignored
        /// A label Flowhound does not know.
        case unknown
    }

    /// One flow's label, classified.
    public struct Verdict: Sendable, Equatable, Hashable {
        public var `class`: Class
        public var kind: String

        public init(_ class: Class, kind: String) {
            self.class = `class`
            self.kind = kind
        }
    }

    /// A label value and the flows that carry it.
    public struct LabelCount: Codable, Sendable, Equatable {
        public var label: String
        public var flows: Int
    }

    /// What the labels held: flows and sources of each class.
    public struct Summary: Codable, Sendable, Equatable {
        /// Flows seen, labelled or not.
        public var flows = 0
        /// Flows of each class, by `Class.rawValue`, and `unlabelled` for those without a label.
        public var flowsByClass: [String: Int] = [:]
        public var scanners = 0
        public var benignSources = 0
        public var otherMaliciousSources = 0
        /// Sources with a flow of an unknown label (and no scan or other malicious flow).
        public var undecidedSources = 0
        /// Other malicious sources by kind.
        public var otherMaliciousKinds: [String: Int] = [:]
        /// Label values Flowhound does not know, most flows first.
        public var unknownLabels: [LabelCount] = []
        /// `scanLabels` that no flow carried.
        public var unmatchedScanLabels: [String] = []

        /// Flows that carried a label.
        public var labelledFlows: Int { flows - (flowsByClass["unlabelled"] ?? 0) }
        /// Flows with an unknown label.
        public var unknownFlows: Int { flowsByClass[Class.unknown.rawValue] ?? 0 }
    }

    /// Labels and detailed labels that count as scans whatever their vocabulary says, as given.
    public let scanLabels: [String]
    private let scanLabelKeys: Set<String>

    /// The verdicts met so far, each once (nil: no label after all, as `-`), and the index of each
    /// (label, detailed label) pair.
    private var verdicts: [Verdict?] = []
    private var verdictIndex: [LabelPair: Int] = [:]
    private var last: (pair: LabelPair, index: Int)?
    private var flowsByVerdict: [Int] = []
    /// Per source with a flow of class scan, benign, other malicious or unknown: flows by verdict.
    private var tallies: [IPAddress: [Int: Int]] = [:]
    private var flows = 0, unlabelled = 0

    private struct LabelPair: Hashable, Sendable {
        var label: String
        var detail: String?
    }

    /// - Parameter scanLabels: labels or detailed labels (compared ignoring case) that make a flow a
    ///   scan, for datasets whose labels do not say "scan" (Stratosphere's `External-Attack-to-Device`).
    public init(scanLabels: [String] = []) {
        self.scanLabels = scanLabels
        scanLabelKeys = Set(scanLabels.map { $0.lowercased() })
    }

    /// Adds one flow's label.
    public mutating func add(_ record: FlowRecord) {
        flows += 1
        guard let label = record.label else {
            unlabelled += 1
            return
        }
        let pair = LabelPair(label: label, detail: record.detailedLabel)
        let index: Int
        if let last, last.pair == pair {
            index = last.index
        } else if let known = verdictIndex[pair] {
            index = known
        } else {
            index = verdicts.count
            verdicts.append(Self.classify(label: label, detailedLabel: record.detailedLabel, scanLabels: scanLabelKeys))
            flowsByVerdict.append(0)
            verdictIndex[pair] = index
        }
        last = (pair, index)
        guard let verdict = verdicts[index] else {
            unlabelled += 1
            return
        }
        flowsByVerdict[index] += 1
        if verdict.class != .ignored { tallies[record.source, default: [:]][index, default: 0] += 1 }
    }

    /// The class of one flow's label, or nil when it has none (nil, empty or `-`).
    /// - Parameter scanLabels: lower-cased labels that make a scan (`init(scanLabels:)`).
    public static func classify(label: String?, detailedLabel: String?, scanLabels: Set<String> = []) -> Verdict? {
        guard let raw = label?.trimmed, !raw.isEmpty, raw != "-" else { return nil }
        let detail = detailedLabel?.trimmed
        let named = detail.flatMap { isName($0) ? $0 : nil }
        let lower = raw.lowercased()
        if !scanLabels.isEmpty, scanLabels.contains(lower) || detail.map({ scanLabels.contains($0.lowercased()) }) == true {
            return Verdict(.scan, kind: named ?? raw)
        }
        // Stratosphere (and the CIC's BENIGN, whose detailed label is a number).
        switch lower {
        case "malicious":
            guard let named else { return Verdict(.otherMalicious, kind: raw) }
            return Verdict(matches(named, "scan") ? .scan : .otherMalicious, kind: named)
        case "benign": return Verdict(.benign, kind: named ?? raw)
        case "background": return Verdict(.ignored, kind: raw)
        default: break
        }
        // CTU-13 and the later captures of the same project: `flow=From-Botnet-V42-TCP-CC`,
        // `flow=Malware-UDP-DNS`, `flow=Background-UDP-Established`, `flow=To-Normal-V42-...`.
        let body = lower.hasPrefix("flow=") ? String(raw.dropFirst(5)) : raw
        let key = letters(body)
        if key.hasPrefix("frombotnet") || key.hasPrefix("malware") { return Verdict(key.contains("scan") ? .scan : .otherMalicious, kind: body) }
        if key.hasPrefix("fromnormal") || key.hasPrefix("normal") { return Verdict(.benign, kind: body) }
        let bodyLower = body.lowercased()
        if bodyLower.hasPrefix("to-") || key.hasPrefix("background") || key.hasPrefix("frombackground") { return Verdict(.ignored, kind: body) }
        // CIC-IDS2017 (original and improved) and CSE-CIC-IDS2018.
        if key.contains("portscan") { return Verdict(.scan, kind: raw) }
        if cicAttacks.contains(where: { key.hasPrefix($0) }) { return Verdict(.otherMalicious, kind: raw) }
        return Verdict(.unknown, kind: raw)
    }

    /// The CIC datasets' attacks other than port scans, as `letters` gives them (prefixes: `dos`
    /// covers `DoS Hulk` and `DoS attacks-Hulk`, `- Attempted` suffixes included).
    static let cicAttacks = [
        "dos", "ddos", "ftppatator", "sshpatator", "webattack", "infiltration", "infilteration", "bot", "heartbleed", "bruteforce",
        "ftpbruteforce", "sshbruteforce", "sqlinjection",
    ]

    /// Whether `text`, as `letters` gives it, contains `word`.
    static func matches(_ text: String, _ word: String) -> Bool { letters(text).contains(word) }

    /// Lower-case letters and digits of `text`, nothing else: `Web Attack – Brute Force` is `webattackbruteforce`.
    static func letters(_ text: String) -> String {
        String(String.UnicodeScalarView(text.lowercased().unicodeScalars.filter { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)) }))
    }

    /// A detailed label that names something: not a number (CIC's `Attempted Category`) and not a placeholder.
    static func isName(_ text: String) -> Bool {
        !text.isEmpty && text != "-" && text != "(empty)" && Int(text) == nil
    }

    /// Per source, the class and kind its flows give it; nil for an unlabelled source.
    public func sourceVerdict(_ source: IPAddress) -> Verdict? {
        tallies[source].flatMap { decide($0)?.verdict }
    }

    /// The class of a source from its flows by verdict, the kind, and its flows of that class.
    private func decide(_ tally: [Int: Int]) -> (verdict: Verdict, flows: Int)? {
        var byClass: [Class: [String: Int]] = [:]
        for (index, count) in tally {
            guard let verdict = verdicts[index] else { continue }
            byClass[verdict.class, default: [:]][verdict.kind, default: 0] += count
        }
        let chosen: Class
        if byClass[.scan] != nil {
            chosen = .scan
        } else if byClass[.otherMalicious] != nil {
            chosen = .otherMalicious
        } else if byClass[.benign] != nil, byClass[.unknown] == nil {
            chosen = .benign
        } else {
            return nil
        }
        let kinds = byClass[chosen]!
        let kind = kinds.max { a, b in a.value != b.value ? a.value < b.value : a.key > b.key }!.key
        return (Verdict(chosen, kind: kind), kinds.values.reduce(0, +))
    }

    /// The labelled sources, in order of their flows of their class (most first, then by address).
    private func labelledSources() -> [(source: IPAddress, verdict: Verdict, flows: Int)] {
        tallies.compactMap { source, tally in decide(tally).map { (source, $0.verdict, $0.flows) } }
            .sorted { $0.flows != $1.flows ? $0.flows > $1.flows : $0.source < $1.source }
    }

    /// Scanning and benign sources as ground truth (label `scan` or `benign`, kind as above), most
    /// flows first; and the other malicious sources with their kinds, in the same order, which it leaves out.
    public func groundTruth() -> (truth: GroundTruth, otherMalicious: [(source: IPAddress, kind: String)]) {
        var truth = GroundTruth()
        var other: [(source: IPAddress, kind: String)] = []
        for (source, verdict, _) in labelledSources() {
            switch verdict.class {
            case .scan: truth.add(source, label: "scan", kind: verdict.kind)
            case .benign: truth.add(source, label: "benign", kind: verdict.kind)
            case .otherMalicious: other.append((source, verdict.kind))
            case .ignored, .unknown: break
            }
        }
        return (truth, other)
    }

    /// What the labels held so far.
    public var summary: Summary {
        var s = Summary()
        s.flows = flows
        if unlabelled > 0 { s.flowsByClass["unlabelled"] = unlabelled }
        var unknown: [String: Int] = [:]
        var matched = Set<String>()
        for (index, verdict) in verdicts.enumerated() {
            guard let verdict else { continue }
            s.flowsByClass[verdict.class.rawValue, default: 0] += flowsByVerdict[index]
            if verdict.class == .unknown { unknown[verdict.kind, default: 0] += flowsByVerdict[index] }
        }
        for pair in verdictIndex.keys where !scanLabelKeys.isEmpty {
            for text in [pair.label, pair.detail].compactMap({ $0?.trimmed.lowercased() }) where scanLabelKeys.contains(text) { matched.insert(text) }
        }
        s.unknownLabels = unknown.map { LabelCount(label: $0.key, flows: $0.value) }
            .sorted { $0.flows != $1.flows ? $0.flows > $1.flows : $0.label < $1.label }
        s.unmatchedScanLabels = scanLabels.filter { !matched.contains($0.lowercased()) }
        for tally in tallies.values {
            let verdict = decide(tally)?.verdict
            switch verdict?.class {
            case .scan: s.scanners += 1
            case .benign: s.benignSources += 1
            case .otherMalicious:
                s.otherMaliciousSources += 1
                s.otherMaliciousKinds[verdict!.kind, default: 0] += 1
            case nil: if tally.keys.contains(where: { verdicts[$0]?.class == .unknown }) { s.undecidedSources += 1 }
            case .ignored, .unknown: break
            }
        }
        return s
    }
}

extension String {
    fileprivate var trimmed: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return s.count == count ? self : String(s)
    }
}
