import ActivityImage
import FlowRecords
import Foundation
import Neural
import Support

/// A dataset that cannot be used, and why (names the file).
public struct ScanDataError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Activity images with labels, as written by `flowhound dataset`: `train` and `test` splits, each
/// with the source, window and behaviour kind of every image (from meta.json).
public struct ScanDataset: Sendable {
    public struct Split: Sendable {
        public var samples: Samples
        public var rows: [DatasetWriter.Row]

        /// The rows at `indices`, with their samples.
        public func subset(_ indices: [Int]) -> Split {
            Split(samples: samples.subset(indices), rows: indices.map { rows[$0] })
        }
    }

    public var directory: String
    public var meta: DatasetWriter.Meta
    public var train: Split
    public var test: Split

    /// Reads DIR/meta.json and DIR/{train,test}/{X,y}.npy and checks that they agree with each other.
    public static func load(directory: String) throws -> ScanDataset {
        let metaPath = directory + "/meta.json"
        guard FileManager.default.fileExists(atPath: metaPath) else {
            throw ScanDataError(
                FileManager.default.fileExists(atPath: directory)
                    ? "\(metaPath): missing; \(directory) was not written by 'flowhound dataset'"
                    : "\(directory): no such dataset directory")
        }
        let data: Data
        do { data = Data(try BoundedFile.read(metaPath, limit: 16 << 20)) } catch { throw ScanDataError("\(metaPath): \(error)") }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let meta: DatasetWriter.Meta
        do { meta = try decoder.decode(DatasetWriter.Meta.self, from: data) } catch {
            throw ScanDataError("\(metaPath): not a Flowhound dataset description (\(error))")
        }
        guard meta.formatVersion == 1 else { throw ScanDataError("\(metaPath): dataset format \(meta.formatVersion) is not supported (1 is)") }
        let shape = ActivityImage.shape
        guard meta.imageLayoutVersion == ActivityImage.layoutVersion, meta.shape == shape, meta.channels == ActivityImage.channelNames else {
            let layout = meta.imageLayoutVersion.map { "layout \($0)" } ?? "an earlier layout"
            throw ScanDataError(
                "\(metaPath): images are \(Shape(meta.shape)) in \(layout) but Flowhound draws \(Shape(shape)) images in layout \(ActivityImage.layoutVersion); write the dataset again with flowhound dataset"
            )
        }
        func split(_ name: String, _ described: DatasetWriter.Split) throws -> Split {
            let xPath = "\(directory)/\(name)/X.npy", yPath = "\(directory)/\(name)/y.npy"
            let (xShape, x) = try NumpyReader.readFloat32(path: xPath)
            let (yShape, y) = try NumpyReader.readIntegers(path: yPath)
            guard xShape.count >= 2, Array(xShape.dropFirst()) == meta.shape else {
                throw ScanDataError("\(xPath): images are \(Shape(xShape)) but meta.json says \(Shape(meta.shape).batchDescription)")
            }
            guard yShape == [xShape[0]] else {
                throw ScanDataError("\(yPath): \(Shape(yShape)) labels for \(xShape[0]) images in \(xPath)")
            }
            guard described.rows.count == xShape[0] else {
                throw ScanDataError("\(metaPath): describes \(described.rows.count) \(name) images but \(xPath) has \(xShape[0])")
            }
            if let bad = y.firstIndex(where: { $0 < 0 || $0 >= Int64(meta.labelNames.count) }) {
                throw ScanDataError("\(yPath): label \(y[bad]) at row \(bad) is not one of \(meta.labelNames.count) classes")
            }
            if let bad = y.indices.first(where: { Int(y[$0]) != described.rows[$0].label }) {
                throw ScanDataError("\(yPath): row \(bad) is labelled \(y[bad]) but meta.json says \(described.rows[bad].label)")
            }
            // An open window's image is taken inside its window.
            if let bad = described.rows.firstIndex(where: { row in
                row.openAt.map { !$0.isFinite || $0 < row.windowStart || $0 > row.windowStart + meta.windowSeconds } ?? false
            }) {
                let row = described.rows[bad]
                throw ScanDataError(
                    "\(metaPath): \(name) row \(bad) is an open window imaged at \(row.openAt!), outside its window \(row.windowStart) + \(meta.windowSeconds) s"
                )
            }
            return Split(samples: try Samples(sampleShape: Shape(meta.shape), features: x, labels: y.map { Int32($0) }), rows: described.rows)
        }
        return ScanDataset(directory: directory, meta: meta, train: try split("train", meta.train), test: try split("test", meta.test))
    }

    /// Both splits together, for a dataset a model never saw.
    public var all: Split {
        var features = train.samples.features
        features.append(contentsOf: test.samples.features)
        // Both halves have the dataset's sample shape, so the counts agree.
        let samples = try! Samples(
            sampleShape: train.samples.sampleShape, features: features,
            labels: train.samples.labels + test.samples.labels)
        return Split(samples: samples, rows: train.rows + test.rows)
    }

    /// Splits off about `fraction` of the training sources (all images of a source on one side) for
    /// validation, chosen by a seeded hash within each behaviour kind, so that every kind with two or
    /// more sources is in both parts.
    public func validationSplit(fraction: Double, seed: UInt64) -> (training: Split, validation: Split) {
        guard fraction > 0 else { return (train, Split(samples: train.samples.subset([]), rows: [])) }
        var sourcesByKind: [String: Set<String>] = [:]
        for row in train.rows { sourcesByKind[row.label.description + "/" + row.kind, default: []].insert(row.source) }
        let held = heldOut(sourcesByKind.mapValues(Array.init), fraction: fraction) { mix($0, seed) }
        let validation = train.rows.indices.filter { held.contains(train.rows[$0].source) }
        let training = train.rows.indices.filter { !held.contains(train.rows[$0].source) }
        return (train.subset(training), train.subset(validation))
    }

    private func mix(_ s: String, _ seed: UInt64) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325 ^ seed
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h
    }
}
