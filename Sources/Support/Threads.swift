import Foundation

/// The number of worker threads to use when the user does not say: one per core.
public var defaultThreadCount: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }
