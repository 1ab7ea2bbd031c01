import XCTest
@testable import Temporal
import Kernels
import TestSupport

/// The DIS-style patch search: its vectorised Gauss–Newton against a plain one written
/// from the definition, and what it is for (a start several pixels off).
final class PatchSearchTests: XCTestCase {
    /// The plain search: the same steps and stopping rules, every value by scalar loops and
    /// `bilinearSample`; and how it ended.
    static func plainSearch(_ a: [Float], _ b: [Float], _ w: Int, _ h: Int, _ px: Int, _ py: Int,
                            _ u0: Float, _ v0: Float, _ iterations: Int) -> ((Float, Float), Ending) {
        let s = PatchSearch.size, n = Float(s * s)
        func at(_ p: [Float], _ x: Int, _ y: Int) -> Float { p[min(max(y, 0), h - 1) * w + min(max(x, 0), w - 1)] }
        var t = [Float](), gx = [Float](), gy = [Float]()
        for r in 0..<s { for c in 0..<s {
            let x = px + c, y = py + r
            t.append(a[y * w + x]); gx.append((at(a, x + 1, y) - at(a, x - 1, y)) / 2); gy.append((at(a, x, y + 1) - at(a, x, y - 1)) / 2)
        }}
        let tm = t.reduce(0, +) / n, gxm = gx.reduce(0, +) / n, gym = gy.reduce(0, +) / n
        t = t.map { $0 - tm }; gx = gx.map { $0 - gxm }; gy = gy.map { $0 - gym }
        let hxx = zip(gx, gx).map(*).reduce(0, +), hxy = zip(gx, gy).map(*).reduce(0, +), hyy = zip(gy, gy).map(*).reduce(0, +)
        let det = hxx * hyy - hxy * hxy
        func residual(_ u: Float, _ v: Float) -> [Float]? {
            let sx = Float(px) + u, sy = Float(py) + v, out = Float(s / 2)
            guard sx > -out, sy > -out, sx < Float(w - s - 1) + out, sy < Float(h - s - 1) + out else { return nil }
            var bw = [Float]()
            for r in 0..<s { for c in 0..<s { bw.append(bilinearSample(b, w, h, sx + Float(c), sy + Float(r))) } }
            let m = bw.reduce(0, +) / n
            return (0..<(s * s)).map { bw[$0] - m - t[$0] }
        }
        func ssd(_ r: [Float]) -> Float { r.map { $0 * $0 }.reduce(0, +) }
        guard var res = residual(u0, v0) else { return ((u0, v0), .outside) }
        let start = ssd(res)
        var u = u0, v = v0, end = Ending.steps
        for _ in 0..<iterations {
            let gu = zip(gx, res).map(*).reduce(0, +), gv = zip(gy, res).map(*).reduce(0, +)
            let du = (hyy * gu - hxy * gv) / det, dv = (hxx * gv - hxy * gu) / det
            guard let r = residual(u - du, v - dv) else { end = .outside; break }
            u -= du; v -= dv; res = r
            if du * du + dv * dv < 1e-3 { end = .converged; break }
        }
        return ssd(res) <= start ? ((u, v), end) : ((u0, v0), .worse)
    }

    /// How a plain search ended.
    enum Ending { case converged, steps, outside, worse }

    /// Patches inside the frame and reaching past it (the border repeated), from starts
    /// near the match and far from it, with the steps cut short too: every way a search
    /// ends is among the cases.
    func testSearchMatchesAPlainOne() {
        let (w, h) = (48, 40)
        let a = Luma.plane(Warp.backward(FlowTests.texture(w, h, seed: 31), flow: FlowTests.constantFlow(w, h, 1.6, -0.7)).image)
        // the second frame: a shifted by (1.6, −0.7), and an unrelated texture (where the
        // search can end worse than it began)
        let seconds = [Luma.plane(FlowTests.texture(w, h, seed: 31)), Luma.plane(FlowTests.texture(w, h, seed: 77))]
        let (ax, ay) = PatchSearch.centralDerivatives(a, w, h)
        var rng = SplitMix64(seed: 3)
        var moved = 0, endings = [Ending: Int]()
        for (px, py) in [(10, 10), (20, 15), (0, 0), (38, 30), (3, 29), (30, 2), (16, 24), (27, 8)] {
            for (b, reach, iterations) in [(seconds[0], Float(2.5), 25), (seconds[0], 2.5, 2), (seconds[0], 12, 25), (seconds[1], 2.5, 25)] {
                func start() -> Float { Float(rng.next() % 1000) / 1000 * 2 * reach - reach }
                let u0 = start(), v0 = start()
                let fast = a.withUnsafeBufferPointer { A in b.withUnsafeBufferPointer { B in
                    ax.withUnsafeBufferPointer { X in ay.withUnsafeBufferPointer { Y in
                        PatchSearch.search(A.baseAddress!, B.baseAddress!, X.baseAddress!, Y.baseAddress!, w, h, px, py, u0, v0, iterations)
                    }}
                }}
                let (plain, ending) = PatchSearchTests.plainSearch(a, b, w, h, px, py, u0, v0, iterations)
                let context = "the patch at \(px),\(py) from (\(u0), \(v0)), \(iterations) steps, \(ending)"
                XCTAssertEqual(fast.u, plain.0, accuracy: 1e-3, "u of " + context)
                XCTAssertEqual(fast.v, plain.1, accuracy: 1e-3, "v of " + context)
                if fast.u != u0 || fast.v != v0 { moved += 1 }
                endings[ending, default: 0] += 1
            }
        }
        XCTAssertGreaterThan(moved, 16, "most searches should move")
        for e in [Ending.converged, .steps, .outside, .worse] {
            XCTAssertNotNil(endings[e], "no case ended by \(e): \(endings)")
        }
    }

