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
        var bw = [Float](repeating: 0, count: n), valid = bw
        var ix = bw, iy = bw, c0 = bw
        withPointers([a, b, flow.u, flow.v]) { P in
        bw.withUnsafeMutableBufferPointer { bp in valid.withUnsafeMutableBufferPointer { mp in
        ix.withUnsafeMutableBufferPointer { xp in iy.withUnsafeMutableBufferPointer { yp in
        c0.withUnsafeMutableBufferPointer { cp in
            let A = P[0], B = P[1], U = P[2], V = P[3], Bw = bp.baseAddress!, M = mp.baseAddress!
            // phase 0 warps b, phase 1 takes the stencils (which reach 2 rows of phase 0's)
            parallelPhases(2, rows: h, minPerThread: flowRowsPerThread(w)) { phase, rows in
                if phase == 0 {
                    Linearisation.warpRows(rows, B, U, V, outside: A, into: Bw, valid: M, w, h)
                } else {
                    Linearisation.termRows(rows, A, Bw, M, U, V, into: xp.baseAddress!, yp.baseAddress!, cp.baseAddress!, w, h)
                }
            }
        }}}}}}
        self.ix = ix; self.iy = iy; self.c0 = c0
    }

    /// `rows` of the term from a, the warped b (`Bw`) and its in-frame mask `M`: the
    /// stencils on a + Bw (rows y − 2 ... y + 2 of Bw must be ready), every term times M.
    static func termRows(_ rows: Range<Int>, _ A: UnsafePointer<Float>, _ Bw: UnsafePointer<Float>, _ M: UnsafePointer<Float>,
                         _ U: UnsafePointer<Float>, _ V: UnsafePointer<Float>, into IX: UnsafeMutablePointer<Float>,
                         _ IY: UnsafeMutablePointer<Float>, _ C: UnsafeMutablePointer<Float>, _ w: Int, _ h: Int) {
        for y in rows {
            let r = y * w
            let ym2 = max(y - 2, 0) * w, ym1 = max(y - 1, 0) * w, yp1 = min(y + 1, h - 1) * w, yp2 = min(y + 2, h - 1) * w
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

    /// `rows` of `B` sampled bilinearly at p + (U, V) into `O`, and the mask `M`: 1 where
    /// that stays in the frame, 0 where it leaves it (and O is `outside`'s value, so that
    /// the derivative stencils see finite neighbours).
    ///
    /// The interior 8 pixels at a time: positions, mask and weights as vectors, clamped
    /// into the frame before the integer conversion, only the four taps gathered lane by
    /// lane. The cell's corner is ⌊s⌋, or s − 1 at an integer s (the conversion rounds
    /// s − ½ to even), which then takes the right-hand tap with weight 1: the same value.
    static func warpRows(_ rows: Range<Int>, _ B: UnsafePointer<Float>, _ U: UnsafePointer<Float>, _ V: UnsafePointer<Float>,
                         outside A: UnsafePointer<Float>, into O: UnsafeMutablePointer<Float>,
                         valid M: UnsafeMutablePointer<Float>, _ w: Int, _ h: Int) {
        typealias F8 = SIMD8<Float>
        let zero = F8(), one = F8(repeating: 1), half = F8(repeating: 0.5)
        let xMax = F8(repeating: Float(w - 1)), yMax = F8(repeating: Float(h - 1))
        let xCell = F8(repeating: Float(max(w - 2, 0))), yCell = F8(repeating: Float(max(h - 2, 0)))
        // adding 2²³ to a float in [0, 2²²) rounds it to an integer, kept in the low bits
        let magic = F8(repeating: 8_388_608)
        @inline(__always) func clamp(_ s: F8, _ hi: F8) -> F8 {
            let low = s.replacing(with: zero, where: .!(s .>= zero))          // NaN too
            return low.replacing(with: hi, where: low .> hi)
        }
        @inline(__always) func corner(_ c: F8, _ cell: F8) -> F8 {
            let t = (c - half).replacing(with: zero, where: c .< half) + magic - magic
            return t.replacing(with: cell, where: t .> cell)
        }
        // a whole number in [0, 2²²) as an integer: its bits after adding 2²³
        @inline(__always) func integer(_ c: F8) -> SIMD8<Int32> {
            unsafeBitCast(c + magic, to: SIMD8<Int32>.self) &- 0x4B00_0000
        }
        for y in rows {
            var x = 0
            if w >= 2 && h >= 2 {
                let row = F8(repeating: Float(y))
                while x + 8 <= w {
                    let i = y * w + x
                    let sx = F8(0, 1, 2, 3, 4, 5, 6, 7) + Float(x) + load8(U, i), sy = row + load8(V, i)
                    let inside = (sx .>= zero) .& (sy .>= zero) .& (sx .<= xMax) .& (sy .<= yMax)
                    let cx = clamp(sx, xMax), cy = clamp(sy, yMax)
                    let x0 = corner(cx, xCell), y0 = corner(cy, yCell)
                    let fx = cx - x0, fy = cy - y0
                    let xi = integer(x0), yi = integer(y0)
                    var a = F8(), b = F8(), c = F8(), d = F8()
                    for l in 0..<8 {
                        let p = B + (Int(yi[l]) &* w &+ Int(xi[l]))
                        a[l] = p[0]; b[l] = p[1]; c[l] = p[w]; d[l] = p[w + 1]
                    }
                    let top = a + fx * (b - a), bottom = c + fx * (d - c)
                    store8(O, i, (top + fy * (bottom - top)).replacing(with: load8(A, i), where: .!inside))
                    store8(M, i, one.replacing(with: zero, where: .!inside))
                    x += 8
                }
            }
            for x in x..<w {
                let i = y * w + x
                let sx = Float(x) + U[i], sy = Float(y) + V[i]
                guard sx >= 0, sy >= 0, sx <= Float(w - 1), sy <= Float(h - 1) else { O[i] = A[i]; M[i] = 0; continue }
                let x0 = min(Int(sx), max(w - 2, 0)), y0 = min(Int(sy), max(h - 2, 0))
                let x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, h - 1)
                let fx = sx - Float(x0), fy = sy - Float(y0)
                let a = B[y0 * w + x0], b = B[y0 * w + x1], c = B[y1 * w + x0], d = B[y1 * w + x1]
                let top = a + fx * (b - a), bot = c + fx * (d - c)
                O[i] = top + fy * (bot - top); M[i] = 1
            }
        }
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
    /// intensity difference ΔI across each edge (falloff 0: uniform). 8 edges at a time,
    /// with `exponential`.
    public init(image: [Float], width w: Int, height h: Int, falloff: Float, floor: Float) {
        self = .uniform(width: w, height: h)
        guard falloff > 0 else { return }
        image.withUnsafeBufferPointer { ip in
        horizontal.withUnsafeMutableBufferPointer { hp in
        vertical.withUnsafeMutableBufferPointer { vp in
            let I = ip.baseAddress!, H = hp.baseAddress!, V = vp.baseAddress!
            typealias F8 = SIMD8<Float>
            let k = F8(repeating: -falloff), lowest = F8(repeating: floor)
            @inline(__always) func weight(_ d: F8) -> F8 {
                let e = exponential(k * d.replacing(with: -d, where: d .< 0))
                return e.replacing(with: lowest, where: e .< lowest)
            }
            // the first `count` (≤ 8) lanes of v to p
            @inline(__always) func store(_ p: UnsafeMutablePointer<Float>, _ v: F8, _ count: Int) {
                if count >= 8 { store8(p, 0, v) } else { for l in 0..<count { p[l] = v[l] } }
            }
            parallelFor(h, minPerThread: flowRowsPerThread(w)) { rows in
                for y in rows {
                    let r = I + y * w
                    for x in stride(from: 0, to: w, by: 8) {
                        let here = load8(r, x, w)
                        // edges to the right: x + l < w − 1; down: every column but the last row
                        if x < w - 1 { store(H + y * w + x, weight(load8(r + 1, x, w - 1) - here), w - 1 - x) }
                        if y < h - 1 { store(V + y * w + x, weight(load8(r + w, x, w) - here), w - x) }
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
struct RedBlackSOR {
    let w: Int, h: Int, wp: Int
    static let omega: Float = 1.8

    init(width: Int, height: Int) { w = width; h = height; wp = (width + 1) / 2 }

    /// Floats in one colour's half of a packed plane.
    var plane: Int { h * wp }

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
    struct System: Sendable {
        /// Eight packed planes, one after the other, in the order of `Field`; colour c of
        /// field f starts at (2f + c)·`plane`.
        var storage: [Float]
        enum Field: Int, CaseIterable { case ix, iy, c0, left, right, up, down, denom }
    }

    /// The data term's settings of a system.
    struct DataTerm {
        var alpha2: Float, epsilon: Float, normalization: Float
    }

    func system(_ lin: Linearisation, flow: Flow, edges: EdgeWeights, alpha2: Float,
                       dataEpsilon: Float, normalization: Float = 0, smoothEpsilon: Float) -> System {
        let w = self.w, h = self.h
        var eh = edges.horizontal, ev = edges.vertical
        var out = [Float](repeating: 0, count: System.Field.allCases.count * 2 * plane)
        let term = DataTerm(alpha2: alpha2, epsilon: dataEpsilon, normalization: normalization)
        withPointers([lin.ix, lin.iy, lin.c0, flow.u, flow.v, edges.horizontal, edges.vertical]) { P in
        eh.withUnsafeMutableBufferPointer { hp in ev.withUnsafeMutableBufferPointer { vp in
        out.withUnsafeMutableBufferPointer { op in
            let EH = hp.baseAddress!, EV = vp.baseAddress!
            // phase 0 the robust edges (when ε_s > 0), phase 1 the system, which reads the
            // vertical edges of the row above
            parallelPhases(2, rows: h, minPerThread: flowRowsPerThread(w)) { phase, rows in
                if phase == 0 {
                    if smoothEpsilon > 0 {
                        RedBlackSOR.robustEdgeRows(rows, P[5], P[6], flow: P[3], P[4], epsilon: smoothEpsilon, into: EH, EV, w, h)
                    }
                } else {
                    systemRows(rows, ix: P[0], iy: P[1], c0: P[2], flow: P[3], P[4], edges: EH, EV, term: term, into: op.baseAddress!)
                }
            }
        }}}}
        return System(storage: out)
    }

    /// `rows` of the system into the packed planes at `O`, from the linearisation, the
    /// flow and the (robust) edge weights. Without `packingTheTerm` the planes of Ix, Iy
    /// and c0 are left as they are (a later round of the same warp: they do not change).
    func systemRows(_ rows: Range<Int>, ix IX: UnsafePointer<Float>, iy IY: UnsafePointer<Float>, c0 C: UnsafePointer<Float>,
                    flow U: UnsafePointer<Float>, _ V: UnsafePointer<Float>, edges EH: UnsafePointer<Float>,
                    _ EV: UnsafePointer<Float>, term: DataTerm, packingTheTerm: Bool = true,
                    into O: UnsafeMutablePointer<Float>) {
        let w = self.w, wp = self.wp, plane = self.plane
        let fields = System.Field.allCases.count, pad = (w + 7) / 8 * 8
        typealias F8 = SIMD8<Float>
        let a2 = F8(repeating: term.alpha2), zero = F8(), normalization = term.normalization, dataEpsilon = term.epsilon
        let de = F8(repeating: dataEpsilon), de2 = de * de, zeta2 = F8(repeating: normalization * normalization)
        // one row's values before the split by colour (every value written before it is read)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: fields * pad) { scratch in
            let T = scratch.baseAddress!
            for y in rows {
                let o = y * w
                @inline(__always) func ld(_ p: UnsafePointer<Float>, _ x: Int) -> F8 { load8(p + o, x, w) }
                @inline(__always) func st(_ f: System.Field, _ x: Int, _ v: F8) { store8(T + f.rawValue * pad, x, v) }
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
                for f in (packingTheTerm ? 0 : System.Field.left.rawValue)..<fields {
                    RedBlackSOR.deinterleave(T + f * pad, w, parity: y & 1, into: O + 2 * f * plane + y * wp,
                                             O + (2 * f + 1) * plane + y * wp)
                }
            }
        }
    }

    /// `rows` of the edge weights `EH`, `EV` times Charbonnier's ε / √(|Δw|² + ε²) for the
    /// flow difference across each edge, into `H`, `V`: 0 past the last column and row,
    /// as in the input.
    static func robustEdgeRows(_ rows: Range<Int>, _ EH: UnsafePointer<Float>, _ EV: UnsafePointer<Float>,
                               flow U: UnsafePointer<Float>, _ V: UnsafePointer<Float>, epsilon eps: Float,
                               into H: UnsafeMutablePointer<Float>, _ E: UnsafeMutablePointer<Float>, _ w: Int, _ h: Int) {
        typealias F8 = SIMD8<Float>
        let e2 = eps * eps
        // out[x] = e[x] times the weight of the difference between (p, pv)[x] and (q, qv)[x]
        @inline(__always) func scale(_ out: UnsafeMutablePointer<Float>, _ e: UnsafePointer<Float>, _ p: UnsafePointer<Float>,
                                     _ q: UnsafePointer<Float>, _ pv: UnsafePointer<Float>, _ qv: UnsafePointer<Float>, _ count: Int) {
            var x = 0
            while x + 8 <= count {
                let du = load8(q, x) - load8(p, x), dv = load8(qv, x) - load8(pv, x)
                let f = F8(repeating: eps) * reciprocalSquareRoot(du * du + dv * dv + F8(repeating: e2))
                store8(out, x, load8(e, x) * f)
                x += 8
            }
            while x < count {
                let du = q[x] - p[x], dv = qv[x] - pv[x]
                out[x] = e[x] * (eps / (du * du + dv * dv + e2).squareRoot())
                x += 1
            }
        }
        for y in rows {
            let r = y * w
            scale(H + r, EH + r, U + r, U + r + 1, V + r, V + r + 1, w - 1)
            H[r + w - 1] = EH[r + w - 1]
            if y < h - 1 {
                scale(E + r, EV + r, U + r, U + r + w, V + r, V + r + w, w)
            } else {
                (E + r).update(from: EV + r, count: w)
            }
        }
    }

    /// The planes of one solve: the system's and the flow's, packed by colour.
    struct Packed {
        let system: UnsafePointer<Float>, u: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>

        func field(_ f: System.Field, _ colour: Int, _ plane: Int) -> UnsafePointer<Float> {
            system + (2 * f.rawValue + colour) * plane
        }
    }

    /// `sweeps` sweeps of `system` from the flow (u, v).
    ///
    /// The flow is split by colour into packed arrays in a first phase and put back
    /// together in a last one, all in one `parallelPhases`.
    func solve(u: inout [Float], v: inout [Float], system: System, sweeps: Int) {
        var pu = [Float](repeating: 0, count: 2 * plane), pv = pu
        system.storage.withUnsafeBufferPointer { sp in
        u.withUnsafeMutableBufferPointer { uf in v.withUnsafeMutableBufferPointer { vf in
        pu.withUnsafeMutableBufferPointer { up in pv.withUnsafeMutableBufferPointer { vp in
            let packed = Packed(system: sp.baseAddress!, u: up.baseAddress!, v: vp.baseAddress!)
            let UF = uf.baseAddress!, VF = vf.baseAddress!
            // phase 0 packs, 1...2·sweeps are the half-sweeps (one colour each), the last unpacks
            parallelPhases(2 * sweeps + 2, rows: h, minPerThread: flowRowsPerThread(w)) { phase, rows in
                if phase == 0 {
                    pack(rows, UF, VF, into: packed)
                } else if phase == 2 * sweeps + 1 {
                    unpack(rows, packed, into: UF, VF)
                } else {
                    halfSweep(colour: (phase - 1) & 1, rows, packed)
                }
            }
        }}}}}
    }

    /// `rows` of the flow (UF, VF) split by colour into `packed`.
    func pack(_ rows: Range<Int>, _ UF: UnsafePointer<Float>, _ VF: UnsafePointer<Float>, into packed: Packed) {
        for y in rows {
            RedBlackSOR.deinterleave(UF + y * w, w, parity: y & 1, into: packed.u + y * wp, packed.u + plane + y * wp)
            RedBlackSOR.deinterleave(VF + y * w, w, parity: y & 1, into: packed.v + y * wp, packed.v + plane + y * wp)
        }
    }

    /// `rows` of the flow put back together from `packed` into (UF, VF).
    func unpack(_ rows: Range<Int>, _ packed: Packed, into UF: UnsafeMutablePointer<Float>, _ VF: UnsafeMutablePointer<Float>) {
        for y in rows {
            RedBlackSOR.interleave(packed.u + y * wp, packed.u + plane + y * wp, parity: y & 1, into: UF + y * w, w)
            RedBlackSOR.interleave(packed.v + y * wp, packed.v + plane + y * wp, parity: y & 1, into: VF + y * w, w)
        }
    }

    /// The pixels of one colour in `rows` updated from the other colour's.
    func halfSweep(colour c: Int, _ rows: Range<Int>, _ packed: Packed) {
        let w = self.w, h = self.h, wp = self.wp, plane = self.plane, omega = RedBlackSOR.omega
        let o = 1 - c
        let Uc = packed.u + c * plane, Vc = packed.v + c * plane
        let Uo = UnsafePointer(packed.u + o * plane), Vo = UnsafePointer(packed.v + o * plane)
        let IXc = packed.field(.ix, c, plane), IYc = packed.field(.iy, c, plane), Cc = packed.field(.c0, c, plane)
        let Dc = packed.field(.denom, c, plane)
        let WLc = packed.field(.left, c, plane), WRc = packed.field(.right, c, plane)
        let WUc = packed.field(.up, c, plane), WDc = packed.field(.down, c, plane)
        @inline(__always) func update(_ k: Int, _ ub: Float, _ vb: Float) {
            let t = (IXc[k] * ub + IYc[k] * vb + Cc[k]) * Dc[k]
            Uc[k] += omega * (ub - IXc[k] * t - Uc[k])
            Vc[k] += omega * (vb - IYc[k] * t - Vc[k])
        }
        // a pixel on the image border: only the neighbours that exist (the missing ones
        // have weight 0, but their index may be outside the plane)
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
        typealias F8 = SIMD8<Float>
        @inline(__always) func ld(_ ptr: UnsafePointer<Float>, _ k: Int) -> F8 { load8(ptr, k) }
        let om = F8(repeating: omega)
        for y in rows {
            let p = (y + c) & 1          // x = 2j + p in this row
            if y == 0 || y == h - 1 || w < 3 {
                for x in stride(from: p, to: w, by: 2) { border(x, y) }
                continue
            }
            if p == 0 { border(0, y) }
            // interior: x = 2j + p in 1...w−2; neighbours in the other colour: same row
            // j+p−1 and j+p, rows above and below j
            var j = p == 0 ? 1 : 0
            let jEnd = (w - 2 - p) / 2 + 1
            let row = y * wp
            let left = Uo + row + p - 1, upper = Uo + row - wp, lower = Uo + row + wp
            let vleft = Vo + row + p - 1, vupper = Vo + row - wp, vlower = Vo + row + wp
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

/// eˣ for x in [−87, 88] (clamped there) to within 2 ulp: x = n·ln 2 + r with |r| ≤ ln 2 / 2,
/// Cephes' degree-7 polynomial for eʳ and 2ⁿ from the exponent bits. The edge weights take
/// one per edge; the C library's expf, one lane at a time, was 3% of the flow's time.
@inline(__always)
func exponential(_ x: SIMD8<Float>) -> SIMD8<Float> {
    typealias F8 = SIMD8<Float>
    let lo = F8(repeating: -87), hi = F8(repeating: 88)
    var v = x.replacing(with: lo, where: x .< lo)
    v = v.replacing(with: hi, where: v .> hi)
    // n = round(x / ln 2): adding 1.5·2²³ rounds to an integer, kept in the low bits
    let magic = F8(repeating: 12_582_912)
    let shifted = v * 1.442_695_04 + magic
    let n = shifted - magic
    let r = (v - n * 0.693_359_375) + n * 2.121_944_4e-4          // ln 2 in two parts
    var p = F8(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_95e-3
    p = p * r + 8.333_451_9e-3
    p = p * r + 4.166_579_59e-2
    p = p * r + 0.166_666_655
    p = p * r + 0.500_000_01
    p = p * (r * r) + r + 1
    let exponent = (unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    return p * unsafeBitCast(exponent, to: F8.self)
}
