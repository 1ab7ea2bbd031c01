import Foundation
import TestSupport
import XCTest

/// `stylevid photo` and `stylevid photo-metrics` as a user runs them, with the bundled
/// model and the sample photos.
final class PhotoCLITests: XCTestCase {
    var dir = ""
    let coffee = StylevidPaths.data + "/coffee.png"
    let dune = StylevidPaths.data + "/mate/nature/Dune.jpg"

    override func setUpWithError() throws {
        try requireInstalled([coffee, dune])
        dir = NSTemporaryDirectory() + "stylevid-photo-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func metrics(_ result: String) throws -> [String: Double] {
        let m = runStylevid(["photo-metrics", result, coffee, dune])
        XCTAssertEqual(m.status, 0, m.stderr)
        return try JSONSerialization.jsonObject(with: Data(m.stdout.utf8)) as? [String: Double] ?? [:]
    }

    /// Processing at 96 px, the result comes back at the photo's 600×400 (guided
    /// upsampling); its structure is the content's and its colours moved to the reference's.
    func testPhotoKeepsStructureMovesColoursAtFullResolution() throws {
        let out = dir + "/relit.png"
        let r = runStylevid(["photo", coffee, dune, out, "--size", "96", "--iterations", "15", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let img = try readPNGViaTool(out)
        XCTAssertEqual([img.width, img.height], [600, 400])
        let m = try metrics(out)
        XCTAssertGreaterThan(m["structure"] ?? 0, 0.85, "\(m)")
        XCTAssertLessThan(m["lab_distance"] ?? 99, 0.5 * (m["content_lab_distance"] ?? 0), "\(m)")

        // the instant baseline
        let rh = dir + "/reinhard.png"
        XCTAssertEqual(runStylevid(["photo", coffee, dune, rh, "--method", "reinhard"]).status, 0)
        XCTAssertLessThan(try metrics(rh)["lab_distance"] ?? 99, 5)
    }

    /// A video relit with the photo defaults (matting term per frame + temporal term).
    func testPhotoOnAVideo() throws {
        let clip = StylevidPaths.data + "/carphone_pristine.mp4"
        let out = dir + "/relit.mp4"
        let r = runStylevid(["photo", clip, dune, out, "--frames", "0-2", "--size", "64", "--iterations", "5", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let probe = runStylevid(["probe", out])
        XCTAssert(probe.stdout.contains("64×52") || probe.stdout.contains("64x52"), probe.stdout)
        let rh = runStylevid(["photo", clip, dune, dir + "/x.mp4", "--method", "reinhard"])
        XCTAssert(rh.stderr.contains("--method reinhard is for photos"), rh.stderr)
    }
}
