import Enrichment
import FlowRecords
import Foundation

/// Paths to the committed fixtures and scratch files for tests.
enum Fixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// A MaxMind test database, shared with the Enrichment tests.
    static func mmdb(_ name: String) -> String {
        directory.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("EnrichmentTests/Fixtures/\(name)").path
    }

    static let scratch: URL = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("flowhound-reputation-tests-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }()

    static func temporary(_ text: String, name: String) throws -> String {
        let path = scratch.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// A Zeek JSON conn.log: one flow from each originator to 10.0.0.5, at `hour` UTC on 2025-03-01.
    static func connLog(_ originators: [String], hour: Int, port: Int, name: String) throws -> String {
        let base = 1_740_787_200 + hour * 3600
        let lines = originators.enumerated().map { i, a in
            #"{"ts":\#(base + i),"uid":"C\#(i)","id.orig_h":"\#(a)","id.orig_p":40000,"id.resp_h":"10.0.0.5","id.resp_p":\#(port),"proto":"tcp","conn_state":"REJ","orig_pkts":1,"resp_pkts":1,"orig_bytes":0,"resp_bytes":0,"duration":0.001}"#
        }
        return try temporary(lines.joined(separator: "\n") + "\n", name: name)
    }
}

let liblocInstalled = FileManager.default.fileExists(atPath: LocationDatabase.defaultPath)

func ip(_ text: String) -> IPAddress {
    guard let a = IPAddress(text) else { fatalError("bad test address \(text)") }
    return a
}
