import Kernels
import TestSupport
import XCTest

final class LayerTests: XCTestCase {
    func testMaxPoolForwardAndBackward() {
        var x = Tensor(channels: 1, height: 3, width: 5)   // odd: last row and column dropped
        for i in 0..<x.count { x.storage[i] = Float((i * 7) % 11) }
        let y = Layers.pool2x2(x, .max)
        XCTAssertEqual(y.shape, [1, 1, 2])
        XCTAssertEqual(y.storage, [max(x[0, 0, 0], x[0, 0, 1], x[0, 1, 0], x[0, 1, 1]),
                                   max(x[0, 0, 2], x[0, 0, 3], x[0, 1, 2], x[0, 1, 3])])
        var rng = SplitMix64(seed: 1)
        let xr = Tensor.random(channels: 3, height: 6, width: 7, generator: &rng)
        let g = Tensor.random(channels: 3, height: 3, width: 3, generator: &rng)
        let dx = Layers.pool2x2Backward(g, input: xr, .max)
        // random inputs have no ties, so small steps keep the argmax: check numerically
        let err = gradientCheck(at: xr, gradient: dx, samples: 40, step: 1e-4) { Layers.pool2x2($0, .max).dot(g) }
        XCTAssertLessThan(err, 1e-2)
    }

    func testAveragePoolGradient() {
        var rng = SplitMix64(seed: 2)
        let x = Tensor.random(channels: 2, height: 5, width: 4, generator: &rng)
        let g = Tensor.random(channels: 2, height: 2, width: 2, generator: &rng)
        let y = Layers.pool2x2(x, .average)
        assertClose(Double(y[1, 1, 0]), Double(x[1, 2, 0] + x[1, 2, 1] + x[1, 3, 0] + x[1, 3, 1]) / 4, tolerance: 1e-6)
        let dx = Layers.pool2x2Backward(g, input: x, .average)
        XCTAssertLessThan(gradientCheck(at: x, gradient: dx) { Layers.pool2x2($0, .average).dot(g) }, 1e-3)
        XCTAssertEqual(dx[0, 4, 0], 0, "the dropped odd row gets no gradient")
    }

    /// Max-blur pooling: a hand-computed value, the gradient against finite differences on
    /// odd and even sizes, and what it is for: a one-pixel shift of the input changes its
    /// output far less than max pooling's.
    func testMaxBlurPool() {
        var x = Tensor(channels: 1, height: 2, width: 4)
        x.storage = [1, 5, 2, 0,
                     3, 4, 8, 6]
        // stride-1 max (clamped): row 0 [5 8 8 6], row 1 [4 8 8 6]; rows −1…2 clamp to 0 0 1 1,
        // so the row blur is their mean [4.5 8 8 6]; columns −1…2 and 1…4 clamp likewise
        let y = Layers.pool2x2(x, .maxBlur)
        XCTAssertEqual(y.shape, [1, 1, 2])
        assertClose(0.5 * 4.5 + 0.375 * 8 + 0.125 * 8, Double(y.storage[0]), tolerance: 1e-6)
        assertClose(0.5 * 8 + 0.5 * 6, Double(y.storage[1]), tolerance: 1e-6)
        var rng = SplitMix64(seed: 3)
        for (h, w) in [(6, 7), (5, 4), (9, 9), (2, 3)] {
            // distinct values at least 1/count apart: steps of 1e-3 keep every window's
            // argmax, so the function is linear there and central differences are exact
            var xr = Tensor(channels: 2, height: h, width: w)
            xr.storage = (0..<xr.count).map { Float($0) / Float(xr.count) }.shuffled(using: &rng)
            let g = Tensor.random(channels: 2, height: h / 2, width: w / 2, generator: &rng)
            XCTAssertEqual(Layers.pool2x2(xr, .maxBlur).shape, Layers.pool2x2(xr, .max).shape)
            let dx = Layers.pool2x2Backward(g, input: xr, .maxBlur)
            let err = directionalCheck(at: xr, gradient: dx, steps: [1e-3]) { Layers.pool2x2($0, .maxBlur).dot(g) }
            XCTAssertLessThan(err, 1e-3, "\(h)×\(w)")
        }
        // a fine texture and the same texture one pixel to the right
        let n = 32
        var a = Tensor(channels: 1, height: n, width: n), b = a
        for yy in 0..<n { for xx in 0..<n {
            func f(_ u: Int) -> Float { Float(((u * 37 + yy * 11) % 17)) / 17 }
            a[0, yy, xx] = f(xx); b[0, yy, xx] = f(xx + 1)
        }}
        func change(_ kind: Layers.Pooling) -> Double {
            let pa = Layers.pool2x2(a, kind), pb = Layers.pool2x2(b, kind)
            var d = 0.0, s = 0.0
            for i in 0..<pa.count { d += Double((pa.storage[i] - pb.storage[i]) * (pa.storage[i] - pb.storage[i])); s += Double(pa.storage[i] * pa.storage[i]) }
            return d / s
        }
        XCTAssertLessThan(change(.maxBlur), change(.max) / 2, "max-blur \(change(.maxBlur)) vs max \(change(.max))")
    }

