import Foundation
import Synthesis
import TestSupport
import Testing

@testable import FlowRecords

/// Mutated real records, read as every format: a clean error or a count of malformed lines, never a
/// crash (a trap would end this test process) and never a record outside the documented ranges.
@Suite struct RobustnessTests {
    struct Mutator {
        var rng: SplitMix64
        init(state: UInt64) { rng = SplitMix64(seed: state) }
        mutating func next() -> UInt64 { rng.next() }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

        static let pieces: [[UInt8]] = [
            ",", "\t", " ", "-", ".", ":", "\"", "{", "}", "[", "0x", "99999999999999999999999", "1e308", "-1", "nan",
            "1.7976931348623157e308", "::", "255.255.255.256", "(empty)", "#fields", "\\", "", "\u{00e9}",
        ].map { Array($0.utf8) }

        mutating func mutate(_ line: [UInt8]) -> [UInt8] {
            var line = line
            for _ in 0..<(1 + below(3)) {
                guard !line.isEmpty else { return Self.pieces[below(Self.pieces.count)] }
                let at = below(line.count)
                switch below(5) {
                case 0: line[at] = UInt8(32 + below(95))
                case 1: line.removeSubrange(at..<min(line.count, at + 1 + below(12)))
                case 2: line.insert(contentsOf: Self.pieces[below(Self.pieces.count)], at: at)
                case 3: line = Array(line[..<at])
                default:
                    // Replace a whole field between delimiters with a hostile piece.
                    var end = at
                    while end < line.count, ![0x2C, 0x09, 0x20].contains(line[end]) { end += 1 }
                    line.replaceSubrange(at..<end, with: Self.pieces[below(Self.pieces.count)])
                }
            }
            return line
        }
    }

    static let fixtures = [
        "zeek/slips-portscan-horizontal.conn.log", "zeek/slips-portscan-vertical.conn.log.json",
        "argus/slips-test3-mixed.binetflow", "argus/slips-test5-mixed.binetflow", "nfdump/esnet-nmap-80-all.nfdump.csv",
        "vpc/custom-v5.log", "vpc/default-v2.log", "cicflowmeter/cicids2017-original-columns.csv",
        "realtools/loopback-scans.argus.csv",
    ]

    @Test(arguments: fixtures)
    func mutatedRecordsNeverCrash(fixture: String) throws {
        let original = try Data(contentsOf: (fixture.hasPrefix("realtools/") ? FixtureDirectory.shared : targetFixtures).url(fixture))
        let lines = original.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
        var mutator = Mutator(state: UInt64(fixture.utf8.count) &* 7919)
        var outcomes = (records: 0, malformed: 0, errors: 0)
        for round in 0..<6 {
            // Keep the header lines intact in half the rounds, so that records reach the parsers.
            let keepHeader = round % 2 == 0
            var mutated: [UInt8] = []
            for (i, line) in lines.enumerated() {
                let isHeader = i == 0 || line.first == UInt8(ascii: "#")
                mutated += (keepHeader && isHeader) || mutator.below(3) == 0 ? line : mutator.mutate(line)
                mutated.append(0x0A)
            }
            let path = try temporaryFile(Data(mutated))
            for format in [nil] + FlowFormat.allCases.map(Optional.some) {
                do {
                    let (records, summary) = try readRecords(path, format: format)
                    outcomes.records += summary.records
                    outcomes.malformed += summary.malformed
                    for r in records {
                        #expect(ByteParsing.timeRange.contains(r.start))
                        #expect(r.end >= r.start && r.end - r.start <= ByteParsing.durationRange.upperBound + 1)
                    }
                    // Whatever was read converts without trapping.
                    var bytes: [UInt8] = []
                    for r in records.prefix(50) {
                        FlowWriter.encode(r, as: .csv, into: &bytes)
                        FlowWriter.encode(r, as: .jsonl, into: &bytes)
                    }
                } catch let error as FlowReadError {
                    outcomes.errors += 1
                    #expect(!error.description.contains("\n"))
                }
            }
        }
        // The mutations must have exercised both paths.
        #expect(outcomes.records > 0)
        #expect(outcomes.malformed + outcomes.errors > 0)
    }
}
