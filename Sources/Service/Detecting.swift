import Detection
import FlowRecords
import Foundation
import Hummingbird
import Support

/// `POST /v1/detect`'s answer, less the alerts (spliced in as the ECS JSON `detect` prints).
struct DetectResponse: Encodable {
    var generation: Int
    var format: String
    var records: Int
    var malformed: Int
    var skipped: [String: Int]
    /// The first malformed lines, `line N: reason`.
    var issues: [String]
    /// One-direction logs (nfdump, VPC): attempts whose probe and answer were paired, and records left unpaired.
    var paired: Int?
    var unpaired: Int?
    var statistics: DetectionStatistics
}

extension FlowhoundService {
    static let detectParameters: Set<String> = ["format", "strict"]

    /// Reads the body as a flow log (any format `flowhound` reads, detected or given as `?format=`),
    /// runs it through a fresh detection pipeline, and answers with every alert.
    func detect(_ request: Request, context: ServiceRequestContext) async throws -> Response {
        var options = ReadOptions()
        for (name, value) in request.uri.queryParameters {
            let name = String(name), value = String(value)
            switch name {
            case "format":
                guard let format = FlowFormat(rawValue: value) else {
                    throw ServiceError.badRequest(
                        "format: '\(value.excerpt())' is not one of \(FlowFormat.allCases.map(\.rawValue).joined(separator: ", "))", field: "format")
                }
                options.format = format
            case "strict":
                guard let strict = Bool(value) else { throw ServiceError.badRequest("strict: '\(value.excerpt())' is not true or false", field: "strict") }
                options.strict = strict
            default:
                throw ServiceError.badRequest(
                    "unknown query parameter '\(name.excerpt())' (known: \(Self.detectParameters.sorted().joined(separator: ", ")))", field: name)
            }
        }
        let body = try await request.collectBody(limit: configuration.bodyLimit)
        guard body.readableBytes > 0 else { throw ServiceError.badRequest("the body is empty: send flow records (any format flowhound reads)") }
        let generation = store.current
        let pipeline = generation.makePipeline()
        var alerts: [String] = []
        pipeline.onAlert = { alerts.append($0.json()) }
        pipeline.onDistributedAlert = { alerts.append($0.json()) }
        let summary: ReadSummary
        let pairing: DetectionPipeline.Pairing?
        do {
            (summary, pairing) = try pipeline.read(
                bytes: Array(body.readableBytesView), name: "body", options: options, pace: { _ in try context.checkDeadline() })
            try pipeline.finish()
        } catch let error as FlowReadError {
            // The reader's hint to give the format is, over HTTP, the format query parameter.
            let hint = error.setting == .inputFormat ? " (?format=)" : ""
            throw ServiceError(.unprocessableContent, "the body is not a readable flow log: " + (error.line.map { "line \($0): " } ?? "") + error.reason + hint)
        }
        metrics.flowRecords.increment(by: Int64(summary.records))
        metrics.malformedRecords.increment(by: Int64(summary.malformed))
        metrics.alerts.increment(by: Int64(alerts.count))
        let answer = DetectResponse(
            generation: generation.number, format: summary.format.rawValue, records: summary.records, malformed: summary.malformed,
            skipped: Dictionary(uniqueKeysWithValues: summary.skipped.map { ($0.key.rawValue, $0.value) }),
            issues: summary.issues.map { ($0.line.map { "line \($0): " } ?? "") + $0.reason },
            paired: pairing?.paired, unpaired: pairing?.unpaired, statistics: pipeline.statistics)
        var text = try JSONCoding.encoder.encode(answer)
        // {"alerts":[...],"format":...}: the alerts first, each exactly as `flowhound detect` writes it.
        text.removeFirst()
        let alertsJSON = Data(("{\"alerts\":[" + alerts.joined(separator: ",") + "],").utf8)
        return Self.jsonResponse(alertsJSON + text)
    }
}
