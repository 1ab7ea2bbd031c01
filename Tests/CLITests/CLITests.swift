import Foundation
import TestSupport
import XCTest

/// The real `stylevid` binary, run as a user would. Every bad input must give one error
/// line naming the problem, a non-zero exit, no output file, and untouched inputs.
final class CLITests: CLITestCase {

    func testHelpListsOptionsWithDefaults() {
        let r = runStylevid(["image", "--help"])
        XCTAssertEqual(r.status, 0)
        for fragment in ["--size <size>", "(default 512", "--iterations", "--content-weight", "--style-weight",
                         "--tv-weight", "--content-layers", "--style-layers", "--style-layer-weights", "--style-blend",
                         "--style-scale", "--init", "--optimizer", "--learning-rate", "--pyramid", "--preserve-colors",
                         "--model", "--seed", "--save-every", "--quiet"] {
            XCTAssert(r.stdout.contains(fragment), "--help lacks \(fragment)")
        }
        let top = runStylevid(["--help"])
        XCTAssert(top.stdout.contains("image") && top.stdout.contains("bench"), top.stdout)
    }

    /// Real weights, real photo, real painting: a tiny run end to end. The result must be
    /// an image of the right size, different from the content, whose colours moved
    /// toward the painting's.
    func testStylizesARealPhoto() throws {
        try requireSampleData()
        let out = dir + "/styled.png"
        let r = runStylevid([sample, painting, out, "--size", "64", "--iterations", "15", "--pyramid", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssert(r.stderr.contains(", max pooling;"), "images keep max pooling: \(r.stderr)")
        let png = try readPNGViaTool(out)
        XCTAssertEqual(png.width, 64); XCTAssertEqual(png.height, 64)
        let content = try readPNGViaTool(sample, size: 64)
        let style = try readPNGViaTool(painting, size: 64)
        let dContent = meanColorDistance(png, content), dBefore = meanColorDistance(content, style)
        let dStyle = meanColorDistance(png, style)
        XCTAssertGreaterThan(dContent, 2, "output equals the content")
        XCTAssertLessThan(dStyle, dBefore, "colours did not move toward the style (\(dStyle) vs \(dBefore))")
        noFiles(except: ["styled.png"])
    }

    /// A memory limit too small for the whole network: the run says it evaluates in tiles,
    /// writes the image, and reaches nearly the loss of the whole-image run (the two
    /// optimisations see the same loss; their gradients differ only in rounding).
    func testTiledRunUnderAMemoryLimit() throws {
        try requireSampleData()
        func run(_ extra: [String]) throws -> (stderr: String, style: Double) {
            let out = dir + "/tiled\(extra.count).png"
            let r = runStylevid([sample, painting, out, "--size", "320", "--iterations", "6", "--pyramid", "1"] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            let png = try readPNGViaTool(out)
            XCTAssertEqual(png.width, 320); XCTAssertEqual(png.height, 320)
            let style = r.stderr.components(separatedBy: " style ").last.flatMap { Double($0.split(separator: " ")[0]) }
            return (r.stderr, try XCTUnwrap(style, r.stderr))
        }
        let whole = try run([]), tiled = try run(["--max-memory", "0.85G"])
        XCTAssertFalse(whole.stderr.contains("tiles"), whole.stderr)
        XCTAssert(tiled.stderr.contains("320×320 (6 in "), tiled.stderr)
        XCTAssertEqual(tiled.style, whole.style, accuracy: 0.05 * whole.style)
    }

    func testBenchPrintsJSON() {
        let r = runStylevid(["bench", "--model", "vgg16", "--size", "32x32", "--reps", "1"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let last = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
        let obj = try? JSONSerialization.jsonObject(with: last.data(using: .utf8)!) as? [String: Any]
        XCTAssertEqual(obj?["model"] as? String, "vgg16")
        XCTAssertEqual(obj?["size"] as? String, "32x32")
        XCTAssertGreaterThan(obj?["ms_per_iteration"] as? Double ?? 0, 0)
        assertOneLineError(runStylevid(["bench", "--size", "12x"]), contains: "--size")
    }
}
