import Kernels

/// Settings of the built-in optical flow.
public struct FlowOptions: Sendable, Equatable, Codable {
    /// Smoothness weight α. With `dataNormalization` on, the data term is measured in
    /// pixels of displacement, so α is scale-free; default 1.2. (Plain brightness
    /// constancy, intensities in 0...1, wants about 0.02.)
    public var alpha: Float = 1.2
    /// Re-linearisations (warps) per pyramid level. Default 3.
    public var warps: Int = 3
    /// SOR sweeps per warp. Default 6: after the patch search the variational steps
    /// only polish (BENCHMARKS.md, "Patch search").
    public var iterations: Int = 6
    /// Coarsest level's shorter side, in pixels. Default 12.
    public var minSize: Int = 12
    /// Robust penalties: the data and smoothness terms are Charbonnier's
    /// √(s² + ε²) instead of s², minimised by re-weighting (`reweightings` times per warp,
    /// the sweeps shared among them). 0 for ε turns a term quadratic (Horn–Schunck).
    /// ε of the data term: in pixels with `dataNormalization` (default 0.2), in intensity
    /// (0...1) without.
    public var dataEpsilon: Float = 0.2
    /// Brightness constancy divided by |∇I|² + ζ² (Zimmer et al. 2011, as DeepFlow does):
    /// the residual becomes a displacement along the gradient, so faint texture counts
    /// as much as strong edges. ζ in intensity per pixel; default 0.01, 0 = off.
    public var dataNormalization: Float = 0.01
    /// ε of the smoothness term, in pixels of flow difference between neighbours.
    /// Default 0.2 (0.1 broke the flow into blobs on low-texture, noisy surfaces: the
    /// stereo pair's floor).
    public var smoothEpsilon: Float = 0.2
    /// Weight updates per warp when a term is robust. Default 2.
    public var reweightings: Int = 2
    /// Edge-aware smoothness: the weight between neighbours falls off as
    /// exp(−edgeFalloff·|ΔI|) with their intensity difference (0 = uniform), so the flow
    /// may break where the first image has an edge.
    public var edgeFalloff: Float = 5
    /// The smallest edge-aware weight, so flat and textured regions both stay regularised.
    public var edgeFloor: Float = 0.05
    /// DIS-style patch inverse search (`PatchSearch`) at every level before its warps:
    /// catches displacements the linearised steps miss. Default on.
    public var patchSearch = true
    /// Distance between the patches' origins, in pixels of the level. Default 3.
    public var patchStride: Int = 3
    /// The same at the finest level. Default 4: the coarser levels have already brought
    /// the flow close there, and 4 instead of 3 (44% fewer patches) changes the EPE by at
    /// most 0.004 px on every kind of test pair for a fifth less time (BENCHMARKS.md,
    /// "Patch search").
    public var finestPatchStride: Int = 4
    /// Gauss–Newton steps per patch at most. Default 25.
    public var patchIterations: Int = 25
    public init() {}

    /// The flow before the robust terms (until 2026-12): Horn–Schunck's quadratic terms on
    /// plain brightness constancy, uniform smoothness, coarse to fine from zero flow.
    /// Faster, and worse at motion boundaries and large motions.
    public static var classic: FlowOptions {
        var o = FlowOptions()
        o.alpha = 0.02; o.dataEpsilon = 0; o.dataNormalization = 0; o.smoothEpsilon = 0; o.edgeFalloff = 0
        o.warps = 2; o.iterations = 15; o.patchSearch = false
        return o
    }

    var isRobust: Bool { dataEpsilon > 0 || smoothEpsilon > 0 }

    /// The sweeps of each round of a warp: one round per re-weighting of the robust terms
    /// (one without them), the sweeps shared out among them, the remainder to the first.
    var sweepsPerRound: [Int] {
        let rounds = isRobust ? max(1, min(reweightings, iterations)) : 1
        return (0..<rounds).map { r in iterations / rounds + (r < iterations % rounds ? 1 : 0) }
    }
}

