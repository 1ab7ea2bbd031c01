import Foundation
import TestSupport
import VideoIO
import XCTest

/// Clips written by VideoWriter and read back by VideoReader, plus files made by the
/// ffmpeg program (an independent encoder) for what the writer does not make.
final class VideoRoundTripTests: TemporaryDirectoryTestCase {

    /// A moving colour gradient: frame k differs from frame k−1.
    func frame(_ k: Int, _ w: Int, _ h: Int) -> RGBImage {
        var px = [UInt8](repeating: 0, count: w * h * 3)
        for y in 0..<h { for x in 0..<w {
            px[(y * w + x) * 3] = UInt8((x * 4 + k * 9) % 256)
            px[(y * w + x) * 3 + 1] = UInt8((y * 4) % 256)
            px[(y * w + x) * 3 + 2] = UInt8((k * 20) % 256)
        }}
        return RGBImage(width: w, height: h, pixels: px)
    }

    func ffmpeg(_ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        p.arguments = ["-v", "error", "-y"] + args
        try p.run(); p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, "ffmpeg \(args)")
    }

    func meanAbsDiff(_ a: RGBImage, _ b: RGBImage) -> Double {
        Double(zip(a.pixels, b.pixels).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }) / Double(a.pixels.count)
    }

    func testRoundTripKeepsCountRateSizeTimestampsAndPixels() throws {
        for ext in ["mp4", "mkv", "mov", "webm"] {
            let path = dir + "/clip.\(ext)"
            let writer = try VideoWriter(path: path, width: 64, height: 48, timeBase: Rational(1, 12800), frameRate: Rational(25, 1))
            for k in 0..<10 { try writer.write(frame(k, 64, 48), pts: Int64(k * 512)) }
            try writer.finish()
            let r = try VideoReader(path: path)
            XCTAssertEqual(r.info.width, 64, ext); XCTAssertEqual(r.info.height, 48, ext)
            XCTAssertEqual(r.info.frameRate.value, 25, accuracy: 0.01, ext)
            var n = 0
            while let f = try r.nextFrame() {
                XCTAssertEqual(f.time, Double(n) * 0.04, accuracy: 1e-3, "\(ext) frame \(n) time")
                XCTAssertLessThan(meanAbsDiff(f.image, frame(n, 64, 48)), 6, "\(ext) frame \(n) pixels")
                n += 1
            }
            XCTAssertEqual(n, 10, ext)
            XCTAssertEqual(r.corruptPackets, 0, ext)
        }
    }

    /// Variable frame rate: irregular timestamps survive the round trip.
    func testVariableFrameRateTimestampsAreCarried() throws {
        let path = dir + "/vfr.mkv"
        let pts: [Int64] = [0, 40, 120, 130, 400, 410]   // ms
        let writer = try VideoWriter(path: path, width: 32, height: 32, timeBase: Rational(1, 1000), frameRate: Rational(0, 1))
        for (k, p) in pts.enumerated() { try writer.write(frame(k, 32, 32), pts: p) }
        try writer.finish()
        let r = try VideoReader(path: path)
        var times: [Double] = []
        while let f = try r.nextFrame() { times.append(f.time) }
        XCTAssertEqual(times.count, pts.count)
        for (t, p) in zip(times, pts) { XCTAssertEqual(t, Double(p) / 1000, accuracy: 1e-3) }
    }

    func testReaderScalesToEvenProcessingSizeKeepingAspect() throws {
        let path = dir + "/odd.mkv"   // FFV1: H.264 4:2:0 cannot hold odd sizes
        try ffmpeg(["-f", "lavfi", "-i", "testsrc=size=177x99:rate=10:duration=0.3", "-c:v", "ffv1", path])
        let r = try VideoReader(path: path, longestSide: 64)
        XCTAssertEqual(r.outputWidth, 64)
        XCTAssertEqual(r.outputHeight, 36)   // 99·64/177 = 35.8 → even 36
        let f = try XCTUnwrap(r.nextFrame())
        XCTAssertEqual(f.image.width, 64)
        XCTAssertEqual(r.info.width, 177)
    }

    func testAudioIsCopiedAndTrimmed() throws {
        let src = dir + "/av.mp4"
        try ffmpeg(["-f", "lavfi", "-i", "testsrc=size=64x48:rate=25:duration=2", "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", src])
        let r = try VideoReader(path: src)
        let out = dir + "/out.mp4"
        let w = try VideoWriter(path: out, width: 64, height: 48, timeBase: r.info.timeBase, frameRate: r.info.frameRate,
                                audioFrom: src, startTime: 0.5, endTime: 1.5)
        var first: Int64? = nil
        while let f = try r.nextFrame() {
            guard f.time >= 0.5 - 1e-6 && f.time < 1.5 - 1e-6 else { continue }
            first = first ?? f.pts
            try w.write(f.image, pts: f.pts - first!)
        }
        try w.finish()
        XCTAssert(w.warnings.isEmpty, "\(w.warnings)")
        let back = try VideoReader(path: out)
        let audio = back.info.streams.filter { $0.kind == "audio" }
        XCTAssertEqual(audio.count, 1)
        XCTAssertEqual(audio.first?.codec, "aac")
        var n = 0
        while try back.nextFrame() != nil { n += 1 }
        XCTAssertEqual(n, 25)
        XCTAssertEqual(back.info.duration ?? 0, 1.0, accuracy: 0.1)
    }

    func testAudioThatTheContainerRefusesIsReencodedWithAWarning() throws {
        let src = dir + "/av.mp4"
        try ffmpeg(["-f", "lavfi", "-i", "testsrc=size=64x48:rate=25:duration=1", "-f", "lavfi", "-i", "sine=duration=1",
                    "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", src])
        let out = dir + "/out.webm"
        let w = try VideoWriter(path: out, width: 64, height: 48, timeBase: Rational(1, 25), frameRate: Rational(25, 1), audioFrom: src)
        for k in 0..<25 { try w.write(frame(k, 64, 48), pts: Int64(k)) }
        try w.finish()
        XCTAssertEqual(w.warnings.count, 1)
        XCTAssert(w.warnings[0].contains("aac") && w.warnings[0].contains(".webm") && w.warnings[0].contains("re-encoded to opus"), w.warnings[0])
        let back = try VideoReader(path: out)
        let audio = back.info.streams.filter { $0.kind == "audio" }
        XCTAssertEqual(audio.map { $0.codec }, ["opus"])
        // about a second of audio came through (an independent decoder counts it)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        p.arguments = ["-v", "error", "-i", out, "-map", "0:a", "-f", "s16le", "-ac", "1", "-ar", "8000", "-"]
        let pipe = Pipe(); p.standardOutput = pipe
        try p.run()
        let pcm = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        XCTAssertEqual(Double(pcm.count / 2) / 8000, 1.0, accuracy: 0.1)
        // and it is the 440 Hz sine, not silence
        let samples = pcm.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        XCTAssertGreaterThan(samples.map { abs(Int($0)) }.max() ?? 0, 1000)
    }

    func testErrors() throws {
        XCTAssertThrowsError(try VideoReader(path: dir + "/none.mp4")) { XCTAssertEqual($0 as? MediaError, .fileNotFound(path: dir + "/none.mp4")) }
        let text = dir + "/text.mp4"
        try "not a video at all".write(toFile: text, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try VideoReader(path: text)) { XCTAssert("\($0)".contains("text.mp4: cannot open"), "\($0)") }
        let audioOnly = dir + "/audio.m4a"
        try ffmpeg(["-f", "lavfi", "-i", "sine=duration=0.2", "-c:a", "aac", audioOnly])
        XCTAssertThrowsError(try VideoReader(path: audioOnly)) { XCTAssertEqual($0 as? MediaError, .noVideoStream(path: audioOnly)) }
        XCTAssertThrowsError(try VideoWriter(path: dir + "/x.avi", width: 8, height: 8, timeBase: Rational(1, 25), frameRate: Rational(25, 1))) {
            XCTAssert("\($0)".contains("unknown video container"), "\($0)")
        }
        XCTAssertThrowsError(try VideoWriter(path: dir + "/x.mp4", width: 9, height: 8, timeBase: Rational(1, 25), frameRate: Rational(25, 1)))
        // nothing written, no temporaries
        XCTAssertEqual(Set(try FileManager.default.contentsOfDirectory(atPath: dir)), ["text.mp4", "audio.m4a"])
    }

    /// A truncated file: every decodable frame comes out, then the end, no crash.
    /// A reader that seeks to a frame gives that frame and the ones after it, numbered
    /// and timed as a reader from the start gives them (key frames every 5 frames, so the
    /// seek lands on one before the target and decodes up to it).
    func testSeekGivesTheFramesOfAReaderFromTheStart() throws {
        let path = dir + "/gop.mp4"
        try ffmpeg(["-f", "lavfi", "-i", "testsrc=size=96x64:rate=25", "-frames:v", "30", "-g", "5", "-c:v", "libx264", path])
        var all: [VideoFrame] = []
        let r = try VideoReader(path: path)
        while let f = try r.nextFrame() { all.append(f) }
        XCTAssertEqual(all.count, 30)
        let start = try XCTUnwrap(r.videoStart)
        for target in [1, 12, 17, 29] {
            let s = try VideoReader(path: path)
            s.seek(toPts: all[target].pts, index: target, videoStart: start)
            var got: [VideoFrame] = []
            while let f = try s.nextFrame() { got.append(f) }
            XCTAssertEqual(got.map(\.index), Array(target..<30), "seek to \(target)")
            XCTAssertEqual(got.map(\.pts), all[target...].map(\.pts), "seek to \(target)")
            XCTAssertEqual(got.first?.image.pixels, all[target].image.pixels, "seek to \(target)")
            XCTAssertEqual(s.videoStart?.pts, start.pts)
        }
    }

    func testTruncatedVideoDecodesWhatItCan() throws {
        let path = dir + "/full.mkv"
        try ffmpeg(["-f", "lavfi", "-i", "testsrc=size=64x48:rate=25:duration=2", "-pix_fmt", "yuv420p", "-g", "5", path])
        let data = FileManager.default.contents(atPath: path)!
        let cut = dir + "/cut.mkv"
        FileManager.default.createFile(atPath: cut, contents: data.prefix(data.count * 2 / 3))
        let r = try VideoReader(path: cut)
        var n = 0
        while try r.nextFrame() != nil { n += 1 }
        XCTAssertGreaterThan(n, 10)
        XCTAssertLessThan(n, 50)
    }

    func testUnfinishedWriterLeavesNoFile() throws {
        do {
            let w = try VideoWriter(path: dir + "/partial.mp4", width: 32, height: 32, timeBase: Rational(1, 25), frameRate: Rational(25, 1))
            try w.write(frame(0, 32, 32), pts: 0)
            XCTAssertThrowsError(try w.write(frame(1, 32, 32), pts: 0))   // timestamps must increase
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), [])
    }
}
