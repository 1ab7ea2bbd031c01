import Foundation
import XCTest

/// A test case that runs the real binary in a fresh temporary folder, with the sample
/// photo and painting and the checks every CLI error case shares.
open class CLITestCase: TemporaryDirectoryTestCase {
    public var sample: String { StylevidPaths.data + "/astronaut.png" }
    public var painting: String { StylevidPaths.data + "/mate/abstract/Elephants.jpg" }

    public func requireSampleData() throws { try requireInstalled([sample, painting]) }

    /// One `stylevid: error:` line containing `fragment`, a non-zero exit, no crash signal.
    public func assertOneLineError(_ r: RunResult, contains fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(r.status, 0, "expected failure: \(r.stderr)", file: file, line: line)
        XCTAssertLessThan(r.status, 128, "killed by a signal: \(r.stderr)", file: file, line: line)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "expected one error line, got: \(r.stderr)", file: file, line: line)
        XCTAssert(r.stderr.hasPrefix("stylevid: error: "), r.stderr, file: file, line: line)
        XCTAssert(r.stderr.contains(fragment), "'\(fragment)' not in: \(r.stderr)", file: file, line: line)
    }

    /// The temporary folder holds exactly `keep`.
    public func noFiles(except keep: Set<String> = [], file: StaticString = #filePath, line: UInt = #line) {
        let left = Set(try! FileManager.default.contentsOfDirectory(atPath: dir)).subtracting(keep)
        XCTAssertEqual(left, [], "unexpected files left behind", file: file, line: line)
    }
}
