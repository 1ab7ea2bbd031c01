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
    /// Luma of an RGB tensor in 0...1 (or the single channel).
    public static func luma(_ t: Tensor) -> [Float] {
        if t.channels == 1 { return t.storage }
        let n = t.plane
        return (0..<n).map { 0.299 * t.storage[$0] + 0.587 * t.storage[n + $0] + 0.114 * t.storage[2 * n + $0] }
    }

    /// The flow w from `a` to `b`: a(p) ≈ b(p + w(p)).
    public static func compute(from a: Tensor, to b: Tensor, options o: FlowOptions = FlowOptions()) -> Flow {
        precondition(a.sameShape(b), "OpticalFlow: frames \(a.shapeDescription) vs \(b.shapeDescription)")
        let w = a.width, h = a.height
        // pyramids (finest first), each level a 5-tap-blurred half of the previous
        var pa = [Tensor(channels: 1, height: h, width: w, storage: luma(a))]
        var pb = [Tensor(channels: 1, height: h, width: w, storage: luma(b))]
        while min(pa.last!.width, pa.last!.height) / 2 >= o.minSize && pa.count < 8 {
            let s = pa.last!
            pa.append(Resize.bilinear(blur(s), height: (s.height + 1) / 2, width: (s.width + 1) / 2))
            pb.append(Resize.bilinear(blur(pb.last!), height: (s.height + 1) / 2, width: (s.width + 1) / 2))
        }
        var flow = Flow(width: pa.last!.width, height: pa.last!.height)
        for level in stride(from: pa.count - 1, through: 0, by: -1) {
            let la = pa[level], lb = pb[level]
            if flow.width != la.width || flow.height != la.height {
                flow = upsample(flow, width: la.width, height: la.height)
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
        let (warped, valid) = Warp.backward(lb, flow: flow)
        let ib = warped.storage
        // derivatives of the average of both images (symmetric), 5-point stencil
        var ix = [Float](repeating: 0, count: n), iy = ix, it = ix
        func d(_ p: [Float], _ i: Int, _ step: Int, _ pos: Int, _ len: Int) -> Float {
            let m2 = max(pos - 2, 0) - pos, m1 = max(pos - 1, 0) - pos, p1 = min(pos + 1, len - 1) - pos, p2 = min(pos + 2, len - 1) - pos
            return (p[i + m2 * step] - 8 * p[i + m1 * step] + 8 * p[i + p1 * step] - p[i + p2 * step]) / 12
        }
        for y in 0..<h {
            for x in 0..<w {
                let i = y * w + x
                ix[i] = 0.5 * (d(ia, i, 1, x, w) + d(ib, i, 1, x, w))
                iy[i] = 0.5 * (d(ia, i, w, y, h) + d(ib, i, w, y, h))
                it[i] = ib[i] - ia[i]
                // where p + w leaves the frame there is no data: smoothness fills in
                if !valid[i] { ix[i] = 0; iy[i] = 0; it[i] = 0 }
            }
        }
        let u0 = flow.u, v0 = flow.v
        var u = u0, v = v0
        let a2 = o.alpha * o.alpha
        let omega: Float = 1.8
        // per-pixel constants of the point-wise solve
        var denom = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let x = i % w, y = i / w
            let k = Float((x > 0 ? 1 : 0) + (x < w - 1 ? 1 : 0) + (y > 0 ? 1 : 0) + (y < h - 1 ? 1 : 0))
            denom[i] = 1 / (a2 * k + ix[i] * ix[i] + iy[i] * iy[i])
        }
        // Red-black SOR: pixels of one colour depend only on the other colour, so each
        // half-sweep splits over threads by rows and converges like Gauss–Seidel.
        u.withUnsafeMutableBufferPointer { up in
        v.withUnsafeMutableBufferPointer { vp in
        u0.withUnsafeBufferPointer { u0p in
        v0.withUnsafeBufferPointer { v0p in
        ix.withUnsafeBufferPointer { ixp in
        iy.withUnsafeBufferPointer { iyp in
        it.withUnsafeBufferPointer { itp in
        denom.withUnsafeBufferPointer { dp in
            let U = up.baseAddress!, V = vp.baseAddress!
            for _ in 0..<o.iterations {
                for colour in 0..<2 {
                    parallelFor(h, minPerThread: 16) { rows in
                        for y in rows {
                            var x = (y + colour) & 1
                            while x < w {
                                let i = y * w + x
                                var su: Float = 0, sv: Float = 0, k: Float = 0
                                if x > 0 { su += U[i - 1]; sv += V[i - 1]; k += 1 }
                                if x < w - 1 { su += U[i + 1]; sv += V[i + 1]; k += 1 }
                                if y > 0 { su += U[i - w]; sv += V[i - w]; k += 1 }
                                if y < h - 1 { su += U[i + w]; sv += V[i + w]; k += 1 }
                                let ub = su / k, vb = sv / k
                                // minimise (Ix·du + Iy·dv + It)² + α²·k·|U − Ū|² per pixel
                                let r = ixp[i] * (ub - u0p[i]) + iyp[i] * (vb - v0p[i]) + itp[i]
                                let t = r * dp[i]
                                U[i] += omega * (ub - ixp[i] * t - U[i])
                                V[i] += omega * (vb - iyp[i] * t - V[i])
                                x += 2
                            }
                        }
                    }
                }
            }
        }}}}}}}}
        flow.u = u; flow.v = v
    }

    static func upsample(_ f: Flow, width: Int, height: Int) -> Flow {
        let sx = Float(width) / Float(f.width), sy = Float(height) / Float(f.height)
        var u = Resize.bilinear(Tensor(channels: 1, height: f.height, width: f.width, storage: f.u), height: height, width: width).storage
        var v = Resize.bilinear(Tensor(channels: 1, height: f.height, width: f.width, storage: f.v), height: height, width: width).storage
        for i in 0..<u.count { u[i] *= sx; v[i] *= sy }
        return Flow(width: width, height: height, u: u, v: v)
    }

    /// Separable [1 4 6 4 1]/16 blur (before each halving, against aliasing).
    static func blur(_ t: Tensor) -> Tensor {
        let w = t.width, h = t.height
        let k: [Float] = [1, 4, 6, 4, 1].map { $0 / 16 }
        var tmp = t, out = t
        for y in 0..<h { for x in 0..<w {
            var s: Float = 0
            for j in -2...2 { s += k[j + 2] * t.storage[y * w + min(max(x + j, 0), w - 1)] }
            tmp.storage[y * w + x] = s
        }}
        for y in 0..<h { for x in 0..<w {
            var s: Float = 0
            for j in -2...2 { s += k[j + 2] * tmp.storage[min(max(y + j, 0), h - 1) * w + x] }
            out.storage[y * w + x] = s
        }}
        return out
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
