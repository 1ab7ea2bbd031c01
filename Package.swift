// swift-tools-version:5.10
import PackageDescription

// Arrows point downward only (DESIGN.md §2): Kernels knows nothing of video, VideoIO
// nothing of tensors; Engine ties them together; the CLI imports Engine.
let package = Package(
    name: "stylevid",
    products: [
        .executable(name: "stylevid", targets: ["stylevid"]),
        .library(name: "Engine", targets: ["Engine"]),
        // the frei0r effect FFmpeg (and Kdenlive, Shotcut…) load: install as stylevid.so
        .library(name: "stylevid-frei0r", type: .dynamic, targets: ["StylevidFrei0r"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CFFmpeg", pkgConfig: "libavformat",
                       providers: [.apt(["libavformat-dev", "libavcodec-dev", "libavutil-dev", "libswscale-dev", "libswresample-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CFrei0r", providers: [.apt(["frei0r-plugins-dev"])]),
        .target(name: "Kernels", dependencies: ["CBLAS"]),
        .target(name: "VideoIO", dependencies: ["CFFmpeg"]),
        .target(name: "Temporal", dependencies: ["Kernels"]),
        .target(name: "Photoreal", dependencies: ["Kernels"]),
        .target(name: "Engine", dependencies: ["Kernels", "VideoIO", "Temporal", "Photoreal", "CHDF5"]),
        .executableTarget(name: "stylevid", dependencies: [
            "Engine", "Temporal", "Photoreal", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .target(name: "StylevidFrei0r", dependencies: ["Engine", "CFrei0r"]),
        .target(name: "TestSupport", dependencies: ["Kernels"], path: "Tests/TestSupport"),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "TestSupport"]),
        .testTarget(name: "VideoIOTests", dependencies: ["VideoIO", "TestSupport"]),
        .testTarget(name: "TemporalTests", dependencies: ["Temporal", "Kernels", "TestSupport"]),
        .testTarget(name: "PhotorealTests", dependencies: ["Photoreal", "Kernels", "TestSupport"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Kernels", "VideoIO", "Photoreal", "CHDF5", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["Engine", "Kernels", "VideoIO", "CHDF5", "TestSupport"]),
        // bad inputs, interrupts, kill/resume and the libFuzzer runs, through the real binary
        .testTarget(name: "RobustnessTests", dependencies: ["TestSupport"]),
    ]
)
