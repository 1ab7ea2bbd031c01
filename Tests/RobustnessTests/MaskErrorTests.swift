import Foundation
import TestSupport
import XCTest

/// Segmentation masks that do not pair: one line, nothing written.
final class MaskErrorTests: CLITestCase {
    let coffee = StylevidPaths.data + "/coffee.png"
    let dune = StylevidPaths.data + "/mate/nature/Dune.jpg"

    /// A solid-colour PNG made by ffmpeg (an independent encoder).
    func solid(_ name: String, _ color: String, _ size: String = "60x40") throws -> String {
        let path = dir + "/" + name
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        p.arguments = ["-v", "error", "-f", "lavfi", "-i", "color=c=\(color):s=\(size)", "-frames:v", "1", path]
        try p.run(); p.waitUntilExit()
        return path
    }

    func testMaskErrorsAreOneLineAndWriteNothing() throws {
        let red = try solid("red.png", "red"), blue = try solid("blue.png", "blue")
        let out = dir + "/out.png"
        func fails(_ args: [String], _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
            let r = runStylevid(["photo", coffee, dune, out, "--size", "48", "--iterations", "2", "--quiet"] + args)
            XCTAssertNotEqual(r.status, 0, file: file, line: line)
            XCTAssert(r.stderr.contains(expected), r.stderr, file: file, line: line)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr, file: file, line: line)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), file: file, line: line)
        }
        fails(["--content-mask", red, "--style-mask", blue], "label red of the content mask is missing from the reference mask (it has blue); map it with --mask-map red=blue")
        fails(["--content-mask", red], "--content-mask and --style-mask go together")
        fails(["--content-mask", red, "--style-mask", dir + "/nope.png"], "nope.png")
        fails(["--content-mask", red, "--style-mask", blue, "--mask-map", "red"], "--mask-map: 'red' is not CONTENT_LABEL=REFERENCE_LABEL")
        fails(["--content-mask", red, "--style-mask", blue, "--mask-map", "green=blue"], "the content mask has no label green")
        // mapped explicitly it runs; the mask's own size (60×40) is stretched to the photo's
        let r = runStylevid(["photo", coffee, dune, out, "--size", "48", "--iterations", "2", "--quiet",
                             "--content-mask", red, "--style-mask", blue, "--mask-map", "red=blue"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssert(FileManager.default.fileExists(atPath: out))
    }
}
