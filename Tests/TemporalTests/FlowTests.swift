import Foundation
import Kernels
import Temporal
import TestSupport
import XCTest

/// Flow, warping, consistency and the temporal loss on synthetic motion with known truth.
final class FlowTests: TemporaryDirectoryTestCase {
    /// A smooth random texture (blurred noise at several scales), RGB in 0...1.
    static func texture(_ w: Int, _ h: Int, seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        var t = Tensor(channels: 3, height: h, width: w)
        for scale in [3, 7, 17] {
            let gw = w / scale + 2, gh = h / scale + 2
            let g = Tensor.random(channels: 3, height: gh, width: gw, in: 0...1, generator: &rng)
            t.add(Resize.bilinear(g, height: h, width: w), scaled: 1 / 3)
        }
        return t
    }

    static func constantFlow(_ w: Int, _ h: Int, _ u: Float, _ v: Float) -> Flow {
        Flow(width: w, height: h, u: [Float](repeating: u, count: w * h), v: [Float](repeating: v, count: w * h))
    }

    static func interior(_ w: Int, _ h: Int, margin: Int) -> [Bool] {
        (0..<(w * h)).map { i in
            let x = i % w, y = i / w
            return x >= margin && y >= margin && x < w - margin && y < h - margin
        }
    }

    func testRecoversShifts() {
        let (w, h) = (96, 64)
        let b = FlowTests.texture(w, h, seed: 1)
        for (u, v) in [(Float(0.3), Float(-0.2)), (2.5, -1.25), (7, 4)] {
            let truth = FlowTests.constantFlow(w, h, u, v)
            let a = Warp.backward(b, flow: truth).image          // a(p) = b(p + w)
            let est = OpticalFlow.compute(from: a, to: b)
            let epe = est.endPointError(to: truth, mask: FlowTests.interior(w, h, margin: 10))
            // measured: 0.0001, 0.0003, 0.0035 px
            XCTAssertLessThan(epe, 0.05, "shift (\(u), \(v))")
        }
    }

    /// A zoom: motion that leaves the frame at every border. (Before the data term was
    /// switched off outside the frame, this gave EPE 1–9 px on real photos, and this test
    /// failed; checked.)
    func testZoomWithMotionLeavingTheFrame() {
        let (w, h) = (320, 200)
        let b = FlowTests.texture(w, h, seed: 8)
        var truth = Flow(width: w, height: h)
        for y in 0..<h { for x in 0..<w {
            truth.u[y * w + x] = (Float(x) - Float(w) / 2) * 0.06
            truth.v[y * w + x] = (Float(y) - Float(h) / 2) * 0.06
        }}
        let a = Warp.backward(b, flow: truth).image
        XCTAssertLessThan(OpticalFlow.compute(from: a, to: b).endPointError(to: truth, mask: FlowTests.interior(w, h, margin: 10)), 0.1)
    }

    /// A textured patch moving over a static textured background.
    func testMovingPatchOverStaticBackground() {
        let (w, h) = (96, 64)
        let bg = FlowTests.texture(w, h, seed: 2), fg = FlowTests.texture(w, h, seed: 3)
        func frame(_ ox: Int, _ oy: Int) -> Tensor {
            var t = bg
            for c in 0..<3 { for y in 20..<44 { for x in 30..<60 {
                t[c, y, x] = fg[c, y - oy, x - ox]
            }}}
            return t
        }
        // frame a has the patch at offset (0,0), frame b at (3, 2): in a, patch pixels move by (3, 2)
        let a = frame(0, 0), b = frame(3, 2)
        let est = OpticalFlow.compute(from: a, to: b)
        var truth = Flow(width: w, height: h)
        var patch = [Bool](repeating: false, count: w * h), still = patch
        for y in 0..<h { for x in 0..<w {
            let i = y * w + x
            if y >= 22 && y < 42 && x >= 32 && x < 58 { truth.u[i] = 3; truth.v[i] = 2; patch[i] = true }
            if (y < 14 || y >= 50 || x < 22 || x >= 68) && x >= 6 && y >= 6 && x < w - 6 && y < h - 6 { still[i] = true }
        }}
        let ep = est.endPointError(to: truth, mask: patch), es = est.endPointError(to: truth, mask: still)
        // measured: 0.28 inside (its edges blur), 0.0015 on the background
        XCTAssertLessThan(ep, 0.5)
        XCTAssertLessThan(es, 0.05)
    }

