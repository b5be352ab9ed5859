import Detection
import Foundation
import Reputation

/// `GET /v1/models`: the generation in service and each model with its card: where it was loaded
/// from, what it reads, how it was trained and how it did on held-out data.
struct ModelsResponse: Encodable {
    struct IPModelInfo: Encodable {
        var path: String?
        var kind = IPModel.kind
        var scorer: String
        var threshold: Double
        var targetRecall: Double
        var columns: Int
        var databasesRequired: [DatabaseRequirement]
        var databasesOpen: [DatabaseRequirement]
        var lists: [ListRequirement]
        var card: IPModelCard?
    }

    struct ScanModelInfo: Encodable {
        var path: String?
        var kind = ScanModel.kind
        var input: ScanModel.InputSpec
        var training: ScanModel.Provenance?
        var metrics: ScanEvaluation?
    }

    struct DetectionInfo: Encodable {
        var detectors: [String]
        var policy: String
        var windowSeconds: Double?
        var allowlistBlocks: Int
    }

    var generation: Int
    var loadedAt: String
    var ipModel: IPModelInfo?
    /// Why there is no IP model, when there is none.
    var ipScoring: String
    var scanModel: ScanModelInfo?
    var detection: DetectionInfo

    init(_ g: ModelGeneration) {
        generation = g.number
        loadedAt = FlowhoundService.timestamp(g.loadedAt)
        ipModel = g.ipModel.map { m in
            IPModelInfo(
                path: g.ipModelPath, scorer: m.scorer, threshold: m.threshold, targetRecall: m.targetRecall,
                columns: m.spec.columnCount, databasesRequired: m.databases, databasesOpen: g.databases, lists: m.lists, card: m.card)
        }
        ipScoring = g.ipScoringOff ?? "on"
        scanModel = g.scanModel.map { m in
            ScanModelInfo(path: g.scanModelPath, input: m.input, training: m.provenance, metrics: m.metrics)
        }
        detection = DetectionInfo(
            detectors: g.recipe.detectors.map(\.rawValue), policy: g.recipe.settings.policy.rawValue,
            windowSeconds: g.recipe.window ?? g.scanModel?.input.windowSeconds,
            allowlistBlocks: g.recipe.allowlist.count)
    }
}
