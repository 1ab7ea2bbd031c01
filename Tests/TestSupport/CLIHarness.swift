import Foundation
import XCTest

public enum StylevidPaths {
    public static var home: String {
        ProcessInfo.processInfo.environment["STYLEVID_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? NSHomeDirectory() + "/.cache/stylevid"
    }
    public static var data: String { home + "/data" }
    /// The stylevid binary beside the test bundle (same build configuration).
    public static var binary: String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments.first { $0.hasSuffix(".xctest") } ?? CommandLine.arguments[0])
        var dir = bundle.deletingLastPathComponent()
        if dir.path.hasSuffix("Contents/MacOS") { dir = dir.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }
        return dir.appendingPathComponent("stylevid").path
    }
}

public struct RunResult {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public init(status: Int32, stdout: String, stderr: String) { self.status = status; self.stdout = stdout; self.stderr = stderr }
}

/// Runs the binary with a timeout; a hang is a failure, not a stuck test suite.
public func runStylevid(_ args: [String], timeout: TimeInterval = 300) -> RunResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: StylevidPaths.binary)
    p.arguments = args
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    do { try p.run() } catch { return RunResult(status: -1, stdout: "", stderr: "cannot start \(StylevidPaths.binary): \(error)") }
    final class Box: @unchecked Sendable { var data = Data() }
    let outBox = Box(), errBox = Box()
    let group = DispatchGroup()
    group.enter(); DispatchQueue.global().async { outBox.data = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    group.enter(); DispatchQueue.global().async { errBox.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(20_000) }
    if p.isRunning { p.terminate(); p.waitUntilExit(); return RunResult(status: -2, stdout: "", stderr: "timed out") }
    p.waitUntilExit()
    group.wait()
    return RunResult(status: p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus,
                     stdout: String(decoding: outBox.data, as: UTF8.self), stderr: String(decoding: errBox.data, as: UTF8.self))
}

public struct RawImage { public var width: Int; public var height: Int; public var rgb: [UInt8] }

/// Decodes an image to raw RGB with the ffmpeg program (an independent decoder, so the
/// tool's own reader does not grade itself), optionally scaled to size×size.
public func readPNGViaTool(_ path: String, size: Int? = nil) throws -> RawImage {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/ffprobe")
    p.arguments = ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0", path]
    let pipe = Pipe(); p.standardOutput = pipe
    try p.run(); p.waitUntilExit()
    let dims = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        .trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",").compactMap { Int($0) }
    guard dims.count == 2 else { throw NSError(domain: "ffprobe", code: 1, userInfo: [NSLocalizedDescriptionKey: "cannot probe \(path)"]) }
    let (w, h) = size.map { ($0, $0) } ?? (dims[0], dims[1])
    let f = Process()
    f.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
    f.arguments = ["-v", "error", "-i", path, "-vf", "scale=\(w):\(h)", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    let fp = Pipe(); f.standardOutput = fp
    try f.run()
    let data = fp.fileHandleForReading.readDataToEndOfFile()
    f.waitUntilExit()
    return RawImage(width: w, height: h, rgb: [UInt8](data))
}

/// Mean over pixels of the distance between mean colours of 8×8 blocks (colour
/// distribution, not structure).
public func meanColorDistance(_ a: RawImage, _ b: RawImage) -> Double {
    func means(_ im: RawImage) -> [Double] {
        var m = [0.0, 0.0, 0.0]
        for i in 0..<(im.width * im.height) { for c in 0..<3 { m[c] += Double(im.rgb[3 * i + c]) } }
        return m.map { $0 / Double(im.width * im.height) }
    }
    let ma = means(a), mb = means(b)
    return zip(ma, mb).map { abs($0 - $1) }.reduce(0, +) / 3
}

/// Runs a shell command line (for resource limits), with the same result shape.
public func runShell(_ line: String) -> RunResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", line]
    let err = Pipe(), out = Pipe()
    p.standardError = err; p.standardOutput = out
    try! p.run()
    // both pipes drained at once: reading one to its end while the other fills past the
    // pipe buffer (64 KB) would block the child forever (a fuzzer's log did)
    final class Box: @unchecked Sendable { var data = Data() }
    let eBox = Box(), oBox = Box()
    let group = DispatchGroup()
    group.enter(); DispatchQueue.global().async { eBox.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    group.enter(); DispatchQueue.global().async { oBox.data = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    group.wait()
    p.waitUntilExit()
    let e = eBox.data, o = oBox.data
    return RunResult(status: p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus,
                     stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

/// A test case that runs the real binary in a fresh temporary folder, with the sample
/// photo and painting and the checks every CLI error case shares.
open class CLITestCase: TemporaryDirectoryTestCase {
    public var sample: String { StylevidPaths.data + "/astronaut.png" }
    public var painting: String { StylevidPaths.data + "/mate/abstract/Elephants.jpg" }

    public func requireSampleData() throws {
        guard FileManager.default.fileExists(atPath: sample), FileManager.default.fileExists(atPath: painting) else {
            XCTFail("sample data missing in \(StylevidPaths.data): run `make setup` (make test does it)")
            throw XCTSkip("no sample data")
        }
    }

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
