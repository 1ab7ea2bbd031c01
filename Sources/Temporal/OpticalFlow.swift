import Kernels

/// Settings of the built-in optical flow.
public struct FlowOptions: Sendable, Equatable {
    /// Smoothness weight α (intensities in 0...1). Default 0.02.
    public var alpha: Float = 0.02
    /// Re-linearisations (warps) per pyramid level. Default 2.
    public var warps: Int = 2
    /// SOR sweeps per warp. Default 15. (3 × 30 is 2.2× slower for EPE 0.029 instead of
    /// 0.036 on the DIS comparison pairs, BENCHMARKS.md.)
    public var iterations: Int = 15
    /// Coarsest level's shorter side, in pixels. Default 12.
    public var minSize: Int = 12
    public init() {}
}

/// Dense optical flow, coarse to fine: Horn–Schunck's quadratic smoothness on a linearised
/// brightness-constancy term, re-linearised by warping several times per pyramid level
/// (large motions), with a 3×3 median filter of the flow after each warp (Sun, Roth &
/// Black's "secrets": it removes outliers the quadratic terms let through).
public enum OpticalFlow {
    /// The flow w from `a` to `b`: a(p) ≈ b(p + w(p)).
    public static func compute(from a: Tensor, to b: Tensor, options o: FlowOptions = FlowOptions()) -> Flow {
        precondition(a.sameShape(b), "OpticalFlow: frames \(a.shapeDescription) vs \(b.shapeDescription)")
        let w = a.width, h = a.height
        // pyramids (finest first), each level a 5-tap-blurred half of the previous
        var pa = [Tensor(channels: 1, height: h, width: w, storage: Luma.plane(a))]
        var pb = [Tensor(channels: 1, height: h, width: w, storage: Luma.plane(b))]
        while min(pa.last!.width, pa.last!.height) / 2 >= o.minSize && pa.count < 8 {
            let s = pa.last!
            pa.append(Resize.bilinear(blur(s), height: (s.height + 1) / 2, width: (s.width + 1) / 2))
            pb.append(Resize.bilinear(blur(pb.last!), height: (s.height + 1) / 2, width: (s.width + 1) / 2))
        }
        var flow = Flow(width: pa.last!.width, height: pa.last!.height)
        for level in stride(from: pa.count - 1, through: 0, by: -1) {
            let la = pa[level], lb = pb[level]
            if flow.width != la.width || flow.height != la.height {
                flow = flow.resampled(width: la.width, height: la.height)
            }
            for _ in 0..<o.warps {
                refine(&flow, la.storage, lb, options: o)
                flow.u = median3(flow.u, la.width, la.height)
                flow.v = median3(flow.v, la.width, la.height)
            }
        }
        return flow
    }

