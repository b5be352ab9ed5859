import ActivityImage
import ArgumentParser
import Enrichment
import FlowRecords
import Forest
import Foundation
import Neural
import Reputation
import Support

struct EvalIP: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ip",
        abstract: "Measure an IP model on labelled addresses: ROC-AUC, PR-AUC, recall at 1% false positives, Brier score, confusion at its threshold.",
        discussion: """
            With --split test (the default) give the inputs the model was trained on: they are loaded and \
            split as its card records, and only the held-out part is scored. --split validation scores \
            the part its threshold was chosen on. With --split all every row is scored (for data the \
            model never saw).

            Example:
              flowhound eval ip --model ip-model.safetensors --malicious ipsum.txt --benign cloud.txt
            """)

    @Option(help: "Model file (default: the model that ships with Flowhound).")
    var model: String?

    @OptionGroup(title: "Labelled inputs") var inputs: LabelledInputOptions
    @OptionGroup(title: "Address databases") var databases: AddressDatabaseOptions
    @OptionGroup(title: "Feature lists") var lists: ListOptions

    @Option(help: "Which rows to score: test, validation (where the threshold was chosen), train (training and validation parts) or all.")
    var split = "test"

    @Option(help: "Threads (default: one per core).")
    var threads = defaultThreadCount

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        guard ["test", "validation", "train", "all"].contains(split) else {
            throw ValidationError("--split must be test, validation, train or all, not '\(split)'")
        }
        try inputs.requireBothClasses()
        try OptionCheck.threads(threads)
    }

    func run() throws {
        try Diagnostics.run {
            let ipModel = try IPModel.load(pathOrDefault: model)
            let card = ipModel.card
            if split != "all" && card == nil {
                throw ReputationDataError("the model has no card recording how it was split; use --split all")
            }
            let data = try inputs.load(inputs.loading(base: card?.loading ?? LoadingOptions()))
            if let card, split != "all" {
                let given = data.inputs.map(\.sha256), trained = card.inputs.map(\.sha256)
                if given != trained {
                    Diagnostics.note(
                        "warning: these inputs are not the ones the model was trained on, so its test part is not a clean hold-out; --split all is the fair measure"
                    )
                }
            }
            let intelligence = try databases.open(asProfiles: ipModel.spec.asProfile)
            let scorer = try IPScorer(model: ipModel, intelligence: intelligence, lists: try lists.load())
            for warning in scorer.warnings { Diagnostics.note("warning: \(warning)") }
            let facts = try intelligence.facts(for: data.rows.map(\.observation.address))
            let parts = card.map { IPTraining.partsAsTrained(data.rows, facts: facts, split: $0.split) } ?? data.rows.map { _ in .test }
            let rows = zip(data.rows, parts).filter { row, part in
                switch split {
                case "all": true
                case "test": part == .test
                case "validation": part == .validation
                default: part != .test
                }
            }.map(\.0)
            let unscorable = rows.first { !ipModel.spec.missingInputs($0.observation).isEmpty }
            if let unscorable {
                throw ReputationDataError(
                    "\(data.inputs[unscorable.input].path): the model uses the \(ipModel.spec.missingInputs(unscorable.observation).joined(separator: " and ")) but these rows carry none"
                )
            }
            let encoded = EncodedPart(
                observations: rows.map(\.observation), labels: rows.map(\.malicious),
                matrix: scorer.encoder.matrix(rows.map(\.observation), facts: facts))
            let evaluation = try IPTraining.evaluate(ipModel, encoded, threads: threads)
            print(json ? try jsonText(evaluation) : ipEvaluationText(evaluation, threshold: ipModel.threshold, rows: encoded.labels))
        }
    }
}

/// A person's report of an IP model's evaluation, one block per part of the model.
func ipEvaluationText(_ parts: [IPModelCard.Part], threshold: Double, rows labels: [Bool]) -> String {
    let positives = labels.filter { $0 }.count
    var lines = [
        "rows \(labels.count) (\(positives) malicious, \(labels.count - positives) benign), threshold \(fixed(threshold, 4))",
        "scorer          ROC-AUC  PR-AUC  recall@1%FPR  Brier   precision  recall  FPR",
    ]
    func value(_ v: Double?) -> String { v.map { fixed($0, 4) } ?? "n/a" }
    for part in parts {
        let r = part.ranking, t = part.atThreshold
        lines.append(
            part.scorer.padding(toLength: 14, withPad: " ", startingAt: 0)
                + value(r.rocAUC).leftPadded(9) + value(r.prAUC).leftPadded(8) + value(r.recallAtFalsePositiveRate).leftPadded(14)
                + value(r.brier).leftPadded(7) + fixed(t.precision, 4).leftPadded(11) + fixed(t.recall, 4).leftPadded(8)
                + fixed(t.falsePositiveRate, 4).leftPadded(7))
    }
    if let first = parts.first {
        let t = first.atThreshold
        lines += [
            "confusion of \(first.scorer) at the threshold (rows true, columns predicted):",
            "                 benign  suspicious",
            "  benign     \(String(t.trueNegatives).leftPadded(10))\(String(t.falsePositives).leftPadded(12))",
            "  malicious  \(String(t.falseNegatives).leftPadded(10))\(String(t.truePositives).leftPadded(12))",
        ]
    }
    return lines.joined(separator: "\n")
}
