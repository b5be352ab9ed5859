import Enrichment
import FlowRecords
import Foundation
import TestSupport

/// A Zeek JSON conn.log: one flow from each originator to 10.0.0.5, at `hour` UTC on 2025-03-01.
func connLog(_ originators: [String], hour: Int, port: Int, name: String) throws -> String {
    let base = 1_740_787_200 + hour * 3600
    let lines = originators.enumerated().map { i, a in
        #"{"ts":\#(base + i),"uid":"C\#(i)","id.orig_h":"\#(a)","id.orig_p":40000,"id.resp_h":"10.0.0.5","id.resp_p":\#(port),"proto":"tcp","conn_state":"REJ","orig_pkts":1,"resp_pkts":1,"orig_bytes":0,"resp_bytes":0,"duration":0.001}"#
    }
    return try temporaryFile(lines.joined(separator: "\n") + "\n", name: name)
}

let liblocInstalled = FileManager.default.fileExists(atPath: LocationDatabase.defaultPath)
