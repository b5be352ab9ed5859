import Foundation
import TestSupport
import Testing

@testable import FlowRecords

/// Flows that real exporters (argus, nfpcapd, softflowd + nfcapd) made from a real capture of nmap
/// scans and benign clients on loopback in a private network namespace
/// (Scripts/capture-loopback-scans.sh; Tests/Fixtures/realtools/README.md).
@Suite struct RealToolTests {
    struct Truth {
        var source: IPAddress
        var label: String
        var kind: String
    }

    static func truth() throws -> [Truth] {
        let text = try String(contentsOfFile: FixtureDirectory.shared.path("realtools/loopback-scans.truth.csv"), encoding: .utf8)
        return text.split(separator: "\n").dropFirst().map { line in
            let f = line.split(separator: ",").map(String.init)
            return Truth(source: ip(f[0]), label: f[1], kind: f[2])
        }
    }

    /// Flows each truth source started, by outcome.
    static func outcomes(_ records: [FlowRecord], of source: IPAddress) -> [Outcome: Int] {
        records.filter { $0.source == source }.reduce(into: [:]) { $0[$1.outcome, default: 0] += 1 }
    }

    @Test(arguments: ["realtools/loopback-scans.argus.csv", "realtools/loopback-scans.binetflow"])
    func argusSeesEveryScanFail(fixture: String) throws {
        let (records, summary) = try readRecords(FixtureDirectory.shared.path(fixture))
        #expect(summary.format == .argus)
        #expect(summary.records == 513)
        #expect(summary.malformed == 0)
        for t in try Self.truth() {
            let counts = Self.outcomes(records, of: t.source)
            let total = counts.values.reduce(0, +)
            let failed = (counts[.rejected] ?? 0) + (counts[.unanswered] ?? 0)
            #expect(total > 0, "\(t.kind) source \(t.source) missing")
            switch t.kind {
            case "web", "scraper", "dns":
                #expect(failed == 0, "\(t.kind): \(counts)")
            case "vertical-syn", "vertical-connect", "horizontal", "stealth-fin", "stealth-null", "stealth-xmas":
                // Only the few open ports answered.
                #expect(Double(failed) / Double(total) >= 0.9, "\(t.kind): \(counts)")
            case "slow":
                #expect(failed >= 7, "\(t.kind): \(counts)")
            case "udp":
                #expect(Double(failed) / Double(total) >= 0.8, "\(t.kind): \(counts)")
            default:
                Issue.record("unknown kind \(t.kind)")
            }
        }
        // A SYN probe refused with RST-ACK, as argus writes it.
        let probe = try #require(records.first { $0.source == ip("127.0.0.20") && $0.destinationPort == 139 })
        #expect(probe.state == "S_RA" && probe.outcome == .rejected)
        // ICMP port unreachable from the UDP scan's target, hexadecimal type/code ports.
        let unreachable = try #require(records.first { $0.transport == .icmp && $0.state == "URP" })
        #expect(unreachable.sourcePort == 0x0303 && unreachable.outcome == .rejected)
    }

    @Test(arguments: ["realtools/loopback-scans.nfdump.csv", "realtools/loopback-scans.softflowd.nfdump.csv"])
    func nfdumpSeesProbesAndRefusals(fixture: String) throws {
        let (records, summary) = try readRecords(FixtureDirectory.shared.path(fixture))
        #expect(summary.format == .nfdump)
        #expect(summary.malformed == 0)
        #expect(summary.skipped[.summary] == 3)
        let truth = try Self.truth()
        for t in truth {
            let own = records.filter { $0.source == t.source }
            #expect(!own.isEmpty, "\(t.kind) source \(t.source) missing")
            // Refusals are the targets' own records, addressed to the scanner.
            let refusals = records.filter { $0.destination == t.source && $0.outcome == .rejected }.count
            switch t.kind {
            case "web", "scraper", "dns":
                #expect(refusals == 0, "\(t.kind)")
                #expect(own.allSatisfy { $0.outcome != .rejected }, "\(t.kind)")
            case "vertical-syn":
                #expect(refusals >= 145)
                #expect(own.filter { $0.tcpFlags == [.syn] && $0.outcome == .unanswered }.count >= 145)
            case "vertical-connect":
                #expect(refusals >= 75)
            case "horizontal":
                #expect(refusals >= 55)
                #expect(Set(own.map(\.destination)).count == 60)
            case "stealth-fin", "stealth-null", "stealth-xmas":
                #expect(refusals >= 29, "\(t.kind)")
            case "slow":
                #expect(refusals >= 7)
            case "udp":
                // Port unreachables: one ICMP record per packet (nfpcapd) or one for them all (softflowd).
                #expect(records.contains { $0.destination == t.source && $0.transport == .icmp && $0.outcome == .rejected })
            default:
                Issue.record("unknown kind \(t.kind)")
            }
        }
        let fin = try #require(records.first { $0.source == ip("127.0.0.22") && $0.transport == .tcp })
        #expect(fin.tcpFlags == [.fin] && fin.outcome == .unanswered)
    }
}
