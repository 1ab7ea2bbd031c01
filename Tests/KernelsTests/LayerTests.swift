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

/// The split GEMM (column blocks when n ≥ m, row blocks otherwise, over the kernel
/// threads) against a double-precision product, for every transpose combination, with
/// leading dimensions wider than the matrices and beta ≠ 0.
final class GEMMTests: XCTestCase {
    func testSplitGEMMMatchesNaiveProduct() {
        var rng = SplitMix64(seed: 5)
        for (m, n, k) in [(40, 301, 200), (301, 40, 200), (7, 5, 3)] {
            for transA in [false, true] {
                for transB in [false, true] {
                    let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 2, ldc = n + 1
                    let a = (0..<((transA ? k : m) * lda)).map { _ in Float.random(in: -1...1, using: &rng) }
                    let b = (0..<((transB ? n : k) * ldb)).map { _ in Float.random(in: -1...1, using: &rng) }
                    var c = (0..<(m * ldc)).map { _ in Float.random(in: -1...1, using: &rng) }
                    let c0 = c
                    a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in c.withUnsafeMutableBufferPointer { cp in
                        gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.5, a: ap.baseAddress!, lda: lda,
                             b: bp.baseAddress!, ldb: ldb, beta: 2, c: cp.baseAddress!, ldc: ldc)
                    } } }
                    var worst = 0.0
                    for i in 0..<m {
                        for j in 0..<ldc {
                            guard j < n else { XCTAssertEqual(c[i * ldc + j], c0[i * ldc + j], "padding column written"); continue }
                            var s = 0.0
                            for p in 0..<k {
                                let av = transA ? a[p * lda + i] : a[i * lda + p]
                                let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                                s += Double(av) * Double(bv)
                            }
                            let expected = 0.5 * s + 2 * Double(c0[i * ldc + j])
                            worst = max(worst, abs(expected - Double(c[i * ldc + j])))
                        }
                    }
                    XCTAssertLessThan(worst, 1e-3, "m\(m) n\(n) k\(k) transA \(transA) transB \(transB)")
                }
            }
        }
    }
}
