import Engine
import Kernels
import TestSupport
import VideoIO
import XCTest

final class OptimizerTests: XCTestCase {
    /// Rosenbrock in 4 dimensions: minimum 0 at (1,1,1,1); a classic that defeats plain
    /// gradient descent and needs curvature information.
    func rosenbrock(_ x: [Float]) -> (Double, [Float]) {
        var f = 0.0
        var g = [Float](repeating: 0, count: x.count)
        for i in 0..<(x.count - 1) {
            let a = Double(x[i]), b = Double(x[i + 1])
            f += 100 * (b - a * a) * (b - a * a) + (1 - a) * (1 - a)
            g[i] += Float(-400 * a * (b - a * a) - 2 * (1 - a))
            g[i + 1] += Float(200 * (b - a * a))
        }
        return (f, g)
    }

    func testLBFGSSolvesRosenbrock() {
        var x: [Float] = [-1.2, 1, -1.2, 1]
        let f = LBFGS(history: 10).minimize(&x, evaluations: 400, objective: rosenbrock)
        XCTAssertLessThan(f, 1e-6)
        for v in x { XCTAssertEqual(v, 1, accuracy: 1e-2) }
    }

    func testLBFGSIsMonotoneAndStopsWhenAsked() {
        var x: [Float] = [-1.2, 1, -1.2, 1]
        var losses: [Double] = []
        LBFGS().minimize(&x, evaluations: 100, objective: rosenbrock) { n, loss, _ in
            losses.append(loss)
            return n < 20
        }
        XCTAssertEqual(losses.count, 20)
        for (a, b) in zip(losses, losses.dropFirst()) { XCTAssertLessThanOrEqual(b, a + 1e-9) }
    }

    func testHistoryShrinksForLargeProblems() {
        let opt = LBFGS(history: 100, memoryBudget: 1_000_000)
        XCTAssertEqual(opt.effectiveHistory(for: 1000), 100)
        XCTAssertEqual(opt.effectiveHistory(for: 100_000), 5)      // 1e6 / (2·1e5)
        XCTAssertEqual(opt.effectiveHistory(for: 10_000_000), 3)   // never below 3
    }

    /// A quadratic whose unconstrained minimum (2, −1, 0.5, 0.3) lies partly outside
    /// [0, 1]: with the box, the result is the box's nearest point (1, 0, 0.5, 0.3) (the
    /// Hessian is diagonal, so clamping the minimum is the constrained minimum), and no
    /// trial point the objective sees ever leaves the box.
    func boxedQuadratic(_ seen: UnsafeMutablePointer<Bool>) -> Objective {
        let c: [Float] = [2, -1, 0.5, 0.3], a: [Float] = [1, 3, 10, 0.5]
        return { x in
            if x.contains(where: { $0 < 0 || $0 > 1 }) { seen.pointee = true }
            var f = 0.0, g = [Float](repeating: 0, count: 4)
            for i in 0..<4 { let d = x[i] - c[i]; f += Double(a[i] * d * d); g[i] = 2 * a[i] * d }
            return (f, g)
        }
    }

    func testLBFGSWithBoundsStaysInsideAndFindsTheConstrainedMinimum() {
        var outside = false
        var x: [Float] = [0.5, 0.5, 0.9, 0.1]
        LBFGS(history: 5, bounds: 0...1).minimize(&x, evaluations: 60, objective: boxedQuadratic(&outside))
        XCTAssertFalse(outside)
        for (v, e) in zip(x, [Float](arrayLiteral: 1, 0, 0.5, 0.3)) { XCTAssertEqual(v, e, accuracy: 1e-4) }
        // without the box the same run goes outside (the test can fail)
        var free: [Float] = [0.5, 0.5, 0.9, 0.1]
        LBFGS(history: 5).minimize(&free, evaluations: 60, objective: boxedQuadratic(&outside))
        XCTAssertTrue(outside)
        XCTAssertEqual(free[0], 2, accuracy: 1e-3)
        // a start outside the box is projected first
        var y: [Float] = [5, -5, 3, -1]
        var seen = false
        LBFGS(bounds: 0...1).minimize(&y, evaluations: 60, objective: boxedQuadratic(&seen))
        XCTAssertFalse(seen)
        XCTAssertEqual(y[2], 0.5, accuracy: 1e-4)
        var z: [Float] = [0.5, 0.5, 0.9, 0.1]
        Adam(learningRate: 0.05, bounds: 0...1).minimize(&z, evaluations: 400, objective: boxedQuadratic(&seen))
        XCTAssertFalse(seen)
        XCTAssertEqual(z[0], 1, accuracy: 1e-6); XCTAssertEqual(z[1], 0, accuracy: 1e-6)
    }

