import Kernels

/// One pyramid level's warps, each (`OpticalFlow.refine` then `OpticalFlow.median3`) in a
/// single `parallelPhases` dispatch: warp b, linearise, then for every round of
/// re-weighting the robust edges, the system (packing the flow as it goes), the
/// half-sweeps and the unpacking, and last the median. Between passes the threads wait
/// for each other instead of being handed work anew, and the buffers are kept from warp
/// to warp. Each pass is the function the separate calls run, so the flow is the same
/// (`LevelSolverTests`).
final class LevelSolver {
    let w: Int, h: Int
    let a: [Float], b: [Float], edges: EdgeWeights, options: FlowOptions
    let sor: RedBlackSOR
    /// The passes' planes: warped b, its mask, Ix, Iy, c0, the robust edges (h, v), the
    /// flow before the median (u, v), then the packed system and flow.
    private let memory: UnsafeMutablePointer<Float>

    enum Phase { case warp, term, robustEdges, system(first: Bool), halfSweep(colour: Int), unpack(last: Bool), median }
    /// One warp's passes, in order.
    let phases: [Phase]

    init(first a: [Float], second b: [Float], edges: EdgeWeights, options o: FlowOptions) {
        w = edges.width; h = edges.height
        precondition(a.count == w * h && b.count == w * h, "LevelSolver: planes of \(a.count), \(b.count) for \(w)×\(h)")
        self.a = a; self.b = b; self.edges = edges; options = o
        sor = RedBlackSOR(width: w, height: h)
        let packedFloats = (RedBlackSOR.System.Field.allCases.count + 2) * 2 * sor.plane
        // uninitialised: every plane is written in a step before that step reads it
        memory = .allocate(capacity: 9 * w * h + packedFloats)
        var list: [Phase] = [.warp, .term]
        let rounds = o.sweepsPerRound
        for (r, sweeps) in rounds.enumerated() {
            if o.smoothEpsilon > 0 { list.append(.robustEdges) }
            list.append(.system(first: r == 0))
            for s in 0..<(2 * sweeps) { list.append(.halfSweep(colour: s & 1)) }
            list.append(.unpack(last: r == rounds.count - 1))
        }
        phases = list + [.median]
    }

    deinit { memory.deallocate() }

    /// One warp of `flow` (this level's size) and the median after it.
    func step(_ flow: inout Flow) {
        precondition(flow.width == w && flow.height == h, "LevelSolver: a \(flow.width)×\(flow.height) flow at a \(w)×\(h) level")
        let w = self.w, h = self.h, n = w * h, sor = self.sor, o = options, phases = self.phases
        let plane = (0..<9).map { memory + $0 * n }
        let Bw = plane[0], M = plane[1], IX = plane[2], IY = plane[3], C = plane[4]
        let EH = plane[5], EV = plane[6], TU = plane[7], TV = plane[8]
        let system = memory + 9 * n, half = 2 * sor.plane, fields = RedBlackSOR.System.Field.allCases.count
        let packed = RedBlackSOR.Packed(system: system, u: system + fields * half, v: system + (fields + 1) * half)
        let term = RedBlackSOR.DataTerm(alpha2: o.alpha * o.alpha, epsilon: o.dataEpsilon, normalization: o.dataNormalization)
        withPointers([a, b, edges.horizontal, edges.vertical]) { P in
        flow.u.withUnsafeMutableBufferPointer { up in flow.v.withUnsafeMutableBufferPointer { vp in
            let A = P[0], B = P[1], UF = up.baseAddress!, VF = vp.baseAddress!
            let edgesH = o.smoothEpsilon > 0 ? UnsafePointer(EH) : P[2], edgesV = o.smoothEpsilon > 0 ? UnsafePointer(EV) : P[3]
            parallelPhases(phases.count, rows: h, minPerThread: flowRowsPerThread(w)) { p, rows in
                switch phases[p] {
                case .warp:
                    Linearisation.warpRows(rows, B, UF, VF, outside: A, into: Bw, valid: M, w, h)
                case .term:
                    Linearisation.termRows(rows, A, Bw, M, UF, VF, into: IX, IY, C, w, h)
                case .robustEdges:
                    RedBlackSOR.robustEdgeRows(rows, P[2], P[3], flow: UF, VF, epsilon: o.smoothEpsilon, into: EH, EV, w, h)
                case .system(let first):
                    sor.systemRows(rows, ix: IX, iy: IY, c0: C, flow: UF, VF, edges: edgesH, edgesV, term: term,
                                   packingTheTerm: first, into: system)
                    sor.pack(rows, UF, VF, into: packed)
                case .halfSweep(let colour):
                    sor.halfSweep(colour: colour, rows, packed)
                case .unpack(let last):
                    sor.unpack(rows, packed, into: last ? TU : UF, last ? TV : VF)
                case .median:
                    OpticalFlow.medianRows(TU, UF, rows, w, h)
                    OpticalFlow.medianRows(TV, VF, rows, w, h)
                }
            }
        }}}
    }
}
