import Foundation
import TestSupport
import XCTest

/// Debian's ffmpeg loads the built frei0r plugin and stylizes a clip with it.
final class Frei0rTests: TemporaryDirectoryTestCase {
    var plugin: String { URL(fileURLWithPath: StylevidPaths.binary).deletingLastPathComponent().appendingPathComponent("libstylevid-frei0r.so").path }

    func ffmpegHasFrei0r() -> Bool { runShell("ffmpeg -hide_banner -filters 2>/dev/null").stdout.contains(" frei0r ") }

    /// Runs ffmpeg with `params` (frei0r order: style|style weight|temporal weight|
    /// iterations|later iterations|size|photoreal) on 6 frames of carphone at 64 px.
    func runPlugin(_ params: String, to out: String) -> RunResult {
        let input = StylevidPaths.data + "/carphone_pristine.mp4"
        let d: String = dir
        return runShell("FREI0R_PATH='\(d)/plugins' ffmpeg -v error -y -i '\(input)' -frames:v 6 -an -vf \"scale=64:-2,frei0r=filter_name=stylevid:filter_params=\(params)\" '\(out)'")
    }

    func testFFmpegRunsThePluginWithTemporalConsistency() throws {
        guard ffmpegHasFrei0r() else {
            throw XCTSkip("this ffmpeg was built without frei0r support (ffmpeg -filters lists no frei0r); the plugin cannot be tested here")
        }
        XCTAssert(FileManager.default.fileExists(atPath: plugin), "build the plugin first: \(plugin)")
        try FileManager.default.createDirectory(atPath: dir + "/plugins", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: plugin, toPath: dir + "/plugins/stylevid.so")
        let style = StylevidPaths.data + "/mate/abstract/Elephants.jpg"
        let steady = dir + "/steady.mp4", independent = dir + "/independent.mp4"
        var r = runPlugin("\(style)|100|200|30|6|64|0", to: steady)
        XCTAssertEqual(r.status, 0, r.stderr)
        r = runPlugin("\(style)|100|0|30|6|64|0", to: independent)
        XCTAssertEqual(r.status, 0, r.stderr)
        // the frames are stylized: far from the input
        let input = StylevidPaths.data + "/carphone_pristine.mp4"
        XCTAssertGreaterThan(meanColorDistance(try readPNGViaTool(steady, size: 32), try readPNGViaTool(input, size: 32)), 2)
        // and the temporal term makes them steadier than independent frames
        func flicker(_ p: String) -> Double {
            let s = runStylevid(["stability", p, input])
            return (try? JSONSerialization.jsonObject(with: Data(s.stdout.utf8)) as? [String: Any])?["warping_error"] as? Double ?? .infinity
        }
        let a = flicker(steady), b = flicker(independent)
        XCTAssertLessThan(a, b * 0.7, "temporal \(a), independent \(b)")
        // a missing style image: the frames pass through and the plugin says why, once
        r = runPlugin("/nonexistent.jpg|100|200|30|6|64|0", to: dir + "/pass.mp4")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr.components(separatedBy: "stylevid frei0r:").count, 2, r.stderr)
        XCTAssert(r.stderr.contains("nonexistent.jpg"), r.stderr)
    }
}
