import ActivityImage
import Testing

@testable import Detection

@Suite struct ScanEvaluationTests {
    static func row(_ kind: String, _ label: Int) -> DatasetWriter.Row {
        DatasetWriter.Row(source: "10.0.0.\(kind.count)", windowStart: 0, label: label, kind: kind, flows: 1, failedFlows: 0)
    }

    @Test func countsEachKindAndTheConfusionMatrix() {
        let rows = [Self.row("web", 0), Self.row("web", 0), Self.row("vertical", 1), Self.row("vertical", 1), Self.row("slow", 1)]
        let scores = [0.1, 0.7, 0.9, 0.6, 0.2]
        let e = ScanEvaluation(scores: scores, rows: rows)
        #expect(e.confusion == [[1, 1], [1, 2]])
        #expect(e.recallByKind["vertical"] == 1)
        #expect(e.recallByKind["slow"] == 0)
        #expect(e.recallByKind["web"] == 0.5)
        #expect(e.scanKinds == ["slow", "vertical"])
        #expect(e.weakestScanKind?.kind == "slow")
        #expect(abs(e.precision - 2.0 / 3) < 1e-12)
        #expect(abs(e.recall - 2.0 / 3) < 1e-12)
        // Of the 6 scan/benign pairs, the scan scores higher in 4 (0.9 and 0.6 beat 0.1; 0.9 beats 0.7; 0.2 beats 0.1).
        #expect(abs(e.rocAuc! - 4.0 / 6) < 1e-12)
    }
}
