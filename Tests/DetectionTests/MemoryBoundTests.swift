import ActivityImage
import FlowRecords
import Foundation
import TestSupport
import Testing

@testable import Detection

/// Memory follows `maxSources` (and the open windows), whatever arrives: spoofed sources by the
/// hundred thousand in one window, and scanners flagged faster than their episodes end.
@Suite struct MemoryBoundTests {
    static func pipeline(maxSources: Int, detectors: [any ScanDetector] = [ThresholdDetector()]) -> ScanDetection {
        var settings = DetectionSettings()
        settings.maxSources = maxSources
        return ScanDetection(settings: settings, detectors: detectors)
    }

    /// Everything the pipeline holds, in entries: sources, bucket entries, pending windows, episodes.
    static func held(_ d: ScanDetection) -> (sources: Int, buckets: Int, pending: Int, episodes: Int) {
        let buckets = d.windowBuckets.values.reduce(0) { $0 + $1.count } + d.expiryBuckets.values.reduce(0) { $0 + $1.count }
        #expect(buckets == d.bucketEntries, "the bucket count drifted from the buckets")
        return (d.sources.count, buckets, d.pending.count, d.episodes.count)
    }

    @Test("200 000 spoofed sources in one window hold no more than the cap, buckets and one batch")
    func spoofedSourcesInOneWindow() throws {
        let cap = 1000
        let d = Self.pipeline(maxSources: cap)
        // Each source's one flow could flag nothing, so its window would be retired unjudged: judging
        // them all shows that evicted windows are closed in batches, not held or dropped.
        d.retiresUnjudgeable = false
        var peak = (sources: 0, buckets: 0, pending: 0, episodes: 0)
        for i in 0..<200_000 {
            let source = IPAddress(ipv4: 0x0A00_0000 | UInt32(i))
            try d.add(
                FlowRecord(
                    start: 1_700_000_000 + Double(i) * 0.001, end: 1_700_000_000, source: source,
                    destination: IPAddress("192.0.2.1")!, sourcePort: 1, destinationPort: 80,
                    transport: .tcp, outcome: .unanswered))
            if i % 997 == 0 {
                let h = Self.held(d)
                peak = (max(peak.sources, h.sources), max(peak.buckets, h.buckets), max(peak.pending, h.pending), peak.episodes)
            }
        }
        #expect(peak.sources <= cap)
        // Before the buckets were compacted and evicted windows judged in batches, both grew with
        // every new source: 200 000 entries each by the end of the window.
        #expect(peak.buckets <= 2 * cap + 4096 + 1, "bucket entries peaked at \(peak.buckets)")
        #expect(peak.pending <= d.settings.batch, "pending windows peaked at \(peak.pending)")
        #expect(d.statistics.evictedSources >= 199_000)
        try d.finish()
        #expect(d.statistics.windows == 200_000, "evicted sources' windows are judged, not dropped")
    }

    @Test("Open episodes are held to the cap: the oldest end early, alerted and counted")
    func episodesFollowTheCap() throws {
        let cap = 20
        let d = Self.pipeline(maxSources: cap)
        var alerts: [ScanAlert] = []
        var mostOpen = 0
        d.onAlert = {
            alerts.append($0)
            mostOpen = max(mostOpen, d.episodes.count)
        }
        // 100 vertical scanners, each flagged in the first window, all in one quiet period.
        for s in 0..<100 {
            let source = IPAddress(ipv4: 0xC633_6400 | UInt32(s))
            for port in 1...20 {
                try d.add(
                    FlowRecord(
                        start: 1_700_000_000 + Double(s), end: 1_700_000_000 + Double(s), source: source,
                        destination: IPAddress("192.0.2.9")!, sourcePort: 40000, destinationPort: UInt16(port),
                        transport: .tcp, outcome: .rejected))
            }
        }
        try d.finish()
        #expect(alerts.filter { $0.phase == .end }.count == 100, "every scanner alerted once, early or at the end")
        #expect(alerts.filter { $0.phase == .start }.count == 100)
        #expect(alerts.allSatisfy { $0.phase == .start || $0.flows == 20 }, "an episode ended early has its whole window")
        #expect(Set(alerts.map(\.source)).count == 100)
        #expect(mostOpen <= cap, "\(mostOpen) episodes were open at once")
        // 20 open, then two of the oldest end for every two new ones: 80 end early, 20 at the finish.
        #expect(d.statistics.episodesEndedEarly == 80)
    }

    @Test("Compacting the buckets changes no alert")
    func compactionKeepsBehaviour() throws {
        // Two pipelines over the same flows, one compacted after every flow: the same alerts and windows.
        func run(compactEveryFlow: Bool) throws -> ([String], DetectionStatistics) {
            let d = Self.pipeline(maxSources: 50, detectors: [ThresholdDetector(), RandomWalkDetector()])
            var alerts: [String] = []
            d.onAlert = { alerts.append($0.json(.fixed)) }
            // Ten vertical scanners among 400 one-flow-a-while clients, with room for 50 sources:
            // evictions, stale bucket entries and alerts all along.
            var t = 1_700_000_000.0
            for step in 0..<12_000 {
                t += 0.5
                if step % 3 == 0 {
                    let k = UInt32(step / 3 % 10)
                    try d.add(
                        FlowRecord(
                            start: t, end: t, source: IPAddress(ipv4: 0xC633_6400 | k),
                            destination: IPAddress(ipv4: 0xC000_0200 | k), sourcePort: 1,
                            destinationPort: UInt16(1 + step / 30 % 1000), transport: .tcp, outcome: .rejected))
                } else {
                    let s = UInt32((step * 7919) % 400)
                    try d.add(
                        FlowRecord(
                            start: t, end: t, source: IPAddress(ipv4: 0x0A01_0000 | s),
                            destination: IPAddress(ipv4: 0xC000_0300 | s % 40), sourcePort: 1,
                            destinationPort: 443, transport: .tcp, outcome: step % 11 == 0 ? .unanswered : .established))
                }
                if compactEveryFlow {
                    let saved = d.bucketEntries
                    d.bucketEntries = Int.max / 4  // force the compaction's trigger
                    d.compactBuckets()
                    #expect(d.bucketEntries <= saved)
                }
            }
            try d.finish()
            return (alerts, d.statistics)
        }
        let (plain, plainStatistics) = try run(compactEveryFlow: false)
        let (compacted, compactedStatistics) = try run(compactEveryFlow: true)
        #expect(!plain.isEmpty)
        #expect(plain == compacted)
        #expect(plainStatistics.windows == compactedStatistics.windows)
        #expect(plainStatistics.evictedSources == compactedStatistics.evictedSources)
    }
}
