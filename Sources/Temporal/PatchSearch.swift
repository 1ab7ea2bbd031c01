import Kernels

/// DIS-style patch inverse search (Kroeger et al., "Fast optical flow using dense inverse
/// search", 2016): 8×8 patches of the first frame on a grid, each moved from the current
/// flow at its centre by Gauss–Newton steps on its mean-normalised sum of squared
/// differences to the second frame (inverse compositional: the Hessian is the template's,
/// computed once), then a dense flow from the overlapping patches, each pixel's vectors
/// weighted by how well they match it. It catches displacements the linearised
/// variational steps miss: a coarse level's estimate off by several pixels where the
/// finer level's texture could tell.
public enum PatchSearch {
    public static let size = 8

    /// One patch's displacement.
    struct Patch { var u: Float, v: Float }

    /// The flow after the patch search from `flow` (the same size as the planes a and b):
    /// patches every `stride` pixels, at most `iterations` Gauss–Newton steps each.
    public static func refine(_ flow: Flow, first a: [Float], second b: [Float], stride: Int,
                              iterations: Int) -> Flow {
        let w = flow.width, h = flow.height, s = size
        guard w >= s + 2, h >= s + 2 else { return flow }
        let xs = grid(w - s, stride), ys = grid(h - s, stride)
        var patches = [Patch](repeating: Patch(u: 0, v: 0), count: xs.count * ys.count)
        let (ax, ay) = centralDerivatives(a, w, h)
        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in
        ax.withUnsafeBufferPointer { xp in ay.withUnsafeBufferPointer { yp in
        patches.withUnsafeMutableBufferPointer { pp in
            let A = ap.baseAddress!, B = bp.baseAddress!, AX = xp.baseAddress!, AY = yp.baseAddress!, P = pp.baseAddress!
            // a row of patches is worth about as much work as xs.count · 64 pixels elsewhere
            parallelFor(ys.count, minPerThread: max(1, (1 << 15) / (xs.count * s * s))) { rows in
                for j in rows {
                    for (i, px) in xs.enumerated() {
                        let py = ys[j]
                        let (u0, v0) = flow.sample(Float(px) + Float(s - 1) / 2, Float(py) + Float(s - 1) / 2)
                        P[j * xs.count + i] = search(A, B, AX, AY, w, h, px, py, u0, v0, iterations)
                    }
                }
            }
        }}}}}
        return densify(patches, xs: xs, ys: ys, fallback: flow, a, b)
    }

    /// Patch origins from 0 to `last` every `stride`, `last` included.
    static func grid(_ last: Int, _ stride: Int) -> [Int] {
        var g = Array(Swift.stride(from: 0, through: last, by: stride))
        if g.last != last { g.append(last) }
        return g
    }

    /// (p[x+1] − p[x−1]) / 2 and the same in y, borders clamped.
    static func centralDerivatives(_ p: [Float], _ w: Int, _ h: Int) -> ([Float], [Float]) {
        var dx = [Float](repeating: 0, count: w * h), dy = dx
        p.withUnsafeBufferPointer { pp in
        dx.withUnsafeMutableBufferPointer { xp in dy.withUnsafeMutableBufferPointer { yp in
            let P = pp.baseAddress!, X = xp.baseAddress!, Y = yp.baseAddress!
            parallelFor(h, minPerThread: flowRowsPerThread(w)) { rows in
                for y in rows {
                    let ym = max(y - 1, 0) * w, yq = min(y + 1, h - 1) * w, r = y * w
                    for x in 0..<w {
                        X[r + x] = (P[r + min(x + 1, w - 1)] - P[r + max(x - 1, 0)]) / 2
                        Y[r + x] = (P[yq + x] - P[ym + x]) / 2
                    }
                }
            }
        }}}
        return (dx, dy)
    }

    typealias F8 = SIMD8<Float>

    /// The patch at (px, py) moved from (u0, v0): Gauss–Newton on the mean-normalised SSD;
    /// the start is kept when the search ends worse than it began or cannot start.
    static func search(_ A: UnsafePointer<Float>, _ B: UnsafePointer<Float>, _ AX: UnsafePointer<Float>,
                       _ AY: UnsafePointer<Float>, _ w: Int, _ h: Int, _ px: Int, _ py: Int,
                       _ u0: Float, _ v0: Float, _ iterations: Int) -> Patch {
        withUnsafeTemporaryAllocation(of: F8.self, capacity: 3 * size + windowVectors) { rows in
            let t = rows.baseAddress!
            return search(A, B, AX, AY, w, h, px, py, u0, v0, iterations, template: t, gx: t + size, gy: t + 2 * size,
                          window: UnsafeMutableRawPointer(t + 3 * size).assumingMemoryBound(to: Float.self))
        }
    }

    /// `search` with its rows (template, gradients) in the given buffers.
    ///
    /// With the template t and its gradients g centred on their means, the mean-normalised
    /// residual of the warped patch b̃ is d − mean(b̃) for d = b̃ − t; since Σ g = 0, the
    /// Gauss–Newton step Σ g·(d − mean) = Σ g·d needs no mean, and the SSD is
    /// Σ (d − mean)² = Σ d² − (Σ d)²/n. The search stops after a step under 0.03 px, when
    /// the next step would leave the frame, or after `iterations` steps, and ends where it
    /// is if the SSD there is no worse than at the start. (DIS's rules, stopping where the
    /// SSD stops falling and rejecting a patch that ends more than its size away, cut the
    /// steps by a third and the synthetic EPE a little, but made the renders less steady:
    /// BENCHMARKS.md.)
    @inline(__always)
    private static func search(_ A: UnsafePointer<Float>, _ B: UnsafePointer<Float>, _ AX: UnsafePointer<Float>,
                               _ AY: UnsafePointer<Float>, _ w: Int, _ h: Int, _ px: Int, _ py: Int,
                               _ u0: Float, _ v0: Float, _ iterations: Int, template t: UnsafeMutablePointer<F8>,
                               gx: UnsafeMutablePointer<F8>, gy: UnsafeMutablePointer<F8>,
                               window: UnsafeMutablePointer<Float>) -> Patch {
        var tSum = F8(), gxSum = F8(), gySum = F8()
        for r in 0..<size {
            let o = (py + r) * w + px
            t[r] = load8(A, o); gx[r] = load8(AX, o); gy[r] = load8(AY, o)
            tSum += t[r]; gxSum += gx[r]; gySum += gy[r]
        }
        let n = Float(size * size)
        let tMean = tSum.sum() / n, gxMean = gxSum.sum() / n, gyMean = gySum.sum() / n
        var hxx = F8(), hxy = F8(), hyy = F8()
        for r in 0..<size {
            t[r] -= tMean; gx[r] -= gxMean; gy[r] -= gyMean
            hxx += gx[r] * gx[r]; hxy += gx[r] * gy[r]; hyy += gy[r] * gy[r]
        }
        let sxx = hxx.sum(), sxy = hxy.sum(), syy = hyy.sum()
        let det = sxx * syy - sxy * sxy
        guard det > 1e-12 * max(1, (sxx + syy) * (sxx + syy)) else { return Patch(u: u0, v: v0) }
        // whether the patch moved by (u, v) stays within half its size of the frame
        @inline(__always) func reachable(_ u: Float, _ v: Float) -> Bool {
            let sx = Float(px) + u, sy = Float(py) + v, out = Float(size / 2)
            return sx > -out && sy > -out && sx < Float(w - size - 1) + out && sy < Float(h - size - 1) + out
        }
        guard reachable(u0, v0) else { return Patch(u: u0, v: v0) }
        // d = b warped by (u, v) minus the template: the step's Σ g·d, and the SSD when
        // `cost` (only the first and the last pass need it)
        @inline(__always) func pass(_ u: Float, _ v: Float, cost: Bool) -> (gu: Float, gv: Float, ssd: Float) {
            var bx = F8(), by = F8()
            if !cost {
                sample(B, w, h, Float(px) + u, Float(py) + v, window: window) { r, row in
                    let d = row - t[r]
                    bx += gx[r] * d; by += gy[r] * d
                }
                return (bx.sum(), by.sum(), 0)
            }
            var s = F8(), s2 = F8()
            sample(B, w, h, Float(px) + u, Float(py) + v, window: window) { r, row in
                let d = row - t[r]
                bx += gx[r] * d; by += gy[r] * d; s += d; s2 += d * d
            }
            let sum = s.sum()
            return (bx.sum(), by.sum(), s2.sum() - sum * sum / n)
        }
        var current = pass(u0, v0, cost: true)
        let start = current.ssd
        var u = u0, v = v0, steps = 0
        while steps < iterations {
            steps += 1
            let du = (syy * current.gu - sxy * current.gv) / det, dv = (sxx * current.gv - sxy * current.gu) / det
            guard reachable(u - du, v - dv) else { break }
            u -= du; v -= dv
            let last = du * du + dv * dv < 1e-3 || steps == iterations          // a step under 0.03 px
            current = pass(u, v, cost: last)
            if last { return current.ssd <= start ? Patch(u: u, v: v) : Patch(u: u0, v: v0) }
        }
        // the next step would have left the frame: the SSD where the search is
        let end = steps <= 1 ? start : pass(u, v, cost: true).ssd
        return end <= start ? Patch(u: u, v: v) : Patch(u: u0, v: v0)
    }

    /// Room for `sample`'s copy of a block at the border: 9 rows of 16 floats.
    static let windowVectors = 18

    /// The 8×8 block of `b` sampled bilinearly at (sx + c, sy + r), r and c in 0..<8, the
    /// border repeated past the frame: `row(r, values)` for each row. Separably: each of
    /// the 9 source rows once across, then down between neighbours. A block that reaches
    /// past the frame is first copied, clamped, into `window` (which gives the same values
    /// as clamping each sample: past the border both neighbours are the border pixel).
    @inline(__always)
    static func sample(_ B: UnsafePointer<Float>, _ w: Int, _ h: Int, _ x: Float, _ y: Float,
                       window: UnsafeMutablePointer<Float>, _ row: (Int, F8) -> Void) {
        // a block a whole patch or more past the frame is the border pixel throughout;
        // clamping there keeps the integer conversion safe for any displacement
        let sx = x.isNaN ? 0 : min(max(x, -Float(size + 1)), Float(w)), sy = y.isNaN ? 0 : min(max(y, -Float(size + 1)), Float(h))
        let x0 = Int(sx.rounded(.down)), y0 = Int(sy.rounded(.down))
        let fx = F8(repeating: sx - Float(x0)), fy = F8(repeating: sy - Float(y0))
        var src = UnsafePointer(B + max(0, min(y0 * w + x0, w * h - 1))), stride = w
        if x0 < 0 || y0 < 0 || x0 + size >= w || y0 + size >= h {
            for r in 0...size {
                let line = B + min(max(y0 + r, 0), h - 1) * w
                for c in 0...size { window[r * 16 + c] = line[min(max(x0 + c, 0), w - 1)] }
            }
            src = UnsafePointer(window); stride = 16
        }
        @inline(__always) func ld(_ i: Int) -> F8 { load8(src, i) }
        @inline(__always) func across(_ r: Int) -> F8 { let left = ld(r * stride); return left + fx * (ld(r * stride + 1) - left) }
        var upper = across(0)
        for r in 0..<size {
            let lower = across(r + 1)
            row(r, upper + fy * (lower - upper))
            upper = lower
        }
    }

    /// Each pixel's flow: the mean of the vectors of the patches that cover it, each
    /// weighted by 1 / max(1/255, |b(p + w) − a(p)|). Threads take bands of rows, each
    /// adding the part of every patch that falls in its band.
    static func densify(_ patches: [Patch], xs: [Int], ys: [Int], fallback: Flow, _ a: [Float], _ b: [Float]) -> Flow {
        let w = fallback.width, h = fallback.height, s = size
        var sums = [Float](repeating: 0, count: 3 * w * h)       // Σ λu, Σ λv, Σ λ
        var out = fallback
        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in
        sums.withUnsafeMutableBufferPointer { sp in
        out.u.withUnsafeMutableBufferPointer { up in out.v.withUnsafeMutableBufferPointer { vp in
            let A = ap.baseAddress!, B = bp.baseAddress!, SU = sp.baseAddress!, SV = SU + w * h, SW = SV + w * h
            let floor = F8(repeating: 1 / 255)
            @inline(__always) func add(_ p: UnsafeMutablePointer<Float>, _ i: Int, _ v: F8) { store8(p, i, load8(p, i) + v) }
            parallelFor(h, minPerThread: flowRowsPerThread(w)) { band in
              withUnsafeTemporaryAllocation(of: Float.self, capacity: windowVectors * 8) { window in
                for (j, py) in ys.enumerated() where py < band.upperBound && py + s > band.lowerBound {
                    for (i, px) in xs.enumerated() {
                        let p = patches[j * xs.count + i]
                        sample(B, w, h, Float(px) + p.u, Float(py) + p.v, window: window.baseAddress!) { r, bw in
                            let y = py + r
                            guard band.contains(y) else { return }
                            let k = y * w + px
                            // 1 / max(1/255, |d|), without the standard library's SIMD
                            // min/max, which are not vectorised
                            let d = bw - load8(A, k), m = d.replacing(with: -d, where: d .< 0)
                            let wt = 1 / m.replacing(with: floor, where: m .< floor)
                            add(SU, k, wt * p.u); add(SV, k, wt * p.v); add(SW, k, wt)
                        }
                    }
                }
              }
                for k in (band.lowerBound * w)..<(band.upperBound * w) where SW[k] > 0 {
                    up[k] = SU[k] / SW[k]; vp[k] = SV[k] / SW[k]
                }
            }
        }}}}}
        return out
    }
}
