import Foundation
import Kernels
import TestSupport
import XCTest

final class ConvTests: XCTestCase {
    func randomConv(_ cin: Int, _ cout: Int, k: Int = 3, seed: UInt64) -> Conv2D {
        var rng = SplitMix64(seed: seed)
        let w = (0..<(cout * cin * k * k)).map { _ in Float.random(in: -1...1, using: &rng) }
        let b = (0..<cout).map { _ in Float.random(in: -1...1, using: &rng) }
        return Conv2D(inChannels: cin, outChannels: cout, kernel: k, weights: w, bias: b)
    }

    /// The fast banded-im2col path against the direct double-precision reference, on
    /// several shapes including odd sizes, 1-pixel images and a kernel of 5.
    func testForwardMatchesReference() {
        let shapes: [(Int, Int, Int, Int, Int)] = [(3, 8, 7, 5, 3), (1, 1, 1, 2, 3), (5, 13, 4, 9, 3), (4, 3, 17, 6, 3),
                                                   (2, 9, 11, 3, 5), (16, 6, 6, 32, 3)]
        for (n, (cin, h, w, cout, k)) in shapes.enumerated() {
            let conv = randomConv(cin, cout, k: k, seed: UInt64(n))
            var rng = SplitMix64(seed: 100 + UInt64(n))
            let x = Tensor.random(channels: cin, height: h, width: w, generator: &rng)
            let fast = conv.forward(x)
            let ref = conv.referenceForward(x)
            XCTAssertLessThan(relativeError(ref, fast), 1e-4, "shape \(cin)×\(h)×\(w)→\(cout) k\(k)")
            // fused ReLU equals ReLU of the plain output
            let r = conv.forward(x, relu: true)
            for i in 0..<r.count { XCTAssertEqual(r.storage[i], max(fast.storage[i], 0)) }
        }
    }

    /// Bands: an image tall enough that the 16 MiB band budget splits it.
    func testForwardAcrossSeveralBands() {
        let conv = randomConv(64, 8, seed: 9)
        var rng = SplitMix64(seed: 10)
        let x = Tensor.random(channels: 64, height: 300, width: 130, generator: &rng)   // 576×132 per row → ~55 rows/band
        let fast = conv.forward(x)
        // compare a few rows near band edges with the reference on a crop
        let ref = conv.referenceForward(x)
        XCTAssertLessThan(relativeError(ref, fast), 1e-4)
    }

    /// Input gradient: ⟨conv(x), g⟩ is linear in x, so its gradient is inputGradient(g);
    /// checked against central differences and against the adjoint identity.
    func testInputGradient() {
        for (n, (cin, h, w, cout, k)) in [(3, 5, 6, 4, 3), (2, 7, 3, 5, 5), (4, 1, 9, 3, 3)].enumerated() {
            let conv = randomConv(cin, cout, k: k, seed: 20 + UInt64(n))
            var rng = SplitMix64(seed: 30 + UInt64(n))
            let x = Tensor.random(channels: cin, height: h, width: w, generator: &rng)
            let g = Tensor.random(channels: cout, height: h, width: w, generator: &rng)
            let dx = conv.inputGradient(g)
            let err = gradientCheck(at: x, gradient: dx, samples: 30, step: 0.5) { conv.referenceForward($0).dot(g) }  // linear: any step is exact
            XCTAssertLessThan(err, 1e-3, "shape \(cin)×\(h)×\(w)→\(cout)")
            // adjoint: ⟨A x, g⟩ = ⟨x, Aᵀ g⟩ (bias removed)
            let zeroBias = Conv2D(inChannels: cin, outChannels: cout, kernel: k, weights: conv.weights, bias: [Float](repeating: 0, count: cout))
            assertClose(zeroBias.forward(x).dot(g), x.dot(zeroBias.inputGradient(g)), tolerance: 1e-4)
        }
    }
}
