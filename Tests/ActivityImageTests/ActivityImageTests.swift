import FlowRecords
import Foundation
import Testing

@testable import ActivityImage

private func flow(_ src: String, _ dst: String, _ port: UInt16, _ t: Double, _ outcome: Outcome) -> FlowRecord {
    FlowRecord(
        start: t, end: t, source: IPAddress(src)!, destination: IPAddress(dst)!, sourcePort: 40000,
        destinationPort: port, transport: .tcp, outcome: outcome)
}

@Suite struct ActivityImageTests {
    @Test func portRowsAreFineBelow1024AndLogarithmicAbove() {
        #expect(ActivityImage.row(port: 0) == 0)
        #expect(ActivityImage.row(port: 22) == 0)
        #expect(ActivityImage.row(port: 80) == 2)
        #expect(ActivityImage.row(port: 443) == 13)
        #expect(ActivityImage.row(port: 1023) == 31)
        #expect(ActivityImage.row(port: 1024) == 32)
        #expect(ActivityImage.row(port: 2048) == 37)  // one doubling of six = 32/6 rows
        #expect(ActivityImage.row(port: 65535) == 63)
        for row in 0..<ActivityImage.rows {
            #expect(ActivityImage.row(port: UInt16(ActivityImage.firstPort(row: row))) == row, "row \(row)")
        }
        // Monotone: a higher port never lands on a higher row... above a lower one.
        var previous = 0
        for port in stride(from: 0, through: 65535, by: 7) {
            let row = ActivityImage.row(port: UInt16(port))
            #expect(row >= previous)
            previous = row
        }
        // The table of rows above 1023 holds what the logarithm gives, port by port.
        let mismatched = (1024...65535).filter { ActivityImage.row(port: UInt16($0)) != ActivityImage.logRow(port: $0) }
        #expect(mismatched.isEmpty, "first: \(mismatched.prefix(5))")
    }

    @Test func hostColumnsFollowOrderOfFirstContact() {
        #expect((0..<16).map(ActivityImage.column(rank:)) == Array(0..<16))
        #expect(ActivityImage.column(rank: 16) == 16)
        #expect(ActivityImage.column(rank: 17) == 17)
        #expect(ActivityImage.column(rank: 47) == 25)
        #expect(ActivityImage.column(rank: 270) == 30)
        #expect(ActivityImage.column(rank: 271) == 31)
        #expect(ActivityImage.column(rank: 10_000) == 31)
        for column in 0..<ActivityImage.columns {
            #expect(ActivityImage.column(rank: ActivityImage.firstRank(column: column)) == column)
        }
    }

    @Test func verticalScanIsAColumnAndFailureIsChannelZero() throws {
        var imager = ActivityImager(window: 3600)
        // 100 ports on one host, all refused, over 1 second; port 80 answered.
        for (i, port) in (1...100).enumerated() {
            imager.add(flow("10.0.0.9", "192.0.2.1", UInt16(port), 7200 + Double(i) / 100, port == 80 ? .established : .rejected))
        }
        let images = imager.images()
        #expect(images.count == 1)
        let image = images[0]
        #expect(image.pixels.count == 5 * 64 * 32)
        #expect(image.flows == 100 && image.failedFlows == 99 && image.distinctPorts == 100 && image.distinctHosts == 1)
        #expect(image.windowStart == 7200)
        // Ports 1-31 (31 refused) in row 0, column 0: log2(32)/log2(65).
        #expect(abs(image[0, 0, 0] - Float(5 / log2(65.0))) < 1e-6)
        // Row 2 holds ports 64-95: 31 refused and port 80 answered.
        #expect(abs(image[0, 2, 0] - Float(5 / log2(65.0))) < 1e-6)
        #expect(abs(image[1, 2, 0] - Float(1 / log2(65.0))) < 1e-6)
        // Nothing outside column 0, nothing below row 3.
        for c in 0..<3 {
            for r in 0..<64 {
                for col in 0..<32 where col > 0 || r > 3 {
                    #expect(image[c, r, col] == 0)
                }
            }
        }
        // Timing: row 0 was touched first (0.1), row 3 (ports 96-100) last.
        #expect(image[2, 0, 0] == 0.1)
        #expect(image[2, 3, 0] > 0.9)
    }

