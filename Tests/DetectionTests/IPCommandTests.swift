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
        // The validation part, where the threshold was chosen: the rows training set aside.
        let validation = try FlowhoundCLI.run(["eval", "ip", "--model", model, "--json", "--split", "validation"] + inputs)
        let validationParts = try #require(try JSONSerialization.jsonObject(with: Data(validation.stdout.utf8)) as? [[String: Any]])
        let ranking = try #require(validationParts.first?["ranking"] as? [String: Any])
        let counted = (ranking["positives"] as? Int ?? 0) + (ranking["negatives"] as? Int ?? 0)
        #expect(train.stderr.contains(", \(counted) validation, "), "\(counted) rows: \(train.stderr)")
        let unknown = try FlowhoundCLI.run(["eval", "ip", "--model", model, "--split", "valid"] + inputs)
        #expect(unknown.status == 64 && unknown.stderr.contains("--split must be test, validation, train or all, not 'valid'"), "\(unknown.stderr)")

        let score = try FlowhoundCLI.run(["score", "ip", "--model", model, "--output-format", "jsonl", "45.148.10.5", "104.16.1.1", "10.0.0.1"])
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

    /// `train ip --as-listing`: the list's entries counted by AS become a feature, said in a note,
    /// and `score ip` names the count among the drivers; a list that cannot be read is one line.
    @Test func trainWithAnASListing() throws {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let model = base + "/listed.safetensors", list = "\(Self.fixtures)/ipsum-excerpt.txt"
        let inputs = ["--malicious", list, "--min-count", "2", "--benign", "\(Self.fixtures)/cloudflare-v4-ip-ranges.txt", "--samples-per-list", "300"]
        let train = try FlowhoundCLI.run(
            ["train", "ip"] + inputs + ["--as-listing", list, "--asn-buckets", "0", "--trees", "5", "--epochs", "2", "-o", model])
        #expect(train.status == 0, "\(train.stderr)")
        #expect(train.stderr.contains("AS listing ipsum-excerpt.txt: ") && train.stderr.contains("left out as training rows"))
        let score = try FlowhoundCLI.run(["score", "ip", "--model", model, "--drivers", "20", "--output-format", "jsonl", "45.148.10.5"])
        #expect(score.status == 0, "\(score.stderr)")
        #expect(score.stdout.contains("entries of AS") && score.stdout.contains("on ipsum-excerpt.txt"))

        let missing = try FlowhoundCLI.run(["train", "ip"] + inputs + ["--as-listing", base + "/none.txt", "-o", model])
        #expect(missing.status == 1 && missing.stderr.contains("flowhound: error: \(base)/none.txt"))
    }

    /// `score ip` goes on past a line it cannot score (reported with its line, counted, status 1;
    /// `--strict` stops there), and a model that uses the hour says so before printing anything.
    @Test func scoreIPSkipsBadLinesAndSaysWhatTheModelNeeds() throws {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let model = base + "/hour.safetensors"
        // Malicious rows from a flow log carry their hour; benign ones get spread hours: the model uses the hour.
        let train = try FlowhoundCLI.run([
            "train", "ip", "--malicious", FixtureDirectory.labelled.path("stratosphere-008-mixed.head120.conn.log.labeled"),
            "--benign", "\(Self.fixtures)/cloudflare-v4-ip-ranges.txt", "--samples-per-list", "200", "--spread-benign-hours",
            "--trees", "5", "--epochs", "2", "-o", model,
        ])
        try #require(train.status == 0, "\(train.stderr)")

        let refused = try FlowhoundCLI.run(["score", "ip", "--model", model, "8.8.8.8,14", "8.8.8.8"])
        #expect(refused.status == 1 && refused.stdout.isEmpty)
        // (An old location database adds its warning first.)
        func lines(_ text: String) -> [String] { text.split(separator: "\n").map(String.init).filter { !$0.contains("warning: the location database") } }
        #expect(lines(refused.stderr) == ["flowhound: error: argument 2: '8.8.8.8': the IP model uses the hour of the connection; give ADDR,HOUR[,PORT/PROTO]"])

        let input = base + "/input.txt", strictInput = base + "/strict.txt"
        try "8.8.8.8\nnot-an-address\n8.8.8.8,14\n10.0.0.1\n".write(toFile: input, atomically: true, encoding: .utf8)
        try "8.8.8.8,14\nbad\n8.8.8.8,15\n".write(toFile: strictInput, atomically: true, encoding: .utf8)
        let going = try FlowhoundCLI.run(["score", "ip", "--model", model, "--output-format", "jsonl"], stdin: input)
        #expect(going.status == 1)
        #expect(going.stdout.split(separator: "\n").count == 2, "\(going.stdout)")
        let notes = lines(going.stderr)
        #expect(notes.first == "flowhound: note: this IP model uses the hour of each connection: give ADDR,HOUR[,PORT/PROTO] on each line")
        #expect(notes.contains("flowhound: error: <stdin>:2: 'not-an-address': not an IPv4 or IPv6 address"))
        #expect(notes.last == "flowhound: 2 of 4 lines could not be scored and were skipped (--strict stops at the first)")

        let strict = try FlowhoundCLI.run(["score", "ip", "--model", model, "--strict"], stdin: strictInput)
        #expect(strict.status == 1 && strict.stdout.split(separator: "\n").count == 2)  // the header and the first
        #expect(strict.stderr.contains("flowhound: error: <stdin>:2: 'bad': not an IPv4 or IPv6 address"))
    }

    /// `score ip --output-format` names the output, as on `detect`; `--format`, its old name, still
    /// works, with a one-line note on stderr. The shipped model.
    @Test func outputFormatAndItsOldNameFormat() throws {
        let addresses = ["45.148.10.5", "10.0.0.1"]
        let jsonl = try FlowhoundCLI.run(["score", "ip", "--output-format", "jsonl"] + addresses)
        #expect(jsonl.status == 0 && !jsonl.stderr.contains("note:"), "\(jsonl.stderr)")
        let lines = jsonl.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(lines.count == 2 && lines[1]["verdict"] as? String == "not-public", "\(jsonl.stdout)")

        let old = try FlowhoundCLI.run(["score", "ip", "--format", "jsonl"] + addresses)
        #expect(old.status == 0 && old.stdout == jsonl.stdout, "\(old.stderr)")
        let notes = old.stderr.split(separator: "\n").filter { $0.contains("note:") }
        #expect(notes == ["flowhound: note: --format is now --output-format (the output format); the old name will go"], "\(old.stderr)")

        let table = try FlowhoundCLI.run(["score", "ip", "--output-format", "table"] + addresses)
        #expect(table.status == 0 && table.stdout.hasPrefix("address ") && table.stdout.split(separator: "\n").count == 3, "\(table.stderr)")
        #expect(!table.stderr.contains("note:"))
        let oldTable = try FlowhoundCLI.run(["score", "ip", "--format", "table"] + addresses)
        #expect(oldTable.status == 0 && oldTable.stdout == table.stdout && oldTable.stderr.contains("--format is now --output-format"))
        // The table is the default.
        let plain = try FlowhoundCLI.run(["score", "ip"] + addresses)
        #expect(plain.status == 0 && plain.stdout == table.stdout)

        let twice = try FlowhoundCLI.run(["score", "ip", "--format", "jsonl", "--output-format", "jsonl"] + addresses)
        #expect(twice.status == 64 && twice.stderr.contains("--output-format"), "\(twice.stderr)")
        let help = try FlowhoundCLI.run(["score", "ip", "--help"])
        #expect(help.stdout.contains("--output-format") && !help.stdout.contains("--format <"), "\(help.stdout)")
    }

    /// `train ip --logs`: the scan detectors label the remote sources that scanned home hosts malicious,
    /// the servers two home hosts exchanged data with benign; the card counts each rule's rows, and
    /// `detect --ip-model` uses the model.
    @Test func trainsFromItsOwnLogs() throws {
        let base = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: base) }
        var lines: [String] = []
        var t = 1_740_787_200
        func conn(_ orig: String, _ resp: String, _ port: Int, state: String, bytes: (Int, Int)) -> String {
            t += 1
            return
                #"{"ts":\#(t),"uid":"C\#(t)","id.orig_h":"\#(orig)","id.orig_p":40000,"id.resp_h":"\#(resp)","id.resp_p":\#(port),"proto":"tcp","conn_state":"\#(state)","orig_pkts":3,"resp_pkts":3,"orig_bytes":\#(bytes.0),"resp_bytes":\#(bytes.1),"duration":0.5}"#
        }
        for n in 1...20 {
            // A vertical scan of a home host (20 refused ports, above threshold's 15) from 45.33.n.10.
            for port in 1...20 { lines.append(conn("45.33.\(n).10", "10.0.0.5", port, state: "REJ", bytes: (0, 0))) }
            // A server two home hosts fetched from.
            for client in ["10.0.0.7", "10.0.0.8"] { lines.append(conn(client, "151.101.\(n).69", 443, state: "SF", bytes: (700, 40_000))) }
        }
        lines.append(conn("10.0.0.7", "93.184.216.34", 443, state: "SF", bytes: (700, 40_000)))  // once: left out
        let log = base + "/conn.log"
        try (lines.joined(separator: "\n") + "\n").write(toFile: log, atomically: true, encoding: .utf8)

        let model = base + "/ours.safetensors"
        let train = try FlowhoundCLI.run(["train", "ip", "--logs", log, "-o", model, "--trees", "5", "--epochs", "2", "--json"])
        try #require(train.status == 0, "\(train.stderr)")
        #expect(
            train.stderr.contains(
                "labelled from 441 flows of \(log): 20 remote sources flagged by the scan detectors, 0 more named by distributed scans (malicious); 20 servers your hosts used on 2 days or from 2 hosts (benign), 1 used once left out"
            ), "\(train.stderr)")
        let card = try #require(try JSONSerialization.jsonObject(with: Data(train.stdout.utf8)) as? [String: Any])
        let inputs = try #require(card["inputs"] as? [[String: Any]])
        #expect(inputs.compactMap { $0["kind"] as? String } == ["scan-alert sources", "servers used from home"])
        // A scanner's 20 ports at one hour, 16 kept (the bound per address); a server: one port, one hour.
        #expect(inputs.compactMap { $0["rows"] as? Int } == [320, 20])
        #expect(inputs.allSatisfy { ($0["sha256"] as? String)?.count == 64 })

        let detect = try FlowhoundCLI.run(["detect", log, "--ip-model", model, "--detectors", "threshold"])
        #expect(detect.status == 0, "\(detect.stderr)")
        #expect(detect.stdout.contains("45.33.1.10") && detect.stdout.contains("reputation"), "\(detect.stdout.prefix(600))")

        let noLogs = try FlowhoundCLI.run(["train", "ip", "--home", log, "-o", model])
        let twice = try FlowhoundCLI.run(["train", "ip", "--logs", "-", "-", "-o", model])
        #expect(twice.status == 64 && twice.stderr.contains("standard input ('-') can be read only once"), "\(twice.stderr)")
        let nothing = try FlowhoundCLI.run(["train", "ip", "-o", model])
        #expect(nothing.status == 64 && nothing.stderr.contains("give at least one --malicious and one --benign file"), "\(nothing.stderr)")
        #expect(noLogs.status == 64 && noLogs.stderr.contains("--home tells which end of a flow in --logs is remote; give --logs too"), "\(noLogs.stderr)")
    }
}
