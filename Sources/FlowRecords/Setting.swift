/// A choice the caller of a Flowhound library makes that would resolve an error. A library's message
/// says it in the library's terms ("check the input format"); each front end adds its own name for
/// it where it shows the message: the command line its flag, the HTTP service its query parameter.
public enum Setting: String, Sendable, CaseIterable {
    /// The format of a flow log, given instead of detected.
    case inputFormat
    /// Reading that stops at the first malformed record or line instead of skipping it.
    case strictReading
    /// Address databases in the MaxMind format.
    case addressDatabases
    /// An infrastructure list, given under the name a model knows it by.
    case infrastructureList
    /// Invented hours for benign rows when only the malicious inputs have hours.
    case spreadBenignHours
    /// The NATS servers to connect to.
    case natsServers
    /// The name of the JetStream stream flows are published to.
    case flowStream
    /// The name of the JetStream stream alerts are published to.
    case alertStream
    /// How many partitions the flows stream is split into.
    case partitionCount
}

/// An error whose message names a `Setting` that would resolve it.
public protocol SettingHinted: Error {
    /// The setting that would resolve the error, or nil when none would.
    var setting: Setting? { get }
}
