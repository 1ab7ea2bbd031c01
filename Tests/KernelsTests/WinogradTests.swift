import Foundation
import Kernels
import TestSupport
import XCTest

/// Every fast path against the plain direct convolution (double accumulation).
final class WinogradTests: XCTestCase {
    func randomConv(_ cin: Int, _ cout: Int, seed: UInt64) -> Conv2D {
        var rng = SplitMix64(seed: seed)
        let w = (0..<(cout * cin * 9)).map { _ in Float.random(in: -1...1, using: &rng) }
        let b = (0..<cout).map { _ in Float.random(in: -1...1, using: &rng) }
        return Conv2D(inChannels: cin, outChannels: cout, weights: w, bias: b)
    }

    /// Shapes around the 4×4 tile: sizes below, at and just past multiples of 4, one pixel,
    /// a single row or column, odd channel counts, and a VGG-like 64→64.
    let shapes: [(cin: Int, h: Int, w: Int, cout: Int)] = [
        (1, 1, 1, 1), (3, 4, 4, 5), (3, 5, 7, 4), (2, 1, 9, 3), (4, 11, 1, 2), (5, 13, 6, 7),
        (8, 8, 12, 8), (16, 9, 17, 24), (64, 10, 14, 64), (7, 23, 19, 3)]

    func testForwardMatchesReference() {
        for (n, s) in shapes.enumerated() {
            let conv = randomConv(s.cin, s.cout, seed: 40 + UInt64(n))
            var rng = SplitMix64(seed: 60 + UInt64(n))
            let x = Tensor.random(channels: s.cin, height: s.h, width: s.w, generator: &rng)
            let ref = conv.referenceForward(x)
            for algo in Conv2D.Algorithm.allCases {
                let y = conv.forward(x, algorithm: algo)
                XCTAssertLessThan(relativeError(ref, y), 1e-4, "\(algo) \(s)")
                let r = conv.forward(x, relu: true, algorithm: algo)
                for i in 0..<r.count { XCTAssertEqual(r.storage[i], max(y.storage[i], 0), "\(algo) ReLU \(s)") }
            }
        }
    }

    /// The input gradient of each path against the adjoint of the reference forward:
    /// ⟨ref(x) − b, g⟩ = ⟨x, ∇⟩ for every x, checked on the basis-free identity with
    /// random x, and elementwise against the im2col gradient.
    func testInputGradientMatchesReference() {
        for (n, s) in shapes.enumerated() {
            let conv = randomConv(s.cin, s.cout, seed: 80 + UInt64(n))
            var rng = SplitMix64(seed: 90 + UInt64(n))
            let x = Tensor.random(channels: s.cin, height: s.h, width: s.w, generator: &rng)
            let g = Tensor.random(channels: s.cout, height: s.h, width: s.w, generator: &rng)
            // the exact gradient, from the reference: dx[i] = Σ_o Σ_taps w·g, via a zero-bias reference conv of basis images is too slow; use the flipped-kernel identity in double
            let exact = referenceInputGradient(conv, g)
            for algo in Conv2D.Algorithm.allCases {
                let dx = conv.inputGradient(g, algorithm: algo)
                XCTAssertLessThan(relativeError(exact, dx), 1e-4, "\(algo) \(s)")
            }
            let zeroBias = Conv2D(inChannels: s.cin, outChannels: s.cout, weights: conv.weights, bias: [Float](repeating: 0, count: s.cout))
            assertClose(zeroBias.referenceForward(x).dot(g), x.dot(conv.inputGradient(g, algorithm: .winograd)), tolerance: 1e-4)
        }
    }

    /// Tile rows split into blocks (a small block budget: 1, 2 and 3 tile rows per block,
    /// the last block shorter) give the same result as one block.
    func testSeveralBlocks() {
        let conv = randomConv(6, 5, seed: 7)
        var rng = SplitMix64(seed: 8)
        let x = Tensor.random(channels: 6, height: 27, width: 13, generator: &rng)   // 7 tile rows of 4 tiles
        let u = Winograd.transformWeights(conv.weights, outChannels: 5, inChannels: 6)
        let ref = conv.referenceForward(x)
        for rowsPerBlock in [1, 2, 3] {
            let y = Winograd.convolve(x, u: u, outChannels: 5, bias: conv.bias, relu: false, blockBudget: rowsPerBlock * 36 * 11 * 4)
            XCTAssertLessThan(relativeError(ref, y), 1e-4, "\(rowsPerBlock) tile rows per block")
        }
    }

    /// dx[i][y][x] = Σ_o Σ_{ky,kx} w[o][i][ky][kx] · g[o][y − ky + 1][x − kx + 1], in double.
    func referenceInputGradient(_ conv: Conv2D, _ g: Tensor) -> Tensor {
        let cin = conv.inChannels, cout = conv.outChannels, h = g.height, w = g.width
        var dx = Tensor(channels: cin, height: h, width: w)
        for i in 0..<cin { for y in 0..<h { for x in 0..<w {
            var s = 0.0
            for o in 0..<cout { for ky in 0..<3 { for kx in 0..<3 {
                let yy = y - ky + 1, xx = x - kx + 1
                if yy < 0 || yy >= h || xx < 0 || xx >= w { continue }
                s += Double(conv.weights[((o * cin + i) * 3 + ky) * 3 + kx]) * Double(g[o, yy, xx])
            } } }
            dx[i, y, x] = Float(s)
        } } }
        return dx
    }
}
