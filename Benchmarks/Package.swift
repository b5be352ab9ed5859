// swift-tools-version:6.0
// Benchmarks for Flowhound, kept out of the main package so that its build stays fast.
// Run them with ./run-readers.sh (release build, one core, medians).
import Foundation
import PackageDescription

// A path dependency's identity is its folder's name, which depends on where the repository was cloned.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

let package = Package(
    name: "FlowhoundBenchmarks",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(path: "..")
    ],
    targets: [
        .executableTarget(
            name: "flowhound-bench",
            dependencies: [
                .product(name: "Support", package: root.lastPathComponent),
                .product(name: "FlowRecords", package: root.lastPathComponent),
                .product(name: "Synthesis", package: root.lastPathComponent),
                .product(name: "Neural", package: root.lastPathComponent),
                .product(name: "Detection", package: root.lastPathComponent),
                .product(name: "Forest", package: root.lastPathComponent),
                .product(name: "ActivityImage", package: root.lastPathComponent),
            ],
            swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))])
    ],
    swiftLanguageModes: [.v6]
)
