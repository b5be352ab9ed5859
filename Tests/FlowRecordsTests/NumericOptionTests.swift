import Foundation
import TestSupport
import Testing

@testable import FlowRecords

/// Numbers on the command line are checked before use: non-finite or out-of-range values are a
/// usage error (exit 64) naming the option, never a trap (they exited 132, SIGILL, converting to
/// integers or multiplying).
@Suite(.tags(.integration)) struct NumericOptionTests {
    static let log = "Samples/stratosphere-008-mixed.head300.conn.log.gz"

    static var sample: String {
        Repository.path(log)
    }

    @Test(arguments: [
        ["--window", "1e-300"], ["--window", "inf"], ["--window", "1e308"], ["--window", "nan"], ["--window", "0"],
        ["--window", "-600"], ["--lateness", "inf"], ["--lateness", "1e300"], ["--quiet-period", "1e300"],
        ["--quiet-period", "nan"], ["--max-sources", "9223372036854775807"], ["--threads", "100000000"],
        ["--ports-per-host", "0"], ["--cnn-threshold", "nan"], ["--weighted-threshold", "inf"], ["--failed-targets", "-1"],
    ])
    func detectRefusesBadNumbers(_ option: [String]) throws {
        let r = try FlowhoundCLI.run(["detect", Self.sample, "--detectors", "threshold"] + option)
        #expect(r.status == 64, "\(option) exited \(r.status): \(r.stderr)")
        #expect(r.stderr.contains(option[0]), "\(r.stderr)")
        #expect(r.stdout.isEmpty)
    }

    @Test(arguments: [
        ["serve", "--timeout", "1e300"], ["serve", "--timeout", "inf"], ["serve", "--read-timeout", "nan"],
        ["serve", "--body-limit", "9223372036854775807"], ["serve", "--max-per-client", "0"],
        ["synth", "--seed", "1", "-o", "/dev/null", "--truth", "/dev/null", "--hosts", "9223372036854775807"],
        ["synth", "--seed", "1", "-o", "/dev/null", "--truth", "/dev/null", "--start", "1e300"],
        ["synth", "--seed", "1", "-o", "/dev/null", "--truth", "/dev/null", "--duration", "1e300d"],
        ["flows", "stats", log, "--top=-1"], ["render", log, "--top", "1", "--window", "1e-300", "-o", "/tmp/x"],
        ["score", "ip", "--drivers", "1000000", "192.0.2.1"],
        ["train", "scan", "--synth-seed", "1", "-o", "/dev/null", "--learning-rate", "inf"],
        ["train", "scan", "--synth-seed", "1", "-o", "/dev/null", "--window", "1e-300"],
        ["train", "ip", "--malicious", "/dev/null", "--benign", "/dev/null", "--forest-weight", "1.5"],
        ["train", "ip", "--malicious", "/dev/null", "--benign", "/dev/null", "--forest-weight", "nan"],
    ])
    func otherCommandsRefuseBadNumbers(_ arguments: [String]) throws {
        let r = try FlowhoundCLI.run(arguments)
        #expect(r.status == 64, "\(arguments) exited \(r.status): \(r.stderr)")
        #expect(r.stderr.contains("must be"), "\(r.stderr)")
    }

    @Test("A log line cannot write to the terminal: control characters in messages are escaped")
    func terminalInjection() throws {
        // A Flowhound CSV record whose outcome carries ESC, CR and a forged line.
        let header = "ts,end,src,sport,dst,dport,proto,src_pkts,src_bytes,dst_pkts,dst_bytes,flags,outcome,state,label,detailed_label\n"
        let record = "1700000000,1700000001,10.0.0.1,1,10.0.0.2,80,tcp,1,40,0,0,S,\u{1b}[2K\rflowhound: all clear,S0,,\n"
        let good = "1700000000,1700000001,10.0.0.1,1,10.0.0.2,80,tcp,1,40,0,0,S,unanswered,S0,,\n"
        let path = try temporaryFile(header + good + record + good, name: "inject.csv")
        let r = try FlowhoundCLI.run(["flows", "stats", path, "--format", "csv"])
        #expect(r.stderr.contains("unknown outcome '\\x1b[2K\\rflowhound: all clear'"), "\(r.stderr.debugDescription)")
        #expect(!r.stderr.contains("\u{1b}"), "\(r.stderr.debugDescription)")
        #expect(!r.stderr.contains("\r"))
        #expect(!r.stderr.split(separator: "\n").contains { $0.hasPrefix("flowhound: all clear") })
    }

    @Test("A token file that is no token is refused at once, not read whole")
    func tokenFileIsBounded() throws {
        let r = try FlowhoundCLI.run(["serve", "--port", "0", "--no-ip-scoring", "--token-file", "/dev/zero"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("/dev/zero: the token file is over 4096 bytes"), "\(r.stderr)")
    }
}