    /// A start 3 px off: the searched flow is within a few hundredths of the truth, also
    /// with a brightness offset between the frames (the patches are mean-normalised).
    func testFindsAShiftFromAFarStart() {
        let (w, h) = (64, 48)
        let bt = FlowTests.texture(w, h, seed: 32)
        let truth = FlowTests.constantFlow(w, h, 2.6, -1.3)
        let b = Luma.plane(bt)
        for offset: Float in [0, 0.08] {
            let a = Luma.plane(Warp.backward(bt, flow: truth).image).map { $0 + offset }
            let found = PatchSearch.refine(Flow(width: w, height: h), first: a, second: b,
                                           stride: FlowOptions().patchStride, iterations: FlowOptions().patchIterations)
            let mask = FlowTests.interior(w, h, margin: 8)
            XCTAssertLessThan(found.endPointError(to: truth, mask: mask), 0.05, "offset \(offset)")
        }
    }

    /// The banded, vectorised densification against the plain sum per pixel, with patches
    /// inside the frame and reaching past it.
    func testDensifyMatchesAPlainOne() {
        let (w, h) = (29, 21)
        let a = Luma.plane(FlowTests.texture(w, h, seed: 33)), b = Luma.plane(FlowTests.texture(w, h, seed: 34))
        let xs = PatchSearch.grid(w - PatchSearch.size, 3), ys = PatchSearch.grid(h - PatchSearch.size, 3)
        var rng = SplitMix64(seed: 35)
        var patches = (0..<(xs.count * ys.count)).map { _ in
            PatchSearch.Patch(u: Float(rng.next() % 800) / 100 - 4, v: Float(rng.next() % 800) / 100 - 4)
        }
        // far outside the frame (a diverged start): the border pixel, no trap
        patches[1] = PatchSearch.Patch(u: 1e30, v: -3e29)
        let fallback = FlowTests.constantFlow(w, h, 9, 9)
        let fast = PatchSearch.densify(patches, xs: xs, ys: ys, fallback: fallback, a, b)
        func sample(_ x: Float, _ y: Float) -> Float {
            let xc = min(max(x, 0), Float(w - 1)), yc = min(max(y, 0), Float(h - 1))
            let x0 = Int(xc), y0 = Int(yc), x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, h - 1)
            let fx = xc - Float(x0), fy = yc - Float(y0)
            let top = b[y0 * w + x0] * (1 - fx) + b[y0 * w + x1] * fx, bottom = b[y1 * w + x0] * (1 - fx) + b[y1 * w + x1] * fx
            return top * (1 - fy) + bottom * fy
        }
        for y in 0..<h { for x in 0..<w {
            var su: Double = 0, sv: Double = 0, sw: Double = 0
            for (j, py) in ys.enumerated() where (py..<(py + PatchSearch.size)).contains(y) {
                for (i, px) in xs.enumerated() where (px..<(px + PatchSearch.size)).contains(x) {
                    let p = patches[j * xs.count + i]
                    let weight = 1 / Double(max(1 / 255, abs(sample(Float(x) + p.u, Float(y) + p.v) - a[y * w + x])))
                    su += weight * Double(p.u); sv += weight * Double(p.v); sw += weight
                }
            }
            let k = y * w + x
            XCTAssertEqual(Double(fast.u[k]), su / sw, accuracy: 1e-3 * max(1, abs(su / sw)), "u at \(x),\(y)")
            XCTAssertEqual(Double(fast.v[k]), sv / sw, accuracy: 1e-3 * max(1, abs(sv / sw)), "v at \(x),\(y)")
        }}
    }
}