    /// Channel 0 counts distinct failed targets: 31 ports refused once each is a scan's bright cell, one
    /// port refused 31 times a retrying client's dim one, though both fall in row 0.
    @Test func failedTargetsNotAttemptsLightChannelZero() {
        var imager = ActivityImager(window: 3600)
        for port in 1...31 { imager.add(flow("10.0.0.1", "192.0.2.1", UInt16(port), Double(port), .rejected)) }
        for i in 1...31 { imager.add(flow("10.0.0.2", "192.0.2.1", 22, Double(i), .rejected)) }
        let images = Dictionary(uniqueKeysWithValues: imager.images().map { ($0.source.description, $0) })
        let scan = images["10.0.0.1"]!, retries = images["10.0.0.2"]!
        #expect(abs(scan[0, 0, 0] - Float(5 / log2(65.0))) < 1e-6)  // log2(1 + 31)
        #expect(abs(retries[0, 0, 0] - Float(1 / log2(65.0))) < 1e-6)  // log2(1 + 1)
        #expect(retries.failedFlows == 31)
    }

    @Test func scraperAndHorizontalScanDifferOnlyInChannel() {
        var imager = ActivityImager()
        for host in 1...50 {
            imager.add(flow("10.0.0.1", "192.0.2.\(host)", 9100, Double(host), .established))  // scraper: answered
            imager.add(flow("10.0.0.2", "192.0.2.\(host)", 9100, Double(host), .unanswered))  // scan: failed
        }
        let images = imager.images()
        let scraper = images.first { $0.source == IPAddress("10.0.0.1")! }!
        let scan = images.first { $0.source == IPAddress("10.0.0.2")! }!
        let row = ActivityImage.row(port: 9100)
        #expect(scraper[0, row, 0] == 0 && scraper[1, row, 0] > 0)
        #expect(scan[0, row, 0] > 0 && scan[1, row, 0] == 0)
        // Same shape: a horizontal line across the columns of 50 hosts.
        let touched = (0..<32).filter { scan[0, row, $0] > 0 }
        #expect(touched == Array(0...ActivityImage.column(rank: 49)))
        #expect(touched == (0..<32).filter { scraper[1, row, $0] > 0 })
    }

    /// An SMB sweep that found 5 hosts open and failed on 55, and a client whose HTTPS reached 20 hosts
    /// and failed on 5: the same row (ports 416-447), answered cells first. The share channels tell them
    /// apart in every touched cell, whatever the network pools together.
    @Test func failureShareChannelsCarryTheRowsAndColumnsProportion() throws {
        var imager = ActivityImager()
        for host in 1...60 {
            imager.add(flow("10.0.0.1", "192.0.2.\(host)", 445, Double(host), host <= 5 ? .established : .rejected))
        }
        for host in 1...25 {
            imager.add(flow("10.0.0.2", "198.51.100.\(host)", 443, Double(host), host <= 20 ? .established : .unanswered))
            imager.add(flow("10.0.0.2", "198.51.100.\(host)", 443, Double(host) + 0.5, host <= 20 ? .established : .unanswered))
        }
        let images = Dictionary(uniqueKeysWithValues: imager.images().map { ($0.source.description, $0) })
        let sweep = try #require(images["10.0.0.1"]), client = try #require(images["10.0.0.2"])
        let row = ActivityImage.row(port: 445)
        #expect(row == ActivityImage.row(port: 443))
        for column in 0..<32 where sweep[0, row, column] > 0 || sweep[1, row, column] > 0 {
            #expect(abs(sweep[3, row, column] - 55 / 60) < 1e-6)
        }
        // The client's 5 dead hosts count once each (targets), its 20 live ones twice (attempts).
        for column in 0..<32 where client[0, row, column] > 0 || client[1, row, column] > 0 {
            #expect(abs(client[3, row, column] - Float(5.0 / 45)) < 1e-6)
        }
        // Host columns: an answering host's column has no failures, a dead host's has nothing else.
        #expect(sweep[4, row, 0] == 0 && sweep[4, row, 5] == 1)
        // Untouched cells stay empty in every channel.
        #expect(sweep[3, row + 1, 0] == 0 && sweep[4, row + 1, 0] == 0)
    }