/// Dense optical flow, coarse to fine. At each pyramid level a DIS-style patch search
/// (`PatchSearch`, Kroeger et al. 2016) first corrects the flow from the coarser level
/// where the level's texture can tell, then a variational refinement re-linearises by
/// warping several times. Each warp minimises a linearised brightness-constancy term,
/// normalised by the image gradient (Zimmer et al.), plus a smoothness term between
/// 4-neighbours, both Charbonnier-robust (Brox et al. 2004; the weights are re-computed
/// from the current flow, "lagged"), with smoothness weights that fall off across the
/// edges of the first image, so the flow can break at an object's outline instead of
/// spreading across it. A 3×3 median filter of the flow after each warp removes outliers
/// (Sun, Roth & Black's "secrets"). `FlowOptions.classic` turns it into Horn–Schunck.
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
            if o.patchSearch {
                flow = PatchSearch.refine(flow, first: la.storage, second: lb.storage,
                                          stride: level == 0 ? o.finestPatchStride : o.patchStride,
                                          iterations: o.patchIterations)
            }
            let edges = EdgeWeights(image: la.storage, width: la.width, height: la.height,
                                    falloff: o.edgeFalloff, floor: o.edgeFloor)
            let solver = LevelSolver(first: la.storage, second: lb.storage, edges: edges, options: o)
            for _ in 0..<o.warps { solver.step(&flow) }
        }
        return flow
    }

    /// One warp: linearise around the current flow, then solve for the new flow with SOR,
    /// re-weighting the robust terms from the flow so far between rounds of sweeps. Each
    /// pass is its own dispatch; `compute` runs the same passes through `LevelSolver`, in
    /// one. The plain reference the tests hold `LevelSolver` to.
    static func refine(_ flow: inout Flow, _ a: [Float], _ b: [Float], edges: EdgeWeights, options o: FlowOptions) {
        let lin = Linearisation(flow: flow, first: a, second: b)
        let solver = RedBlackSOR(width: flow.width, height: flow.height)
        for sweeps in o.sweepsPerRound {
            let system = solver.system(lin, flow: flow, edges: edges, alpha2: o.alpha * o.alpha,
                                       dataEpsilon: o.dataEpsilon, normalization: o.dataNormalization,
                                       smoothEpsilon: o.smoothEpsilon)
            solver.solve(u: &flow.u, v: &flow.v, system: system, sweeps: sweeps)
        }
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
            parallelFor(h, minPerThread: flowRowsPerThread(w)) { rows in
                for y in rows {
                    let r = S + y * w, d = T + y * w
                    for x in 0..<w {
                        let a = r[max(x - 2, 0)], b = r[max(x - 1, 0)], c = r[min(x + 1, w - 1)], e = r[min(x + 2, w - 1)]
                        d[x] = (a + e + 4 * (b + c) + 6 * r[x]) * (1 / 16)
                    }
                }
            }
            parallelFor(h, minPerThread: flowRowsPerThread(w)) { rows in
                for y in rows {
                    let a = T + max(y - 2, 0) * w, b = T + max(y - 1, 0) * w, r = T + y * w
                    let c = T + min(y + 1, h - 1) * w, e = T + min(y + 2, h - 1) * w, d = O + y * w
                    for x in 0..<w { d[x] = (a[x] + e[x] + 4 * (b[x] + c[x]) + 6 * r[x]) * (1 / 16) }
                }
            }
        }}}
        return Tensor(channels: 1, height: h, width: w, storage: out)
    }

    /// The 3×3 median of every pixel, borders clamped (the tests' reference for the fused
    /// two-component version).
    static func median3(_ p: [Float], _ w: Int, _ h: Int) -> [Float] {
        var out = p
        p.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            parallelFor(h, minPerThread: flowRowsPerThread(w)) { rows in
                medianRows(src.baseAddress!, dst.baseAddress!, rows, w, h)
            }
        }}
        return out
    }

    /// `median3` of both components of a flow, in one pass over the rows.
    static func median3(_ flow: Flow) -> Flow {
        var out = flow
        let w = flow.width, h = flow.height
        withPointers([flow.u, flow.v]) { P in
        out.u.withUnsafeMutableBufferPointer { du in out.v.withUnsafeMutableBufferPointer { dv in
            parallelFor(h, minPerThread: flowRowsPerThread(w)) { rows in
                medianRows(P[0], du.baseAddress!, rows, w, h)
                medianRows(P[1], dv.baseAddress!, rows, w, h)
            }
        }}}
        return out
    }

    /// The 3×3 medians of `rows` of the W×H plane P into D.
    @inline(__always)
    static func medianRows(_ P: UnsafePointer<Float>, _ D: UnsafeMutablePointer<Float>, _ rows: Range<Int>,
                           _ w: Int, _ h: Int) {
        typealias F8 = SIMD8<Float>
        @inline(__always) func ld(_ i: Int) -> F8 { load8(P, i) }
        // the same network on SIMD8, with replacing(with:where:) because the standard
        // library's pointwiseMin/Max on SIMD8 are not vectorised
        @inline(__always) func s(_ a: inout F8, _ b: inout F8) {
            let swap = b .< a, lo = a.replacing(with: b, where: swap)
            b = b.replacing(with: a, where: swap); a = lo
        }
        for y in rows {
            let ym = max(y - 1, 0) * w, y0 = y * w, yp = min(y + 1, h - 1) * w
            @inline(__always) func scalar(_ x: Int) {
                let xm = max(x - 1, 0), xp = min(x + 1, w - 1)
                D[y0 + x] = median9(P[ym + xm], P[ym + x], P[ym + xp], P[y0 + xm], P[y0 + x], P[y0 + xp],
                                    P[yp + xm], P[yp + x], P[yp + xp])
            }
            scalar(0)
            var x = 1
            while x + 9 <= w {                    // the interior 8 pixels at a time
                let m = network(ld(ym + x - 1), ld(ym + x), ld(ym + x + 1), ld(y0 + x - 1), ld(y0 + x),
                                ld(y0 + x + 1), ld(yp + x - 1), ld(yp + x), ld(yp + x + 1), s)
                store8(D, y0 + x, m)
                x += 8
            }
            while x < w { scalar(x); x += 1 }
        }
    }

    /// Median of 9 values.
    @inline(__always)
    public static func median9(_ a0: Float, _ a1: Float, _ a2: Float, _ a3: Float, _ a4: Float,
                        _ a5: Float, _ a6: Float, _ a7: Float, _ a8: Float) -> Float {
        network(a0, a1, a2, a3, a4, a5, a6, a7, a8) { a, b in let lo = min(a, b); b = max(a, b); a = lo }
    }

    /// The median of 9 values by Paeth's network of 19 compare-exchanges `s` (which puts
    /// the smaller value first), for scalars and for SIMD lanes alike.
    @inline(__always)
    static func network<T>(_ a0: T, _ a1: T, _ a2: T, _ a3: T, _ a4: T, _ a5: T, _ a6: T, _ a7: T, _ a8: T,
                           _ s: (inout T, inout T) -> Void) -> T {
        var p0 = a0, p1 = a1, p2 = a2, p3 = a3, p4 = a4, p5 = a5, p6 = a6, p7 = a7, p8 = a8
        s(&p1, &p2); s(&p4, &p5); s(&p7, &p8); s(&p0, &p1); s(&p3, &p4); s(&p6, &p7)
        s(&p1, &p2); s(&p4, &p5); s(&p7, &p8); s(&p0, &p3); s(&p5, &p8); s(&p4, &p7)
        s(&p3, &p6); s(&p1, &p4); s(&p2, &p5); s(&p4, &p7); s(&p4, &p2); s(&p6, &p4)
        s(&p4, &p2)
        return p4
    }
}

/// The fewest rows of a `width`-pixel plane worth a thread of their own in the flow's
/// kernels: 8192 pixels. Most passes run as phases of one dispatch (`LevelSolver`), where
/// handing a phase to the second thread costs a wait at a barrier rather than a dispatch;
/// 8192 was faster than 32768 or 16384 by 10% and 5% over the whole flow, which puts the
/// second level (256×144) on two threads (BENCHMARKS.md).
@inline(__always)
func flowRowsPerThread(_ width: Int) -> Int { max(16, (1 << 13) / max(width, 1)) }