    /// One warp: linearise around the current flow and solve for the new flow with SOR.
    static func refine(_ flow: inout Flow, _ ia: [Float], _ lb: Tensor, options o: FlowOptions) {
        let w = flow.width, h = flow.height, n = w * h
        let a2 = o.alpha * o.alpha
        // b warped by the current flow; derivatives of the average of both images
        // (symmetric, 5-point stencil); per-pixel constant of the point-wise solve. Where
        // p + w leaves the frame there is no data: the derivatives are 0 and smoothness
        // fills in.
        var ib = [Float](repeating: 0, count: n)
        var ix = [Float](repeating: 0, count: n), iy = ix, it = ix, denom = ix
        lb.storage.withUnsafeBufferPointer { bp in
        flow.u.withUnsafeBufferPointer { fu in
        flow.v.withUnsafeBufferPointer { fv in
        ib.withUnsafeMutableBufferPointer { ibp in
            let B = bp.baseAddress!, U = fu.baseAddress!, V = fv.baseAddress!, W = ibp.baseAddress!
            parallelFor(h, minPerThread: 16) { rows in
                for y in rows {
                    for x in 0..<w {
                        let i = y * w + x
                        let sx = Float(x) + U[i], sy = Float(y) + V[i]
                        guard sx >= 0, sy >= 0, sx <= Float(w - 1), sy <= Float(h - 1) else { W[i] = .nan; continue }
                        let x0 = min(Int(sx), max(w - 2, 0)), y0 = min(Int(sy), max(h - 2, 0))
                        let x1 = min(x0 + 1, w - 1), y1 = min(y0 + 1, h - 1)
                        let fx = sx - Float(x0), fy = sy - Float(y0)
                        let a = B[y0 * w + x0], b = B[y0 * w + x1], c = B[y1 * w + x0], d = B[y1 * w + x1]
                        let top = a + fx * (b - a), bot = c + fx * (d - c)
                        W[i] = top + fy * (bot - top)
                    }
                }
            }
        }}}}
        // out-of-frame samples were marked NaN; the stencil needs finite neighbours
        var valid = [Bool](repeating: true, count: n)
        for i in 0..<n where ib[i].isNaN { valid[i] = false; ib[i] = ia[i] }
        ia.withUnsafeBufferPointer { ap in
        ib.withUnsafeBufferPointer { bp in
        valid.withUnsafeBufferPointer { vp in
        ix.withUnsafeMutableBufferPointer { ixp in
        iy.withUnsafeMutableBufferPointer { iyp in
        it.withUnsafeMutableBufferPointer { itp in
        denom.withUnsafeMutableBufferPointer { dp in
            let A = ap.baseAddress!, Bw = bp.baseAddress!
            parallelFor(h, minPerThread: 16) { rows in
                for y in rows {
                    let ym2 = max(y - 2, 0) * w, ym1 = max(y - 1, 0) * w, yp1 = min(y + 1, h - 1) * w, yp2 = min(y + 2, h - 1) * w
                    let ky = Float((y > 0 ? 1 : 0) + (y < h - 1 ? 1 : 0))
                    for x in 0..<w {
                        let i = y * w + x
                        guard vp[i] else { ixp[i] = 0; iyp[i] = 0; itp[i] = 0; dp[i] = 0; continue }
                        let xm2 = y * w + max(x - 2, 0), xm1 = y * w + max(x - 1, 0)
                        let xp1 = y * w + min(x + 1, w - 1), xp2 = y * w + min(x + 2, w - 1)
                        let gx = (A[xm2] + Bw[xm2]) - 8 * (A[xm1] + Bw[xm1]) + 8 * (A[xp1] + Bw[xp1]) - (A[xp2] + Bw[xp2])
                        let gy = (A[ym2 + x] + Bw[ym2 + x]) - 8 * (A[ym1 + x] + Bw[ym1 + x])
                            + 8 * (A[yp1 + x] + Bw[yp1 + x]) - (A[yp2 + x] + Bw[yp2 + x])
                        let dx = gx / 24, dy = gy / 24
                        ixp[i] = dx; iyp[i] = dy; itp[i] = Bw[i] - A[i]
                        let k = ky + Float((x > 0 ? 1 : 0) + (x < w - 1 ? 1 : 0))
                        dp[i] = 1 / (a2 * k + dx * dx + dy * dy)
                    }
                }
            }
        }}}}}}}
        for i in 0..<n where !valid[i] {
            let x = i % w, y = i / w
            let k = Float((x > 0 ? 1 : 0) + (x < w - 1 ? 1 : 0) + (y > 0 ? 1 : 0) + (y < h - 1 ? 1 : 0))
            denom[i] = 1 / (a2 * k)
        }
        // the linearised data term Ix·u + Iy·v + c0 with c0 = It − Ix·u0 − Iy·v0
        var c0 = it
        for i in 0..<n { c0[i] = it[i] - ix[i] * flow.u[i] - iy[i] * flow.v[i] }
        RedBlackSOR(width: w, height: h).solve(u: &flow.u, v: &flow.v, ix: ix, iy: iy, c0: c0, denom: denom, sweeps: o.iterations)
    }

    /// Separable [1 4 6 4 1]/16 blur (before each halving, against aliasing), borders
    /// clamped.
    static func blur(_ t: Tensor) -> Tensor {
        let w = t.width, h = t.height, n = w * h
        var tmp = [Float](repeating: 0, count: n), out = [Float](repeating: 0, count: n)
        t.storage.withUnsafeBufferPointer { sp in
        tmp.withUnsafeMutableBufferPointer { tp in
        out.withUnsafeMutableBufferPointer { op in
            let S = sp.baseAddress!, T = tp.baseAddress!, O = op.baseAddress!
            parallelFor(h, minPerThread: 16) { rows in
                for y in rows {
                    let r = S + y * w, d = T + y * w
                    for x in 0..<w {
                        let a = r[max(x - 2, 0)], b = r[max(x - 1, 0)], c = r[min(x + 1, w - 1)], e = r[min(x + 2, w - 1)]
                        d[x] = (a + e + 4 * (b + c) + 6 * r[x]) * (1 / 16)
                    }
                }
            }
            parallelFor(h, minPerThread: 16) { rows in
                for y in rows {
                    let a = T + max(y - 2, 0) * w, b = T + max(y - 1, 0) * w, r = T + y * w
                    let c = T + min(y + 1, h - 1) * w, e = T + min(y + 2, h - 1) * w, d = O + y * w
                    for x in 0..<w { d[x] = (a[x] + e[x] + 4 * (b[x] + c[x]) + 6 * r[x]) * (1 / 16) }
                }
            }
        }}}
        return Tensor(channels: 1, height: h, width: w, storage: out)
    }

