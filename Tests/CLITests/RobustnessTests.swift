import Foundation
import TestSupport
import XCTest

/// Odd and hostile inputs through the real binary: each either works sensibly or fails
/// with one line, a non-zero exit (no crash signal), no output and no temporary file.
final class RobustnessTests: TemporaryDirectoryTestCase {
    var painting: String { StylevidPaths.data + "/mate/abstract/Elephants.jpg" }
    var photo: String { StylevidPaths.data + "/astronaut.png" }

    func ffmpeg(_ args: [String]) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        p.arguments = ["-v", "error", "-y"] + args
        try! p.run(); p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "ffmpeg \(args)")
    }

    func fails(_ args: [String], _ fragment: String, limitFileSize: Int? = nil, file: StaticString = #filePath, line: UInt = #line) {
        let before = Set(try! FileManager.default.contentsOfDirectory(atPath: dir))
        let r: RunResult
        if let blocks = limitFileSize {
            // a "full disk": the shell's file-size limit (512-byte blocks)
            let quoted = ([StylevidPaths.binary] + args).map { "'\($0)'" }.joined(separator: " ")
            r = runShell("ulimit -f \(blocks); exec \(quoted)")
        } else {
            r = runStylevid(args)
        }
        XCTAssertNotEqual(r.status, 0, file: file, line: line)
        XCTAssertLessThan(r.status, 128, "killed by a signal: \(r.stderr)", file: file, line: line)
        let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("stylevid: error:") }
        XCTAssertEqual(errors.count, 1, r.stderr, file: file, line: line)
        XCTAssert(r.stderr.contains(fragment), "'\(fragment)' not in \(r.stderr)", file: file, line: line)
        XCTAssertEqual(Set(try! FileManager.default.contentsOfDirectory(atPath: dir)), before, "files left behind", file: file, line: line)
    }

    func testFullDiskLeavesNoPartialFile() {
        fails([photo, painting, dir + "/big.png", "--size", "128", "--iterations", "1", "--pyramid", "1", "--quiet"],
              "File too large", limitFileSize: 20)
        let clip = StylevidPaths.data + "/bikes.mp4"
        fails([clip, painting, dir + "/big.mkv", "--size", "64", "--iterations", "1", "--pyramid", "1", "--quiet", "--crf", "0"],
              "File too large", limitFileSize: 4)
    }

    func testTinyAndDegenerateImages() throws {
        let raw = dir + "/px.rgb"
        FileManager.default.createFile(atPath: raw, contents: Data([255, 0, 0]))
        ffmpeg(["-f", "rawvideo", "-s", "1x1", "-pix_fmt", "rgb24", "-i", raw, dir + "/one.png"])
        // a 1×1 style image is a (flat red) style: it works
        let r = runStylevid([photo, dir + "/one.png", dir + "/out.png", "--size", "32", "--iterations", "2", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        try FileManager.default.removeItem(atPath: dir + "/out.png")
        ffmpeg(["-f", "lavfi", "-i", "testsrc=size=256x8:rate=1", "-frames:v", "1", dir + "/thin.png"])
        fails([dir + "/thin.png", painting, dir + "/o.png", "--size", "256"], "shorter side must be at least 16 px")
    }

    func testTinyOddOneFrameAndBrokenVideos() throws {
        ffmpeg(["-f", "lavfi", "-i", "testsrc=size=8x8:rate=10:duration=0.3", "-c:v", "ffv1", dir + "/tiny.mkv"])
        ffmpeg(["-f", "lavfi", "-i", "testsrc=size=177x99:rate=10:duration=0.2", "-c:v", "ffv1", dir + "/odd.mkv"])
        ffmpeg(["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-frames:v", "1", "-pix_fmt", "yuv420p", dir + "/one.mp4"])
        ffmpeg(["-f", "lavfi", "-i", "sine=duration=0.3", "-c:a", "aac", dir + "/audio.m4a"])
        FileManager.default.createFile(atPath: dir + "/zero.mp4", contents: Data())
        let opts = ["--iterations", "1", "--pyramid", "1", "--quiet"]
        // an 8×8 video is processed at 64×64, not blown up to --size
        var r = runStylevid([dir + "/tiny.mkv", painting, dir + "/t.mp4"] + opts)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssert(runStylevid(["probe", dir + "/t.mp4"]).stdout.contains("64×64"))
        r = runStylevid([dir + "/odd.mkv", painting, dir + "/o.mp4", "--size", "89"] + opts)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssert(runStylevid(["probe", dir + "/o.mp4"]).stdout.contains("90×50"))   // even sizes
        r = runStylevid([dir + "/one.mp4", painting, dir + "/1.mp4", "--size", "32"] + opts)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssert(runStylevid(["probe", dir + "/1.mp4"]).stdout.contains("1 frames"))
        fails([dir + "/audio.m4a", painting, dir + "/x.mp4"], "contains no image or video stream")
        fails([dir + "/zero.mp4", painting, dir + "/x.mp4"], "zero.mp4: cannot open")
        fails([dir + "/tiny.mkv", painting, dir + "/x.mp4", "--size", "100000"], "too large")
    }
}

/// Runs a shell command line (for resource limits), with the same result shape.
func runShell(_ line: String) -> RunResult {
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
