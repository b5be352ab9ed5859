import ActivityImage
import FlowRecords

/// Which detectors judge windows and with what settings: everything needed to make a fresh
/// `ScanDetection` for each input. A pipeline holds one input's state and is not for concurrent
/// use, so a server makes one per request from a recipe it keeps.
public struct DetectionRecipe: Sendable {
    public enum Detector: String, Sendable, CaseIterable, Codable {
        case threshold, trw, cnn, slow, distributed
    }

    /// The detectors, in the order they judge (and appear in alerts).
    public var detectors: [Detector] = Detector.allCases
    /// Pipeline settings. Its `window` is replaced by the CNN's when `window` is nil and the CNN runs.
    public var settings = DetectionSettings()
    /// The window length asked for; nil takes the scan model's (600 s without the CNN).
    public var window: Double?
    public var threshold = ThresholdDetector()
    public var trw = RandomWalkDetector()
    public var slow = SlowScanDetector()
    public var distributed = DistributedScanDetector()
    /// Scan probability at or above which the CNN flags a window.
    public var cnnThreshold = 0.5
    /// Failed share of a window's attempts for the CNN's flag to alert alone (`CNNDetector.aloneFailedShare`).
    public var cnnAloneFailedShare = CNNDetector.defaultAloneFailedShare
    /// Failed ports on one host for the CNN's flag to alert alone (`CNNDetector.aloneFailedPorts`).
    public var cnnAloneFailedPorts = 5
    /// Which windows the CNN scores, and how often it scores open ones.
    public var cnnSchedule = ImageSchedule()
    /// Threads the CNN scores a batch of windows with.
    public var cnnThreads = 1
    /// Sources whose alerts are silenced and destinations whose flows are ignored.
    public var allowlist = CIDRSet()
    /// Seconds of input time attempts are held to be put in start order before detection
    /// (`DetectionPipeline.reorder`); 0, the default, for none: input is taken in the order it comes.
    /// Longer puts more disordered input in order, delays alerts by as much, and holds more flows.
    public var reorder = 0.0
    /// Most attempts held for reordering; beyond it the oldest go to detection early, and are counted.
    public var reorderLimit = ReorderBuffer.defaultMaximumHeld

    public init() {}

    public var usesCNN: Bool { detectors.contains(.cnn) }

    /// A pipeline judging with the recipe's detectors. `model` is the scan CNN, needed when the
    /// recipe uses it; the pipeline runs it as it is, so concurrent pipelines each need their own
    /// (`ScanModel.replica()`).
    public func make(model: ScanModel?) -> ScanDetection {
        var list: [any ScanDetector] = []
        var settings = self.settings
        settings.window = window ?? 600
        for detector in detectors {
            switch detector {
            case .threshold: list.append(threshold)
            case .trw: list.append(trw)
            case .slow: list.append(slow)
            case .distributed: break  // not a per-source detector: passed apart
            case .cnn:
                guard let model else { preconditionFailure("a recipe with the CNN needs its model") }
                var cnn = CNNDetector(model: model)
                cnn.threshold = cnnThreshold
                cnn.aloneFailedShare = cnnAloneFailedShare
                cnn.aloneFailedPorts = cnnAloneFailedPorts
                cnn.schedule = cnnSchedule
                cnn.threads = cnnThreads
                if window == nil { settings.window = model.input.windowSeconds }
                list.append(cnn)
            }
        }
        return ScanDetection(
            settings: settings, detectors: list, distributed: detectors.contains(.distributed) ? distributed : nil, allowlist: allowlist)
    }
}

extension ScanModel {
    /// The same model with its own copy of the network, for another thread.
    public func replica() -> ScanModel {
        var copy = self
        copy.network = network.replica(0)
        return copy
    }
}
