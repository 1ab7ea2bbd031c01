import Kernels
import Foundation

/// The brightness-constancy term of one warp, linearised around the flow w₀ it starts
/// from: Ix·u + Iy·v + c0 with c0 = It − Ix·u₀ − Iy·v₀, where It = b(p + w₀) − a(p) and the
/// derivatives are of the average of a and the warped b (symmetric, 5-point stencil).
/// Where p + w₀ leaves the frame there is no data: the derivatives and c0 are 0 there and
/// smoothness fills in.
public struct Linearisation: Sendable {
    public let width: Int, height: Int
    public var ix: [Float], iy: [Float], c0: [Float]

    public init(width: Int, height: Int, ix: [Float], iy: [Float], c0: [Float]) {
        self.width = width; self.height = height; self.ix = ix; self.iy = iy; self.c0 = c0
    }

    public init(flow: Flow, first ia: [Float], second lb: Tensor) {
        width = flow.width; height = flow.height
        let w = width, h = height, n = w * h
        let ib = Linearisation.warp(lb, by: flow)
        // the stencil needs finite neighbours: an out-of-frame sample takes a's value
        var valid = [Bool](repeating: true, count: n), bw = ib
        for i in 0..<n where ib[i].isNaN { valid[i] = false; bw[i] = ia[i] }
        var ix = [Float](repeating: 0, count: n), iy = ix, c0 = ix
        ia.withUnsafeBufferPointer { ap in
        bw.withUnsafeBufferPointer { bp in
        valid.withUnsafeBufferPointer { vp in
        flow.u.withUnsafeBufferPointer { fu in
        flow.v.withUnsafeBufferPointer { fv in
        ix.withUnsafeMutableBufferPointer { ixp in
        iy.withUnsafeMutableBufferPointer { iyp in
        c0.withUnsafeMutableBufferPointer { cp in
            let A = ap.baseAddress!, Bw = bp.baseAddress!
            parallelFor(h, minPerThread: 16) { rows in
                for y in rows {
                    let ym2 = max(y - 2, 0) * w, ym1 = max(y - 1, 0) * w, yp1 = min(y + 1, h - 1) * w, yp2 = min(y + 2, h - 1) * w
                    for x in 0..<w {
                        let i = y * w + x
                        guard vp[i] else { continue }
                        let xm2 = y * w + max(x - 2, 0), xm1 = y * w + max(x - 1, 0)
                        let xp1 = y * w + min(x + 1, w - 1), xp2 = y * w + min(x + 2, w - 1)
                        let gx = (A[xm2] + Bw[xm2]) - 8 * (A[xm1] + Bw[xm1]) + 8 * (A[xp1] + Bw[xp1]) - (A[xp2] + Bw[xp2])
                        let gy = (A[ym2 + x] + Bw[ym2 + x]) - 8 * (A[ym1 + x] + Bw[ym1 + x])
                            + 8 * (A[yp1 + x] + Bw[yp1 + x]) - (A[yp2 + x] + Bw[yp2 + x])
                        let dx = gx / 24, dy = gy / 24
                        ixp[i] = dx; iyp[i] = dy
                        cp[i] = (Bw[i] - A[i]) - dx * fu[i] - dy * fv[i]
                    }
                }
            }
        }}}}}}}}
        self.ix = ix; self.iy = iy; self.c0 = c0
    }

    /// `b` sampled bilinearly at p + flow(p); NaN where that leaves the frame.
    static func warp(_ b: Tensor, by flow: Flow) -> [Float] {
        let w = flow.width, h = flow.height
        var out = [Float](repeating: 0, count: w * h)
        b.storage.withUnsafeBufferPointer { bp in
        flow.u.withUnsafeBufferPointer { fu in
        flow.v.withUnsafeBufferPointer { fv in
        out.withUnsafeMutableBufferPointer { op in
            let B = bp.baseAddress!, U = fu.baseAddress!, V = fv.baseAddress!, O = op.baseAddress!
            parallelFor(h, minPerThread: 16) { rows in
                for y in rows {
                    for x in 0..<w {
                        let i = y * w + x
                        let sx = Float(x) + U[i], sy = Float(y) + V[i]
                        guard sx >= 0, sy >= 0, sx <= Float(w - 1), sy <= Float(h - 1) else { O[i] = .nan; continue }
                        let x0 = min(Int(sx), max(w - 2, 0)), y0 = min(Int(sy), max(h - 2, 0))
                        let x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, h - 1)
                        let fx = sx - Float(x0), fy = sy - Float(y0)
                        let a = B[y0 * w + x0], b = B[y0 * w + x1], c = B[y1 * w + x0], d = B[y1 * w + x1]
                        let top = a + fx * (b - a), bot = c + fx * (d - c)
                        O[i] = top + fy * (bot - top)
                    }
                }
            }
        }}}}
        return out
    }
}

