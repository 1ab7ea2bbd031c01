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
        // videos default to max-blur pooling (images keep max; see testNoAudioAndFrameRange)
        XCTAssert(r.stderr.contains("max-blur pooling"), r.stderr)
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
        // --style measures style strength: the stylized frames are far nearer the
        // painting's Gram statistics than the input's own frames at the same size
        func strength(_ video: String) throws -> (mean: Double, frames: [Double]) {
            let r = runStylevid(["stability", video, bunny, "--style", painting, "--frames", "0-4"])
            XCTAssertEqual(r.status, 0, r.stderr)
            let o = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            return (o?["style_loss"] as? Double ?? .nan, o?["style_loss_per_frame"] as? [Double] ?? [])
        }
        let unstyled = dir + "/plain.mp4"
        XCTAssertEqual(runStylevid([bunny, painting, unstyled, "--size", "64", "--iterations", "1", "--pyramid", "1",
                                    "--start", "1", "--duration", "0.2", "--temporal-weight", "0", "--quiet"]).status, 0)
        let styledLoss = try strength(out), plainLoss = try strength(unstyled)
        XCTAssertEqual(styledLoss.frames.count, 5)
        XCTAssertLessThan(styledLoss.mean, plainLoss.mean / 2, "stylized \(styledLoss) vs 1 evaluation \(plainLoss)")
        try FileManager.default.removeItem(atPath: unstyled)
        // the stylized frame is not the input frame
        let styled = try readPNGViaTool(out, size: 32)
        XCTAssertGreaterThan(meanColorDistance(styled, try readPNGViaTool(bunny, size: 32)), 1)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["bunny.mp4"])
    }

    func testNoAudioAndFrameRange() throws {
        let out = dir + "/silent.mkv"
        let r = runStylevid([bunny, painting, out, "--size", "48", "--iterations", "2", "--pyramid", "1", "--frames", "3-5", "--no-audio", "--pooling", "max"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssert(r.stderr.contains(", max pooling"), "--pooling max overrides the video default: \(r.stderr)")
        XCTAssertEqual(ffprobe(out, "stream=codec_type", stream: "a"), "")
        XCTAssertEqual(ffprobe(out, "frame=pts_time").split(separator: "\n").count, 3)
        // with audio, a frame range's audio ends with its last frame (0.12 s), not the input's (5.3 s)
        let voiced = dir + "/voiced.mkv"
        let v = runStylevid([bunny, painting, voiced, "--size", "48", "--iterations", "2", "--pyramid", "1", "--frames", "3-5", "--quiet"])
        XCTAssertEqual(v.status, 0, v.stderr)
        let audioEnd = runShell("ffprobe -v error -select_streams a -show_entries packet=pts_time,duration_time -of csv=p=0 '\(voiced)' | tail -1")
            .stdout.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }.reduce(0, +)
        XCTAssertGreaterThan(audioEnd, 0.05, "the audio is kept")
        XCTAssertLessThan(audioEnd, 0.2, "the audio ends with the frames")
    }

    /// --output-size scaled enlarges the result to the input's size; rotation metadata
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
        let r = runStylevid([rotated, painting, out, "--size", "48", "--iterations", "2", "--pyramid", "1", "--output-size", "scaled", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssert(ffprobe(out, "stream=width,height").hasPrefix("96,64"))
        let probe = runStylevid(["probe", out])
        XCTAssert(probe.stdout.contains("rotation 90°"), probe.stdout)
        XCTAssertEqual(ffprobe(out, "stream_side_data=rotation"), "90")   // an independent reader agrees
    }

    /// The frames of `video` as 8-bit grey planes.
    func greyFrames(_ video: String, width: Int, height: Int) -> [[UInt8]] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        p.arguments = ["-v", "error", "-i", video, "-f", "rawvideo", "-pix_fmt", "gray", "-"]
        let pipe = Pipe(); p.standardOutput = pipe
        try? p.run()
        let bytes = [UInt8](pipe.fileHandleForReading.readDataToEndOfFile())
        p.waitUntilExit()
        return stride(from: 0, to: bytes.count - width * height + 1, by: width * height).map { Array(bytes[$0..<$0 + width * height]) }
    }

    /// Mean absolute Laplacian of a grey plane: how much fine detail it holds.
    func detail(_ g: [UInt8], width w: Int, height h: Int) -> Double {
        var sum = 0.0
        for y in 1..<h - 1 { for x in 1..<w - 1 {
            let c = 4 * Int(g[y * w + x]) - Int(g[y * w + x - 1]) - Int(g[y * w + x + 1]) - Int(g[(y - 1) * w + x]) - Int(g[(y + 1) * w + x])
            sum += Double(abs(c))
        } }
        return sum / Double((w - 2) * (h - 2))
    }

    /// --output-size source optimises a last level at the input's size: the frames come out
    /// at that size with more fine detail than the enlarged processing-size result of
    /// --output-size scaled, every frame of it. Combinations it does not serve yet are refused
    /// before any work (the cluster path: ClusterTests.testSourceSizeThroughPlanRenderAndJoin).
    /// 16 evaluations, not 8: with 8 the source-size pass of the first two frames is still in
    /// its first line searches and hardly changes them; only the third frame, whose L-BFGS
    /// starts with the carried curvature, showed the detail, so the result hung on one frame.
    func testOutputSizeSourceOptimisesAtTheInputSize() throws {
        guard FileManager.default.fileExists(atPath: bunny) else { return XCTFail("run make setup") }
        let clip = dir + "/clip.mp4"
        let ff = runShell("ffmpeg -v error -ss 1 -i '\(bunny)' -frames:v 3 -vf scale=192:108 -an '\(clip)'")
        XCTAssertEqual(ff.status, 0, ff.stderr)
        var fine: [String: [Double]] = [:]
        for mode in ["scaled", "source"] {
            let out = dir + "/\(mode).mp4"
            let r = runStylevid([clip, painting, out, "--size", "64", "--iterations", "16", "--pyramid", "1", "--output-size", mode])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertEqual(r.stderr.contains("then optimised again at 192×108"), mode == "source", r.stderr)
            XCTAssertEqual(ffprobe(out, "stream=width,height"), "192,108")
            let frames = greyFrames(out, width: 192, height: 108)
            XCTAssertEqual(frames.count, 3)
            fine[mode] = frames.map { detail($0, width: 192, height: 108) }
        }
        let pairs = zip(fine["source"] ?? [], fine["scaled"] ?? [])
        XCTAssertEqual(pairs.filter { $0.0 > 1.5 * $0.1 }.count, 3, "fine detail per pixel and frame: \(fine)")

        for (args, message) in [(["-vf", "scale=96:54"], "the -vf chain's scale or crop decides the frame size"),
                                (["--passes", "2"], "with --output-size source it is not available yet")] {
            let r = runStylevid([clip, painting, dir + "/refused.mp4", "--output-size", "source"] + args)
            XCTAssertNotEqual(r.status, 0)
            XCTAssert(r.stderr.contains(message), r.stderr)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/refused.mp4"))
    }

    func testProbe() {
        let r = runStylevid(["probe", bunny])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssert(r.stdout.contains("1280×720, 25.000 fps"), r.stdout)
        XCTAssert(r.stdout.contains("audio aac, 48000 Hz"), r.stdout)
        XCTAssert(r.stdout.contains("132 frames"), r.stdout)
    }
}