    /// Brightness noise on both frames: the median filter and smoothness keep the flow.
    func testRobustToBrightnessNoise() {
        let (w, h) = (96, 64)
        let b = FlowTests.texture(w, h, seed: 4)
        let truth = FlowTests.constantFlow(w, h, 1.5, 0.75)
        var a = Warp.backward(b, flow: truth).image, bn = b
        var rng = SplitMix64(seed: 5)
        a.add(Tensor.random(channels: 3, height: h, width: w, in: -0.03...0.03, generator: &rng))
        bn.add(Tensor.random(channels: 3, height: h, width: w, in: -0.03...0.03, generator: &rng))
        // measured 0.151 px with ±0.03 uniform noise per channel (vs 0.0003 without)
        XCTAssertLessThan(OpticalFlow.compute(from: a, to: bn).endPointError(to: truth, mask: FlowTests.interior(w, h, margin: 10)), 0.2)
    }

    /// The 19-exchange median network against sorting, on random values with ties.
    func testMedianOfNineNetwork() {
        var rng = SplitMix64(seed: 9)
        for _ in 0..<20_000 {
            let v = (0..<9).map { _ in Float(Int.random(in: 0..<6, using: &rng)) + (Bool.random(using: &rng) ? 0.5 : 0) }
            XCTAssertEqual(OpticalFlow.median9(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8]), v.sorted()[4], "\(v)")
        }
    }

    func testFloRoundTripAndBadFiles() throws {
        var f = Flow(width: 5, height: 3)
        for i in 0..<15 { f.u[i] = Float(i) * 0.5; f.v[i] = -Float(i) }
        let p = dir + "/f.flo"
        try FloFile.write(f, to: p)
        XCTAssertEqual(try FloFile.read(p), f)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: p))
        XCTAssertEqual(bytes.count, 12 + 15 * 8)
        XCTAssertEqual(Array(bytes.prefix(4)), Array(withUnsafeBytes(of: Float(202021.25).bitPattern.littleEndian) { Data($0) }))
        var wrongMagic = bytes; wrongMagic[0] ^= 0xff
        XCTAssertThrowsError(try FloFile.decode(wrongMagic)) { XCTAssert("\($0)".contains("magic"), "\($0)") }
        XCTAssertThrowsError(try FloFile.decode(bytes.prefix(50))) { XCTAssert("\($0)".contains("needs 132 bytes"), "\($0)") }
        var huge = bytes; huge.replaceSubrange(4..<8, with: withUnsafeBytes(of: Int32(-4).littleEndian) { Data($0) })
        XCTAssertThrowsError(try FloFile.decode(huge)) { XCTAssert("\($0)".contains("impossible size"), "\($0)") }
        XCTAssertThrowsError(try FloFile.decode(Data([1, 2, 3])))
        XCTAssertThrowsError(try FloFile.read(dir + "/none.flo")) { XCTAssert("\($0)".contains("no such file")) }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["f.flo"])
    }

    /// Warping is linear in the image: its adjoint passes the dot-product test, and a
    /// constant integer shift moves pixels exactly.
    func testWarpShiftAndAdjoint() {
        let (w, h) = (9, 7)
        var rng = SplitMix64(seed: 6)
        let img = Tensor.random(channels: 2, height: h, width: w, generator: &rng)
        let (shifted, valid) = Warp.backward(img, flow: FlowTests.constantFlow(w, h, 2, -1))
        XCTAssertEqual(shifted[1, 3, 4], img[1, 2, 6])
        XCTAssertFalse(valid[0])                    // (0,0) + (2,−1) is above the image
        XCTAssertFalse(valid[3 * w + 7])            // x = 7 + 2 is past the right edge
        XCTAssertTrue(valid[3 * w + 4])
        var flow = Flow(width: w, height: h)
        for i in 0..<(w * h) { flow.u[i] = Float.random(in: -2...2, using: &rng); flow.v[i] = Float.random(in: -2...2, using: &rng) }
        let g = Tensor.random(channels: 2, height: h, width: w, generator: &rng)
        assertClose(Warp.backward(img, flow: flow).image.dot(g), img.dot(Warp.backwardAdjoint(g, flow: flow)), tolerance: 1e-5)
    }

    func testTemporalLossGradient() {
        var rng = SplitMix64(seed: 7)
        let prev = Tensor.random(channels: 3, height: 5, width: 6, in: 0...1, generator: &rng)
        let x = Tensor.random(channels: 3, height: 5, width: 6, in: 0...1, generator: &rng)
        let c = (0..<30).map { _ in Float.random(in: 0...1, using: &rng) > 0.3 ? Float(1) : 0 }
        let loss = TemporalLoss(warpedPrevious: prev, weights: c, weight: 1000)
        var g = Tensor.zeros(like: x)
        let value = loss.evaluate(x, gradient: &g)
        var expect = 0.0
        for ch in 0..<3 { for i in 0..<30 { let d = Double(x.storage[ch * 30 + i] - prev.storage[ch * 30 + i]); expect += Double(c[i]) * d * d } }
        assertClose(1000 * expect / 90, value, tolerance: 1e-5)
        XCTAssertLessThan(directionalCheck(at: x, gradient: g) { y in var s = Tensor.zeros(like: y); return loss.evaluate(y, gradient: &s) }, 1e-3)
        XCTAssertEqual(g[0, 0, 0] == 0, c[0] == 0)   // no pull where the weight is 0
    }

    /// Consistency: a rigid shift is consistent except where it leaves the frame; an
    /// inconsistent forward flow (occlusion) and a motion boundary get weight 0.
    func testConsistencyWeights() {
        let (w, h) = (20, 12)
        let back = FlowTests.constantFlow(w, h, -3, 0), fwd = FlowTests.constantFlow(w, h, 3, 0)
        let c = Warp.consistency(backward: back, forward: fwd)
        for y in 0..<h { for x in 0..<w {
            XCTAssertEqual(c[y * w + x], x >= 3 ? 1 : 0, "(\(x), \(y))")   // x − 3 < 0 leaves the frame
        }}
        // occlusion: the forward flow disagrees in a region
        var badFwd = fwd
        for y in 4..<8 { for x in 8..<12 { badFwd.u[y * w + x] = -4 } }
        let c2 = Warp.consistency(backward: back, forward: badFwd)
        XCTAssertEqual(c2[6 * w + 13], 0)            // 13 − 3 = 10 samples the disagreeing region
        XCTAssertEqual(c2[1 * w + 13], 1)
        // motion boundary: the backward flow jumps between columns 9 and 10
        var edge = back
        for y in 0..<h { for x in 10..<w { edge.u[y * w + x] = 0 } }
        let c3 = Warp.consistency(backward: edge, forward: FlowTests.constantFlow(w, h, 0, 0))
        XCTAssertEqual(c3[5 * w + 10], 0)
        XCTAssertEqual(c3[5 * w + 15], 1)
    }
}

