import Foundation
// swift-tools-version:6.0
import PackageDescription

// Parsing and numeric code is far slower unoptimised. Debug builds of the library targets are
// compiled with -O so that `swift test` stays fast; set FLOWHOUND_DEBUG_UNOPTIMIZED=1 to debug
// them step by step. (unsafeFlags are allowed because this is the root package.)
let optimiseInDebug: [SwiftSetting] =
    ProcessInfo.processInfo.environment["FLOWHOUND_DEBUG_UNOPTIMIZED"] == nil
    ? [.unsafeFlags(["-O"], .when(configuration: .debug))] : []

let package = Package(
    name: "Flowhound",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "flowhound", targets: ["flowhound"]),
        .library(name: "Support", targets: ["Support"]),
        .library(name: "FlowRecords", targets: ["FlowRecords"]),
        .library(name: "ActivityImage", targets: ["ActivityImage"]),
        .library(name: "Synthesis", targets: ["Synthesis"]),
        .library(name: "Neural", targets: ["Neural"]),
        .library(name: "Detection", targets: ["Detection"]),
        .library(name: "Forest", targets: ["Forest"]),
        .library(name: "Enrichment", targets: ["Enrichment"]),
        .library(name: "Reputation", targets: ["Reputation"]),
        .library(name: "Service", targets: ["Service"]),
        .library(name: "Streaming", targets: ["Streaming"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        .systemLibrary(name: "CZlib", path: "Sources/CZlib"),
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
        .systemLibrary(name: "CMaxMindDB", path: "Sources/CMaxMindDB"),
        .systemLibrary(name: "CLibloc", path: "Sources/CLibloc"),
        .systemLibrary(name: "CNATS", path: "Sources/CNATS", pkgConfig: "libnats"),
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),
        // The layers, each depending only on layers below it (ARCHITECTURE.md).
        // 0. What every layer needs.
        .target(
            name: "Support",
            dependencies: ["CMalloc"],
            swiftSettings: optimiseInDebug),
        .target(
            name: "Randomness",
            swiftSettings: optimiseInDebug),
        // 1. Records and formats.
        .target(
            name: "FlowRecords",
            dependencies: ["Support", "CZlib"],
            swiftSettings: optimiseInDebug),
        // 2. Images and synthesis.
        .target(
            name: "ActivityImage",
            dependencies: ["FlowRecords", "Support", "CZlib"],
            swiftSettings: optimiseInDebug),
        .target(
            name: "Synthesis",
            dependencies: ["FlowRecords", "ActivityImage", "Randomness", "Support"],
            swiftSettings: optimiseInDebug),
        // 3. Numeric libraries.
        .target(
            name: "Neural",
            dependencies: ["COpenBLAS", "Randomness", "Support"],
            swiftSettings: optimiseInDebug),
        .target(
            name: "Forest",
            dependencies: ["Randomness", "Support"],
            swiftSettings: optimiseInDebug),
        // 4. Detection and reputation (and the address facts reputation uses).
        .target(
            name: "Detection",
            dependencies: ["FlowRecords", "ActivityImage", "Neural", "Support"],
            resources: [.copy("Resources/scan-cnn.safetensors")],
            swiftSettings: optimiseInDebug),
        .target(
            name: "Enrichment",
            dependencies: ["FlowRecords", "Support", "CMaxMindDB", "CLibloc"],
            swiftSettings: optimiseInDebug),
        .target(
            name: "Reputation",
            dependencies: ["Enrichment", "Forest", "Neural", "FlowRecords", "Randomness", "Support"],
            resources: [.copy("Resources/ip-model.safetensors")],
            swiftSettings: optimiseInDebug),
        // 5. Streaming and the service.
        .target(
            name: "Service",
            dependencies: [
                "Detection", "Reputation", "FlowRecords", "Enrichment", "Support",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            resources: [.copy("Resources/openapi.yaml")],
            swiftSettings: optimiseInDebug),
        .target(
            name: "Streaming",
            dependencies: ["CNATS", "FlowRecords", "Detection", "Support"],
            swiftSettings: optimiseInDebug),
        // 6. The command line.
        .executableTarget(
            name: "flowhound",
            dependencies: [
                "Support",
                "FlowRecords",
                "ActivityImage",
                "Synthesis",
                "Neural",
                "Detection",
                "Enrichment",
                "Reputation",
                "Service",
                "Streaming",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Yams", package: "Yams"),
            ]),
        // What the test targets share: paths to the checkout and to fixtures, scratch files, the one
        // way to run the `flowhound` executable, and test tags. Not a product.
        .target(
            name: "TestSupport",
            dependencies: ["FlowRecords", "Support"],
            path: "Tests/TestSupport"),
        .testTarget(
            name: "FlowRecordsTests",
            dependencies: ["FlowRecords", "Support", "Synthesis", "TestSupport"],
            exclude: ["Fixtures"]),
        .testTarget(
            name: "SynthesisTests",
            dependencies: ["Synthesis", "FlowRecords", "ActivityImage"]),
        .testTarget(
            name: "NeuralTests",
            dependencies: ["Neural", "Randomness", "TestSupport"],
            exclude: ["Fixtures"]),
        .testTarget(
            name: "ForestTests",
            dependencies: ["Forest", "Randomness"]),
        .testTarget(
            name: "DetectionTests",
            dependencies: ["Detection", "Neural", "ActivityImage", "FlowRecords", "Support", "Synthesis", "TestSupport"]),
        .testTarget(
            name: "ActivityImageTests",
            dependencies: ["ActivityImage", "FlowRecords", "TestSupport"]),
        .testTarget(
            name: "ReputationTests",
            dependencies: ["Reputation", "Enrichment", "Forest", "Neural", "FlowRecords", "Support", "TestSupport"]),
        .testTarget(
            name: "ServiceTests",
            dependencies: [
                "Service", "Detection", "Reputation", "FlowRecords", "TestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Yams", package: "Yams"),
            ]),
        .testTarget(
            name: "StreamingTests",
            dependencies: ["Streaming", "Detection", "FlowRecords", "TestSupport"]),
        .testTarget(
            name: "EnrichmentTests",
            dependencies: ["Enrichment", "FlowRecords", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)

// Coverage-guided fuzzing (Scripts/fuzz.sh): with FLOWHOUND_FUZZ=1 the package also has two libFuzzer
// executables (sources in Fuzz/), and Flowhound's own library targets are built with coverage
// instrumentation and AddressSanitizer. Without the variable the package is as above, so that
// `swift build` and `swift test` are unaffected. Build these into their own scratch path
// (`--scratch-path .build-fuzz`): the flags differ from a normal build's.
if ProcessInfo.processInfo.environment["FLOWHOUND_FUZZ"] == "1" {
    let instrumented: [SwiftSetting] = [.unsafeFlags(["-sanitize=fuzzer,address"])]
    for target in package.targets where target.type == .regular {
        target.swiftSettings = (target.swiftSettings ?? []) + instrumented
    }
    let fuzzerSettings: [SwiftSetting] = [.unsafeFlags(["-sanitize=fuzzer,address", "-parse-as-library", "-O", "-enable-experimental-feature", "Extern"])]
    let fuzzerLinking: [LinkerSetting] = [.unsafeFlags(["-sanitize=fuzzer,address"])]
    package.targets += [
        // Every input Flowhound reads except the service's request bodies; one binary, the target
        // chosen by FLOWHOUND_FUZZ_TARGET (Scripts/fuzz.sh --list).
        .executableTarget(
            name: "flowhound-fuzz",
            dependencies: ["FlowRecords", "ActivityImage", "Neural", "Detection", "Enrichment", "Reputation", "Streaming"],
            path: "Fuzz/FlowhoundFuzz",
            swiftSettings: fuzzerSettings,
            linkerSettings: fuzzerLinking),
        // The service's request decoding: a binary of its own, as it links Hummingbird and NIO.
        .executableTarget(
            name: "flowhound-fuzz-service",
            dependencies: ["Service"],
            path: "Fuzz/ServiceFuzz",
            swiftSettings: fuzzerSettings,
            linkerSettings: fuzzerLinking),
    ]
}
