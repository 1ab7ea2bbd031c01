import Kernels
import Photoreal
import TestSupport
import XCTest

final class MattingLaplacianTests: XCTestCase {
    func image(_ w: Int, _ h: Int, seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor.random(channels: 3, height: h, width: w, in: 0...1, generator: &rng)
    }

    /// Dense L built straight from the definition, in Double, for small images.
    func reference(_ img: Tensor, epsilon: Double = 1e-7) -> [[Double]] {
        let w = img.width, h = img.height, n = w * h
        var L = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for cy in 1..<(h - 1) { for cx in 1..<(w - 1) {
            let idx = (-1...1).flatMap { dy in (-1...1).map { dx in (cy + dy) * w + cx + dx } }
            let px = idx.map { p in (0..<3).map { Double(img.storage[$0 * n + p]) } }
            let mu = (0..<3).map { c in px.map { $0[c] }.reduce(0, +) / 9 }
            var cov = [[Double]](repeating: [0, 0, 0], count: 3)
            for p in px { for a in 0..<3 { for b in 0..<3 { cov[a][b] += (p[a] - mu[a]) * (p[b] - mu[b]) / 9 } } }
            for a in 0..<3 { cov[a][a] += epsilon / 9 }
            // inverse by cofactors
            let m = cov
            let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
            var inv = [[Double]](repeating: [0, 0, 0], count: 3)
            for a in 0..<3 { for b in 0..<3 {
                let r = [0, 1, 2].filter { $0 != b }, c = [0, 1, 2].filter { $0 != a }
                let minor = m[r[0]][c[0]] * m[r[1]][c[1]] - m[r[0]][c[1]] * m[r[1]][c[0]]
                inv[a][b] = ((a + b) % 2 == 0 ? 1 : -1) * minor / det
            }}
            for (u, i) in idx.enumerated() { for (v, j) in idx.enumerated() {
                var q = 0.0
                for a in 0..<3 { for b in 0..<3 { q += (px[u][a] - mu[a]) * inv[a][b] * (px[v][b] - mu[b]) } }
                L[i][j] += (i == j ? 1 : 0) - (1 + q) / 9
            }}
        }}
        return L
    }

    /// Matches the definition; symmetric; rows sum to zero; xᵀLx ≥ 0.
    func testMatchesTheDefinitionAndIsASymmetricPSDLaplacian() {
        for (w, h) in [(7, 6), (5, 9)] {
            // smooth-ish colours (a well-conditioned covariance with ε = 1e-7 needs texture)
            let img = image(w, h, seed: UInt64(w * 10 + h))
            let L = MattingLaplacian(image: img, epsilon: 1e-2)
            let R = reference(img, epsilon: 1e-2)
            let n = w * h
            var rng = SplitMix64(seed: 3)
            for _ in 0..<4 {
                let x = Tensor.random(channels: 1, height: h, width: w, in: -1...1, generator: &rng).storage
                let y = L.multiply(x)
                for i in 0..<n {
                    let ref = (0..<n).reduce(0.0) { $0 + R[i][$1] * Double(x[$1]) }
                    XCTAssertEqual(Double(y[i]), ref, accuracy: 1e-3 * max(1, abs(ref)))
                }
                let quad = zip(x, y).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                XCTAssertGreaterThanOrEqual(quad, -1e-3)
            }
            for i in 0..<n { for j in 0..<n { XCTAssertEqual(R[i][j], R[j][i], accuracy: 1e-9) } }
            let ones = L.multiply([Float](repeating: 1, count: n))
            XCTAssertLessThan(ones.map { abs($0) }.max()!, 1e-4)
        }
    }

    /// A result that is an affine function of the content's colours costs ~nothing; the
    /// same values shuffled cost a lot.
    func testAffineRecolouringIsFree() {
        let (w, h) = (16, 12)
        let img = image(w, h, seed: 8)
        let L = MattingLaplacian(image: img)
        let n = w * h
        let affine = (0..<n).map { 0.3 * img.storage[$0] - 0.5 * img.storage[n + $0] + 0.2 * img.storage[2 * n + $0] + 0.1 }
        var shuffled = affine
        var rng = SplitMix64(seed: 1)
        shuffled.shuffle(using: &rng)
        func energy(_ v: [Float]) -> Double { zip(v, L.multiply(v)).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }
        XCTAssertLessThan(energy(affine), 1e-3 * energy(shuffled), "affine \(energy(affine)), shuffled \(energy(shuffled))")
    }

