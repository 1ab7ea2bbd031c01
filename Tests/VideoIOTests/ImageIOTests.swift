import Foundation
import TestSupport
import VideoIO
import XCTest

final class ImageIOTests: TemporaryDirectoryTestCase {

    func gradient(_ w: Int, _ h: Int) -> RGBImage {
        var px = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h { for x in 0..<w {
            px[(y * w + x) * 3] = UInt8(x * 255 / max(1, w - 1))
            px[(y * w + x) * 3 + 1] = UInt8(y * 255 / max(1, h - 1))
            px[(y * w + x) * 3 + 2] = 128
        }}
        return RGBImage(width: w, height: h, pixels: px)
    }

    func maxDiff(_ a: RGBImage, _ b: RGBImage) -> Int {
        zip(a.pixels, b.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 0
    }

    func testPNGRoundTripIsLossless() throws {
        let img = gradient(37, 21)
        let p = dir + "/a.png"
        try ImageIO.write(img, to: p)
        XCTAssertEqual(try ImageIO.read(p), img)
    }

    func testLossyFormatsRoundTripWithinTolerance() throws {
        let img = gradient(64, 48)
        for ext in ["jpg", "webp", "bmp", "tif"] {
            let p = dir + "/a.\(ext)"
            try ImageIO.write(img, to: p, quality: 95)
            let back = try ImageIO.read(p)
            XCTAssertEqual(back.width, 64); XCTAssertEqual(back.height, 48)
            XCTAssertLessThanOrEqual(maxDiff(img, back), ext == "webp" ? 24 : 12, ext)
        }
    }

    func testErrorsNameTheProblem() throws {
        XCTAssertThrowsError(try ImageIO.read(dir + "/missing.png")) {
            XCTAssertEqual($0 as? MediaError, .fileNotFound(path: dir + "/missing.png"))
        }
        let text = dir + "/text.png"
        try "hello, not an image".write(toFile: text, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ImageIO.read(text)) { XCTAssert("\($0)".contains(text)) }
        let empty = dir + "/empty.jpg"
        FileManager.default.createFile(atPath: empty, contents: Data())
        XCTAssertThrowsError(try ImageIO.read(empty))
        XCTAssertThrowsError(try ImageIO.write(gradient(4, 4), to: dir + "/x.xyz")) {
            XCTAssert("\($0)".contains("unknown image extension"))
        }
    }

    func testFailedWriteLeavesExistingFileAndNoTemporaries() throws {
        let p = dir + "/keep.png"
        try "precious".write(toFile: p, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ImageIO.write(RGBImage(width: 0, height: 0, pixels: []), to: p))
        XCTAssertEqual(try String(contentsOfFile: p, encoding: .utf8), "precious")
        XCTAssertThrowsError(try ImageIO.write(gradient(4, 4), to: dir + "/no/such/folder/x.png"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["keep.png"])
    }

    /// A transparent PNG is composited over white: half-transparent red → pink, fully
    /// transparent (whatever its RGB) → white. The file is written by the ffmpeg program,
    /// an independent encoder.
    func testAlphaIsCompositedOverWhite() throws {
        let p = dir + "/alpha.png"
        // 2×1 RGBA: (255,0,0,128) and (0,0,0,0)
        let raw = dir + "/alpha.rgba"
        FileManager.default.createFile(atPath: raw, contents: Data([255, 0, 0, 128, 0, 0, 0, 0]))
        let ff = Process()
        ff.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        ff.arguments = ["-v", "error", "-f", "rawvideo", "-pix_fmt", "rgba", "-s", "2x1", "-i", raw, p]
        try ff.run(); ff.waitUntilExit()
        XCTAssertEqual(ff.terminationStatus, 0)
        let img = try ImageIO.read(p)
        XCTAssertEqual(img.pixels, [255, 127, 127, 255, 255, 255])
    }

    func testScaleKeepsAFlatImageFlat() throws {
        let flat = RGBImage(width: 40, height: 30, fill: (200, 100, 50))
        for (w, h) in [(20, 15), (81, 61), (1, 1)] {
            let s = try ImageIO.scale(flat, width: w, height: h)
            XCTAssertEqual(s.width, w); XCTAssertEqual(s.height, h)
            XCTAssertLessThanOrEqual(maxDiff(s, RGBImage(width: w, height: h, fill: (200, 100, 50))), 2)
        }
        XCTAssertThrowsError(try ImageIO.scale(flat, width: 0, height: 3))
    }

    /// Scaling depends on the image only, not on what the allocator hands back: swscale
    /// reads past the last pixel of a row into the line padding, which once held whatever
    /// the heap had there (the same command then gave different pixels on every run).
    func testScaleIgnoresLeftoverHeapContents() throws {
        let img = gradient(97, 61)
        for (w, h) in [(40, 25), (96, 64), (150, 90)] {
            let clean = try ImageIO.scale(img, width: w, height: h)
            for fill: Int32 in [0xFF, 0x7F, 0x01] {
                // blocks of the sizes a frame of either image takes, filled and freed, so
                // the next frames are carved from them
                var blocks: [UnsafeMutableRawPointer] = []
                let lines: [Int] = [97 * 3, w * 3].map { ($0 + 63) / 64 * 64 }
                var sizes: [Int] = []
                for l in lines { sizes += [l * 61, l * h, l * (h + 1) + 64] }
                for size in sizes {
                    for _ in 0..<8 {
                        var p: UnsafeMutableRawPointer?
                        guard posix_memalign(&p, 64, size + 128) == 0, let q = p else { continue }
                        memset(q, fill, size + 128)
                        blocks.append(q)
                    }
                }
                blocks.forEach { free($0) }
                let again = try ImageIO.scale(img, width: w, height: h)
                XCTAssertEqual(maxDiff(clean, again), 0, "\(w)×\(h) after freeing blocks of \(fill)")
            }
        }
    }
}
