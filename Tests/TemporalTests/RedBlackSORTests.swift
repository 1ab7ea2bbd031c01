import Foundation
import Kernels
@testable import Temporal
import TestSupport
import XCTest

/// The packed, vectorised red-black SOR and its fused, robust coefficients against plain
/// scalar code written from the energy (same update order), and the energy itself.
final class RedBlackSORTests: XCTestCase {
    struct Problem {
        let w: Int, h: Int
        var ix: [Float], iy: [Float], c0: [Float]
        var edges: EdgeWeights
        var u: [Float], v: [Float]
        let alpha2: Float = 0.0016

        init(_ w: Int, _ h: Int, _ rng: inout SplitMix64) {
            self.w = w; self.h = h
            func rand(_ r: ClosedRange<Float>) -> [Float] { Tensor.random(channels: 1, height: h, width: w, in: r, generator: &rng).storage }
            ix = rand(-0.5...0.5); iy = rand(-0.5...0.5); c0 = rand(-0.2...0.2)
            edges = EdgeWeights.uniform(width: w, height: h)
            let eh = rand(0.05...1), ev = rand(0.05...1)
            for i in 0..<(w * h) { edges.horizontal[i] *= eh[i]; edges.vertical[i] *= ev[i] }
            u = rand(-2...2); v = rand(-2...2)
        }

        var linearisation: Linearisation { Linearisation(width: w, height: h, ix: ix, iy: iy, c0: c0) }

        /// The data term's weights at (u, v), written plainly: per pixel the normalisation
        /// 1 / (|g|² + ζ²) (1 when ζ is 0) times Charbonnier's weight of the normalised
        /// residual; and per edge Charbonnier's weight for smoothness (1 when ε is 0).
        func weights(dataEpsilon de: Float, normalization zeta: Float = 0, smoothEpsilon se: Float) -> (data: [Float], edges: EdgeWeights) {
            var data = [Float](repeating: 1, count: w * h), e = edges
            for i in 0..<(w * h) {
                let theta: Float = zeta > 0 ? 1 / (ix[i] * ix[i] + iy[i] * iy[i] + zeta * zeta) : 1
                let r = ix[i] * u[i] + iy[i] * v[i] + c0[i]
                data[i] = de > 0 ? theta * de / (theta * r * r + de * de).squareRoot() : theta
            }
            func psi(_ i: Int, _ j: Int) -> Float {
                se > 0 ? se / (pow(u[j] - u[i], 2) + pow(v[j] - v[i], 2) + se * se).squareRoot() : 1
            }
            for y in 0..<h { for x in 0..<w {
                let i = y * w + x
                if x < w - 1 { e.horizontal[i] *= psi(i, i + 1) }
                if y < h - 1 { e.vertical[i] *= psi(i, i + w) }
            }}
            return (data, e)
        }

        /// Σ ψ·(Ix·u + Iy·v + c0)² + α²·Σ e·|Δ(u, v)|², in doubles.
        func energy(_ u: [Float], _ v: [Float], data: [Float], edges e: EdgeWeights) -> Double {
            var sum = 0.0
            for y in 0..<h { for x in 0..<w {
                let i = y * w + x
                let r = Double(ix[i] * u[i] + iy[i] * v[i] + c0[i])
                sum += Double(data[i]) * r * r
                if x < w - 1 { sum += Double(alpha2 * e.horizontal[i]) * Double(pow(u[i + 1] - u[i], 2) + pow(v[i + 1] - v[i], 2)) }
                if y < h - 1 { sum += Double(alpha2 * e.vertical[i]) * Double(pow(u[i + w] - u[i], 2) + pow(v[i + w] - v[i], 2)) }
            }}
            return sum
        }

