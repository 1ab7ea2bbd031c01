import Foundation
import Kernels

/// The objective: value and gradient at x.
public typealias Objective = ([Float]) -> (Double, [Float])

/// Called after every evaluation with (evaluations so far, current loss, current point).
/// Return false to stop early.
public typealias OptimizerCallback = (Int, Double, [Float]) -> Bool

public enum OptimizerKind: String, Sendable, Equatable, CaseIterable, Codable { case lbfgs, adam }

/// Limited-memory BFGS (Nocedal & Wright, Alg. 7.4/7.5) with an Armijo backtracking
/// safeguard. One "iteration" is one objective evaluation, as in torch.optim.LBFGS with
/// max_eval = max_iter, so budgets compare with other implementations.
///
/// With `bounds`, every trial point is projected onto the box and the Armijo test uses the
/// projected step (f(P(x + t·d)) ≤ f(x) + 10⁻⁴·gᵀ(P(x + t·d) − x)); curvature pairs are
/// the steps actually taken. An image optimised without the box puts a few percent of its
/// values outside [0, 1]; clamping them afterwards raised the style loss of the written
/// image 2–5× above the optimiser's figure (BENCHMARKS.md), so the optimiser must see
/// the image it delivers.
public struct LBFGS: Sendable {
    public var history: Int
    public var learningRate: Float
    /// Memory cap for the (s, y) history, in floats (default 64 M floats = 256 MiB).
    public var memoryBudget: Int
    /// Box every coordinate is kept in (nil = unconstrained).
    public var bounds: ClosedRange<Float>?

    public init(history: Int = 100, learningRate: Float = 1, memoryBudget: Int = 64 << 20,
                bounds: ClosedRange<Float>? = nil) {
        self.history = history; self.learningRate = learningRate; self.memoryBudget = memoryBudget
        self.bounds = bounds
    }

    /// History actually kept for n unknowns: `history`, reduced to fit the memory budget.
    public func effectiveHistory(for n: Int) -> Int {
        max(3, min(history, memoryBudget / max(1, 2 * n)))
    }

    /// The curvature the optimiser has learnt: the (s, y) pairs and the scale of the
    /// initial inverse Hessian. Passed from one problem to the next similar one (the next
    /// frame of a video), it makes the first step a quasi-Newton step instead of a tiny
    /// steepest-descent probe.
    public struct Memory: Sendable, Equatable {
        var s: [[Float]] = [], y: [[Float]] = [], rho: [Double] = []
        var hDiag: Double = 1
        var learnt = false
        public init() {}
        init(s: [[Float]], y: [[Float]], rho: [Double], hDiag: Double, learnt: Bool = false) {
            self.s = s; self.y = y; self.rho = rho; self.hDiag = hDiag; self.learnt = learnt
        }
        public var pairs: Int { s.count }

        /// Unknowns per pair (0 when empty).
        public var count: Int { s.first?.count ?? 0 }

        /// A byte image for checkpoints: magic, n, pairs, learnt, hDiag, then ρ and the
        /// pairs in native float32 (a checkpoint is read back on the machine that wrote it).
        public func serialized() -> Data {
            var d = Data("LBFGSMEM".utf8)
            func put<T>(_ v: T) { withUnsafeBytes(of: v) { d.append(contentsOf: $0) } }
            put(Int64(count)); put(Int64(pairs)); put(Int64(learnt ? 1 : 0)); put(hDiag)
            for r in rho { put(r) }
            for v in s + y { v.withUnsafeBytes { d.append(contentsOf: $0) } }
            return d
        }