    func testReluBackwardMasksByOutput() {
        var g = Tensor(channels: 1, height: 1, width: 4, storage: [1, 2, 3, 4])
        Layers.reluBackward(&g, output: Tensor(channels: 1, height: 1, width: 4, storage: [0, 0.5, 0, 2]))
        XCTAssertEqual(g.storage, [0, 2, 0, 4])
    }

    func testBilinearResize() {
        // identity at equal size; constant stays constant; matches PyTorch's
        // F.interpolate(x, size=(4,), mode='linear', align_corners=False) of [0, 1]:
        // [0, 0.25, 0.75, 1] (hand-computed from the half-pixel formula)
        var rng = SplitMix64(seed: 3)
        let x = Tensor.random(channels: 2, height: 5, width: 6, generator: &rng)
        XCTAssertEqual(Resize.bilinear(x, height: 5, width: 6), x)
        let c = Resize.bilinear(Tensor(channels: 1, height: 3, width: 3, repeating: 0.7), height: 7, width: 4)
        XCTAssert(c.storage.allSatisfy { abs($0 - 0.7) < 1e-6 })
        let r = Resize.bilinear(Tensor(channels: 1, height: 1, width: 2, storage: [0, 1]), height: 1, width: 4)
        XCTAssertEqual(r.storage, [0, 0.25, 0.75, 1])
    }

    func testBilinearBackwardIsTheAdjoint() {
        var rng = SplitMix64(seed: 4)
        for (h, w, oh, ow) in [(5, 6, 9, 4), (4, 4, 2, 2), (3, 7, 8, 15)] {
            let x = Tensor.random(channels: 2, height: h, width: w, generator: &rng)
            let g = Tensor.random(channels: 2, height: oh, width: ow, generator: &rng)
            let dx = Resize.bilinearBackward(g, sourceHeight: h, sourceWidth: w)
            assertClose(Resize.bilinear(x, height: oh, width: ow).dot(g), x.dot(dx), tolerance: 1e-5)
            XCTAssertLessThan(gradientCheck(at: x, gradient: dx) { Resize.bilinear($0, height: oh, width: ow).dot(g) }, 1e-3)
        }
    }

    func testGemmAgainstNaiveProduct() {
        var rng = SplitMix64(seed: 5)
        let (m, n, k) = (5, 7, 3)
        let a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &rng) }
        let b = (0..<(k * n)).map { _ in Float.random(in: -1...1, using: &rng) }
        var c = [Float](repeating: 1, count: m * n)
        gemm(m: m, n: n, k: k, alpha: 2, a: a, lda: k, b: b, ldb: n, beta: 0.5, c: &c, ldc: n)
        for i in 0..<m { for j in 0..<n {
            var s = 0.0
            for t in 0..<k { s += Double(a[i * k + t]) * Double(b[t * n + j]) }
            assertClose(2 * s + 0.5, Double(c[i * n + j]), tolerance: 1e-5)
        }}
    }
}
