import Foundation
import TestSupport
import XCTest

/// A short run of each libFuzzer target (longer runs: BENCHMARKS.md, "Fuzzing").
final class FuzzTests: XCTestCase {
    var root: String { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path }

    func fuzz(_ target: String, file: StaticString = #filePath, line: UInt = #line) {
        let r = runShell("d=$(mktemp -d); FUZZ_DIR=\"$d\" '\(root)/scripts/fuzz.sh' \(target) 3 2>&1; rc=$?; rm -rf \"$d\"; exit $rc")
        XCTAssertEqual(r.status, 0, String(r.stdout.suffix(2000)), file: file, line: line)
        XCTAssert(r.stdout.contains("Done "), String(r.stdout.suffix(500)), file: file, line: line)
        XCTAssertFalse(r.stdout.contains("ERROR: libFuzzer"), String(r.stdout.suffix(2000)), file: file, line: line)
    }

    func testFloReaderSurvivesFuzzing() { fuzz("flo") }

    /// The segmentation-mask reader, pairing and --mask-map parser (Fuzz/mask.swift).
    func testMaskReaderSurvivesFuzzing() { fuzz("mask") }

    /// The -vf chain parser (Fuzz/chain.swift), with the engine compiled in.
    func testFilterChainParserSurvivesFuzzing() { fuzz("chain") }

    /// The safetensors reader, header and tensor data (Fuzz/safetensors.swift).
    func testSafetensorsReaderSurvivesFuzzing() { fuzz("safetensors") }

    /// The PyTorch reader: pickle machine, legacy storages, zip directory (Fuzz/pth.swift).
    func testTorchReaderSurvivesFuzzing() { fuzz("pth") }

    /// The .caffemodel reader: protobuf's wire format, layers, blobs (Fuzz/caffemodel.swift).
    func testCaffeModelReaderSurvivesFuzzing() { fuzz("caffemodel") }
}
