import Foundation

/// The package's checkout: where Package.swift, Samples/ and Scripts/ are.
public enum Repository {
    /// The directory that holds Package.swift (this file is Tests/TestSupport/Paths.swift).
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// A path inside the checkout, such as "Samples/stratosphere-008-mixed.head300.conn.log.gz".
    public static func path(_ relative: String) -> String { url(relative).path }

    public static func url(_ relative: String) -> URL { root.appendingPathComponent(relative) }
}

/// A directory of committed test inputs. A target's own fixtures are in Tests/<target>/Fixtures
/// (excluded from the target in Package.swift); fixtures that more than one target reads are in
/// Tests/Fixtures, and reached only through the shared directories below. Each directory has a
/// SOURCES.md or README.md saying where its files come from and under which licence.
public struct FixtureDirectory: Sendable {
    public let directory: URL

    public init(_ directory: URL) { self.directory = directory }

    /// Tests/<target>/Fixtures: the fixtures only `target` reads.
    public static func of(target: String) -> FixtureDirectory {
        FixtureDirectory(Repository.url("Tests/\(target)/Fixtures"))
    }

    /// Tests/Fixtures: the fixtures that several targets read.
    public static let shared = FixtureDirectory(Repository.url("Tests/Fixtures"))
    /// Loopback port scans captured and exported by real tools (Scripts/capture-loopback-scans.sh).
    public static let realTools = FixtureDirectory(shared.url("realtools"))
    /// MaxMind's own test databases (MIT licence, beside them).
    public static let maxMind = FixtureDirectory(shared.url("maxmind"))
    /// Excerpts of public address lists: a blocklist and two providers' ranges.
    public static let addressLists = FixtureDirectory(shared.url("address-lists"))
    /// Excerpts of labelled public datasets (Stratosphere, CIC-IDS2017) for truth taken from labels.
    public static let labelled = FixtureDirectory(shared.url("labelled"))
    /// Elastic Common Schema field definitions that alerts are checked against (Apache-2.0).
    public static let ecs = FixtureDirectory(shared.url("ecs"))

    public func path(_ relative: String) -> String { url(relative).path }

    public func url(_ relative: String) -> URL { directory.appendingPathComponent(relative) }
}
