import FlowRecords
import Foundation
import TestSupport
import Testing

@testable import Detection

/// `flowhound detect` on real scanners: nmap and benign clients on loopback, captured with tcpdump
/// and turned into flows by Argus and by nfpcapd and softflowd with nfdump.
@Suite(.tags(.integration)) struct RealScannerTests {
    static let fixtures = FixtureDirectory.realTools.directory.path
    static let exports = [
        "loopback-scans.binetflow", "loopback-scans.argus.csv", "loopback-scans.nfdump.csv",
        "loopback-scans.softflowd.nfdump.csv",
    ]

    /// Every scanner flagged, no benign source, and no other address (the answering hosts) either.
    static func check(_ log: String, truth: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let r = try FlowhoundCLI.run(["eval", "detect", log, "--truth", truth, "--json"])
        try #require(r.status == 0, "\(r.stderr)", sourceLocation: sourceLocation)
        let e = try r.decoded(DetectionEvaluation.self)
        #expect(e.scanners >= 8 && e.recall == 1, "\(log): missed \(e.misses)", sourceLocation: sourceLocation)
        #expect(e.falseAlarms.isEmpty, "\(log): false alarms \(e.falseAlarms)", sourceLocation: sourceLocation)
        #expect(e.unlabelledFlagged.isEmpty, "\(log): flagged \(e.unlabelledFlagged)", sourceLocation: sourceLocation)
    }

    /// The captures committed in the repository (see their README for how they were made).
    @Test(arguments: exports)
    func committedCaptures(_ export: String) throws {
        try Self.check(Self.fixtures + "/" + export, truth: Self.fixtures + "/loopback-scans.truth.csv")
    }

    /// Why a fresh capture cannot run here, or nil when it can.
    static let liveUnavailable: String? = {
        if getuid() != 0 { return "needs root (a network namespace, raw-socket scans and tcpdump)" }
        let tools = ["ip", "nmap", "tcpdump", "argus", "ra", "softflowd", "nfdump", "nfcapd", "nfpcapd", "curl", "timeout"]
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        let missing = tools.filter { tool in !path.contains { FileManager.default.isExecutableFile(atPath: "\($0)/\(tool)") } }
        if !missing.isEmpty { return "missing tools: \(missing.joined(separator: ", ")) (Scripts/setup-capture-tools.sh installs them)" }
        // Containers may refuse new network namespaces even to root.
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/bin/sh")
        let name = "flowhound-probe-\(getpid())"
        probe.arguments = ["-c", "ip netns add \(name) && ip netns delete \(name)"]
        probe.standardOutput = FileHandle.nullDevice
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return "cannot run /bin/sh" }
        probe.waitUntilExit()
        return probe.terminationStatus == 0 ? nil : "this machine does not allow a new network namespace (ip netns add failed)"
    }()

    /// A fresh capture: Scripts/capture-loopback-scans.sh runs nmap -n against 127.x addresses inside a
    /// network namespace it creates (nothing leaves it), then `detect` must find every scanner in the
    /// Argus and the softflowd/nfdump flows. Skipped, with the reason, where the machine does not allow it.
    @Test(.tags(.slow), .disabled(if: liveUnavailable != nil, Comment(rawValue: liveUnavailable ?? "")), .timeLimit(.minutes(5)))
    func freshCapture() throws {
        let out = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let script = Repository.path("Scripts/capture-loopback-scans.sh")
        // Through python3 to clear the signal mask the test runner's threads hand down (blocked
        // signals survive exec), so that `timeout` and the script can stop what they started.
        let capture = Process()
        capture.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        capture.arguments = [
            "python3", "-c",
            "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, set()); os.execvp(sys.argv[1], sys.argv[1:])",
            "timeout", "-k", "10", "240", "bash", script, out,
        ]
        capture.standardOutput = FileHandle.nullDevice
        capture.standardError = FileHandle.nullDevice
        try capture.run()
        capture.waitUntilExit()
        try #require(capture.terminationStatus == 0, "Scripts/capture-loopback-scans.sh \(out) failed with status \(capture.terminationStatus)")
        for export in ["loopback-scans.binetflow", "loopback-scans.softflowd.nfdump.csv", "loopback-scans.nfdump.csv"] {
            try Self.check(out + "/" + export, truth: out + "/loopback-scans.truth.csv")
        }
    }
}
