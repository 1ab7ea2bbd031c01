import XCTest
@testable import Temporal
import Kernels

/// Guided patch synthesis (fast mode's propagation) on tiny images whose answer is known.
final class PatchSynthesisTests: XCTestCase {
    let (w, h) = (40, 32)

    /// Target guide = source guide, positions at each pixel's own place: every patch
    /// matches itself at no cost and the vote gives the style back unchanged.
    func testSelfSynthesisGivesTheStyleBack() {
        let guide = FlowTests.texture(w, h, seed: 5), style = FlowTests.texture(w, h, seed: 6)
        let g = PatchSynthesis.Guide([(guide, 1)])
        let r = PatchSynthesis.synthesize(style: style, source: g, target: g, expected: .identity(width: w, height: h))
        XCTAssertEqual(r.cost.max() ?? 1, 0)
        XCTAssertEqual(zip(r.image.storage, style.storage).map { abs($0 - $1) }.max() ?? 1, 0, accuracy: 1e-6)
    }

    /// One pixel whose patch comes from elsewhere (a patch of ones, where every other
    /// pixel's comes from zeros): the uniform vote gives it 1/25 of that patch, the
    /// centre-weighted one the centre's share of the Gaussian weights, and its neighbour
    /// the neighbour's share.
    func testTheVoteWeighsAPatchsPixelsByTheirDistanceFromItsCentre() {
        let (w, h, r) = (12, 10, 2)
        var style = Tensor(channels: 3, height: h, width: w)
        for c in 0..<3 { for y in 0..<5 { for x in 7..<12 { style.storage[c * w * h + y * w + x] = 1 } } }
        var mx = [Int32](repeating: 1, count: w * h), my = [Int32](repeating: 5, count: w * h)   // zeros: columns 0–6, rows 5–9
        let q = 4 * w + 4
        (mx[q], my[q]) = (9, 2)                                                                    // the middle of the ones
        let uniform = PatchSynthesis.vote(style: style, mx: mx, my: my, width: w, height: h, radius: r)
        XCTAssertEqual(uniform.storage[q], 1 / 25, accuracy: 1e-6)
        let sigma: Float = 0.6
        func g(_ d2: Float) -> Float { exp(-d2 / (2 * sigma * sigma)) }
        var total: Float = 0
        for dy in -r...r { for dx in -r...r { total += g(Float(dx * dx + dy * dy)) } }
        let weighted = PatchSynthesis.vote(style: style, mx: mx, my: my, width: w, height: h, radius: r, sigma: sigma)
        XCTAssertEqual(weighted.storage[q], 1 / total, accuracy: 1e-5)
        XCTAssertEqual(weighted.storage[q + 1], g(1) / total, accuracy: 1e-5)
        XCTAssertEqual(weighted.storage[q + 3], 0, "outside the patch")
    }

    /// A target that is the source moved by (3, −2) px, no positional guide: PatchMatch
    /// finds the shift for the interior's pixels from their own places, and the vote
    /// paints the style moved by the same amount.
    func testFindsAShiftedTargetByItsPatches() {
        let (dx, dy) = (3, -2)
        let source = FlowTests.texture(w, h, seed: 11), style = FlowTests.texture(w, h, seed: 12)
        // target(p) = source(p + (−dx, −dy)): the content moved by (dx, dy)
        let target = Warp.backward(source, flow: FlowTests.constantFlow(w, h, Float(-dx), Float(-dy))).image
        let moved = Warp.backward(style, flow: FlowTests.constantFlow(w, h, Float(-dx), Float(-dy))).image
        let r = PatchSynthesis.synthesize(style: style, source: PatchSynthesis.Guide([(source, 1)]),
                                          target: PatchSynthesis.Guide([(target, 1)]), expected: nil)
        let margin = 8, n = w * h
        var inside = 0, found = 0, error: Float = 0
        for y in margin..<(h - margin) {
            for x in margin..<(w - margin) {
                let i = y * w + x
                inside += 1
                if Int(r.matchX[i]) == x - dx && Int(r.matchY[i]) == y - dy { found += 1 }
                for c in 0..<3 { error = max(error, abs(r.image.storage[c * n + i] - moved.storage[c * n + i])) }
            }
        }
        XCTAssertGreaterThan(Double(found) / Double(inside), 0.97, "\(found) of \(inside) interior pixels found the shift")
        XCTAssertLessThan(error, 0.05)
    }

    /// Flat guides make every source patch equally good: the positional guide alone
    /// decides, so each pixel takes the patch at its expected position.
    func testPositionsDecideBetweenEqualPatches() {
        let flat = Tensor(channels: 3, height: h, width: w, storage: [Float](repeating: 0.5, count: 3 * w * h))
        let style = FlowTests.texture(w, h, seed: 21)
        var expected = PatchSynthesis.Positions.identity(width: w, height: h)
        expected.x = expected.x.map { min($0 + 5, Float(w - 1)) }
        let r = PatchSynthesis.synthesize(style: style, source: PatchSynthesis.Guide([(flat, 1)]),
                                          target: PatchSynthesis.Guide([(flat, 1)]), expected: expected)
        for i in 0..<(w * h) {
            XCTAssertEqual(Float(r.matchX[i]), expected.x[i], "pixel \(i)")
            XCTAssertEqual(Float(r.matchY[i]), expected.y[i], "pixel \(i)")
        }
    }

    /// Positions carried along a flow take the positions where the flow points; where it
    /// leaves the frame (content that came into view) nothing is expected, and such a
    /// pixel's patch is chosen by the guides alone.
    func testPositionsAreAdvectedAlongTheFlow() {
        let p = PatchSynthesis.Positions.identity(width: w, height: h).advected(by: FlowTests.constantFlow(w, h, 1.5, -1))
        XCTAssertEqual(p.x[5 * w + 10], 11.5, accuracy: 1e-5)
        XCTAssertEqual(p.y[5 * w + 10], 4, accuracy: 1e-5)
        XCTAssertTrue(p.x[5 * w + (w - 1)].isNaN)
        XCTAssertTrue(p.y[3].isNaN)
        // a target whose every pixel expects nothing matches by its guide: the texture's own place
        let guide = PatchSynthesis.Guide([(FlowTests.texture(w, h, seed: 8), 1)]), style = FlowTests.texture(w, h, seed: 9)
        let none = PatchSynthesis.Positions(x: [Float](repeating: .nan, count: w * h), y: [Float](repeating: .nan, count: w * h), width: w, height: h)
        let r = PatchSynthesis.synthesize(style: style, source: guide, target: guide, expected: none)
        XCTAssertEqual(r.cost.max() ?? 1, 0)
    }

    /// A guide channel weighted λ adds λ·d² for a difference d.
    func testGuideWeightsScaleTheCost() {
        let a = Tensor(channels: 1, height: 8, width: 8, storage: [Float](repeating: 0.2, count: 64))
        let b = Tensor(channels: 1, height: 8, width: 8, storage: [Float](repeating: 0.7, count: 64))
        var o = PatchSynthesis.Options()
        o.iterations = 0
        let style = Tensor(channels: 3, height: 8, width: 8, storage: [Float](repeating: 0, count: 192))
        let r = PatchSynthesis.synthesize(style: style, source: PatchSynthesis.Guide([(a, 4)]), target: PatchSynthesis.Guide([(b, 4)]),
                                          expected: nil, options: o)
        // 25 pixels of the patch, each 4 · 0.5²
        XCTAssertEqual(r.cost[27], 25 * 4 * 0.25, accuracy: 1e-4)
    }
}
