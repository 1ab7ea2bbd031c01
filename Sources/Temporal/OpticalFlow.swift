import Kernels

/// Settings of the built-in optical flow.
public struct FlowOptions: Sendable, Equatable {
    /// Smoothness weight α (intensities in 0...1). Default 0.02.
    public var alpha: Float = 0.02
    /// Re-linearisations (warps) per pyramid level. Default 3 (with `smoothEpsilon` 0.2:
    /// lower EPE than 2 warps with 0.1 on every kind of test pair, steadier renders of
    /// bikes.mp4 and bigbuckbunny.mp4, 1.4× the time; BENCHMARKS.md).
    public var warps: Int = 3
    /// SOR sweeps per warp. Default 15. (3 × 30 is 2.2× slower for EPE 0.029 instead of
    /// 0.036 on the DIS comparison pairs, BENCHMARKS.md.)
    public var iterations: Int = 15
    /// Coarsest level's shorter side, in pixels. Default 12.
    public var minSize: Int = 12
    /// Robust penalties: the data and smoothness terms are Charbonnier's
    /// √(s² + ε²) instead of s², minimised by re-weighting (`reweightings` times per warp,
    /// the sweeps shared among them). 0 for ε turns a term quadratic (Horn–Schunck).
    /// ε of the data term, in intensity (0...1).
    public var dataEpsilon: Float = 0.02
    /// ε of the smoothness term, in pixels of flow difference between neighbours.
    /// Default 0.2 (0.1 broke the flow into blobs on low-texture, noisy surfaces: the
    /// stereo pair's floor).
    public var smoothEpsilon: Float = 0.2
    /// Weight updates per warp when a term is robust. Default 3.
    public var reweightings: Int = 3
    /// Edge-aware smoothness: the weight between neighbours falls off as
    /// exp(−edgeFalloff·|ΔI|) with their intensity difference (0 = uniform), so the flow
    /// may break where the first image has an edge.
    public var edgeFalloff: Float = 5
    /// The coarsest level starts from a block-matching search over ±searchRadius of its
    /// pixels (0 = from zero flow). Default 4, ±64 px at a 16× smaller coarsest level.
    public var searchRadius: Int = 4
    /// The smallest edge-aware weight, so flat and textured regions both stay regularised.
    public var edgeFloor: Float = 0.05
    public init() {}

    /// The flow before the robust terms (until 2026-12): Horn–Schunck's quadratic terms,
    /// uniform smoothness, and a start from zero flow. Faster, and worse at motion
    /// boundaries and large motions.
    public static var classic: FlowOptions {
        var o = FlowOptions()
        o.dataEpsilon = 0; o.smoothEpsilon = 0; o.edgeFalloff = 0; o.searchRadius = 0; o.warps = 2
        return o
    }

    var isRobust: Bool { dataEpsilon > 0 || smoothEpsilon > 0 }
}

/// Dense optical flow, coarse to fine, re-linearised by warping several times per pyramid
/// level (large motions). Each warp minimises a linearised brightness-constancy term plus
/// a smoothness term between 4-neighbours, both Charbonnier-robust (Brox et al. 2004; the
/// weights are re-computed from the current flow, "lagged"), with smoothness weights that
/// fall off across the edges of the first image, so the flow can break at an object's
/// outline instead of spreading across it. A 3×3 median filter of the flow after each
/// warp removes outliers (Sun, Roth & Black's "secrets"). With both ε at 0 and no edge
/// falloff this is Horn–Schunck.
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
        // large motions: the coarsest level starts from the best integer match of each
        // pixel's neighbourhood within ±searchRadius, not from zero
        var flow = blockMatch(pa.last!, pb.last!, radius: o.searchRadius)
        for level in stride(from: pa.count - 1, through: 0, by: -1) {
            let la = pa[level], lb = pb[level]
            if flow.width != la.width || flow.height != la.height {
                flow = flow.resampled(width: la.width, height: la.height)
            }
            let edges = EdgeWeights(image: la.storage, width: la.width, height: la.height,
                                    falloff: o.edgeFalloff, floor: o.edgeFloor)
            for _ in 0..<o.warps {
                refine(&flow, la.storage, lb, edges: edges, options: o)
                flow.u = median3(flow.u, la.width, la.height)
                flow.v = median3(flow.v, la.width, la.height)
            }
        }
        return flow
    }

    /// One warp: linearise around the current flow, then solve for the new flow with SOR,
    /// re-weighting the robust terms from the flow so far between rounds of sweeps.
    public static func refine(_ flow: inout Flow, _ ia: [Float], _ lb: Tensor, edges: EdgeWeights, options o: FlowOptions) {
        let lin = Linearisation(flow: flow, first: ia, second: lb)
        let rounds = o.isRobust ? max(1, min(o.reweightings, o.iterations)) : 1
        let solver = RedBlackSOR(width: flow.width, height: flow.height)
        for r in 0..<rounds {
            // the sweeps shared out among the rounds, the remainder to the first ones
            let sweeps = o.iterations / rounds + (r < o.iterations % rounds ? 1 : 0)
            let system = solver.system(lin, flow: flow, edges: edges, alpha2: o.alpha * o.alpha,
                                       dataEpsilon: o.dataEpsilon, smoothEpsilon: o.smoothEpsilon)
            solver.solve(u: &flow.u, v: &flow.v, system: system, sweeps: sweeps)
        }
    }

    /// For every pixel of `a`, the integer displacement within ±radius whose (2·half+1)²
    /// patch of `b` differs least from the pixel's own patch (sum of absolute differences;
    /// ties go to the smaller displacement), median-filtered 3×3. Patches that reach past
    /// the border are clamped to it.
    public static func blockMatch(_ a: Tensor, _ b: Tensor, radius: Int, half: Int = 2) -> Flow {
        let w = a.width, h = a.height
        var flow = Flow(width: w, height: h)
        guard radius > 0 else { return flow }
        let A = a.storage, B = b.storage
        @inline(__always) func at(_ p: [Float], _ x: Int, _ y: Int) -> Float { p[min(max(y, 0), h - 1) * w + min(max(x, 0), w - 1)] }
        for y in 0..<h {
            for x in 0..<w {
                var best = Float.infinity, bu = 0, bv = 0, bestNorm = Int.max
                for dv in -radius...radius {
                    for du in -radius...radius {
                        var sad: Float = 0
                        for py in -half...half {
                            for px in -half...half {
                                sad += abs(at(A, x + px, y + py) - at(B, x + px + du, y + py + dv))
                            }
                        }
                        let norm = du * du + dv * dv
                        if sad < best - 1e-6 || (abs(sad - best) <= 1e-6 && norm < bestNorm) { best = sad; bu = du; bv = dv; bestNorm = norm }
                    }
                }
                flow.u[y * w + x] = Float(bu); flow.v[y * w + x] = Float(bv)
            }
        }
        flow.u = median3(flow.u, w, h)
        flow.v = median3(flow.v, w, h)
        return flow
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

    /// The 3×3 median of every pixel, borders clamped.
    public static func median3(_ p: [Float], _ w: Int, _ h: Int) -> [Float] {
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
