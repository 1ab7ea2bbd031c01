import Kernels
import TestSupport
import XCTest

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
