import Foundation
import TestSupport
import VideoIO
import XCTest

/// Segments encoded apart (as a cluster's tasks do) and joined by packet copy.
final class SegmentJoinerTests: TemporaryDirectoryTestCase {
    func frame(_ k: Int, _ w: Int, _ h: Int) -> RGBImage {
        var px = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h { for x in 0..<w {
            px[(y * w + x) * 3] = UInt8((x * 4 + k * 9) % 256)
            px[(y * w + x) * 3 + 1] = UInt8((y * 4 + k * 3) % 256)
            px[(y * w + x) * 3 + 2] = UInt8((k * 20) % 256)
        }}
        return RGBImage(width: w, height: h, pixels: px)
    }

    /// Frames `frames` as a segment from time 0; returns it placed at the first one's pts.
    func segment(_ name: String, _ frames: [Int], pts: [Int64], timeBase: Rational, size: Int = 64) throws -> SegmentJoiner.Segment {
        var encoding = VideoEncoding()
        encoding.threads = 2
        let w = try VideoWriter(path: dir + "/" + name, width: size, height: 48, timeBase: timeBase, frameRate: Rational(25, 1), encoding: encoding)
        let origin = pts[frames.first!]
        for k in frames { try w.write(frame(k, size, 48), pts: pts[k] - origin) }
        try w.finish()
        return .init(path: dir + "/" + name, offset: origin)
    }

    func decode(_ path: String) throws -> [(time: Double, image: RGBImage)] {
        let r = try VideoReader(path: path)
        var out: [(Double, RGBImage)] = []
        while let f = try r.nextFrame() { out.append((f.time, f.image)) }
        XCTAssertEqual(r.corruptPackets, 0, path)
        return out
    }

    /// Steady and uneven frame times, in both codecs: the joined file has every frame at
    /// its time, and each frame decodes as in its own segment (packets are not touched).
    func testJoinedSegmentsKeepEveryFrameAndTime() throws {
        let steady = (0..<11).map { Int64($0 * 512) }
        let uneven: [Int64] = [0, 40, 120, 130, 400, 410, 450, 600, 610, 700, 900]
        for (ext, pts, tb) in [("mp4", steady, Rational(1, 12800)), ("webm", steady, Rational(1, 1000)), ("mkv", uneven, Rational(1, 1000)),
                               ("mov", uneven, Rational(1, 1000))] {
            let parts = [0...3, 4...6, 7...10].enumerated().map { ($0.offset, Array($0.element)) }
            let segmentExt = ext == "webm" ? "webm" : "mp4"
            let segments = try parts.map { try segment("s\($0.0)-\(ext).\(segmentExt)", $0.1, pts: pts, timeBase: tb) }
            let out = dir + "/joined.\(ext)"
            let result = try SegmentJoiner.join(segments, into: out, timeBase: tb, frameRate: Rational(25, 1), rotation: 90, audioFrom: nil)
            XCTAssertEqual(result.frames, 11, ext)
            let joined = try decode(out)
            XCTAssertEqual(joined.map(\.time), pts.map { Double($0) * tb.value }, ext)
            let own = try segments.flatMap { try decode($0.path).map(\.image) }
            for (k, (a, b)) in zip(joined.map(\.image), own).enumerated() { XCTAssertEqual(a.pixels, b.pixels, "\(ext) frame \(k)") }
            // (FFmpeg 5.1 writes no rotation into Matroska)
            if ["mp4", "mov"].contains(ext) { XCTAssertEqual(try VideoReader(path: out).info.rotation, 90, ext) }
        }
    }

    func testSegmentsEncodedOtherwiseAreRefusedAndNothingIsWritten() throws {
        let pts = (0..<6).map { Int64($0 * 512) }, tb = Rational(1, 12800)
        let a = try segment("a.mp4", Array(0...2), pts: pts, timeBase: tb)
        let b = try segment("b.mp4", Array(3...5), pts: pts, timeBase: tb, size: 32)
        let out = dir + "/joined.mp4"
        XCTAssertThrowsError(try SegmentJoiner.join([a, b], into: out, timeBase: tb, frameRate: Rational(25, 1), rotation: 0, audioFrom: nil)) {
            XCTAssert("\($0)".contains("was encoded otherwise"), "\($0)")
        }
        XCTAssertThrowsError(try SegmentJoiner.join([b, a], into: out, timeBase: tb, frameRate: Rational(25, 1), rotation: 0, audioFrom: nil))
        XCTAssertThrowsError(try SegmentJoiner.join([a, a], into: out, timeBase: tb, frameRate: Rational(25, 1), rotation: 0, audioFrom: nil)) {
            XCTAssert("\($0)".contains("overlaps"), "\($0)")
        }
        XCTAssertThrowsError(try SegmentJoiner.join([a], into: out, timeBase: tb, frameRate: Rational(25, 1), rotation: 0, audioFrom: nil,
                                                 expectedFrames: 6)) {
            XCTAssert("\($0)".contains("hold 3 frames, 6 were expected"), "\($0)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains("joined") }, [])
    }
}
