import FlowRecords
import Foundation
import Support

/// Writes labelled activity images as a training set for the CNN:
///
/// ```
/// DIR/train/X.npy   float32, N × 5 × 64 × 32 (ActivityImage layout)
/// DIR/train/y.npy   int64, N: 0 benign, 1 scan
/// DIR/test/X.npy, DIR/test/y.npy
/// DIR/meta.json     shape, channels, label names, and the source, window, label and kind of every row
/// ```
///
/// With an imager that images open windows (`ActivityImager.openWindows`), those partial images
/// follow the whole windows in each split, their rows marked with the log time they were taken at.
///
/// The split is by source: a source's images are all in train or all in test. Within each
/// (label, kind) group, sources are ordered by a seeded hash and the first `testFraction` of them
/// (at least one when the group has two or more) go to test, so every kind is represented in both.
public struct DatasetWriter {
    public struct Row: Codable, Sendable {
        public var source: String
        public var windowStart: Double
        public var label: Int
        public var kind: String
        public var flows: Int
        public var failedFlows: Int
        /// For the image of a window still open: the log time it was taken at (nil: the whole window).
        public var openAt: Double?

        public init(
            source: String, windowStart: Double, label: Int, kind: String, flows: Int, failedFlows: Int, openAt: Double? = nil
        ) {
            self.source = source
            self.windowStart = windowStart
            self.label = label
            self.kind = kind
            self.flows = flows
            self.failedFlows = failedFlows
            self.openAt = openAt
        }
    }

    public struct Split: Codable, Sendable {
        public var count: Int
        public var scans: Int
        public var rows: [Row]

        /// The label name every image of the split has ("benign" or "scan"), or nil when it has
        /// both, or no image.
        public var onlyClass: String? { count == 0 ? nil : scans == 0 ? "benign" : scans == count ? "scan" : nil }
    }

    public struct Meta: Codable, Sendable {
        public var formatVersion = 1
        public var shape: [Int]
        public var layout: String
        /// `ActivityImage.layoutVersion` of the images; nil in datasets written before it was recorded
        /// (layout 2 or earlier).
        public var imageLayoutVersion: Int?
        public var channels: [String]
        public var labelNames: [String]
        public var windowSeconds: Double
        public var testFraction: Double
        public var seed: UInt64
        public var inputs: [String]
        public var unlabelledImages: Int
        public var kinds: [String: Int]
        /// The schedule open windows were imaged on (nil: whole windows only).
        public var openWindowInterval: Double?
        public var train: Split
        public var test: Split
    }

    public var testFraction: Double
    public var seed: UInt64
    /// Images with fewer flows are left out (a source that sent one packet says nothing).
    public var minimumFlows: Int

    public init(testFraction: Double = 0.2, seed: UInt64 = 1, minimumFlows: Int = 1) {
        self.testFraction = testFraction
        self.seed = seed
        self.minimumFlows = minimumFlows
    }

    /// Sources chosen for the test split.
    public func testSources(_ truth: GroundTruth) -> Set<IPAddress> {
        var groups: [String: [IPAddress]] = [:]
        for source in truth.sources {
            let e = truth[source]!
            groups[e.label + "/" + e.kind, default: []].append(source)
        }
        return heldOut(groups, fraction: testFraction, rank: hash)
    }

    func hash(_ a: IPAddress) -> UInt64 {
        var h = seed ^ 0x9E37_79B9_7F4A_7C15
        for v in [a.high, a.low] {
            h = (h ^ v) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
        }
        return h
    }

    /// Writes the dataset under `directory`; returns its metadata.
    public func write(images imager: ActivityImager, truth: GroundTruth, inputs: [String], to directory: String) throws -> Meta {
        let fm = FileManager.default
        for split in ["train", "test"] {
            try fm.createDirectory(atPath: directory + "/" + split, withIntermediateDirectories: true)
        }
        let shape = ActivityImage.shape
        let trainX = try NumpyWriter(path: directory + "/train/X.npy", dtype: .float32, rowShape: shape)
        let trainY = try NumpyWriter(path: directory + "/train/y.npy", dtype: .int64, rowShape: [])
        let testX = try NumpyWriter(path: directory + "/test/X.npy", dtype: .float32, rowShape: shape)
        let testY = try NumpyWriter(path: directory + "/test/y.npy", dtype: .int64, rowShape: [])
        let testSet = testSources(truth)
        var train = Split(count: 0, scans: 0, rows: []), test = Split(count: 0, scans: 0, rows: [])
        var unlabelled = 0
        var kinds: [String: Int] = [:]
        func put(_ image: ActivityImage, openAt: Double?) throws {
            guard image.flows >= minimumFlows else { return }
            guard let entry = truth[image.source] else {
                if openAt == nil { unlabelled += 1 }
                return
            }
            let label = entry.label == "scan" ? 1 : 0
            let row = Row(
                source: image.source.description, windowStart: image.windowStart, label: label, kind: entry.kind,
                flows: image.flows, failedFlows: image.failedFlows, openAt: openAt)
            kinds[entry.kind, default: 0] += 1
            if testSet.contains(image.source) {
                try testX.append(image.pixels)
                try testY.append(Int64(label))
                test.rows.append(row)
                test.count += 1
                test.scans += label
            } else {
                try trainX.append(image.pixels)
                try trainY.append(Int64(label))
                train.rows.append(row)
                train.count += 1
                train.scans += label
            }
        }
        try imager.forEachImage { try put($0, openAt: nil) }
        try imager.forEachOpenImage { try put($0, openAt: $1) }
        for w in [trainX, trainY, testX, testY] { try w.finish() }
        let meta = Meta(
            shape: shape,
            layout: "NCHW float32; rows = destination port (0-31: ports 0-1023 in bins of 32; 32-63: 1024-65535 log scale), "
                + "columns = destination hosts in order of first contact (0-15 one each, then log scale); values 0...1",
            imageLayoutVersion: ActivityImage.layoutVersion, channels: ActivityImage.channelNames, labelNames: ["benign", "scan"],
            windowSeconds: imager.window,
            testFraction: testFraction, seed: seed, inputs: inputs, unlabelledImages: unlabelled, kinds: kinds,
            openWindowInterval: imager.openWindows?.interval, train: train, test: test)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let data = try encoder.encode(meta)
        try AtomicFile.write([UInt8](data), to: directory + "/meta.json")
        return meta
    }
}
