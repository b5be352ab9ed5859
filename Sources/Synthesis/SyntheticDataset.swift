import ActivityImage
import FlowRecords

/// A synthetic configuration that cannot be generated as asked (more sources than its network holds).
public struct SynthConfigError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension DatasetWriter {
    /// Generates labelled synthetic traffic, draws its activity images and writes them as a dataset
    /// under `directory` (as `flowhound dataset --synth-seed` does), open windows too when `openWindows`
    /// is set. Returns the metadata and the number of flows.
    public func writeSynthetic(
        config: SynthConfig, window: Double, openWindows: ImageSchedule? = nil, to directory: String
    ) throws -> (meta: DatasetWriter.Meta, flows: Int) {
        if let problem = config.capacityProblem { throw SynthConfigError(problem) }
        var imager = ActivityImager(window: window, openWindows: openWindows)
        var truth = GroundTruth()
        let (flows, entries) = TrafficGenerator(config: config).generate()
        for f in flows { imager.add(f) }
        for t in entries { truth.add(t.source, label: t.label.rawValue, kind: t.kind) }
        let description =
            "synth --seed \(config.seed) --duration \(Int(config.duration))s --benign \(config.benignSources) --scan-prevalence \(config.scanPrevalence)"
        let meta = try write(images: imager, truth: truth, inputs: [description], to: directory)
        return (meta, flows.count)
    }
}
