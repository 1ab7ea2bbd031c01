import Foundation
import Kernels

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

    /// The term between the planes `a` and `b` (intensities, the size of `flow`).
    public init(flow: Flow, first a: [Float], second b: [Float]) {
        width = flow.width; height = flow.height
        let w = width, h = height, n = w * h
        let (bw, valid) = Linearisation.warp(b, width: w, height: h, by: flow, outside: a)
        var ix = [Float](repeating: 0, count: n), iy = ix, c0 = ix
        withPointers([a, bw, valid, flow.u, flow.v]) { P in
        ix.withUnsafeMutableBufferPointer { ixp in
        iy.withUnsafeMutableBufferPointer { iyp in
        c0.withUnsafeMutableBufferPointer { cp in
            let A = P[0], Bw = P[1], M = P[2], U = P[3], V = P[4]
            let IX = ixp.baseAddress!, IY = iyp.baseAddress!, C = cp.baseAddress!
            parallelFor(h, minPerThread: flowRowsPerThread(w)) { rows in
                for y in rows {
                    let r = y * w
                    let ym2 = max(y - 2, 0) * w, ym1 = max(y - 1, 0) * w, yp1 = min(y + 1, h - 1) * w, yp2 = min(y + 2, h - 1) * w
                    // the stencils on a + warped b; every term times the in-frame mask
                    @inline(__always) func pixel(_ x: Int) {
                        let i = r + x
                        @inline(__always) func s(_ k: Int) -> Float { A[k] + Bw[k] }
                        let dx = (s(r + max(x - 2, 0)) - 8 * s(r + max(x - 1, 0)) + 8 * s(r + min(x + 1, w - 1)) - s(r + min(x + 2, w - 1))) / 24
                        let dy = (s(ym2 + x) - 8 * s(ym1 + x) + 8 * s(yp1 + x) - s(yp2 + x)) / 24
                        IX[i] = M[i] * dx; IY[i] = M[i] * dy
                        C[i] = M[i] * ((Bw[i] - A[i]) - dx * U[i] - dy * V[i])
                    }
                    var x = 0
                    while x < min(2, w) { pixel(x); x += 1 }
                    // the interior 8 at a time: x − 2 ... x + 9 stay in the row
                    while x + 10 <= w {
                        @inline(__always) func s(_ k: Int) -> SIMD8<Float> { load8(A, k) + load8(Bw, k) }
                        let i = r + x, m = load8(M, i)
                        let dx = (s(i - 2) - 8 * s(i - 1) + 8 * s(i + 1) - s(i + 2)) * (1 / 24)
                        let dy = (s(ym2 + x) - 8 * s(ym1 + x) + 8 * s(yp1 + x) - s(yp2 + x)) * (1 / 24)
                        store8(IX, i, m * dx); store8(IY, i, m * dy)
                        store8(C, i, m * ((load8(Bw, i) - load8(A, i)) - dx * load8(U, i) - dy * load8(V, i)))
                        x += 8
                    }
                    while x < w { pixel(x); x += 1 }
                }
            }
        }}}}
        self.ix = ix; self.iy = iy; self.c0 = c0
    }

    /// `b` sampled bilinearly at p + flow(p), and a mask: 1 where that stays in the frame, 0
    /// where it leaves it (and the sample is `outside`'s value, so that the derivative
    /// stencils see finite neighbours).
    static func warp(_ b: [Float], width w: Int, height h: Int, by flow: Flow, outside: [Float]) -> ([Float], [Float]) {
        var out = [Float](repeating: 0, count: w * h), valid = [Float](repeating: 1, count: w * h)
        withPointers([b, flow.u, flow.v, outside]) { P in
        valid.withUnsafeMutableBufferPointer { vp in
        out.withUnsafeMutableBufferPointer { op in
            let B = P[0], U = P[1], V = P[2], A = P[3], O = op.baseAddress!, VA = vp.baseAddress!
            parallelFor(h, minPerThread: flowRowsPerThread(w)) { rows in
                for y in rows {
                    for x in 0..<w {
                        let i = y * w + x
                        let sx = Float(x) + U[i], sy = Float(y) + V[i]
                        guard sx >= 0, sy >= 0, sx <= Float(w - 1), sy <= Float(h - 1) else { O[i] = A[i]; VA[i] = 0; continue }
                        let x0 = min(Int(sx), max(w - 2, 0)), y0 = min(Int(sy), max(h - 2, 0))
                        let x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, h - 1)
                        let fx = sx - Float(x0), fy = sy - Float(y0)
                        let a = B[y0 * w + x0], b = B[y0 * w + x1], c = B[y1 * w + x0], d = B[y1 * w + x1]
                        let top = a + fx * (b - a), bot = c + fx * (d - c)
                        O[i] = top + fy * (bot - top)
                    }
                }
            }
        }}}
        return (out, valid)
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
            parallelFor(h, minPerThread: flowRowsPerThread(w)) { rows in
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
/// (ψ the data weights: normalisation times Charbonnier's; e the edge weights). The
/// point-wise update of pixel i, with neighbour weights eⱼ summing to E and
/// w̄ = Σ eⱼ·wⱼ / E their weighted mean, is
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

    /// One row split by colour: `even` gets the pixels with (x + y) even (x ≡ y mod 2,
    /// `parity` = y & 1), `odd` the others, each at index x / 2.
    @inline(__always)
    static func deinterleave(_ s: UnsafePointer<Float>, _ w: Int, parity: Int,
                             into even: UnsafeMutablePointer<Float>, _ odd: UnsafeMutablePointer<Float>) {
        let a = parity == 0 ? even : odd, b = parity == 0 ? odd : even     // x even → a, x odd → b
        var j = 0
        while 2 &* j &+ 16 <= w {
            let v = UnsafeRawPointer(s + 2 &* j).loadUnaligned(as: SIMD16<Float>.self)
            store8(a, j, v.evenHalf); store8(b, j, v.oddHalf)
            j &+= 8
        }
        while 2 &* j &+ 1 < w { a[j] = s[2 &* j]; b[j] = s[2 &* j &+ 1]; j &+= 1 }
        if 2 &* j < w { a[j] = s[2 &* j] }
    }

    /// The inverse of `deinterleave`: one row put back together from its two colours.
    @inline(__always)
    static func interleave(_ even: UnsafePointer<Float>, _ odd: UnsafePointer<Float>, parity: Int,
                           into d: UnsafeMutablePointer<Float>, _ w: Int) {
        let a = parity == 0 ? even : odd, b = parity == 0 ? odd : even     // x even ← a, x odd ← b
        var j = 0
        while 2 &* j &+ 16 <= w {
            var v = SIMD16<Float>()
            v.evenHalf = load8(a, j); v.oddHalf = load8(b, j)
            UnsafeMutableRawPointer(d + 2 &* j).storeBytes(of: v, as: SIMD16<Float>.self)
            j &+= 8
        }
        while 2 &* j &+ 1 < w { d[2 &* j] = a[j]; d[2 &* j &+ 1] = b[j]; j &+= 1 }
        if 2 &* j < w { d[2 &* j] = a[j] }
    }

    /// One round's system, packed by colour: Ix, Iy, c0, the neighbour weights divided by
    /// their sum E (left, right, up, down; 0 where there is no neighbour) and
    /// ψ / (α²E + ψ|g|²), with the robust weights taken at `flow`: ψ = θ·ε_d / √(θr² + ε_d²)
    /// for the residual r = Ix·u + Iy·v + c0 and θ = 1 / (|g|² + ζ²) (ζ = `normalization`;
    /// θ = 1 when it is 0, ψ = θ when ε_d is 0), and each edge's weight times
    /// ε_s / √(|Δw|² + ε_s²) for the flow difference across it (unchanged when ε_s is 0).
    public struct System: Sendable {
        /// Eight packed planes, one after the other, in the order of `Field`.
        var storage: [Float]
        enum Field: Int, CaseIterable { case ix, iy, c0, left, right, up, down, denom }
    }

    public func system(_ lin: Linearisation, flow: Flow, edges: EdgeWeights, alpha2: Float,
                       dataEpsilon: Float, normalization: Float = 0, smoothEpsilon: Float) -> System {
        let w = self.w, h = self.h, wp = self.wp
        let (eh, ev) = RedBlackSOR.robustEdges(edges, flow: flow, epsilon: smoothEpsilon)
        let count = 2 * h * wp, fields = System.Field.allCases.count
        var out = [Float](repeating: 0, count: fields * count)
        let pad = (w + 7) / 8 * 8
        // each row's values before the split by colour (every value written before it is read)
        var scratch = [Float](unsafeUninitializedCapacity: fields * pad * h) { _, n in n = fields * pad * h }
        withPointers([lin.ix, lin.iy, lin.c0, flow.u, flow.v, eh, ev]) { P in
        scratch.withUnsafeMutableBufferPointer { sp in
        out.withUnsafeMutableBufferPointer { op in
            let IX = P[0], IY = P[1], C = P[2], U = P[3], V = P[4], EH = P[5], EV = P[6]
            let S = sp.baseAddress!, O = op.baseAddress!
            typealias F8 = SIMD8<Float>
            let a2 = F8(repeating: alpha2), zero = F8()
            let de = F8(repeating: dataEpsilon), de2 = de * de, zeta2 = F8(repeating: normalization * normalization)
            parallelFor(h, minPerThread: flowRowsPerThread(w)) { rows in
                for y in rows {
                    let o = y * w, T = S + y * fields * pad
                    @inline(__always) func ld(_ p: UnsafePointer<Float>, _ x: Int) -> F8 { load8(p + o, x, w) }
                    @inline(__always) func st(_ f: System.Field, _ x: Int, _ v: F8) {
                        store8(T + f.rawValue * pad, x, v)
                    }
                    for x in stride(from: 0, to: w, by: 8) {
                        // the left edge of pixel x is EH[x − 1]: none in the first column
                        var el = x > 0 ? ld(EH - 1, x) : zero
                        if x == 0 { for l in 1..<min(8, w) { el[l] = EH[o + l - 1] } }
                        let er = ld(EH, x), ed = ld(EV, x), eu = y > 0 ? ld(EV - w, x) : zero
                        let e = el + er + eu + ed
                        let s = (1 / e).replacing(with: 0, where: e .<= 0)
                        st(.left, x, el * s); st(.right, x, er * s); st(.up, x, eu * s); st(.down, x, ed * s)
                        let gx = ld(IX, x), gy = ld(IY, x), c = ld(C, x)
                        let g2 = gx * gx + gy * gy
                        var psi = normalization > 0 ? 1 / (g2 + zeta2) : F8(repeating: 1)
                        if dataEpsilon > 0 {
                            let r = gx * ld(U, x) + gy * ld(V, x) + c
                            psi = psi * de * reciprocalSquareRoot(r * r * psi + de2)
                        }
                        let q = a2 * e + psi * g2
                        st(.ix, x, gx); st(.iy, x, gy); st(.c0, x, c)
                        st(.denom, x, (psi / q).replacing(with: 0, where: q .<= 0))
                    }
                    for f in 0..<fields {
                        RedBlackSOR.deinterleave(T + f * pad, w, parity: y & 1, into: O + f * count + y * wp, O + f * count + (h + y) * wp)
                    }
                }
            }
        }}}
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
            @inline(__always) func ld(_ p: UnsafePointer<Float>) -> F8 { load8(p, 0) }
            @inline(__always) func scale(_ a: UnsafeMutablePointer<Float>, _ p: UnsafePointer<Float>, _ q: UnsafePointer<Float>,
                                         _ pv: UnsafePointer<Float>, _ qv: UnsafePointer<Float>, _ count: Int) {
                var x = 0
                while x + 8 <= count {
                    let du = ld(q + x) - ld(p + x), dv = ld(qv + x) - ld(pv + x)
                    let f = F8(repeating: eps) * reciprocalSquareRoot(du * du + dv * dv + F8(repeating: e2))
                    store8(a, x, ld(a + x) * f)
                    x += 8
                }
                while x < count {
                    let du = q[x] - p[x], dv = qv[x] - pv[x]
                    a[x] *= eps / (du * du + dv * dv + e2).squareRoot()
                    x += 1
                }
            }
            parallelFor(h, minPerThread: flowRowsPerThread(w)) { rows in
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
    ///
    /// The flow is split by colour into packed arrays (colour c's rows start at c·h·wp) in
    /// a first phase and put back together in a last one, all in one `parallelPhases`.
    public func solve(u: inout [Float], v: inout [Float], system: System, sweeps: Int) {
        var pu = [Float](repeating: 0, count: 2 * h * wp), pv = pu
        let w = self.w, h = self.h, wp = self.wp, omega = RedBlackSOR.omega
        let plane = h * wp
        system.storage.withUnsafeBufferPointer { sp in
        u.withUnsafeMutableBufferPointer { uf in v.withUnsafeMutableBufferPointer { vf in
        pu.withUnsafeMutableBufferPointer { up in pv.withUnsafeMutableBufferPointer { vp in
            let U = [up.baseAddress!, up.baseAddress! + plane], V = [vp.baseAddress!, vp.baseAddress! + plane]
            let UF = uf.baseAddress!, VF = vf.baseAddress!
            let base = sp.baseAddress!
            func colours(_ f: System.Field) -> [UnsafePointer<Float>] { [base + f.rawValue * 2 * plane, base + (f.rawValue * 2 + 1) * plane] }
            let IX = colours(.ix), IY = colours(.iy), C = colours(.c0), D = colours(.denom)
            let WL = colours(.left), WR = colours(.right), WU = colours(.up), WD = colours(.down)
            // phase 0 packs, 1...2·sweeps are the half-sweeps (one colour each), the last unpacks
            parallelPhases(2 * sweeps + 2, rows: h, minPerThread: flowRowsPerThread(w)) { phase, rows in
                if phase == 0 || phase == 2 * sweeps + 1 {
                    for y in rows {
                        let evenU = U[0] + y * wp, oddU = U[1] + y * wp, evenV = V[0] + y * wp, oddV = V[1] + y * wp
                        if phase == 0 {
                            RedBlackSOR.deinterleave(UF + y * w, w, parity: y & 1, into: evenU, oddU)
                            RedBlackSOR.deinterleave(VF + y * w, w, parity: y & 1, into: evenV, oddV)
                        } else {
                            RedBlackSOR.interleave(evenU, oddU, parity: y & 1, into: UF + y * w, w)
                            RedBlackSOR.interleave(evenV, oddV, parity: y & 1, into: VF + y * w, w)
                        }
                    }
                    return
                }
                    let c = (phase - 1) & 1, o = 1 - c
                    let Uc = U[c], Vc = V[c], Uo = U[o], Vo = V[o]
                    let IXc = IX[c], IYc = IY[c], Cc = C[c], Dc = D[c]
                    let WLc = WL[c], WRc = WR[c], WUc = WU[c], WDc = WD[c]
                    @inline(__always) func update(_ k: Int, _ ub: Float, _ vb: Float) {
                        let t = (IXc[k] * ub + IYc[k] * vb + Cc[k]) * Dc[k]
                        Uc[k] += omega * (ub - IXc[k] * t - Uc[k])
                        Vc[k] += omega * (vb - IYc[k] * t - Vc[k])
                    }
                    // a pixel on the image border: only the neighbours that exist (the
                    // missing ones have weight 0, but their index may be outside the plane)
                    @inline(__always) func border(_ x: Int, _ y: Int) {
                        let k = y * wp + (x >> 1)
                        var su: Float = 0, sv: Float = 0
                        @inline(__always) func add(_ nx: Int, _ ny: Int, _ wt: Float) {
                            guard nx >= 0 && nx < w && ny >= 0 && ny < h else { return }
                            let q = ny * wp + (nx >> 1)
                            su += wt * Uo[q]; sv += wt * Vo[q]
                        }
                        add(x - 1, y, WLc[k]); add(x + 1, y, WRc[k]); add(x, y - 1, WUc[k]); add(x, y + 1, WDc[k])
                        update(k, su, sv)
                    }
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
                            @inline(__always) func ld(_ ptr: UnsafePointer<Float>, _ k: Int) -> F8 { load8(ptr, k) }
                            let om = F8(repeating: omega)
                            while j + 8 <= jEnd {
                                let k = row + j
                                let wl = ld(WLc, k), wr = ld(WRc, k), wu = ld(WUc, k), wd = ld(WDc, k)
                                let ub = wl * ld(left, j) + wr * ld(left, j + 1) + wu * ld(upper, j) + wd * ld(lower, j)
                                let vb = wl * ld(vleft, j) + wr * ld(vleft, j + 1) + wu * ld(vupper, j) + wd * ld(vlower, j)
                                let gx = ld(IXc, k), gy = ld(IYc, k)
                                let t = (gx * ub + gy * vb + ld(Cc, k)) * ld(Dc, k)
                                let uc = ld(Uc, k), vc = ld(Vc, k)
                                store8(Uc, k, uc + om * (ub - gx * t - uc))
                                store8(Vc, k, vc + om * (vb - gy * t - vc))
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
        }}}}}
    }
}

/// `body` with base pointers of every array (read-only), kept alive for its duration.
func withPointers<R>(_ arrays: [[Float]], _ body: ([UnsafePointer<Float>]) -> R) -> R {
    func go(_ i: Int, _ acc: [UnsafePointer<Float>]) -> R {
        if i == arrays.count { return body(acc) }
        return arrays[i].withUnsafeBufferPointer { go(i + 1, acc + [$0.baseAddress!]) }
    }
    return go(0, [])
}

/// The 8 floats at p[i...] (unaligned): the flow's kernels' one vector load.
@inline(__always)
func load8(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD8<Float> { UnsafeRawPointer(p + i).loadUnaligned(as: SIMD8<Float>.self) }

/// Stores 8 floats at p[i...] (unaligned).
@inline(__always)
func store8(_ p: UnsafeMutablePointer<Float>, _ i: Int, _ v: SIMD8<Float>) {
    UnsafeMutableRawPointer(p + i).storeBytes(of: v, as: SIMD8<Float>.self)
}

/// 8 values from p[i...], the lanes at or past `end` 0.
@inline(__always)
func load8(_ p: UnsafePointer<Float>, _ i: Int, _ end: Int) -> SIMD8<Float> {
    if i + 8 <= end { return load8(p, i) }
    var t = SIMD8<Float>()
    for l in 0..<(end - i) { t[l] = p[i + l] }
    return t
}

/// 1/√x of positive, normal x to a relative error under 1e-5: the bit-level first guess
/// (Lomont's constant) and two Newton steps, all multiplies and adds — about half the
/// time of a square root and a division on SSE, where the robust weights spend theirs.
@inline(__always)
func reciprocalSquareRoot(_ x: SIMD8<Float>) -> SIMD8<Float> {
    let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
    var y = unsafeBitCast(SIMD8<UInt32>(repeating: 0x5F37_5A86) &- (bits &>> 1), to: SIMD8<Float>.self)
    let half = x * 0.5
    y = y * (1.5 - half * y * y)
    y = y * (1.5 - half * y * y)
    return y
}