/// The packed, vectorised red-black SOR against a plain scalar one (same update order).
final class RedBlackSORTests: XCTestCase {
    static func reference(u: inout [Float], v: inout [Float], ix: [Float], iy: [Float], c0: [Float],
                          denom: [Float], w: Int, h: Int, sweeps: Int) {
        for _ in 0..<sweeps {
            for colour in 0..<2 {
                for y in 0..<h {
                    for x in 0..<w where (x + y) & 1 == colour {
                        let i = y * w + x
                        var su: Float = 0, sv: Float = 0, k: Float = 0
                        if x > 0 { su += u[i - 1]; sv += v[i - 1]; k += 1 }
                        if x < w - 1 { su += u[i + 1]; sv += v[i + 1]; k += 1 }
                        if y > 0 { su += u[i - w]; sv += v[i - w]; k += 1 }
                        if y < h - 1 { su += u[i + w]; sv += v[i + w]; k += 1 }
                        guard k > 0 else { continue }
                        let ub = su / k, vb = sv / k
                        let t = (ix[i] * ub + iy[i] * vb + c0[i]) * denom[i]
                        u[i] += 1.8 * (ub - ix[i] * t - u[i])
                        v[i] += 1.8 * (vb - iy[i] * t - v[i])
                    }
                }
            }
        }
    }

