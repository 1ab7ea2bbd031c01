import Foundation
import TestSupport
import XCTest

/// Odd and hostile inputs through the real binary: each either works sensibly or fails
/// with one line, a non-zero exit (no crash signal), no output and no temporary file.
final class RobustnessTests: CLITestCase {
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

    /// Damaged media: a PNG cut short, a video with a run of overwritten bytes in the
    /// middle (decodable frames are processed, damaged packets skipped with a warning)
    /// and a video cut short (the frames that arrived are processed).
    func testTruncatedAndCorruptedMedia() throws {
        let png = try Data(contentsOf: URL(fileURLWithPath: photo))
        try png.prefix(png.count / 2).write(to: URL(fileURLWithPath: dir + "/half.png"))
        fails([dir + "/half.png", painting, dir + "/o.png", "--size", "32"], "half.png: cannot decode")

        let clip = try Data(contentsOf: URL(fileURLWithPath: StylevidPaths.data + "/bikes.mp4"))
        var damaged = clip
        let from = clip.count / 3
        for k in from..<(from + clip.count / 20) { damaged[k] = UInt8(truncatingIfNeeded: k &* 2654435761 >> 13) }
        try damaged.write(to: URL(fileURLWithPath: dir + "/damaged.mp4"))
        try clip.prefix(clip.count * 2 / 5).write(to: URL(fileURLWithPath: dir + "/cut.mp4"))
        let opts = ["--size", "64", "--iterations", "1", "--later-iterations", "1", "--pyramid", "1", "--quiet"]
        for name in ["damaged", "cut"] {
            let out = dir + "/\(name)-out.mp4"
            let r = runStylevid([dir + "/\(name).mp4", painting, out] + opts)
            XCTAssertLessThan(r.status, 128, "\(name): crashed: \(r.stderr)")
            XCTAssertFalse(r.stderr.contains("shorter side"), r.stderr)
            if r.status == 0 {
                let probe = runStylevid(["probe", out])
                XCTAssertEqual(probe.status, 0, "\(name): unreadable output: \(probe.stderr)")
            } else {
                XCTAssertEqual(r.stderr.split(separator: "\n").filter { $0.hasPrefix("stylevid: error:") }.count, 1, r.stderr)
                XCTAssertFalse(FileManager.default.fileExists(atPath: out))
            }
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".") }, [], "temporaries left")
    }

    /// The CLI with weights that are not the network: a real file cut short, a valid
    /// safetensors file of another shape, a file of zeros.
    func testWrongOrTruncatedWeights() throws {
        let real = StylevidPaths.home + "/models/vgg16_hed.h5"
        let h = try FileHandle(forReadingFrom: URL(fileURLWithPath: real))
        let head = h.readData(ofLength: 4 << 20); try h.close()
        FileManager.default.createFile(atPath: dir + "/cut.h5", contents: head)
        let args = [photo, painting, dir + "/o.png", "--size", "32", "--iterations", "1", "--quiet", "--model"]
        fails(args + [dir + "/cut.h5"], "cut.h5")
        // one 3×3 convolution (weight + bias) of 2→1 channels: not a VGG
        let json = #"{"features.0.weight":{"dtype":"F32","shape":[1,2,3,3],"data_offsets":[0,72]},"features.0.bias":{"dtype":"F32","shape":[1],"data_offsets":[72,76]}}"#
        var st = Data(withUnsafeBytes(of: UInt64(json.utf8.count).littleEndian) { Array($0) })
        st.append(Data(json.utf8)); st.append(Data(count: 76))
        FileManager.default.createFile(atPath: dir + "/small.safetensors", contents: st)
        fails(args + [dir + "/small.safetensors"], "small.safetensors")
        FileManager.default.createFile(atPath: dir + "/zeros.safetensors", contents: Data(count: 4096))
        fails(args + [dir + "/zeros.safetensors"], "zeros.safetensors")
    }

    /// A precomputed flow with a wrong header: the run stops with one line naming the
    /// file, writes no output, keeps the finished frame and says how to resume.
    func testBadFlowFileInFlowDir() throws {
        let flows = dir + "/flows"
        try FileManager.default.createDirectory(atPath: flows, withIntermediateDirectories: true)
        for name in ["backward_2_1.flo", "forward_1_2.flo"] {
            FileManager.default.createFile(atPath: flows + "/" + name, contents: Data("PIEH but not really a flow".utf8))
        }
        let out = dir + "/o.mp4"
        let r = runStylevid([StylevidPaths.data + "/bikes.mp4", painting, out, "--frames", "0-2", "--size", "64",
                             "--iterations", "1", "--pyramid", "1", "--quiet", "--flow-dir", flows])
        XCTAssertNotEqual(r.status, 0); XCTAssertLessThan(r.status, 128, r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssert(r.stderr.contains("backward_2_1.flo") && r.stderr.contains("--resume"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    /// A folder the process cannot create files in (root passes access(); sysfs still
    /// refuses the create): refused before any work, so the only line on stderr is the
    /// error (a run that got as far as optimising would print progress lines first).
    func testUnwritableOutputFolderFailsBeforeWork() throws {
        let r = runStylevid([photo, painting, "/sys/out.png", "--size", "256", "--iterations", "50"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssert(r.stderr.contains("/sys/out.png: output folder /sys is not writable"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
    }
}