    @Test func oneSecondAndOneHourScansDrawTheSameShape() {
        var fast = ActivityImager(), slow = ActivityImager()
        for port in 1...40 {
            fast.add(flow("10.0.0.3", "192.0.2.1", UInt16(port), Double(port) / 40, .rejected))
            slow.add(flow("10.0.0.3", "192.0.2.1", UInt16(port), Double(port) * 89, .rejected))
        }
        let a = fast.images()[0], b = slow.images()[0]
        #expect(a.pixels[0..<(64 * 32 * 2)] == b.pixels[0..<(64 * 32 * 2)])
        #expect(a.lastSeen - a.firstSeen < 1 && b.lastSeen - b.firstSeen > 3000)
    }

    @Test func windowsSplitSources() {
        var imager = ActivityImager(window: 60)
        imager.add(flow("10.0.0.4", "192.0.2.1", 22, 10, .rejected))
        imager.add(flow("10.0.0.4", "192.0.2.1", 23, 70, .rejected))
        imager.add(flow("10.0.0.5", "192.0.2.1", 23, 70, .rejected))
        let images = imager.images()
        #expect(images.map(\.windowStart) == [0, 60, 60])
        #expect(imager.imageCount == 3)
    }
}

/// Open windows imaged on the CNN's schedule: what detection judges before a window closes.
@Suite struct OpenWindowImageTests {
    /// A slow vertical scan, one closed port every 10 s from the window's start, beside a client whose
    /// attempts all succeed.
    static let start = 1_704_067_200.0
    static let scan = (0..<100).map { flow("192.0.2.7", "10.1.0.5", UInt16(1 + $0), start + Double($0) * 10, .rejected) }
    static let client = (0..<100).map { flow("10.2.0.9", "198.51.100.\(1 + $0 % 9)", 443, start + Double($0) * 10, .established) }

    @Test func openImagesAreTakenEachMinuteTheWindowHasGrownAndAreImagesOfTheFlowsSoFar() throws {
        var imager = ActivityImager(window: 3600, openWindows: ImageSchedule())
        for (a, b) in zip(Self.scan, Self.client) {
            imager.add(a)
            imager.add(b)
        }
        var taken: [(ActivityImage, Double)] = []
        imager.forEachOpenImage { taken.append(($0, $1)) }
        #expect(imager.openImageCount == taken.count)
        // The client never fails: it is never imaged open.
        #expect(taken.allSatisfy { $0.0.source == IPAddress("192.0.2.7")! })
        // At each minute while the scan's failed targets have grown by a quarter since the last image:
        // 6 at the first minute (it passed the filter at 3), then 12, 18, 24, 30, 42 (36 < 30 + 7), ...
        #expect(taken.map(\.0.flows).prefix(6) == [6, 12, 18, 24, 30, 42])
        for (a, b) in zip(taken, taken.dropFirst()) {
            #expect(b.0.flows >= a.0.flows + max(1, a.0.flows / 4))
            #expect(b.1 > a.1)
        }
        for (image, at) in taken {
            #expect(at.truncatingRemainder(dividingBy: 60) == 0 && image.windowStart == Self.start && image.windowLength == 3600)
            // The image of the window so far is the image a window holding only those flows draws.
            var alone = ActivityAccumulator()
            for f in Self.scan where f.start < at { alone.add(f) }
            #expect(image.pixels == alone.image(source: image.source, windowStart: 0, windowLength: 60).pixels)
        }
    }

    @Test func withoutAScheduleOnlyWholeWindowsAreImaged() {
        var imager = ActivityImager(window: 3600)
        for f in Self.scan { imager.add(f) }
        #expect(imager.openImageCount == 0 && imager.imageCount == 1)
    }

    @Test func theFilterNeedsFailedTargetsAndAShareOfFailures() {
        let schedule = ImageSchedule()
        var a = ActivityAccumulator()
        for f in Self.scan.prefix(2) { a.add(f) }
        #expect(!schedule.worthScoring(a))
        a.add(Self.scan[2])
        #expect(schedule.worthScoring(a) && schedule.worthRescoring(a, scoredTargets: 0))
        #expect(!schedule.worthRescoring(a, scoredTargets: 3))
        a.add(Self.scan[3])
        #expect(schedule.worthRescoring(a, scoredTargets: 3))
        #expect(!schedule.worthRescoring(a, scoredTargets: 4))
        // Twenty answered attempts bring the failed share to 4/24 < 0.2.
        for f in Self.client.prefix(20) { a.add(f) }
        #expect(!schedule.worthScoring(a))
    }
}