    func testMatchesScalarReferenceOnOddAndEvenSizes() {
        var rng = SplitMix64(seed: 5)
        for (w, h) in [(37, 23), (40, 18), (3, 3), (2, 5), (1, 4), (64, 33)] {
            let n = w * h
            func rand(_ r: ClosedRange<Float>) -> [Float] { Tensor.random(channels: 1, height: h, width: w, in: r, generator: &rng).storage }
            let ix = rand(-0.5...0.5), iy = rand(-0.5...0.5), c0 = rand(-0.2...0.2)
            var denom = [Float](repeating: 0, count: n)
            for i in 0..<n {
                let g2: Float = ix[i] * ix[i] + iy[i] * iy[i]
                denom[i] = 1 / (0.0016 + g2)
            }
            var u = rand(-2...2), v = rand(-2...2)
            var ru = u, rv = v
            RedBlackSOR(width: w, height: h).solve(u: &u, v: &v, ix: ix, iy: iy, c0: c0, denom: denom, sweeps: 7)
            RedBlackSORTests.reference(u: &ru, v: &rv, ix: ix, iy: iy, c0: c0, denom: denom, w: w, h: h, sweeps: 7)
            for i in 0..<n {
                XCTAssertEqual(u[i], ru[i], accuracy: 1e-4 * max(1, abs(ru[i])), "u at \(i % w),\(i / w) of \(w)×\(h)")
                XCTAssertEqual(v[i], rv[i], accuracy: 1e-4 * max(1, abs(rv[i])), "v at \(i % w),\(i / w) of \(w)×\(h)")
            }
        }
    }
}

final class CubicWarpTests: XCTestCase {
    /// Integer shifts are exact; linear ramps are reproduced at sub-pixel positions;
    /// out-of-frame pixels keep the image's own value; it is sharper than bilinear.
    func testCubicWarp() {
        let (w, h) = (24, 18)
        let img = FlowTests.texture(w, h, seed: 9)
        let shifted = Warp.backwardCubic(img, flow: FlowTests.constantFlow(w, h, 2, 1))
        for c in 0..<3 { for y in 0..<(h - 1) { for x in 0..<(w - 2) {
            XCTAssertEqual(shifted[c, y, x], img[c, y + 1, x + 2], accuracy: 1e-5)
        }}}
        var ramp = Tensor(channels: 1, height: h, width: w)
        for y in 0..<h { for x in 0..<w { ramp[0, y, x] = 0.1 * Float(x) - 0.05 * Float(y) } }
        let r = Warp.backwardCubic(ramp, flow: FlowTests.constantFlow(w, h, 0.3, 0.6))
        for y in 1..<(h - 3) { for x in 1..<(w - 3) {
            XCTAssertEqual(r[0, y, x], 0.1 * (Float(x) + 0.3) - 0.05 * (Float(y) + 0.6), accuracy: 1e-5)
        }}
        let out = Warp.backwardCubic(img, flow: FlowTests.constantFlow(w, h, 100, 0))
        XCTAssertEqual(out, img)
        // a half-pixel shift there and back: cubic loses less contrast than bilinear
        let half = FlowTests.constantFlow(w, h, 0.5, 0.5), back = FlowTests.constantFlow(w, h, -0.5, -0.5)
        let lin = Warp.backward(Warp.backward(img, flow: half).image, flow: back).image
        let cub = Warp.backwardCubic(Warp.backwardCubic(img, flow: half), flow: back)
        func err(_ t: Tensor) -> Float {
            var s: Float = 0
            for c in 0..<3 { for y in 3..<(h - 3) { for x in 3..<(w - 3) { s += abs(t[c, y, x] - img[c, y, x]) } } }
            return s
        }
        XCTAssertLessThan(err(cub), err(lin) * 0.6, "cubic \(err(cub)), bilinear \(err(lin))")
    }
}

final class WeightSmoothingTests: XCTestCase {
    func testSmoothedWeightsTaperButNeverTrustOccludedPixels() {
        let (w, h) = (9, 7)
        var c = [Float](repeating: 1, count: w * h)
        c[3 * w + 4] = 0                                   // one occluded pixel
        let s = Warp.smoothWeights(c, width: w, height: h, radius: 1)
        XCTAssertEqual(s[3 * w + 4], 0)                    // stays untrusted
        XCTAssertEqual(s[3 * w + 3], 8.0 / 9, accuracy: 1e-6)   // its neighbours taper
        XCTAssertEqual(s[0], 1)                            // far away: unchanged
        XCTAssert(s.allSatisfy { $0 >= 0 && $0 <= 1 })
        XCTAssertEqual(Warp.smoothWeights(c, width: w, height: h, radius: 0), c)
        XCTAssertEqual(Warp.smoothWeights([Float](repeating: 1, count: w * h), width: w, height: h, radius: 3), [Float](repeating: 1, count: w * h))
    }
}