    static func median3(_ p: [Float], _ w: Int, _ h: Int) -> [Float] {
        var out = p
        p.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            let P = src.baseAddress!, D = dst.baseAddress!
            parallelFor(h, minPerThread: 16) { rows in
                for y in rows {
                    let ym = max(y - 1, 0) * w, y0 = y * w, yp = min(y + 1, h - 1) * w
                    for x in 0..<w {
                        let xm = max(x - 1, 0), xp = min(x + 1, w - 1)
                        D[y0 + x] = median9(P[ym + xm], P[ym + x], P[ym + xp], P[y0 + xm], P[y0 + x], P[y0 + xp],
                                            P[yp + xm], P[yp + x], P[yp + xp])
                    }
                }
            }
        }}
        return out
    }

    /// Median of 9 values with 19 compare-exchanges (Paeth's network).
    @inline(__always)
    public static func median9(_ a0: Float, _ a1: Float, _ a2: Float, _ a3: Float, _ a4: Float,
                        _ a5: Float, _ a6: Float, _ a7: Float, _ a8: Float) -> Float {
        var p0 = a0, p1 = a1, p2 = a2, p3 = a3, p4 = a4, p5 = a5, p6 = a6, p7 = a7, p8 = a8
        @inline(__always) func s(_ a: inout Float, _ b: inout Float) { let lo = min(a, b); b = max(a, b); a = lo }
        s(&p1, &p2); s(&p4, &p5); s(&p7, &p8); s(&p0, &p1); s(&p3, &p4); s(&p6, &p7)
        s(&p1, &p2); s(&p4, &p5); s(&p7, &p8); s(&p0, &p3); s(&p5, &p8); s(&p4, &p7)
        s(&p3, &p6); s(&p1, &p4); s(&p2, &p5); s(&p4, &p7); s(&p4, &p2); s(&p6, &p4)
        s(&p4, &p2)
        return p4
    }
}

/// Red-black SOR for the point-wise Horn–Schunck update
///   minimise (Ix·u + Iy·v + c0)² + α²·k·|(u, v) − mean of the k neighbours|²,
/// with α²k folded into `denom` = 1 / (α²k + Ix² + Iy²).
/// Pixels of one colour ((x + y) even or odd) depend only on the other colour, so a
/// half-sweep is parallel. Each colour is stored packed (row y, index x/2): a pixel's four
/// neighbours are then contiguous runs of the other colour's rows, so the interior is
/// updated 8 pixels at a time, and a half-sweep reads only the data of its own colour.
public struct RedBlackSOR {
    let w: Int, h: Int, wp: Int
    static let omega: Float = 1.8

    public init(width: Int, height: Int) { w = width; h = height; wp = (width + 1) / 2 }