/// Smoothness weights on the edges between 4-neighbours: `horizontal[i]` joins pixel i to
/// i + 1 (0 in the last column), `vertical[i]` joins i to i + width (0 in the last row).
public struct EdgeWeights: Sendable {
    public let width: Int, height: Int
    public var horizontal: [Float], vertical: [Float]

    public init(width: Int, height: Int, horizontal: [Float], vertical: [Float]) {
        self.width = width; self.height = height; self.horizontal = horizontal; self.vertical = vertical
    }

    /// Uniform weights (Horn–Schunck).
    public static func uniform(width w: Int, height h: Int) -> EdgeWeights {
        var e = EdgeWeights(width: w, height: h, horizontal: [Float](repeating: 1, count: w * h),
                            vertical: [Float](repeating: 1, count: w * h))
        for y in 0..<h { e.horizontal[y * w + w - 1] = 0 }
        for x in 0..<w { e.vertical[(h - 1) * w + x] = 0 }
        return e
    }

    /// Edge-aware weights from an intensity image: max(floor, exp(−falloff·|ΔI|)) for the
    /// intensity difference ΔI across each edge (falloff 0: uniform).
    public init(image: [Float], width w: Int, height h: Int, falloff: Float, floor: Float) {
        self = .uniform(width: w, height: h)
        guard falloff > 0 else { return }
        image.withUnsafeBufferPointer { ip in
        horizontal.withUnsafeMutableBufferPointer { hp in
        vertical.withUnsafeMutableBufferPointer { vp in
            let I = ip.baseAddress!, H = hp.baseAddress!, V = vp.baseAddress!
            parallelFor(h, minPerThread: 16) { rows in
                for y in rows {
                    for x in 0..<w {
                        let i = y * w + x
                        if x < w - 1 { H[i] = max(floor, exp(-falloff * abs(I[i + 1] - I[i]))) }
                        if y < h - 1 { V[i] = max(floor, exp(-falloff * abs(I[i + w] - I[i]))) }
                    }
                }
            }
        }}}
    }
}

/// Red-black SOR for one warp's quadratic energy
///   Σᵢ ψᵢ·(Ix·u + Iy·v + c0)² + α²·Σ_edges e·|Δ(u, v)|²
/// (ψ the data weights, e the edge weights). The point-wise update of pixel i, with
/// neighbour weights eⱼ summing to E and w̄ = Σ eⱼ·wⱼ / E their weighted mean, is
///   w ← w̄ − g·t,  t = (g·w̄ + c0)·ψ / (α²E + ψ|g|²),  g = (Ix, Iy),
/// over-relaxed by ω. Pixels of one colour ((x + y) even or odd) depend only on the other
/// colour, so a half-sweep is parallel. Each colour is stored packed (row y, index x/2): a
/// pixel's four neighbours are then contiguous runs of the other colour's rows, so the
/// interior is updated 8 pixels at a time, and a half-sweep reads only the data of its
/// own colour.
public struct RedBlackSOR {
    let w: Int, h: Int, wp: Int
    static let omega: Float = 1.8

    public init(width: Int, height: Int) { w = width; h = height; wp = (width + 1) / 2 }