        /// Reads `serialized()`; nil for anything else (wrong magic, sizes that do not add up).
        public init?(serialized d: Data) {
            let magic = Data("LBFGSMEM".utf8)
            guard d.count >= magic.count + 32, d.prefix(magic.count) == magic else { return nil }
            var at = d.startIndex + magic.count
            func take<T>(_: T.Type) -> T {
                defer { at += MemoryLayout<T>.size }
                return d[at..<(at + MemoryLayout<T>.size)].withUnsafeBytes { $0.loadUnaligned(as: T.self) }
            }
            let n = Int(take(Int64.self)), k = Int(take(Int64.self)), l = take(Int64.self), h = take(Double.self)
            guard n >= 0, k >= 0, n <= 1 << 32, k <= 1 << 16, (n == 0) == (k == 0),
                  d.endIndex - at == k * 8 + 2 * k * n * 4 else { return nil }
            let r = (0..<k).map { _ in take(Double.self) }
            func vector() -> [Float] {
                let v = [Float](unsafeUninitializedCapacity: n) { buf, c in
                    d[at..<(at + 4 * n)].withUnsafeBytes { src in _ = src.copyBytes(to: buf) }
                    c = n
                }
                at += 4 * n
                return v
            }
            let sv = (0..<k).map { _ in vector() }, yv = (0..<k).map { _ in vector() }
            self.init(s: sv, y: yv, rho: r, hDiag: h, learnt: l != 0)
        }
        /// Keeps only the newest `k` pairs.
        public mutating func trim(to k: Int) {
            let drop = max(0, s.count - k)
            s.removeFirst(drop); y.removeFirst(drop); rho.removeFirst(drop)
        }
        /// Drops the pairs and the scale (a restart): a fresh memory again, so the next
        /// problem probes unless pairs are learnt after this (`learnt` is settled when the
        /// run ends).
        mutating func forget() {
            s.removeAll(); y.removeAll(); rho.removeAll(); hDiag = 1; learnt = false
        }
        /// Adds a pair, dropping the oldest beyond `limit`; the scale follows the newest.
        mutating func add(s sv: [Float], y yv: [Float], ys: Double, limit: Int) {
            if s.count == limit { s.removeFirst(); y.removeFirst(); rho.removeFirst() }
            s.append(sv); y.append(yv); rho.append(1 / ys)
            hDiag = ys / dot(yv, yv)
        }
    }

    @discardableResult
    public func minimize(_ x: inout [Float], evaluations maxEvals: Int, objective f: Objective,
                         callback: OptimizerCallback = { _, _, _ in true }) -> Double {
        var memory = Memory()
        return minimize(&x, evaluations: maxEvals, memory: &memory, objective: f, callback: callback)
    }

    /// Two-loop recursion: −H·g with the pairs and scale of `mem`.
    func direction(_ g: [Float], _ mem: Memory) -> [Float] {
        let n = g.count
        var q = g.map { -$0 }
        var alpha = [Double](repeating: 0, count: mem.s.count)
        for i in stride(from: mem.s.count - 1, through: 0, by: -1) {
            alpha[i] = mem.rho[i] * dot(mem.s[i], q)
            let a = Float(alpha[i])
            mem.y[i].withUnsafeBufferPointer { yp in for k in 0..<n { q[k] -= a * yp[k] } }
        }
        let hd = Float(mem.hDiag)
        for k in 0..<n { q[k] *= hd }
        for i in 0..<mem.s.count {
            let beta = mem.rho[i] * dot(mem.y[i], q)
            let c = Float(alpha[i] - beta)
            mem.s[i].withUnsafeBufferPointer { sp in for k in 0..<n { q[k] += c * sp[k] } }
        }
        return q
    }