        /// Plain red-black SOR of that energy, straight from the point-wise minimiser.
        func referenceSweeps(_ u: inout [Float], _ v: inout [Float], data: [Float], edges e: EdgeWeights, sweeps: Int) {
            for _ in 0..<sweeps { for colour in 0..<2 { for y in 0..<h { for x in 0..<w where (x + y) & 1 == colour {
                let i = y * w + x
                var nb: [(Int, Float)] = []
                if x > 0 { nb.append((i - 1, e.horizontal[i - 1])) }
                if x < w - 1 { nb.append((i + 1, e.horizontal[i])) }
                if y > 0 { nb.append((i - w, e.vertical[i - w])) }
                if y < h - 1 { nb.append((i + w, e.vertical[i])) }
                let total = nb.reduce(0) { $0 + $1.1 }
                guard total > 0 else { continue }
                let ub = nb.reduce(0) { $0 + $1.1 * u[$1.0] } / total, vb = nb.reduce(0) { $0 + $1.1 * v[$1.0] } / total
                let t = (ix[i] * ub + iy[i] * vb + c0[i]) * data[i] / (alpha2 * total + data[i] * (ix[i] * ix[i] + iy[i] * iy[i]))
                u[i] += 1.8 * (ub - ix[i] * t - u[i])
                v[i] += 1.8 * (vb - iy[i] * t - v[i])
            }}}}
        }

        func fast(_ u: inout [Float], _ v: inout [Float], dataEpsilon: Float, normalization: Float = 0,
                  smoothEpsilon: Float, sweeps: Int) {
            let sor = RedBlackSOR(width: w, height: h)
            let system = sor.system(linearisation, flow: Flow(width: w, height: h, u: u, v: v), edges: edges,
                                    alpha2: alpha2, dataEpsilon: dataEpsilon, normalization: normalization,
                                    smoothEpsilon: smoothEpsilon)
            sor.solve(u: &u, v: &v, system: system, sweeps: sweeps)
        }
    }

    func testMatchesScalarReferenceOnOddAndEvenSizes() {
        var rng = SplitMix64(seed: 5)
        for (w, h) in [(37, 23), (40, 18), (3, 3), (2, 5), (1, 4), (64, 33)] {
            for (de, zeta, se) in [(Float(0), Float(0), Float(0)), (0.02, 0, 0.1), (0.05, 0, 0), (0.2, 0.3, 0.1), (0, 0.3, 0)] {
                let p = Problem(w, h, &rng)
                var u = p.u, v = p.v, ru = p.u, rv = p.v
                let weights = p.weights(dataEpsilon: de, normalization: zeta, smoothEpsilon: se)
                p.fast(&u, &v, dataEpsilon: de, normalization: zeta, smoothEpsilon: se, sweeps: 7)
                p.referenceSweeps(&ru, &rv, data: weights.data, edges: weights.edges, sweeps: 7)
                for i in 0..<(w * h) {
                    XCTAssertEqual(u[i], ru[i], accuracy: 2e-4 * max(1, abs(ru[i])), "u at \(i % w),\(i / w) of \(w)×\(h), ε \(de), ζ \(zeta), \(se)")
                    XCTAssertEqual(v[i], rv[i], accuracy: 2e-4 * max(1, abs(rv[i])), "v at \(i % w),\(i / w) of \(w)×\(h), ε \(de), ζ \(zeta), \(se)")
                }
            }
        }
    }

    /// A size the kernels split over two threads (rows per thread: 32768 / width): the
    /// phases of one solve (pack, half-sweeps, unpack) in one dispatch give the serial
    /// answer.
    func testMatchesScalarReferenceWhenSplitOverThreads() {
        var rng = SplitMix64(seed: 6)
        let p = Problem(257, 300, &rng)
        var u = p.u, v = p.v, ru = p.u, rv = p.v
        let weights = p.weights(dataEpsilon: 0.2, normalization: 0.3, smoothEpsilon: 0.1)
        p.fast(&u, &v, dataEpsilon: 0.2, normalization: 0.3, smoothEpsilon: 0.1, sweeps: 5)
        p.referenceSweeps(&ru, &rv, data: weights.data, edges: weights.edges, sweeps: 5)
        var worst: Float = 0
        for i in 0..<(p.w * p.h) { worst = max(worst, abs(u[i] - ru[i]) / max(1, abs(ru[i])), abs(v[i] - rv[i]) / max(1, abs(rv[i]))) }
        XCTAssertLessThan(worst, 2e-4)
    }