    /// Both colours in one array: colour c's rows start at c·h·wp.
    func pack(_ a: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: 2 * h * wp)
        let w = self.w, h = self.h, wp = self.wp
        byRows(from: a, to: &out) { S, D, y in
            RedBlackSOR.deinterleave(S + y * w, w, parity: y & 1, into: D + y * wp, D + (h + y) * wp)
        }
        return out
    }

    /// The inverse of `pack`.
    func unpack(_ p: [Float], into a: inout [Float]) {
        let w = self.w, h = self.h, wp = self.wp
        byRows(from: p, to: &a) { S, D, y in
            RedBlackSOR.interleave(S + y * wp, S + (h + y) * wp, parity: y & 1, into: D + y * w, w)
        }
    }

    /// `row(source, destination, y)` for every row y, on the kernel threads.
    private func byRows(from src: [Float], to dst: inout [Float],
                        _ row: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) {
        src.withUnsafeBufferPointer { sp in
            dst.withUnsafeMutableBufferPointer { dp in
                let S = sp.baseAddress!, D = dp.baseAddress!
                parallelFor(h, minPerThread: 16) { rows in for y in rows { row(S, D, y) } }
            }
        }
    }

    /// One row split by colour: `even` gets the pixels with (x + y) even (x ≡ y mod 2,
    /// `parity` = y & 1), `odd` the others, each at index x / 2.
    @inline(__always)
    static func deinterleave(_ s: UnsafePointer<Float>, _ w: Int, parity: Int,
                             into even: UnsafeMutablePointer<Float>, _ odd: UnsafeMutablePointer<Float>) {
        let a = parity == 0 ? even : odd, b = parity == 0 ? odd : even     // x even → a, x odd → b
        var j = 0
        while 2 * j + 1 < w { a[j] = s[2 * j]; b[j] = s[2 * j + 1]; j += 1 }
        if 2 * j < w { a[j] = s[2 * j] }
    }

    /// The inverse of `deinterleave`: one row put back together from its two colours.
    @inline(__always)
    static func interleave(_ even: UnsafePointer<Float>, _ odd: UnsafePointer<Float>, parity: Int,
                           into d: UnsafeMutablePointer<Float>, _ w: Int) {
        let a = parity == 0 ? even : odd, b = parity == 0 ? odd : even     // x even ← a, x odd ← b
        var j = 0
        while 2 * j + 1 < w { d[2 * j] = a[j]; d[2 * j + 1] = b[j]; j += 1 }
        if 2 * j < w { d[2 * j] = a[j] }
    }

    /// One round's system, packed by colour: Ix, Iy, c0, the neighbour weights divided by
    /// their sum E (left, right, up, down; 0 where there is no neighbour) and
    /// ψ / (α²E + ψ|g|²), with the robust weights taken at `flow`: ψ = ε / √(r² + ε²) for
    /// the residual r = Ix·u + Iy·v + c0, and each edge's weight times ε / √(|Δw|² + ε²)
    /// for the flow difference across it (an ε of 0 leaves a term quadratic).
    public struct System: Sendable {
        /// Eight packed planes, one after the other: Ix, Iy, c0, left, right, up, down, denom.
        var storage: [Float]
        enum Field: Int { case ix, iy, c0, left, right, up, down, denom }
    }

    public func system(_ lin: Linearisation, flow: Flow, edges: EdgeWeights, alpha2: Float,
                       dataEpsilon: Float, smoothEpsilon: Float) -> System {
        let w = self.w, h = self.h, wp = self.wp
        let (eh, ev) = RedBlackSOR.robustEdges(edges, flow: flow, epsilon: smoothEpsilon)
        let count = 2 * h * wp
        var out = [Float](repeating: 0, count: 8 * count)
        let rowStride = 5 * w
        var scratch = [Float](repeating: 0, count: rowStride * h)   // a row's values before the split by colour
        lin.ix.withUnsafeBufferPointer { ixp in lin.iy.withUnsafeBufferPointer { iyp in lin.c0.withUnsafeBufferPointer { cp in
        flow.u.withUnsafeBufferPointer { fu in flow.v.withUnsafeBufferPointer { fv in
        eh.withUnsafeBufferPointer { hp in ev.withUnsafeBufferPointer { vp in
        scratch.withUnsafeMutableBufferPointer { sp in
        out.withUnsafeMutableBufferPointer { op in
            let IX = ixp.baseAddress!, IY = iyp.baseAddress!, C = cp.baseAddress!, U = fu.baseAddress!, V = fv.baseAddress!
            let EH = hp.baseAddress!, EV = vp.baseAddress!
            // the packed planes, in the order of System.Field
            let O = (0..<8).map { op.baseAddress! + $0 * count }
            let de = dataEpsilon, de2 = dataEpsilon * dataEpsilon
            parallelFor(h, minPerThread: 16) { rows in
                for y in rows {
                    let o = y * w
                    let T = sp.baseAddress! + y * rowStride
                    let L = T, R = T + w, UP = T + 2 * w, DN = T + 3 * w, D = T + 4 * w
                    for x in 0..<w {
                        let el = x > 0 ? EH[o + x - 1] : 0, er = EH[o + x]
                        let eu = y > 0 ? EV[o + x - w] : 0, ed = EV[o + x]
                        let e = el + er + eu + ed
                        let s: Float = e > 0 ? 1 / e : 0
                        L[x] = el * s; R[x] = er * s; UP[x] = eu * s; DN[x] = ed * s
                        let gx = IX[o + x], gy = IY[o + x]
                        var psi: Float = 1
                        if de > 0 {
                            let res = gx * U[o + x] + gy * V[o + x] + C[o + x]
                            psi = de / (res * res + de2).squareRoot()
                        }
                        let q = alpha2 * e + psi * (gx * gx + gy * gy)
                        D[x] = q > 0 ? psi / q : 0
                    }
                    for (f, src) in [IX + o, IY + o, C + o, UnsafePointer(L), UnsafePointer(R), UnsafePointer(UP),
                                     UnsafePointer(DN), UnsafePointer(D)].enumerated() {
                        RedBlackSOR.deinterleave(src, w, parity: y & 1, into: O[f] + y * wp, O[f] + (h + y) * wp)
                    }
                }
            }
        }}}}}}}}}
        return System(storage: out)
    }

    /// The edge weights times Charbonnier's ε / √(|Δw|² + ε²) for the flow difference across
    /// each edge (unchanged when ε is 0); 0 past the last column and row, as in `edges`.
    static func robustEdges(_ edges: EdgeWeights, flow: Flow, epsilon eps: Float) -> (horizontal: [Float], vertical: [Float]) {
        var eh = edges.horizontal, ev = edges.vertical
        guard eps > 0 else { return (eh, ev) }
        let w = flow.width, h = flow.height, e2 = eps * eps
        typealias F8 = SIMD8<Float>
        flow.u.withUnsafeBufferPointer { fu in flow.v.withUnsafeBufferPointer { fv in
        eh.withUnsafeMutableBufferPointer { hp in ev.withUnsafeMutableBufferPointer { vp in
            let U = fu.baseAddress!, V = fv.baseAddress!, H = hp.baseAddress!, E = vp.baseAddress!
            @inline(__always) func ld(_ p: UnsafePointer<Float>) -> F8 { UnsafeRawPointer(p).loadUnaligned(as: F8.self) }
            @inline(__always) func scale(_ a: UnsafeMutablePointer<Float>, _ p: UnsafePointer<Float>, _ q: UnsafePointer<Float>,
                                         _ pv: UnsafePointer<Float>, _ qv: UnsafePointer<Float>, _ count: Int) {
                var x = 0
                while x + 8 <= count {
                    let du = ld(q + x) - ld(p + x), dv = ld(qv + x) - ld(pv + x)
                    let f = F8(repeating: eps) / (du * du + dv * dv + F8(repeating: e2)).squareRoot()
                    UnsafeMutableRawPointer(a + x).storeBytes(of: ld(a + x) * f, as: F8.self)
                    x += 8
                }
                while x < count {
                    let du = q[x] - p[x], dv = qv[x] - pv[x]
                    a[x] *= eps / (du * du + dv * dv + e2).squareRoot()
                    x += 1
                }
            }
            parallelFor(h, minPerThread: 16) { rows in
                for y in rows {
                    let r = y * w
                    scale(H + r, U + r, U + r + 1, V + r, V + r + 1, w - 1)
                    if y < h - 1 { scale(E + r, U + r, U + r + w, V + r, V + r + w, w) }
                }
            }
        }}}}
        return (eh, ev)
    }

    /// `sweeps` sweeps of `system` from the flow (u, v).
    public func solve(u: inout [Float], v: inout [Float], system: System, sweeps: Int) {
        var pu = pack(u), pv = pack(v)
        let w = self.w, h = self.h, wp = self.wp, omega = RedBlackSOR.omega
        let plane = h * wp
        system.storage.withUnsafeBufferPointer { sp in
        pu.withUnsafeMutableBufferPointer { up in pv.withUnsafeMutableBufferPointer { vp in
            let U = [up.baseAddress!, up.baseAddress! + plane], V = [vp.baseAddress!, vp.baseAddress! + plane]
            let base = sp.baseAddress!
            func colours(_ f: System.Field) -> [UnsafePointer<Float>] { [base + f.rawValue * 2 * plane, base + (f.rawValue * 2 + 1) * plane] }
            let IX = colours(.ix), IY = colours(.iy), C = colours(.c0), D = colours(.denom)
            let WL = colours(.left), WR = colours(.right), WU = colours(.up), WD = colours(.down)
            for _ in 0..<sweeps {
                for c in 0..<2 {
                    let o = 1 - c
                    let Uc = U[c], Vc = V[c], Uo = U[o], Vo = V[o]
                    let IXc = IX[c], IYc = IY[c], Cc = C[c], Dc = D[c]
                    let WLc = WL[c], WRc = WR[c], WUc = WU[c], WDc = WD[c]
                    @inline(__always) func update(_ k: Int, _ ub: Float, _ vb: Float) {
                        let t = (IXc[k] * ub + IYc[k] * vb + Cc[k]) * Dc[k]
                        Uc[k] += omega * (ub - IXc[k] * t - Uc[k])
                        Vc[k] += omega * (vb - IYc[k] * t - Vc[k])
                    }
                    // a pixel on the image border: only the neighbours that exist
                    @inline(__always) func border(_ x: Int, _ y: Int) {
                        let k = y * wp + (x >> 1)
                        var su: Float = 0, sv: Float = 0
                        for (nx, ny, wt) in [(x - 1, y, WLc[k]), (x + 1, y, WRc[k]), (x, y - 1, WUc[k]), (x, y + 1, WDc[k])]
                        where nx >= 0 && nx < w && ny >= 0 && ny < h {
                            let q = ny * wp + (nx >> 1)
                            su += wt * Uo[q]; sv += wt * Vo[q]
                        }
                        update(k, su, sv)
                    }
                    parallelFor(h, minPerThread: 16) { rows in
                        for y in rows {
                            let p = (y + c) & 1          // x = 2j + p in this row
                            if y == 0 || y == h - 1 || w < 3 {
                                for x in stride(from: p, to: w, by: 2) { border(x, y) }
                                continue
                            }
                            if p == 0 { border(0, y) }
                            // interior: x = 2j + p in 1...w−2; neighbours in the other
                            // colour: same row j+p−1 and j+p, rows above and below j
                            var j = p == 0 ? 1 : 0
                            let jEnd = (w - 2 - p) / 2 + 1
                            let row = y * wp
                            let left = Uo + row + p - 1, upper = Uo + row - wp, lower = Uo + row + wp
                            let vleft = Vo + row + p - 1, vupper = Vo + row - wp, vlower = Vo + row + wp
                            typealias F8 = SIMD8<Float>
                            @inline(__always) func ld(_ ptr: UnsafeMutablePointer<Float>, _ k: Int) -> F8 {
                                UnsafeRawPointer(ptr + k).loadUnaligned(as: F8.self)
                            }
                            @inline(__always) func ld(_ ptr: UnsafePointer<Float>, _ k: Int) -> F8 {
                                UnsafeRawPointer(ptr + k).loadUnaligned(as: F8.self)
                            }
                            let om = F8(repeating: omega)
                            while j + 8 <= jEnd {
                                let k = row + j
                                let wl = ld(WLc, k), wr = ld(WRc, k), wu = ld(WUc, k), wd = ld(WDc, k)
                                let ub = wl * ld(left, j) + wr * ld(left, j + 1) + wu * ld(upper, j) + wd * ld(lower, j)
                                let vb = wl * ld(vleft, j) + wr * ld(vleft, j + 1) + wu * ld(vupper, j) + wd * ld(vlower, j)
                                let gx = ld(IXc, k), gy = ld(IYc, k)
                                let t = (gx * ub + gy * vb + ld(Cc, k)) * ld(Dc, k)
                                let uc = ld(Uc, k), vc = ld(Vc, k)
                                UnsafeMutableRawPointer(Uc + k).storeBytes(of: uc + om * (ub - gx * t - uc), as: F8.self)
                                UnsafeMutableRawPointer(Vc + k).storeBytes(of: vc + om * (vb - gy * t - vc), as: F8.self)
                                j += 8
                            }
                            while j < jEnd {
                                let k = row + j
                                update(k, WLc[k] * left[j] + WRc[k] * left[j + 1] + WUc[k] * upper[j] + WDc[k] * lower[j],
                                       WLc[k] * vleft[j] + WRc[k] * vleft[j + 1] + WUc[k] * vupper[j] + WDc[k] * vlower[j])
                                j += 1
                            }
                            let xLast = w - 1
                            if (xLast + y + c) & 1 == 0 { border(xLast, y) }
                        }
                    }
                }
            }
        }}}
        unpack(pu, into: &u)
        unpack(pv, into: &v)
    }
}