    /// Minimises starting from the curvature in `memory` (pairs for another number of
    /// unknowns are dropped) and leaves the curvature learnt in it.
    @discardableResult
    public func minimize(_ x: inout [Float], evaluations maxEvals: Int, memory: inout Memory, objective f: Objective,
                         callback: OptimizerCallback = { _, _, _ in true }) -> Double {
        let n = x.count
        let m = effectiveHistory(for: n)
        if let b = bounds { project(&x, b) }
        var (loss, g) = f(x)
        var evals = 1
        if !callback(evals, loss, x) { return loss }
        var mem = memory.pairs == 0 || memory.count == n ? memory : Memory()
        mem.trim(to: m)
        defer { mem.learnt = mem.learnt || mem.pairs > 0; memory = mem }
        // a fresh start probes along −g with a step of 1/‖g‖₁ (the scale is unknown)
        func probe() -> (d: [Float], t: Float) {
            let g1 = g.reduce(0.0) { $0 + Double(abs($1)) }
            return (g.map { -$0 }, Float(min(1, 1 / max(g1, 1e-30))) * learningRate)
        }
        var (d, t) = mem.learnt ? (direction(g, mem), learningRate) : probe()
        var xNew = x
        while evals < maxEvals {
            // coordinates held at a bound by a gradient pushing outward do not move
            if let b = bounds { freeze(&d, at: x, gradient: g, b) }
            var gtd = dot(g, d)
            if !(gtd < 0) {              // not a descent direction (or NaN): restart
                var steepest = g.map { -$0 }
                if let b = bounds { freeze(&steepest, at: x, gradient: g, b) }
                let gs = dot(g, steepest)
                if !(gs < 0) { break }  // zero (projected) gradient: converged, keep what was learnt
                mem.forget()
                d = steepest; gtd = gs
            }
            var lossNew = 0.0, gNew: [Float] = []
            var accepted = false
            while evals < maxEvals {
                for i in 0..<n { xNew[i] = x[i] + t * d[i] }
                var decrease = Double(t) * gtd
                if let b = bounds {
                    project(&xNew, b)
                    var gs = 0.0
                    for i in 0..<n { gs += Double(g[i]) * Double(xNew[i] - x[i]) }
                    // the whole step was cut off by the box: nothing left to try this way
                    if !(gs < 0) { break }
                    decrease = gs
                }
                (lossNew, gNew) = f(xNew)
                evals += 1
                if lossNew.isFinite && lossNew <= loss + 1e-4 * decrease { accepted = true; break }
                t *= 0.5
                if !callback(evals, loss, x) { return loss }
            }
            if !accepted {
                // with a box, a direction can point out of it everywhere while the
                // projected gradient does not: retry once along −g before giving up
                if bounds != nil && mem.pairs > 0 && evals < maxEvals {
                    mem.forget()
                    (d, t) = probe()
                    continue
                }
                break
            }
            // curvature pair
            var sv = [Float](repeating: 0, count: n), yv = [Float](repeating: 0, count: n)
            for i in 0..<n { sv[i] = xNew[i] - x[i]; yv[i] = gNew[i] - g[i] }
            let ys = dot(yv, sv)
            if ys > 1e-10 { mem.add(s: sv, y: yv, ys: ys, limit: m) }
            swap(&x, &xNew)
            g = gNew
            loss = lossNew
            if !callback(evals, loss, x) { return loss }
            d = direction(g, mem)
            t = learningRate
        }
        return loss
    }
}

/// Clamps every coordinate into `box`.
func project(_ x: inout [Float], _ box: ClosedRange<Float>) {
    let lo = box.lowerBound, hi = box.upperBound
    x.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = min(max(p[i], lo), hi) } }
}

/// Zeroes the direction of every coordinate at a bound whose gradient points out of the box.
func freeze(_ d: inout [Float], at x: [Float], gradient g: [Float], _ box: ClosedRange<Float>) {
    let lo = box.lowerBound, hi = box.upperBound
    for i in d.indices where (x[i] <= lo && g[i] > 0) || (x[i] >= hi && g[i] < 0) { d[i] = 0 }
}

/// Adam (Kingma & Ba) with bias correction; with `bounds`, each step is projected onto
/// the box.
public struct Adam: Sendable {
    public var learningRate: Float
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    public var bounds: ClosedRange<Float>?
    public init(learningRate: Float = 0.02, bounds: ClosedRange<Float>? = nil) {
        self.learningRate = learningRate; self.bounds = bounds
    }

    @discardableResult
    public func minimize(_ x: inout [Float], evaluations maxEvals: Int, objective f: Objective,
                         callback: OptimizerCallback = { _, _, _ in true }) -> Double {
        let n = x.count
        var m1 = [Float](repeating: 0, count: n), m2 = [Float](repeating: 0, count: n)
        if let b = bounds { project(&x, b) }
        var best = Double.infinity, bestX = x
        for t in 1...max(1, maxEvals) {
            let (loss, g) = f(x)
            if loss < best { best = loss; bestX = x }
            if !callback(t, loss, x) { break }
            if t == maxEvals { break }
            let c1 = 1 - pow(beta1, Float(t)), c2 = 1 - pow(beta2, Float(t))
            for i in 0..<n {
                m1[i] = beta1 * m1[i] + (1 - beta1) * g[i]
                m2[i] = beta2 * m2[i] + (1 - beta2) * g[i] * g[i]
                x[i] -= learningRate * (m1[i] / c1) / ((m2[i] / c2).squareRoot() + epsilon)
            }
            if let b = bounds { project(&x, b) }
        }
        x = bestX
        return best
    }
}

#if canImport(Glibc)
import Glibc
#endif
