import Engine
import Kernels
import VideoIO
import XCTest

final class FilterChainTests: XCTestCase {
    func parse(_ chain: String) throws -> ChainSettings { try FilterChain.parse(chain) }

    /// The error's message contains `fragment` and its caret points at `at` (0-based).
    func fails(_ chain: String, _ fragment: String, at: Int, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try parse(chain), file: file, line: line) { e in
            guard let err = e as? FilterChainError else { return XCTFail("not a chain error: \(e)", file: file, line: line) }
            XCTAssert(err.description.contains(fragment), "'\(fragment)' not in \(err.description)", file: file, line: line)
            XCTAssertEqual(err.position, at, "caret for \(chain): \(err.caret)", file: file, line: line)
            let caretLine = err.caret.split(separator: "\n", omittingEmptySubsequences: false)[1]
            XCTAssertEqual(caretLine.count, 2 + at + 1, file: file, line: line)
        }
    }

    func testEveryFilterAndOption() throws {
        let s = try parse("scale=640:-2,crop=320:200:10:20,crop=w=100:h=80,style=a.jpg:200:relu1_1|relu2_1:0.5,style=image=b.png:weight=600,temporal=50:frames=1|5:passes=2,iterations=80:7,colors=preserve")
        XCTAssertEqual(s.geometry, [.scale(width: 640, height: -2), .crop(width: 320, height: 200, x: 10, y: 20), .crop(width: 100, height: 80, x: nil, y: nil)])
        XCTAssertEqual(s.styles, [ChainStyle(path: "a.jpg", weight: 200), ChainStyle(path: "b.png", weight: 600)])
        XCTAssertEqual(s.style.styleLayers, ["relu1_1", "relu2_1"])
        XCTAssertEqual(s.style.styleScale, 0.5)
        XCTAssertEqual(s.temporal.weight, 50)
        XCTAssertEqual(s.temporal.frames, [1, 5])
        XCTAssertEqual(s.passes, 2)
        XCTAssertEqual(s.style.iterations, 80)
        XCTAssertEqual(s.temporal.laterIterations, 7)
        XCTAssertTrue(s.style.preserveColors)
        let p = try parse("photoreal=1e4:mask=m.png:refmask=r.png,smooth=15:0.02")
        XCTAssertEqual(p.style.photorealWeight, 1e4)
        XCTAssertEqual(p.contentMask, "m.png"); XCTAssertEqual(p.referenceMask, "r.png")
        XCTAssertEqual(p.style.smoothRadius, 15)
        XCTAssertEqual(p.style.smoothEpsilon, 4e-4, accuracy: 1e-9)
        XCTAssertEqual(try parse("photoreal").style.photorealWeight, StyleConfig.defaultPhotorealWeight)
        let fast = try parse("fast=gap=8"), plain = try parse("fast")
        XCTAssertEqual(fast.mode, .fast); XCTAssertEqual(fast.keyframeGap, 8)
        XCTAssertEqual(plain.mode, .fast); XCTAssertNil(plain.keyframeGap)
        XCTAssertNil(try parse("temporal=50").mode)
        // defaults stay where the chain says nothing; the chain goes on top of the base
        var base = ChainSettings()
        base.style.iterations = 33
        let t = try FilterChain.parse("temporal=300", onto: base)
        XCTAssertEqual(t.style.iterations, 33)
        XCTAssertEqual(t.temporal.frames, TemporalConfig().frames)
        XCTAssertEqual(t.temporal.weight, 300)
    }

    func testQuotingAndEscaping() throws {
        XCTAssertEqual(try parse("style='my, odd: file=1.jpg'").styles.first?.path, "my, odd: file=1.jpg")
        XCTAssertEqual(try parse(#"style=my\,odd\:file\=1.jpg"#).styles.first?.path, "my,odd:file=1.jpg")
        XCTAssertEqual(try parse(#"style=it\'s.jpg"#).styles.first?.path, "it's.jpg")
        XCTAssertEqual(try parse("style=a'b c'd.jpg").styles.first?.path, "ab cd.jpg")
        XCTAssertEqual(try parse("temporal=200:frames='1,10,20,40'").temporal.frames, [1, 10, 20, 40])
        XCTAssertEqual(try parse(" scale = 64 : 32 , colors = preserve ").geometry, [.scale(width: 64, height: 32)])
        XCTAssertEqual(try parse("style=' a.jpg '").styles.first?.path, " a.jpg ")   // quoted spaces stay
    }

    func testErrorsPointAtTheProblem() {
        fails("scale=64:-2,stlye=a.jpg", "unknown filter 'stlye' (did you mean 'style'?)", at: 12)
        fails("style=a.jpg:wieght=3", "no option 'wieght'", at: 12)
        fails("style=a.jpg:wieght=3", "did you mean 'weight'?", at: 12)
        fails("scale=abc", "w=abc: not an integer", at: 6)
        fails("scale=64:9000", "h=9000: out of range (integer -2…8192)", at: 9)
        fails("style=a.jpg:weight=-1", "weight=-1: out of range", at: 19)
        fails("temporal=1:frames=1|x", "'x' is not an integer", at: 18)
        fails("temporal=1:frames=1,10", "unknown filter '10'", at: 20)
        fails("temporal=1:frames=1,10", "needs | or quotes", at: 20)
        fails("crop=10:10:1:2:3", "at most 4 value(s)", at: 15)
        fails("crop=10", "crop needs h", at: 0)
        fails("style=a.jpg,style", "style needs image", at: 12)
        fails("colors=presrve", "did you mean 'preserve'?", at: 7)
        fails("scale=1:2,,style=a", "a filter name is missing", at: 10)
        fails("scale=1:2,", "a filter name is missing", at: 10)
        fails("style='abc", "never closed", at: 6)
        fails(#"style=abc\"#, "escapes nothing", at: 9)
        fails("style=a:weight=1:2", "a value without a name after key=value", at: 17)
        fails("style=a:image=b", "image is given twice", at: 8)
        fails("   ", "empty", at: 0)
        fails("temporal=weight=abc", "weight=abc: not a number", at: 16)
        fails(",style=a", "a filter name is missing", at: 0)
        fails("fast=gap=1", "gap=1: out of range", at: 9)
    }

    /// Geometry: FFmpeg's -1/-2/0 rules, crops inside the frame, and the pixels.
    func testGeometry() throws {
        XCTAssertTrue(try [GeometryOp.scale(width: 160, height: -2)].outputSize(width: 640, height: 272) == (160, 68))
        XCTAssertTrue(try [GeometryOp.scale(width: 161, height: -1)].outputSize(width: 640, height: 272) == (161, 68))
        XCTAssertTrue(try [GeometryOp.scale(width: -2, height: 99)].outputSize(width: 640, height: 272) == (232, 99))
        XCTAssertTrue(try [GeometryOp.scale(width: 0, height: 50)].outputSize(width: 640, height: 272) == (640, 50))
        XCTAssertThrowsError(try [GeometryOp.crop(width: 700, height: 10, x: nil, y: nil)].outputSize(width: 640, height: 272))
        XCTAssertThrowsError(try [GeometryOp.crop(width: 10, height: 10, x: 635, y: 0)].outputSize(width: 640, height: 272))
        var px = [UInt8](repeating: 0, count: 4 * 3 * 3)
        for i in 0..<12 { px[3 * i] = UInt8(i) }
        let img = RGBImage(width: 4, height: 3, pixels: px)
        let c = try [GeometryOp.crop(width: 2, height: 2, x: 1, y: 1)].apply(to: img)
        XCTAssertEqual(c.width, 2)
        XCTAssertEqual([c.pixels[0], c.pixels[3], c.pixels[6], c.pixels[9]], [5, 6, 9, 10])
    }

    /// Random and mutated chains: the parser never crashes and every rejection is a
    /// FilterChainError with a position inside the chain.
    func testFuzzedChainsNeverCrash() {
        let seeds = ["scale=640:-2,style='a b.jpg':weight=200,temporal=200:frames=1|10|20|40,iterations=20:5",
                     "crop=w=100:h=80:x=1:y=2,colors=preserve,photoreal=1e4:mask=m.png",
                     #"style=a\,b\:c.jpg:layers=relu1_1|relu2_1:scale=0.5"#]
        let alphabet = Array("=:,'\\|-. abcdefghijklmnopqrstuvwxyz0123456789éß\u{0}\n\t")
        var rng = SplitMix64(seed: 99)
        var accepted = 0, rejected = 0
        for round in 0..<20_000 {
            var c = Array(seeds[round % seeds.count])
            let edits = 1 + Int(rng.next() % 6)
            for _ in 0..<edits {
                let r = rng.next()
                let pos = c.isEmpty ? 0 : Int(r % UInt64(c.count + 1))
                switch (r >> 32) % 4 {
                case 0 where !c.isEmpty && pos < c.count: c.remove(at: pos)
                case 1: c.insert(alphabet[Int((r >> 40) % UInt64(alphabet.count))], at: pos)
                case 2 where !c.isEmpty && pos < c.count: c[pos] = alphabet[Int((r >> 40) % UInt64(alphabet.count))]
                default:
                    let cut = Int((r >> 40) % UInt64(c.count + 1))
                    c = Array(c[..<min(cut, c.count)]) + Array(seeds[Int(r % 3)].prefix(Int((r >> 50) % 20)))
                }
            }
            let chain = String(c)
            do { _ = try FilterChain.parse(chain); accepted += 1 } catch let e as FilterChainError {
                rejected += 1
                XCTAssert(e.position >= 0 && e.position <= chain.count, "position \(e.position) outside \(chain)")
                XCTAssertFalse(e.message.isEmpty)
            } catch {
                XCTFail("\(chain): not a chain error: \(error)")
            }
        }
        XCTAssertGreaterThan(accepted, 100)
        XCTAssertGreaterThan(rejected, 1000)
    }
}
