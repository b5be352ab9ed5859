import Foundation
import TestSupport
import Testing

/// `flowhound train ip`, `eval ip` and `score ip` as users run them, on the real list excerpts the
/// Reputation tests use too (Tests/Fixtures/address-lists) and the system's libloc database.
@Suite(
    .enabled(if: FileManager.default.fileExists(atPath: "/var/lib/location/database.db"), "the libloc-database package is not installed"), .tags(.integration))
struct IPCommandTests {
    static let fixtures = FixtureDirectory.addressLists.directory.path

    @Test func trainEvaluateAndScore() throws {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let model = base + "/ip.safetensors"
        let inputs = [
            "--malicious", "\(Self.fixtures)/ipsum-excerpt.txt", "--min-count", "2",
            "--benign", "\(Self.fixtures)/cloudflare-v4-ip-ranges.txt", "\(Self.fixtures)/fastly-ip-ranges.json",
            "--samples-per-list", "300",
        ]
        let train = try FlowhoundCLI.run(["train", "ip"] + inputs + ["-o", model, "--trees", "10", "--epochs", "3", "--export", base + "/export"])
        #expect(train.status == 0, "\(train.stderr)")
        #expect(train.stdout.hasPrefix("wrote \(model): forest+mlp"))
        #expect(train.stderr.contains("skipped 100 entries on fewer than 2 lists"))
        #expect(FileManager.default.fileExists(atPath: base + "/export/test_X.npy") && FileManager.default.fileExists(atPath: base + "/export/columns.txt"))

        let eval = try FlowhoundCLI.run(["eval", "ip", "--model", model, "--json"] + inputs)
        #expect(eval.status == 0, "\(eval.stderr)")
        let parts = try #require(try JSONSerialization.jsonObject(with: Data(eval.stdout.utf8)) as? [[String: Any]])
        #expect(parts.compactMap { $0["scorer"] as? String } == ["forest+mlp", "forest", "mlp"])
        let auc = try #require(((parts[0]["ranking"] as? [String: Any])?["roc_auc"]) as? Double)
        #expect(auc > 0.85)
        // The test part of the same inputs: no warning that they differ.
        #expect(!eval.stderr.contains("not the ones the model was trained on"))

        let score = try FlowhoundCLI.run(["score", "ip", "--model", model, "--format", "jsonl", "45.148.10.5", "104.16.1.1", "10.0.0.1"])
        #expect(score.status == 0, "\(score.stderr)")
        let lines = score.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.count == 3)
        #expect(lines[2]["verdict"] as? String == "not-public")
        #expect(lines[0]["probability"] as? Double != nil && (lines[0]["drivers"] as? [Any])?.isEmpty == false)

        let bad = try FlowhoundCLI.run(["score", "ip", "--model", model, "not-an-address"])
        #expect(bad.status == 1 && bad.stderr.contains("argument 1: 'not-an-address': not an IPv4 or IPv6 address"))
        let noModel = try FlowhoundCLI.run(["score", "ip", "--model", base + "/missing.safetensors", "1.1.1.1"])
        #expect(noModel.status == 1 && noModel.stderr.hasPrefix("flowhound: error: \(base)/missing.safetensors"))
    }
}
