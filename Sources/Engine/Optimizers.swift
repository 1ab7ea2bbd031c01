import Kernels

/// The objective: value and gradient at x.
public typealias Objective = ([Float]) -> (Double, [Float])

/// Called after every evaluation with (evaluations so far, current loss, current point).
/// Return false to stop early.
public typealias OptimizerCallback = (Int, Double, [Float]) -> Bool

public enum OptimizerKind: String, Sendable, Equatable, CaseIterable { case lbfgs, adam }

/// Limited-memory BFGS (Nocedal & Wright, Alg. 7.4/7.5) with an Armijo backtracking
/// safeguard. One "iteration" is one objective evaluation, as in torch.optim.LBFGS with
/// max_eval = max_iter, so budgets compare with other implementations.
public struct LBFGS: Sendable {
    public var history: Int
    public var learningRate: Float
    /// Memory cap for the (s, y) history, in floats (default 64 M floats = 256 MiB).
    public var memoryBudget: Int

    public init(history: Int = 100, learningRate: Float = 1, memoryBudget: Int = 64 << 20) {
        self.history = history; self.learningRate = learningRate; self.memoryBudget = memoryBudget
    }

    /// History actually kept for n unknowns: `history`, reduced to fit the memory budget.
    public func effectiveHistory(for n: Int) -> Int {
        max(3, min(history, memoryBudget / max(1, 2 * n)))
    }

    @discardableResult
    public func minimize(_ x: inout [Float], evaluations maxEvals: Int, objective f: Objective,
                         callback: OptimizerCallback = { _, _, _ in true }) -> Double {
        let n = x.count
        let m = effectiveHistory(for: n)
        var (loss, g) = f(x)
        var evals = 1
        if !callback(evals, loss, x) { return loss }
        var s: [[Float]] = [], y: [[Float]] = [], rho: [Double] = []
        var hDiag: Double = 1
        var d = g.map { -$0 }
        let g1 = g.reduce(0.0) { $0 + Double(abs($1)) }
        var t = Float(min(1, 1 / max(g1, 1e-30))) * learningRate
        var xNew = x
        while evals < maxEvals {
            var gtd = dot(g, d)
            if !(gtd < 0) {              // not a descent direction (or NaN): restart
                s.removeAll(); y.removeAll(); rho.removeAll(); hDiag = 1
                d = g.map { -$0 }
                gtd = dot(g, d)
                if !(gtd < 0) { break }  // zero gradient: converged
            }
            var lossNew = 0.0, gNew: [Float] = []
            var accepted = false
            while evals < maxEvals {
                for i in 0..<n { xNew[i] = x[i] + t * d[i] }
                (lossNew, gNew) = f(xNew)
                evals += 1
                if lossNew.isFinite && lossNew <= loss + 1e-4 * Double(t) * gtd { accepted = true; break }
                t *= 0.5
                if !callback(evals, loss, x) { return loss }
            }
            if !accepted { break }
            // curvature pair
            var sv = [Float](repeating: 0, count: n), yv = [Float](repeating: 0, count: n)
            for i in 0..<n { sv[i] = xNew[i] - x[i]; yv[i] = gNew[i] - g[i] }
            let ys = dot(yv, sv)
            if ys > 1e-10 {
                if s.count == m { s.removeFirst(); y.removeFirst(); rho.removeFirst() }
                s.append(sv); y.append(yv); rho.append(1 / ys)
                hDiag = ys / dot(yv, yv)
            }
            swap(&x, &xNew)
            g = gNew
            loss = lossNew
            if !callback(evals, loss, x) { return loss }
            // two-loop recursion: d = −H g
            var q = g.map { -$0 }
            var alpha = [Double](repeating: 0, count: s.count)
            for i in stride(from: s.count - 1, through: 0, by: -1) {
                alpha[i] = rho[i] * dot(s[i], q)
                let a = Float(alpha[i])
                y[i].withUnsafeBufferPointer { yp in for k in 0..<n { q[k] -= a * yp[k] } }
            }
            let hd = Float(hDiag)
            for k in 0..<n { q[k] *= hd }
            for i in 0..<s.count {
                let beta = rho[i] * dot(y[i], q)
                let c = Float(alpha[i] - beta)
                s[i].withUnsafeBufferPointer { sp in for k in 0..<n { q[k] += c * sp[k] } }
            }
            d = q
            t = learningRate
        }
        return loss
    }
}

/// Adam (Kingma & Ba) with bias correction.
public struct Adam: Sendable {
    public var learningRate: Float
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    public init(learningRate: Float = 0.02) { self.learningRate = learningRate }

    @discardableResult
    public func minimize(_ x: inout [Float], evaluations maxEvals: Int, objective f: Objective,
                         callback: OptimizerCallback = { _, _, _ in true }) -> Double {
        let n = x.count
        var m1 = [Float](repeating: 0, count: n), m2 = [Float](repeating: 0, count: n)
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
        }
        x = bestX
        return best
    }
}

#if canImport(Glibc)
import Glibc
#endif
