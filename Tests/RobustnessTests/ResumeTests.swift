import Foundation
import TestSupport
import XCTest

/// Interrupted video runs resume from their checkpoints and give the same frames as an
/// uninterrupted run.
final class ResumeTests: TemporaryDirectoryTestCase {
    var args: [String] { [StylevidPaths.data + "/bikes.mp4", StylevidPaths.data + "/mate/abstract/Elephants.jpg"] }
    let opts = ["--size", "64", "--iterations", "8", "--pyramid", "1", "--frames", "0-6", "--quiet"]

    /// Starts a run and SIGKILLs it once `afterFrames` checkpoints exist.
    func killRun(_ arguments: [String], afterFrames: Int, checkpoints: String) throws {
        try killRun(arguments) {
            ((try? FileManager.default.contentsOfDirectory(atPath: checkpoints))?.filter { $0.hasPrefix("frame-") }.count ?? 0) >= afterFrames
        }
    }

    /// Starts a run and SIGKILLs it once `ready()` holds.
    func killRun(_ arguments: [String], when ready: () -> Bool) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: StylevidPaths.binary)
        p.arguments = arguments
        p.standardError = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline && p.isRunning && !ready() { usleep(20_000) }
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }

    func rawFrames(_ path: String) -> Data {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        p.arguments = ["-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
        let pipe = Pipe(); p.standardOutput = pipe
        try! p.run()
        let d = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return d
    }

    /// --passes 3: the later passes change the frames; a run killed inside pass 2 and
    /// resumed gives the frames of an uninterrupted run. (Whether they are steadier is
    /// measured in BENCHMARKS.md "Multi-pass" at settings that converge: at 64 px and 8
    /// evaluations a frame that suddenly takes the style decides the warping error, so it
    /// went either way.)
    func testMultiPassResumesInsideAPass() throws {
        let one = dir + "/one.mp4", full = dir + "/full.mp4"
        XCTAssertEqual(runStylevid(args + [one] + opts).status, 0)
        let r0 = runStylevid(args + [full] + opts + ["--passes", "3"])
        XCTAssertEqual(r0.status, 0, r0.stderr)
        let reference = rawFrames(full)
        XCTAssertEqual(reference.count, 7 * 64 * 28 * 3)
        XCTAssertNotEqual(reference, rawFrames(one))
        let out = dir + "/part.mp4", progress = dir + "/.part.mp4.stylevid-frames/passes"
        try killRun(args + [out] + opts + ["--passes", "3"]) {
            (try? String(contentsOfFile: progress, encoding: .utf8)).map { $0.hasPrefix("2 ") && $0 != "2 2" } ?? false
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        let r = runStylevid(args + [out] + opts + ["--passes", "3", "--resume"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(rawFrames(out), reference)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".") }, [])
    }

    /// SIGKILL after 1, 3 and 5 finished frames, then --resume: identical frames, no
    /// checkpoint folder and no stale temporary file left.
    func testKillAndResumeGivesTheSameFrames() throws {
        let full = dir + "/full.mp4"
        XCTAssertEqual(runStylevid(args + [full] + opts).status, 0)
        let reference = rawFrames(full)
        XCTAssertEqual(reference.count, 7 * 64 * 28 * 3)
        for killAfter in [1, 3, 5] {
            let out = dir + "/part\(killAfter).mp4"
            let frames = dir + "/.part\(killAfter).mp4.stylevid-frames"
            try killRun(args + [out] + opts, afterFrames: killAfter, checkpoints: frames)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "a killed run must not leave an output")
            let r = runStylevid(args + [out] + opts + ["--resume"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(rawFrames(out), reference, "resumed after \(killAfter) frames")
            XCTAssertFalse(FileManager.default.fileExists(atPath: frames))
        }
        let left = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".") }
        XCTAssertEqual(left, [], "stale temporary files")
    }

    /// Renders `inputs` with `options` uninterrupted (`bytes` of raw frames), then a run
    /// SIGKILLed after 2 saved frames and resumed: no output after the kill, `killed`
    /// checks the checkpoint folder, and the resumed run gives the same frames and
    /// leaves no checkpoints.
    func assertKilledRunResumesToTheSameFrames(_ inputs: [String], _ options: [String], bytes: Int,
                                               killed: (String) throws -> Void = { _ in }) throws {
        let full = dir + "/full.mp4"
        XCTAssertEqual(runStylevid(inputs + [full] + options).status, 0)
        let reference = rawFrames(full)
        XCTAssertEqual(reference.count, bytes)
        let out = dir + "/part.mp4", frames = dir + "/.part.mp4.stylevid-frames"
        try killRun(inputs + [out] + options, afterFrames: 2, checkpoints: frames)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        try killed(frames)
        let r = runStylevid(inputs + [out] + options + ["--resume"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(rawFrames(out), reference)
        XCTAssertFalse(FileManager.default.fileExists(atPath: frames))
    }

    /// --mode fast saves a gap's frames once the keyframe that closes it is made: a run
    /// killed after 2 saved frames and resumed makes the same keyframe decisions and gives
    /// the frames of an uninterrupted run.
    func testFastModeResumesWithTheSameFrames() throws {
        try assertKilledRunResumesToTheSameFrames(args, opts + ["--mode", "fast", "--keyframe-gap", "3"], bytes: 7 * 64 * 28 * 3)
    }

    /// --output-size source keeps each frame's source-size result beside its processing-size
    /// one: a run killed after 2 frames and resumed gives the frames of an uninterrupted run.
    func testKillAndResumeAtSourceSize() throws {
        let clip = dir + "/clip.mp4"
        let ff = runShell("ffmpeg -v error -i '\(args[0])' -frames:v 5 -vf scale=128:54 -an '\(clip)'")
        XCTAssertEqual(ff.status, 0, ff.stderr)
        let o = ["--size", "64", "--iterations", "8", "--pyramid", "1", "--output-size", "source", "--quiet"]
        try assertKilledRunResumesToTheSameFrames([clip, args[1]], o, bytes: 5 * 128 * 54 * 3) { frames in
            XCTAssert((try FileManager.default.contentsOfDirectory(atPath: frames)).contains("source-000001.png"))
        }
    }

    /// Ctrl-C and SIGTERM during a video: exit 130 / 143 with a line saying how many
    /// frames are saved and to run again with --resume; no output; the resumed run gives
    /// the frames of an uninterrupted one.
    func testInterruptSaysHowToResumeAndResumes() throws {
        let full = dir + "/full.mp4"
        XCTAssertEqual(runStylevid(args + [full] + opts).status, 0)
        let reference = rawFrames(full)
        for (sig, code, after) in [(SIGINT, Int32(130), 2), (SIGTERM, Int32(143), 4)] {
            let out = dir + "/int\(sig).mp4", frames = dir + "/.int\(sig).mp4.stylevid-frames"
            let p = Process()
            p.executableURL = URL(fileURLWithPath: StylevidPaths.binary)
            p.arguments = args + [out] + opts
            let err = Pipe(); p.standardError = err
            try p.run()
            let deadline = Date().addingTimeInterval(120)
            while Date() < deadline && p.isRunning
                    && ((try? FileManager.default.contentsOfDirectory(atPath: frames))?.filter { $0.hasPrefix("frame-") }.count ?? 0) < after {
                usleep(20_000)
            }
            kill(p.processIdentifier, sig)
            p.waitUntilExit()
            let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            XCTAssertEqual(p.terminationReason, .exit, message)
            XCTAssertEqual(p.terminationStatus, code, message)
            XCTAssert(message.contains("frame(s) are saved; run the same command with --resume to continue"), message)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out))
            let r = runStylevid(args + [out] + opts + ["--resume"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(rawFrames(out), reference, "resumed after signal \(sig)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(".") }, [])
    }

    func testResumeNeedsMatchingCheckpoints() throws {
        let out = dir + "/o.mp4"
        var r = runStylevid(args + [out] + opts + ["--resume"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssert(r.stderr.contains("nothing to resume"), r.stderr)
        // checkpoints made with other settings are not trusted
        let frames = dir + "/.o.mp4.stylevid-frames"
        try FileManager.default.createDirectory(atPath: frames, withIntermediateDirectories: true)
        try "other settings".write(toFile: frames + "/settings", atomically: true, encoding: .utf8)
        r = runStylevid(args + [out] + opts + ["--resume"])
        XCTAssert(r.stderr.contains("made with other settings"), r.stderr)
        // a corrupt checkpoint is redone, not trusted: kill a real run after 2 frames,
        // damage its first frame, resume
        try FileManager.default.removeItem(atPath: frames)
        let full = dir + "/full.mp4"
        XCTAssertEqual(runStylevid(args + [full] + opts).status, 0)
        try killRun(args + [out] + opts, afterFrames: 2, checkpoints: frames)
        // the same command line under other defaults (an earlier version's max pooling)
        let settings = try String(contentsOfFile: frames + "/settings", encoding: .utf8)
        XCTAssert(settings.contains("\"pooling\":\"max-blur\""), "the checkpoints record the settings the defaults gave: \(settings)")
        try settings.replacingOccurrences(of: "\"pooling\":\"max-blur\"", with: "\"pooling\":\"max\"").write(toFile: frames + "/settings", atomically: true, encoding: .utf8)
        r = runStylevid(args + [out] + opts + ["--resume"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssert(r.stderr.contains("made with other settings"), r.stderr)
        try settings.write(toFile: frames + "/settings", atomically: true, encoding: .utf8)
        try "garbage".write(toFile: frames + "/frame-000000.png", atomically: false, encoding: .utf8)
        r = runStylevid(args + [out] + opts + ["--resume"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(rawFrames(out), rawFrames(full))
    }
}