    func testPhotorealismLossGradient() {
        let (w, h) = (8, 7)
        let content = image(w, h, seed: 4)
        let loss = PhotorealismLoss(laplacian: MattingLaplacian(image: content, epsilon: 1e-4), weight: 3)
        var rng = SplitMix64(seed: 6)
        let x = Tensor.random(channels: 3, height: h, width: w, in: 0...1, generator: &rng)
        var g = Tensor.zeros(like: x)
        _ = loss.evaluate(x, gradient: &g)
        let worst = gradientCheck(at: x, gradient: g, step: 1e-2) { t in
            var scratch = Tensor.zeros(like: t)
            return loss.evaluate(t, gradient: &scratch)
        }
        XCTAssertLessThan(worst, 1e-2)
    }

    func testTinyImagesHaveNoWindows() {
        let L = MattingLaplacian(image: image(2, 5, seed: 1))
        XCTAssertEqual(L.bands.max(), 0)
        XCTAssertEqual(L.bands.min(), 0)
    }
}

/// The photorealism loss in its residual form.
extension MattingLaplacianTests {
    /// The residual-form energy equals Σ_c V_cᵀ L V_c from the dense double-precision L of
    /// the definition, and its gradient is 2λ·L·V.
    func testEnergyMatchesTheDenseLaplacian() {
        let (w, h) = (7, 6)
        let content = image(w, h, seed: 12)
        let dense = reference(content, epsilon: 1e-4)
        var rng = SplitMix64(seed: 13)
        let v = Tensor.random(channels: 3, height: h, width: w, in: 0...1, generator: &rng)
        let loss = PhotorealismLoss(laplacian: MattingLaplacian(image: content, epsilon: 1e-4), weight: 2)
        var g = Tensor.zeros(like: v)
        let e = loss.evaluate(v, gradient: &g)
        let n = w * h
        var expected = 0.0
        for c in 0..<3 {
            for i in 0..<n {
                var lv = 0.0
                for j in 0..<n { lv += dense[i][j] * Double(v.storage[c * n + j]) }
                expected += Double(v.storage[c * n + i]) * lv
                assertClose(4 * lv, Double(g.storage[c * n + i]), tolerance: 1e-4)
            }
        }
        assertClose(2 * expected, e, tolerance: 1e-6)
        // the optimiser's bands-free build gives the same term
        let lean = PhotorealismLoss(laplacian: MattingLaplacian(image: content, epsilon: 1e-4, bands: false), weight: 2)
        var g2 = Tensor.zeros(like: v)
        XCTAssertEqual(lean.evaluate(v, gradient: &g2), e)
        XCTAssertEqual(g2, g)
        XCTAssertTrue(lean.laplacian.bands.isEmpty)
    }

    /// A flat, 8-bit-quantised area (what a video frame of a grey road is) makes L stiff
    /// (entries in the thousands at ε = 1e-7); the energy must stay ≥ 0 for any V, so the
    /// optimiser has nothing to run off along.
    func testEnergyIsNonNegativeOnQuantisedFlatImages() {
        var rng = SplitMix64(seed: 14)
        var flat = Tensor(channels: 3, height: 24, width: 32)
        for i in 0..<flat.count { flat.storage[i] = Float(128 + Int.random(in: -1...1, using: &rng)) / 255 }
        let loss = PhotorealismLoss(laplacian: MattingLaplacian(image: flat), weight: 1)
        for seed in 0..<20 {
            var r = SplitMix64(seed: UInt64(100 + seed))
            // near the null space, where the optimiser goes: an affine recolouring of the
            // content plus a little noise
            var v = Tensor.random(channels: 3, height: 24, width: 32, in: -1e-3...1e-3, generator: &r)
            for i in 0..<v.count { v.storage[i] += 0.7 * flat.storage[i] + 0.1 }
            var g = Tensor.zeros(like: v)
            XCTAssertGreaterThanOrEqual(loss.evaluate(v, gradient: &g), 0)
        }
        // and the gradient is still the energy's
        let v = Tensor.random(channels: 3, height: 24, width: 32, in: 0.4...0.6, generator: &rng)
        var g = Tensor.zeros(like: v)
        _ = loss.evaluate(v, gradient: &g)
        let worst = directionalCheck(at: v, gradient: g) { t in
            var s = Tensor.zeros(like: t)
            return loss.evaluate(t, gradient: &s)
        }
        XCTAssertLessThan(worst, 1e-3)
    }
}