    /// The sweeps go downhill on the weighted energy and end at its minimum: the energy's
    /// finite-difference gradient there is 0, while at the start it is not.
    func testSweepsMinimiseTheWeightedEnergy() {
        var rng = SplitMix64(seed: 11)
        let p = Problem(19, 13, &rng)
        let weights = p.weights(dataEpsilon: 0.2, normalization: 0.3, smoothEpsilon: 0.1)
        var u = p.u, v = p.v
        func gradientNorm(_ u: [Float], _ v: [Float]) -> Double {
            var g2 = 0.0
            for i in stride(from: 0, to: p.w * p.h, by: 7) {
                for which in 0..<2 {
                    var up = u, vp = v, um = u, vm = v
                    let h: Float = 1e-2
                    if which == 0 { up[i] += h; um[i] -= h } else { vp[i] += h; vm[i] -= h }
                    let d = (p.energy(up, vp, data: weights.data, edges: weights.edges)
                           - p.energy(um, vm, data: weights.data, edges: weights.edges)) / Double(2 * h)
                    g2 += d * d
                }
            }
            return g2.squareRoot()
        }
        let startGradient = gradientNorm(u, v)
        var last = p.energy(u, v, data: weights.data, edges: weights.edges)
        // the fused system, its weights taken at the start flow as `weights` are
        let sor = RedBlackSOR(width: p.w, height: p.h)
        let system = sor.system(p.linearisation, flow: Flow(width: p.w, height: p.h, u: p.u, v: p.v),
                                edges: p.edges, alpha2: p.alpha2, dataEpsilon: 0.2, normalization: 0.3, smoothEpsilon: 0.1)
        for _ in 0..<300 {
            sor.solve(u: &u, v: &v, system: system, sweeps: 1)
            let e = p.energy(u, v, data: weights.data, edges: weights.edges)
            XCTAssertLessThanOrEqual(e, last * (1 + 1e-5), "a sweep went uphill")
            last = e
        }
        let endGradient = gradientNorm(u, v)
        XCTAssertGreaterThan(startGradient, 1e-2)
        XCTAssertLessThan(endGradient, startGradient * 1e-3, "gradient \(startGradient) → \(endGradient)")
    }

    /// Re-weighting is majorise–minimise for Charbonnier: each round lowers the robust
    /// energy Σ 2ε_d·√(r² + ε_d²) + α²·Σ e·2ε_s·√(|Δw|² + ε_s²) of the linearised problem.
    func testReweightingLowersTheRobustEnergy() {
        var rng = SplitMix64(seed: 12)
        var p = Problem(31, 17, &rng)
        let de: Float = 0.02, se: Float = 0.1
        func robust(_ u: [Float], _ v: [Float]) -> Double {
            var sum = 0.0
            for y in 0..<p.h { for x in 0..<p.w {
                let i = y * p.w + x
                let r = p.ix[i] * u[i] + p.iy[i] * v[i] + p.c0[i]
                sum += Double(2 * de * (r * r + de * de).squareRoot())
                for (j, e) in [(i + 1, x < p.w - 1 ? p.edges.horizontal[i] : 0), (i + p.w, y < p.h - 1 ? p.edges.vertical[i] : 0)] where e > 0 {
                    sum += Double(p.alpha2 * e * 2 * se * (pow(u[j] - u[i], 2) + pow(v[j] - v[i], 2) + se * se).squareRoot())
                }
            }}
            return sum
        }
        var last = robust(p.u, p.v)
        let start = last
        for _ in 0..<8 {
            var u = p.u, v = p.v
            p.fast(&u, &v, dataEpsilon: de, smoothEpsilon: se, sweeps: 40)
            let e = robust(u, v)
            XCTAssertLessThan(e, last * (1 + 1e-5), "a re-weighting round raised the robust energy")
            last = e; p.u = u; p.v = v
        }
        XCTAssertLessThan(last, start * 0.5)
    }
}
