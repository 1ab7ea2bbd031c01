import Engine
import Foundation
import TestSupport
import XCTest

/// `-vf` chains and `stylevid filters` through the real binary.
final class FilterCLITests: TemporaryDirectoryTestCase {
    var bikes: String { StylevidPaths.data + "/bikes.mp4" }
    var painting: String { StylevidPaths.data + "/mate/abstract/Elephants.jpg" }

    /// `stylevid filters NAME` lists exactly the options the table declares, in order.
    func testFiltersHelpListsTheDeclaredOptions() {
        let all = runStylevid(["filters"])
        XCTAssertEqual(all.status, 0)
        for def in FilterChain.filters {
            let r = runStylevid(["filters", def.name])
            XCTAssertEqual(r.status, 0, r.stderr)
            let listed = r.stdout.split(separator: "\n").dropFirst(2).map { String($0.split(separator: " ").first ?? "") }
            XCTAssertEqual(listed, def.options.map(\.name), def.name)
            XCTAssert(all.stdout.contains(def.name + " "), def.name)
        }
        let bad = runStylevid(["filters", "stlye"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssert(bad.stderr.contains("did you mean 'style'?"), bad.stderr)
    }

    /// A chain scales, stylizes and sets the budgets; the output is stylized at the
    /// chain's size. A bad chain: the error, the chain and a caret; no output.
    func testChainRunsAndErrorsPointAtTheProblem() throws {
        let out = dir + "/vf.mp4"
        let r = runStylevid([bikes, out, "-vf", "scale=96:-2,style='\(painting)':weight=200,iterations=30:2,temporal=200:frames=1|2",
                             "--frames", "0-3", "--pyramid", "1", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let size = runShell("ffprobe -v error -show_entries stream=width,height,nb_frames -of csv=p=0 '\(out)'").stdout
        XCTAssertEqual(size.trimmingCharacters(in: .whitespacesAndNewlines), "96,40,4")
        let styled = try readPNGViaTool(out, size: 32), input = try readPNGViaTool(bikes, size: 32)
        XCTAssertGreaterThan(meanColorDistance(styled, input), 1)

        let bad = dir + "/bad.mp4"
        let e = runStylevid([bikes, bad, "-vf", "scale=96:-2,stlye=x.jpg"])
        XCTAssertEqual(e.status, 1)
        let lines = e.stderr.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(lines.count, 4, e.stderr)   // error, chain, caret, end
        XCTAssert(lines[0].hasPrefix("stylevid: error: -vf: unknown filter 'stlye' (did you mean 'style'?)"), lines[0])
        XCTAssertEqual(lines[1], "  scale=96:-2,stlye=x.jpg")
        XCTAssertEqual(lines[2], "              ^")
        let noStyle = runStylevid([bikes, bad, "-vf", "scale=96:-2"])
        XCTAssert(noStyle.stderr.contains("no style image"), noStyle.stderr)
        let photoreal = runStylevid([bikes, bad, "-vf", "style=a.jpg,photoreal=1e4:mask=m.png"])
        XCTAssert(photoreal.stderr.contains("photoreal needs both mask= and refmask="), photoreal.stderr)
        let crop = runStylevid([bikes, bad, "-vf", "crop=900:100,style='\(painting)'"])
        XCTAssert(crop.stderr.contains("larger than the 640×272 frame"), crop.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["vf.mp4"])
    }
}
