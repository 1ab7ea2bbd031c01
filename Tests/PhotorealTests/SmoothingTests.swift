import Kernels
import Photoreal
import TestSupport
import XCTest

final class SmoothingTests: XCTestCase {
    func image(_ w: Int, _ h: Int, seed: UInt64) -> Tensor {
        var rng = SplitMix64(seed: seed)
        return Tensor.random(channels: 3, height: h, width: w, in: 0...1, generator: &rng)
    }

    /// An output that is one affine function of the guide's colours everywhere is kept
    /// exactly (up to the ridge ε); a constant stays constant.
    func testGuidedFilterKeepsAffineRecolouring() {
        let guide = image(17, 11, seed: 1)
        var target = Tensor(channels: 3, height: 11, width: 17)
        let n = guide.plane
        for i in 0..<n {
            let r = guide.storage[i], g = guide.storage[n + i], b = guide.storage[2 * n + i]
            target.storage[i] = 0.5 * r + 0.2 * b + 0.1
            target.storage[n + i] = 0.3 * g - 0.1 * r + 0.4
            target.storage[2 * n + i] = 0.7
        }
        let out = GuidedFilter.filter(guide: guide, input: target, radius: 2, epsilon: 1e-8)
        XCTAssertLessThan(relativeError(target, out), 1e-3)
    }

    /// The filter smooths noise that has nothing to do with the guide.
    func testGuidedFilterSmoothsNoise() {
        let guide = Tensor(channels: 3, height: 20, width: 20, repeating: 0.5)
        let noisy = image(20, 20, seed: 2)
        let out = GuidedFilter.filter(guide: guide, input: noisy, radius: 3, epsilon: 1e-3)
        let before = ColorMetrics.moments(noisy)[0].std, after = ColorMetrics.moments(out)[0].std
        XCTAssertLessThan(after, before / 3)
    }

    /// Upsampling a low-resolution recolouring of the guide recovers the full-resolution
    /// recolouring, detail included.
    func testGuidedUpsamplingOfAnAffineRecolouring() {
        let full = image(40, 30, seed: 3)
        let low = Resize.bilinear(full, height: 15, width: 20)
        var lowResult = low
        lowResult.scale(by: 0.5)
        let up = GuidedFilter.upsample(lowResult: lowResult, lowGuide: low, guide: full, radius: 2, epsilon: 1e-8)
        var expected = full
        expected.scale(by: 0.5)
        XCTAssertLessThan(relativeError(expected, up), 2e-3)
    }

    func testBoxMeanMatchesDirectSum() {
        let t = image(9, 7, seed: 4)
        let m = GuidedFilter.boxMean(t, radius: 2)
        for (y, x) in [(0, 0), (3, 4), (6, 8), (2, 7)] {
            var s = 0.0, k = 0.0
            for yy in max(0, y - 2)...min(6, y + 2) { for xx in max(0, x - 2)...min(8, x + 2) { s += Double(t[1, yy, xx]); k += 1 } }
            assertClose(s / k, Double(m[1, y, x]), tolerance: 1e-6)
        }
    }

    func testLabRoundTripAndKnownValues() {
        let t = image(8, 8, seed: 5)
        XCTAssertLessThan(relativeError(t, ColorMetrics.rgb(fromLab: ColorMetrics.lab(t))), 1e-4)
        // sRGB white → L 100, a = b = 0; pure red → (53.24, 80.09, 67.20) (Lindbloom's calculator)
        var px = Tensor(channels: 3, height: 1, width: 2)
        px.storage = [1, 1, 1, 0, 1, 0]
        let lab = ColorMetrics.lab(px)
        XCTAssertEqual(lab[0, 0, 0], 100, accuracy: 0.01); XCTAssertEqual(lab[1, 0, 0], 0, accuracy: 0.01)
        XCTAssertEqual(lab[0, 0, 1], 53.24, accuracy: 0.02); XCTAssertEqual(lab[1, 0, 1], 80.09, accuracy: 0.02)
        XCTAssertEqual(lab[2, 0, 1], 67.20, accuracy: 0.02)
    }

    func testReinhardMatchesReferenceMoments() {
        var content = image(30, 20, seed: 6)
        content.scale(by: 0.6)   // stays inside the gamut after transfer
        var reference = image(25, 25, seed: 7)
        for i in 0..<reference.count { reference.storage[i] = 0.3 + 0.4 * reference.storage[i] }
        let out = ColorMetrics.reinhard(content, reference: reference)
        XCTAssertLessThan(ColorMetrics.labDistance(out, reference), 0.5)
        XCTAssertGreaterThan(ColorMetrics.labDistance(content, reference), 5)
    }

    func testStructureSimilarity() {
        let t = image(24, 24, seed: 8)
        assertClose(1, ColorMetrics.structureSimilarity(t, t), tolerance: 1e-9)
        // brightness and contrast changes keep the structure
        var brighter = t
        for i in 0..<brighter.count { brighter.storage[i] = 0.2 + 0.5 * brighter.storage[i] }
        XCTAssertGreaterThan(ColorMetrics.structureSimilarity(t, brighter), 0.99)
        // unrelated noise does not
        XCTAssertLessThan(ColorMetrics.structureSimilarity(t, image(24, 24, seed: 9)), 0.3)
    }

    /// The conjugate-gradient solve of (L + μI)x = μy: small residual; a y that is an
    /// affine function of the colours is already the solution.
    func testLaplacianSolve() {
        let img = image(16, 12, seed: 10)
        let L = MattingLaplacian(image: img, epsilon: 1e-4)
        let y = image(16, 12, seed: 11).channel(0).storage
        let (x, its) = L.solve(y, mu: 0.1, tolerance: 1e-5, maxIterations: 2000)
        XCTAssertGreaterThan(its, 0)
        let lx = L.multiply(x)
        var res = 0.0, norm = 0.0
        for i in 0..<x.count { res += pow(Double(lx[i] + 0.1 * x[i] - 0.1 * y[i]), 2); norm += pow(0.1 * Double(y[i]), 2) }
        XCTAssertLessThan((res / norm).squareRoot(), 1e-4)
        let n = img.plane
        let affine = (0..<n).map { 0.3 * img.storage[$0] - 0.2 * img.storage[2 * n + $0] + 0.5 }
        let (xa, _) = MattingLaplacian(image: img).solve(affine, mu: 1, tolerance: 1e-6)
        XCTAssertLessThan(zip(xa, affine).map { abs($0 - $1) }.max()!, 1e-3)
    }
}
