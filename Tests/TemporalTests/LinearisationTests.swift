import Foundation
import Kernels
@testable import Temporal
import TestSupport
import XCTest

/// The linearised brightness term (warp, 5-point stencils on the average, mask where the
/// warp leaves the frame) against plain scalar code, on sizes with and without a SIMD
/// interior and with flows that leave the frame.
final class LinearisationTests: XCTestCase {
    /// The robust weights' fast 1/√x against Double, over twelve decades.
    func testReciprocalSquareRootIsWithin1e5() {
        var worst = 0.0
        for e in stride(from: -8.0, through: 4.0, by: 0.013) {
            let xs = (0..<8).map { Float(pow(10, e + Double($0) * 0.0016)) }
            let y = reciprocalSquareRoot(SIMD8(xs))
            for l in 0..<8 { worst = max(worst, abs(Double(y[l]) * Double(xs[l]).squareRoot() - 1)) }
        }
        XCTAssertLessThan(worst, 1e-5)
        XCTAssertGreaterThan(worst, 0, "the approximation is not exact; a 0 means the test measured nothing")
    }

    /// The edge weights' vectorised eˣ against Double over its whole range, and clamped
    /// past it.
    func testExponentialIsWithin2Ulp() {
        var worst = 0.0
        for e in stride(from: -87.0, through: 87.9, by: 0.0173) {
            let xs = (0..<8).map { Float(e + Double($0) * 0.0021) }
            let y = exponential(SIMD8(xs))
            for l in 0..<8 { worst = max(worst, abs(Double(y[l]) / exp(Double(xs[l])) - 1)) }
        }
        XCTAssertLessThan(worst, 2.5e-7)
        XCTAssertGreaterThan(worst, 0, "0 would mean the test measured nothing")
        let past = exponential(SIMD8(-200, -88, 89, 500, 0, 1, -1, .infinity))
        XCTAssertEqual(past[0], Float(exp(-87.0)), accuracy: 1e-43)
        XCTAssertEqual(past[2], Float(exp(88.0)), accuracy: Float(exp(88.0)) * 1e-6)
        XCTAssertEqual(past[4], 1)
        XCTAssertEqual(past[7], Float(exp(88.0)), accuracy: Float(exp(88.0)) * 1e-6)
    }

    /// Edge-aware weights, 8 edges at a time, against the formula per edge, on widths with
    /// and without a whole vector and a partial one.
    func testEdgeWeightsMatchAPlainOne() {
        var rng = SplitMix64(seed: 22)
        for (w, h) in [(37, 5), (8, 3), (9, 4), (1, 3), (16, 2)] {
            let image = Tensor.random(channels: 1, height: h, width: w, in: 0...1, generator: &rng).storage
            let e = EdgeWeights(image: image, width: w, height: h, falloff: 5, floor: 0.05)
            for y in 0..<h { for x in 0..<w {
                let i = y * w + x
                let right: Float = x < w - 1 ? max(0.05, exp(-5 * abs(image[i + 1] - image[i]))) : 0
                let down: Float = y < h - 1 ? max(0.05, exp(-5 * abs(image[i + w] - image[i]))) : 0
                XCTAssertEqual(e.horizontal[i], right, accuracy: 1e-6, "right of \(x),\(y) in \(w)×\(h)")
                XCTAssertEqual(e.vertical[i], down, accuracy: 1e-6, "below \(x),\(y) in \(w)×\(h)")
            }}
        }
    }

    func testMatchesAPlainOne() {
        var rng = SplitMix64(seed: 21)
        // the last size with whole-pixel displacements: the vectorised warp's cell corner
        // is then s − 1, with the right-hand tap's weight 1
        for (w, h, whole) in [(37, 11, false), (9, 4, false), (3, 5, false), (64, 9, false), (40, 7, true)] {
            let a = Tensor.random(channels: 1, height: h, width: w, in: 0...1, generator: &rng).storage
            let b = Tensor.random(channels: 1, height: h, width: w, in: 0...1, generator: &rng).storage
            var flow = Flow(width: w, height: h, u: Tensor.random(channels: 1, height: h, width: w, in: -3...3, generator: &rng).storage,
                            v: Tensor.random(channels: 1, height: h, width: w, in: -2...2, generator: &rng).storage)
            if whole { flow.u = flow.u.map { $0.rounded() }; flow.v = flow.v.map { $0.rounded() } }
            let lin = Linearisation(flow: flow, first: a, second: b)
            // b at p + w, bilinear; a's value where p + w leaves the frame
            var bw = a, inside = [Bool](repeating: false, count: w * h)
            for y in 0..<h { for x in 0..<w {
                let i = y * w + x, sx = Float(x) + flow.u[i], sy = Float(y) + flow.v[i]
                guard sx >= 0, sy >= 0, sx <= Float(w - 1), sy <= Float(h - 1) else { continue }
                let x0 = min(Int(sx), max(w - 2, 0)), y0 = min(Int(sy), max(h - 2, 0))
                let x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, h - 1), fx = sx - Float(x0), fy = sy - Float(y0)
                let top = b[y0 * w + x0] * (1 - fx) + b[y0 * w + x1] * fx, bottom = b[y1 * w + x0] * (1 - fx) + b[y1 * w + x1] * fx
                bw[i] = top * (1 - fy) + bottom * fy; inside[i] = true
            }}
            func s(_ x: Int, _ y: Int) -> Float { let k = min(max(y, 0), h - 1) * w + min(max(x, 0), w - 1); return a[k] + bw[k] }
            for y in 0..<h { for x in 0..<w {
                let i = y * w + x
                let dx = inside[i] ? (s(x - 2, y) - 8 * s(x - 1, y) + 8 * s(x + 1, y) - s(x + 2, y)) / 24 : 0
                let dy = inside[i] ? (s(x, y - 2) - 8 * s(x, y - 1) + 8 * s(x, y + 1) - s(x, y + 2)) / 24 : 0
                let c = inside[i] ? (bw[i] - a[i]) - dx * flow.u[i] - dy * flow.v[i] : 0
                XCTAssertEqual(lin.ix[i], dx, accuracy: 1e-5, "Ix at \(x),\(y) of \(w)×\(h)")
                XCTAssertEqual(lin.iy[i], dy, accuracy: 1e-5, "Iy at \(x),\(y) of \(w)×\(h)")
                XCTAssertEqual(lin.c0[i], c, accuracy: 1e-4, "c0 at \(x),\(y) of \(w)×\(h)")
            }}
        }
    }
}
