import Foundation
import TestSupport
import XCTest

/// The video path through the real binary, on the real sample clips.
final class VideoCLITests: TemporaryDirectoryTestCase {

    var bunny: String { StylevidPaths.data + "/bigbuckbunny.mp4" }
    var painting: String { StylevidPaths.data + "/mate/abstract/Elephants.jpg" }

    func ffprobe(_ path: String, _ entries: String, stream: String = "v:0") -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/ffprobe")
        p.arguments = ["-v", "error", "-select_streams", stream, "-show_entries", entries, "-of", "csv=p=0", path]
        let pipe = Pipe(); p.standardOutput = pipe
        try? p.run(); p.waitUntilExit()
        return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// 0.2 s of Big Buck Bunny (5 frames at 25 fps, with AAC audio): every frame stylized,
    /// frame rate, timestamps and audio kept, and the frames are not the input's.
    func testStylizesAClipKeepingTimingAndAudio() throws {
        guard FileManager.default.fileExists(atPath: bunny) else { return XCTFail("run make setup") }
        let out = dir + "/bunny.mp4"
        let r = runStylevid([bunny, painting, out, "--size", "64", "--iterations", "3", "--pyramid", "1",
                             "--start", "1", "--duration", "0.2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssert(r.stderr.contains("frame 5/5"), r.stderr)
        XCTAssertEqual(ffprobe(out, "stream=codec_name,width,height,r_frame_rate"), "h264,64,36,25/1")
        XCTAssertEqual(ffprobe(out, "stream=nb_frames"), "5")
        XCTAssertEqual(ffprobe(out, "frame=pts_time").split(separator: "\n").map { Double($0.split(separator: ",")[0]) ?? -1 }, [0, 0.04, 0.08, 0.12, 0.16])
        XCTAssertEqual(ffprobe(out, "stream=codec_name", stream: "a:0"), "aac")
        XCTAssertEqual(Double(ffprobe(out, "stream=duration", stream: "a:0")) ?? 0, 0.2, accuracy: 0.05)
        // the flicker metric reads it back against the input (5 frames, a small error)
        let we = runStylevid(["stability", out, bunny])
        XCTAssertEqual(we.status, 0, we.stderr)
        let obj = try JSONSerialization.jsonObject(with: Data(we.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(obj?["frames"] as? Int, 5)
        XCTAssertLessThan(obj?["warping_error"] as? Double ?? 1, 0.05)
        // the stylized frame is not the input frame
        let styled = try readPNGViaTool(out, size: 32)
        XCTAssertGreaterThan(meanColorDistance(styled, try readPNGViaTool(bunny, size: 32)), 1)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["bunny.mp4"])
    }

    func testNoAudioAndFrameRange() throws {
        let out = dir + "/silent.mkv"
        let r = runStylevid([bunny, painting, out, "--size", "48", "--iterations", "2", "--pyramid", "1", "--frames", "3-5", "--no-audio", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(ffprobe(out, "stream=codec_type", stream: "a"), "")
        XCTAssertEqual(ffprobe(out, "frame=pts_time").split(separator: "\n").count, 3)
    }

    /// --output-size source scales the result back to the input's size; rotation metadata
    /// (a phone video shot in portrait) is kept so players turn the output the same way.
    func testOutputSizeSourceAndRotationKept() throws {
        let plain = dir + "/plain.mp4", rotated = dir + "/rotated.mp4"
        for args in [["-f", "lavfi", "-i", "testsrc=size=96x64:rate=10:duration=0.3", "-pix_fmt", "yuv420p", plain],
                     ["-i", plain, "-c", "copy", "-metadata:s:v:0", "rotate=90", rotated]] {   // the tag works on stream copy
            let ff = Process()
            ff.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
            ff.arguments = ["-v", "error"] + args
            try ff.run(); ff.waitUntilExit()
        }
        XCTAssertEqual(ffprobe(rotated, "stream_side_data=rotation"), "90")
        let out = dir + "/out.mp4"
        let r = runStylevid([rotated, painting, out, "--size", "48", "--iterations", "2", "--pyramid", "1", "--output-size", "source", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssert(ffprobe(out, "stream=width,height").hasPrefix("96,64"))
        let probe = runStylevid(["probe", out])
        XCTAssert(probe.stdout.contains("rotation 90°"), probe.stdout)
        XCTAssertEqual(ffprobe(out, "stream_side_data=rotation"), "90")   // an independent reader agrees
    }

    func testBadVideoInputs() throws {
        func fails(_ args: [String], _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
            let r = runStylevid(args)
            XCTAssertNotEqual(r.status, 0, file: file, line: line)
            XCTAssertLessThan(r.status, 128, "crashed: \(r.stderr)", file: file, line: line)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr, file: file, line: line)
            XCTAssert(r.stderr.contains(fragment), "'\(fragment)' not in \(r.stderr)", file: file, line: line)
        }
        let out = dir + "/o.mp4"
        let text = dir + "/notes.mp4"
        try "a text file named .mp4".write(toFile: text, atomically: true, encoding: .utf8)
        fails([text, painting, out], "notes.mp4: cannot open")
        fails([dir + "/missing.mp4", painting, out], "missing.mp4: no such file")
        fails([bunny, painting, dir + "/o.png"], "a video input needs a video output")
        fails([bunny, painting, out, "--frames", "5-2"], "--frames")
        fails([bunny, painting, out, "--frames", "1-2", "--start", "1"], "cannot be combined")
        fails([bunny, painting, out, "--duration", "abc"], "--duration")
        fails([bunny, painting, out, "--temporal-weight=-1", "--size", "32"], "--temporal-weight must be a finite number ≥ 0")
        fails([bunny, painting, out, "--init", painting], "--init PATH is for images")
        fails(["stability", dir + "/missing.mp4", bunny], "missing.mp4: no such file")
        fails([bunny, painting, out, "--temporal-frames", "10,20", "--size", "32"], "--temporal-frames must include 1")
        fails([bunny, painting, out, "--temporal-frames", "1,x", "--size", "32"], "'x' is not a frame offset")
        fails([bunny, painting, out, "--flow-dir", dir + "/nowhere"], "/nowhere: no such folder")
        fails([bunny, painting, bunny], "would overwrite the input")
        fails([bunny, painting, out, "--start", "100", "--size", "32", "--iterations", "1"], "--start 100 s is past the end of")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["notes.mp4"])
    }

    func testProbe() {
        let r = runStylevid(["probe", bunny])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssert(r.stdout.contains("1280×720, 25.000 fps"), r.stdout)
        XCTAssert(r.stdout.contains("audio aac, 48000 Hz"), r.stdout)
        XCTAssert(r.stdout.contains("132 frames"), r.stdout)
    }
}

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

    /// --passes 3: the later passes change the frames and make them steadier; a run killed
    /// inside pass 2 and resumed gives the frames of an uninterrupted run.
    func testMultiPassResumesInsideAPass() throws {
        let one = dir + "/one.mp4", full = dir + "/full.mp4"
        XCTAssertEqual(runStylevid(args + [one] + opts).status, 0)
        let r0 = runStylevid(args + [full] + opts + ["--passes", "3"])
        XCTAssertEqual(r0.status, 0, r0.stderr)
        let reference = rawFrames(full)
        XCTAssertEqual(reference.count, 7 * 64 * 28 * 3)
        XCTAssertNotEqual(reference, rawFrames(one))
        func stability(_ p: String) -> Double {
            let r = runStylevid(["stability", p, args[0]])
            return (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])?["warping_error"] as? Double ?? .infinity
        }
        XCTAssertLessThan(stability(full), stability(one))
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
        try "garbage".write(toFile: frames + "/frame-000000.png", atomically: false, encoding: .utf8)
        r = runStylevid(args + [out] + opts + ["--resume"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(rawFrames(out), rawFrames(full))
    }
}