    /// Both colours in one array: colour c's rows start at c·h·wp.
    func pack(_ a: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: 2 * h * wp)
        let w = self.w, h = self.h, wp = self.wp
        a.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                let S = src.baseAddress!, D = dst.baseAddress!
                parallelFor(h, minPerThread: 32) { rows in
                    for y in rows {
                        let s = S + y * w, d0 = D + y * wp, d1 = D + (h + y) * wp
                        for x in 0..<w {
                            if (x + y) & 1 == 0 { d0[x >> 1] = s[x] } else { d1[x >> 1] = s[x] }
                        }
                    }
                }
            }
        }
        return out
    }

    func unpack(_ p: [Float], into a: inout [Float]) {
        let w = self.w, h = self.h, wp = self.wp
        p.withUnsafeBufferPointer { src in
            a.withUnsafeMutableBufferPointer { dst in
                let S = src.baseAddress!, D = dst.baseAddress!
                parallelFor(h, minPerThread: 32) { rows in
                    for y in rows {
                        let d = D + y * w, s0 = S + y * wp, s1 = S + (h + y) * wp
                        for x in 0..<w { d[x] = (x + y) & 1 == 0 ? s0[x >> 1] : s1[x >> 1] }
                    }
                }
            }
        }
    }

    public func solve(u: inout [Float], v: inout [Float], ix: [Float], iy: [Float], c0: [Float],
                        denom: [Float], sweeps: Int) {
        var pu = pack(u), pv = pack(v)
        let pix = pack(ix), piy = pack(iy), pc = pack(c0), pd = pack(denom)
        let w = self.w, h = self.h, wp = self.wp, omega = RedBlackSOR.omega
        let plane = h * wp
        pu.withUnsafeMutableBufferPointer { up in pv.withUnsafeMutableBufferPointer { vp in
        pix.withUnsafeBufferPointer { xp in piy.withUnsafeBufferPointer { yp in
        pc.withUnsafeBufferPointer { cp in pd.withUnsafeBufferPointer { dp in
            let U = [up.baseAddress!, up.baseAddress! + plane], V = [vp.baseAddress!, vp.baseAddress! + plane]
            let IX = [xp.baseAddress!, xp.baseAddress! + plane], IY = [yp.baseAddress!, yp.baseAddress! + plane]
            let C = [cp.baseAddress!, cp.baseAddress! + plane], D = [dp.baseAddress!, dp.baseAddress! + plane]
            for _ in 0..<sweeps {
                for c in 0..<2 {
                    let o = 1 - c
                    let Uc = U[c], Vc = V[c], Uo = U[o], Vo = V[o]
                    let IXc = IX[c], IYc = IY[c], Cc = C[c], Dc = D[c]
                    @inline(__always) func update(_ k: Int, _ ub: Float, _ vb: Float) {
                        let t = (IXc[k] * ub + IYc[k] * vb + Cc[k]) * Dc[k]
                        Uc[k] += omega * (ub - IXc[k] * t - Uc[k])
                        Vc[k] += omega * (vb - IYc[k] * t - Vc[k])
                    }
                    // a pixel on the image border: mean of the neighbours that exist
                    @inline(__always) func border(_ x: Int, _ y: Int) {
                        var su: Float = 0, sv: Float = 0, k: Float = 0
                        for (nx, ny) in [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)]
                        where nx >= 0 && nx < w && ny >= 0 && ny < h {
                            let q = (ny * wp + (nx >> 1))
                            su += Uo[q]; sv += Vo[q]; k += 1
                        }
                        if k > 0 { update(y * wp + (x >> 1), su / k, sv / k) }
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
                            let left = Uo + row + p - 1, up = Uo + row - wp, down = Uo + row + wp
                            let vleft = Vo + row + p - 1, vup = Vo + row - wp, vdown = Vo + row + wp
                            typealias F8 = SIMD8<Float>
                            @inline(__always) func ld(_ ptr: UnsafeMutablePointer<Float>, _ k: Int) -> F8 {
                                UnsafeRawPointer(ptr + k).loadUnaligned(as: F8.self)
                            }
                            @inline(__always) func ld(_ ptr: UnsafePointer<Float>, _ k: Int) -> F8 {
                                UnsafeRawPointer(ptr + k).loadUnaligned(as: F8.self)
                            }
                            let om = F8(repeating: omega), quarter = F8(repeating: 0.25)
                            while j + 8 <= jEnd {
                                let k = row + j
                                let ub = quarter * (ld(left, j) + ld(left, j + 1) + ld(up, j) + ld(down, j))
                                let vb = quarter * (ld(vleft, j) + ld(vleft, j + 1) + ld(vup, j) + ld(vdown, j))
                                let gx = ld(IXc, k), gy = ld(IYc, k)
                                let t = (gx * ub + gy * vb + ld(Cc, k)) * ld(Dc, k)
                                let uc = ld(Uc, k), vc = ld(Vc, k)
                                UnsafeMutableRawPointer(Uc + k).storeBytes(of: uc + om * (ub - gx * t - uc), as: F8.self)
                                UnsafeMutableRawPointer(Vc + k).storeBytes(of: vc + om * (vb - gy * t - vc), as: F8.self)
                                j += 8
                            }
                            while j < jEnd {
                                update(row + j, 0.25 * (left[j] + left[j + 1] + up[j] + down[j]),
                                       0.25 * (vleft[j] + vleft[j + 1] + vup[j] + vdown[j]))
                                j += 1
                            }
                            let xLast = w - 1
                            if (xLast + y + c) & 1 == 0 { border(xLast, y) }
                        }
                    }
                }
            }
        }}}}}}
        unpack(pu, into: &u)
        unpack(pv, into: &v)
    }
}
