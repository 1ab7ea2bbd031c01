import Foundation
import XCTest

/// A short run of each libFuzzer target (longer runs: BENCHMARKS.md, "Fuzzing").
final class FuzzTests: XCTestCase {
    var root: String { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path }

    func testFloReaderSurvivesFuzzing() throws {
        let r = runShell("d=$(mktemp -d); FUZZ_DIR=\"$d\" '\(root)/scripts/fuzz.sh' flo 3 2>&1; rc=$?; rm -rf \"$d\"; exit $rc")
        XCTAssertEqual(r.status, 0, String(r.stdout.suffix(2000)))
        XCTAssert(r.stdout.contains("Done "), String(r.stdout.suffix(500)))
        XCTAssertFalse(r.stdout.contains("ERROR: libFuzzer"), String(r.stdout.suffix(2000)))
    }
}
