// swift-tools-version:5.10
import PackageDescription

// Arrows point downward only: Kernels knows nothing of video, VideoIO
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
        // -enable-testing: the patch search's kernel is tested against a plain one
        .target(name: "Temporal", dependencies: ["Kernels"], swiftSettings: [.unsafeFlags(["-enable-testing"])]),
        .target(name: "Photoreal", dependencies: ["Kernels"]),
        .target(name: "Engine", dependencies: ["Kernels", "VideoIO", "Temporal", "Photoreal", "CHDF5"]),
        // the commands, as a library so unit tests reach them (-enable-testing: @testable
        // imports in release builds); the executable only calls StyleVid.main()
        .target(name: "StylevidCommands", dependencies: [
            "Engine", "Kernels", "VideoIO", "Temporal", "Photoreal", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: [.unsafeFlags(["-enable-testing"])]),
        .executableTarget(name: "stylevid", dependencies: ["StylevidCommands"]),
        // -z nodelete: hosts dlopen, dlclose and dlopen the plugin again (MLT scans every
        // plugin at start-up, then loads the one a project uses). The Swift runtime keeps
        // the sections of every Swift image it has seen registered, so an unmapped plugin
        // leaves it reading freed memory; a plugin that is never unmapped is safe to reload.
        .target(name: "StylevidFrei0r", dependencies: ["Engine", "Temporal", "VideoIO", "CFrei0r"],
                linkerSettings: [.unsafeFlags(["-Xlinker", "-z", "-Xlinker", "nodelete"])]),
        .target(name: "TestSupport", dependencies: ["Kernels"], path: "Tests/TestSupport"),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "TestSupport"]),
        .testTarget(name: "VideoIOTests", dependencies: ["VideoIO", "TestSupport"]),
        .testTarget(name: "TemporalTests", dependencies: ["Temporal", "Kernels", "TestSupport"]),
        .testTarget(name: "PhotorealTests", dependencies: ["Photoreal", "Kernels", "TestSupport"]),
        .testTarget(name: "EngineTests", dependencies: ["Engine", "Kernels", "VideoIO", "Temporal", "Photoreal", "CHDF5", "TestSupport"],
                    exclude: ["Fixtures"]),
        .testTarget(name: "PluginTests", dependencies: ["StylevidFrei0r", "Engine"]),
        .testTarget(name: "CommandTests", dependencies: ["StylevidCommands", "StylevidFrei0r", "Engine", "Kernels", "VideoIO", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["Engine", "Kernels", "VideoIO", "CHDF5", "TestSupport"]),
        // bad inputs, interrupts, kill/resume and the libFuzzer runs, through the real binary
        .testTarget(name: "RobustnessTests", dependencies: ["TestSupport"]),
    ]
)
