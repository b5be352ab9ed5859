import ActivityImage
import ArgumentParser
import Enrichment
import FlowRecords
import Forest
import Foundation
import Neural
import Reputation

extension EnrichmentError: OneLineError {}
extension ReputationDataError: OneLineError {}
extension AddressListError: OneLineError {}
extension RemoteEnd: ExpressibleByArgument {}
extension SplitOptions.Grouping: ExpressibleByArgument {}
extension IPScorerKind: ExpressibleByArgument {}

/// The address databases a command looks addresses up in.
struct AddressDatabaseOptions: ParsableArguments {
    @Option(
        name: .customLong("mmdb"),
        help: ArgumentHelp(
            "A MaxMind-format database (GeoLite2/GeoIP2/DB-IP City, Country or ASN). Repeat for several; asked before libloc, so their answers win.",
            valueName: "file"))
    var mmdb: [String] = []

    @Option(help: ArgumentHelp("The IPFire location database read through libloc (Debian package libloc-database).", valueName: "path"))
    var locationDatabase = LocationDatabase.defaultPath

    @Flag(help: "Do not use the libloc database (then give --mmdb).")
    var noLocationDatabase = false

    /// The databases, with a warning on stderr for each built over a year ago. `asProfiles`: for
    /// training, or a model that uses the AS profile (`FeatureSpec.asProfile`).
    func open(asProfiles: Bool) throws -> IntelligenceSetup {
        let setup = try IntelligenceSetup(mmdb: mmdb, libloc: noLocationDatabase ? nil : locationDatabase, asProfiles: asProfiles)
        for warning in setup.ageWarnings() { Diagnostics.note("warning: \(warning)") }
        return setup
    }
}

/// Infrastructure lists used as features, and the allowlist.
struct ListOptions: ParsableArguments {
    @Option(
        name: .customLong("list"),
        help: ArgumentHelp(
            "An infrastructure list as NAME=FILE (addresses or blocks, text or JSON): membership becomes a feature. Repeat for several. A model trained with lists needs the same names when scoring.",
            valueName: "name=file"))
    var lists: [String] = []

    func load() throws -> [NamedList] { try lists.map(NamedList.load) }
}

/// Labelled inputs of `train ip` and `eval ip`.
struct LabelledInputOptions: ParsableArguments {
    @Option(
        parsing: .upToNextOption,
        help: ArgumentHelp(
            "Files of hostile addresses: address lists (IPsum, one address or block a line, or JSON ranges), lists of blocks (sampled), or flow logs (every flow's remote end).",
            valueName: "file"))
    var malicious: [String] = []

    @Option(parsing: .upToNextOption, help: ArgumentHelp("Files of known-good addresses, in the same forms.", valueName: "file"))
    var benign: [String] = []

    @Option(help: "Skip list entries whose count column (IPsum: the number of blocklists naming the address) is below this (default 1).")
    var minCount: Int?

    @Option(help: "Addresses sampled from each list of blocks, spread evenly over its blocks (default 10000).")
    var samplesPerList: Int?

    @Option(
        help: "Which end of a flow is the remote one: originator (inbound: scanners, attackers) or responder (servers your hosts reached). Default originator.")
    var remoteEnd: RemoteEnd?

    @Flag(
        help:
            "When only the malicious data has hours (flow logs), give benign rows uniformly random hours so that the hour stays a feature. The hours are invented; the model card says so."
    )
    var spreadBenignHours = false

    @Flag(help: "Stop at the first malformed flow record or list line instead of skipping and counting it.")
    var strict = false

    func validate() throws {
        if let minCount { try OptionCheck.require(minCount, "--min-count", in: 0...1_000_000_000) }
        if let samplesPerList { try OptionCheck.require(samplesPerList, "--samples-per-list", in: 1...100_000_000) }
    }

    /// Throws unless both classes have a file (`train ip --logs` labels rows itself and needs neither).
    func requireBothClasses() throws {
        guard !malicious.isEmpty, !benign.isEmpty else { throw ValidationError("give at least one --malicious and one --benign file") }
    }

    /// The options given, the rest taken from `base`.
    func loading(base: LoadingOptions) -> LoadingOptions {
        var o = base
        if let minCount { o.minimumCount = minCount }
        if let samplesPerList { o.samplesPerList = samplesPerList }
        if let remoteEnd { o.remoteEnd = remoteEnd }
        if spreadBenignHours { o.spreadBenignHours = true }
        return o
    }

    func load(_ options: LoadingOptions, derived: [DerivedInput] = []) throws -> LabelledData {
        let data = try LabelledData.load(
            malicious: malicious, benign: benign, derived: derived, options: options, flowOptions: ReadOptions(strict: strict))
        for note in data.notes { Diagnostics.note(note) }
        return data
    }
}

/// How `detect` scores remote addresses with the IP model.
struct RemoteScoringOptions: ParsableArguments {
    @Flag(help: "Score every scan alert's source with the IP model (the shipped one unless --ip-model): probability, verdict and drivers in the alert.")
    var ipScores = false

    @Option(help: ArgumentHelp("IP model file; implies --ip-scores.", valueName: "file"))
    var ipModel: String?

    @Flag(help: "Also alert on connections whose remote end the IP model finds suspicious, once per remote address (implies --ip-scores).")
    var connectionAlerts = false

    @Option(
        help: ArgumentHelp(
            "Your networks (addresses and blocks, text or JSON): the other end of a flow is the remote one. Default: private and other non-public addresses are yours.",
            valueName: "file"))
    var home: String?

    @OptionGroup(title: "Address databases") var databases: AddressDatabaseOptions
    @OptionGroup(title: "Feature lists") var lists: ListOptions

    var enabled: Bool { ipScores || ipModel != nil || connectionAlerts }

    /// The scorer, or nil when IP scoring is off. The detection allowlist silences IP verdicts too.
    func makeScorer(allowlist: CIDRSet) throws -> IPScorer? {
        guard enabled else { return nil }
        let model = try IPModel.load(pathOrDefault: ipModel)
        let scorer = try IPScorer(
            model: model, intelligence: try databases.open(asProfiles: model.spec.asProfile),
            lists: try lists.load(), allowlist: allowlist)
        for warning in scorer.warnings { Diagnostics.note("warning: \(warning)") }
        return scorer
    }
}