    /// A badly scaled quadratic family f_k(x) = Σ a_i (x_i − c_i − k·0.01)²: the curvature
    /// learnt on one member lets the next reach a far lower loss in the same few
    /// evaluations than a fresh start (the first step is no longer a tiny probe along −g).
    func testCarriedCurvatureSpeedsUpTheNextSimilarProblem() {
        let n = 40
        let a = (0..<n).map { Float(1 + 30 * ($0 % 7)) }
        func problem(_ k: Int) -> Objective {
            { x in
                var f = 0.0, g = [Float](repeating: 0, count: n)
                for i in 0..<n { let d = x[i] - Float(i % 5) * 0.2 - Float(k) * 0.01; f += Double(a[i] * d * d); g[i] = 2 * a[i] * d }
                return (f, g)
            }
        }
        let opt = LBFGS(history: 20)
        var memory = LBFGS.Memory()
        var x = [Float](repeating: 0, count: n)
        opt.minimize(&x, evaluations: 30, memory: &memory, objective: problem(0))
        XCTAssertGreaterThan(memory.pairs, 5)
        var warm = x, fresh = x
        let fw = opt.minimize(&warm, evaluations: 4, memory: &memory, objective: problem(1))
        let ff = opt.minimize(&fresh, evaluations: 4, objective: problem(1))
        XCTAssertLessThan(fw, ff * 0.1, "warm \(fw) vs fresh \(ff)")
        // memory of another size is dropped, not misused
        var other: [Float] = [1, 2, 3]
        var m2 = memory
        opt.minimize(&other, evaluations: 3, memory: &m2) { x in (Double(x.map { $0 * $0 }.reduce(0, +)), x.map { 2 * $0 }) }
        XCTAssertEqual(m2.count, 3)
    }

    /// A restart (the carried direction points uphill once the box freezes a coordinate)
    /// drops the curvature; when no new pair follows before the budget ends, the next
    /// problem must start with the fresh probe, not a unit step along −g at the forgotten
    /// scale (which a frame with a large gradient spends its few evaluations halving).
    func testRestartWithoutNewPairsLeavesAFreshMemory() {
        // learn a strongly coupled curvature: the inverse Hessian's off-diagonal is positive
        let coupled: Objective = { x in
            let a = x[0] - x[1], b = x[0] + x[1]
            return (Double(100 * a * a + b * b), [200 * a + 2 * b, -200 * a + 2 * b])
        }
        let opt = LBFGS(history: 5, bounds: 0...1)
        var memory = LBFGS.Memory()
        var x: [Float] = [0.9, 0.2]
        opt.minimize(&x, evaluations: 12, memory: &memory, objective: coupled)
        XCTAssertGreaterThan(memory.pairs, 0)
        // a linear objective pushing x0 out of the box: frozen, the carried direction
        // raises x1 while the gradient says lower it, so L-BFGS restarts along −g; a linear
        // objective gives no curvature pair (yᵀs = 0)
        let linear: Objective = { x in (Double(-10 * x[0] + 0.1 * x[1]), [-10, 0.1]) }
        var y: [Float] = [1, 0.5]
        opt.minimize(&y, evaluations: 3, memory: &memory, objective: linear)
        XCTAssertLessThan(y[1], 0.5, "the restart went down the gradient")
        XCTAssertEqual(memory, LBFGS.Memory(), "a forgotten memory is a fresh one")
        // so the next problem starts exactly as a fresh optimiser does
        let steep: Objective = { x in
            let u = x[0] - 0.3, v = x[1] - 0.3
            return (Double(500 * u * u + 5 * v * v), [1000 * u, 10 * v])
        }
        var a: [Float] = [0.9, 0.8], b = a
        LBFGS(history: 5).minimize(&a, evaluations: 4, memory: &memory, objective: steep)
        LBFGS(history: 5).minimize(&b, evaluations: 4, objective: steep)
        XCTAssertEqual(a, b)
    }

    func testCurvatureSurvivesSerialisationExactlyAndRejectsGarbage() throws {
        var memory = LBFGS.Memory()
        var x: [Float] = [-1.2, 1, -1.2, 1]
        LBFGS(history: 6).minimize(&x, evaluations: 25, memory: &memory, objective: rosenbrock)
        XCTAssertEqual(memory.pairs, 6)
        let data = memory.serialized()
        XCTAssertEqual(LBFGS.Memory(serialized: data), memory)
        XCTAssertEqual(LBFGS.Memory(serialized: LBFGS.Memory().serialized()), LBFGS.Memory())
        XCTAssertNil(LBFGS.Memory(serialized: data.dropLast()))
        XCTAssertNil(LBFGS.Memory(serialized: Data("LBFGSMEM".utf8) + Data(repeating: 0xff, count: 40)))
        XCTAssertNil(LBFGS.Memory(serialized: Data()))
        // continuing from the restored memory gives the same iterates as from the original
        var a = x, b = x, ma = memory, mb = LBFGS.Memory(serialized: data)!
        LBFGS(history: 6).minimize(&a, evaluations: 10, memory: &ma, objective: rosenbrock)
        LBFGS(history: 6).minimize(&b, evaluations: 10, memory: &mb, objective: rosenbrock)
        XCTAssertEqual(a, b)
        XCTAssertEqual(ma, mb)
        memory.trim(to: 2)
        XCTAssertEqual(memory.pairs, 2)
    }

    func testAdamMinimisesAQuadratic() {
        var x: [Float] = [3, -2, 0.5]
        let target: [Float] = [1, 1, 1]
        let f = Adam(learningRate: 0.05).minimize(&x, evaluations: 600) { x in
            var v = 0.0, g = [Float](repeating: 0, count: 3)
            for i in 0..<3 { let d = x[i] - target[i]; v += Double(d * d); g[i] = 2 * d }
            return (v, g)
        }
        XCTAssertLessThan(f, 1e-3)
    }
}
