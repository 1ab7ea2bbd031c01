import Foundation
import TestSupport
import XCTest

/// `--mode fast` through the real binary: keyframes by the optimiser, the frames between
/// propagated, against `--mode full` on the same frames.
final class FastModeTests: TemporaryDirectoryTestCase {
    var bikes: String { StylevidPaths.data + "/bikes.mp4" }
    var painting: String { StylevidPaths.data + "/mate/abstract/Elephants.jpg" }
    let opts = ["--size", "96", "--iterations", "30", "--pyramid", "1", "--frames", "0-11"]

    func measure(_ video: String) throws -> (style: Double, warping: Double) {
        let r = runStylevid(["stability", video, bikes, "--style", painting, "--frames", "0-11"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let o = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        return (o?["style_loss"] as? Double ?? .nan, o?["warping_error"] as? Double ?? .nan)
    }

    /// 12 frames of a pan with a keyframe at least every 5: every frame written, the
    /// summary counts keyframes and propagated frames, and the result is as painted as the
    /// full render's and no less steady (within margins for 96 px frames).
    func testFastModeOptimisesKeyframesAndPropagatesTheRest() throws {
        try requireInstalled([bikes, painting])
        let fast = dir + "/fast.mp4", full = dir + "/full.mp4"
        let r = runStylevid([bikes, painting, fast] + opts + ["--mode", "fast", "--keyframe-gap", "5"])
        XCTAssertEqual(r.status, 0, r.stderr)
        // "N keyframe(s) optimised, M frame(s) propagated from them (--mode fast)"
        let words = r.stderr.split(separator: "\n").first { $0.contains("keyframe(s) optimised") }?.split(separator: " ") ?? []
        guard let at = words.firstIndex(of: "keyframe(s)"), let frames = words.firstIndex(of: "frame(s)"), at > 0 else {
            return XCTFail("no count of keyframes: \(r.stderr)")
        }
        let keys = Int(words[at - 1]) ?? 0, propagated = Int(words[frames - 1]) ?? 0
        XCTAssertGreaterThanOrEqual(keys, 3, r.stderr)
        XCTAssertGreaterThan(propagated, keys, r.stderr)
        XCTAssertEqual(keys + propagated, 12, r.stderr)
        XCTAssertEqual(runStylevid([bikes, painting, full] + opts + ["--quiet"]).status, 0)
        let f = try measure(fast), reference = try measure(full)
        XCTAssertLessThan(f.style, reference.style * 1.5, "fast \(f) vs full \(reference)")
        XCTAssertLessThan(f.warping, reference.warping * 1.5, "fast \(f) vs full \(reference)")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).sorted(), ["fast.mp4", "full.mp4"])
    }

    /// A fast plan has no seam pass to size: --seam-pass-frames is refused in one line.
    func testPlanRefusesASeamPassInFastMode() {
        let r = runStylevid(["plan", bikes, painting, dir + "/o.mp4", "--job", dir + "/job", "--mode", "fast", "--seam-pass-frames", "8"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssert(r.stderr.contains("--seam-pass-frames is not for --mode fast"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/job"))
    }

    /// Fast mode refines no frame twice: --passes is refused in one line, before any work.
    func testFastModeRefusesPasses() {
        let r = runStylevid([bikes, painting, dir + "/o.mp4", "--mode", "fast", "--passes", "2"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssert(r.stderr.contains("--mode fast"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/o.mp4"))
    }
}
