import Foundation
import Kernels
import XCTest

/// Asserts |expected − observed| ≤ tolerance · max(1, |expected|) (relative for large values).
public func assertClose(_ expected: Double, _ observed: Double, tolerance: Double,
                        _ message: @autoclosure () -> String = "",
                        file: StaticString = #filePath, line: UInt = #line) {
    let err = abs(expected - observed) / max(1, abs(expected))
    XCTAssert(err <= tolerance, "expected \(expected), observed \(observed) (relative error \(err) > \(tolerance)) \(message())",
              file: file, line: line)
}

/// Largest |a−b| / (max|a| + tiny) between two tensors of the same shape.
public func relativeError(_ a: Tensor, _ b: Tensor) -> Double {
    precondition(a.sameShape(b), "relativeError: \(a.shapeDescription) vs \(b.shapeDescription)")
    var maxDiff = 0.0, scale = 1e-12
    for i in 0..<a.count {
        maxDiff = max(maxDiff, Double(abs(a.storage[i] - b.storage[i])))
        scale = max(scale, Double(abs(a.storage[i])))
    }
    return maxDiff / scale
}

/// Central-difference gradient check of f at x against the analytic gradient `grad`, on
/// `samples` coordinates chosen by a seeded generator. f is evaluated in Double where the
/// caller can; the step h is relative to the coordinate's magnitude.
/// Returns the worst relative error |num − ana| / max(|num|, |ana|, floor).
public func gradientCheck(at x: Tensor, gradient grad: Tensor, samples: Int = 40, step: Float = 1e-2,
                          seed: UInt64 = 3, floor: Double = 1e-3,
                          f: (Tensor) -> Double) -> Double {
    var rng = SplitMix64(seed: seed)
    var worst = 0.0
    var gscale = 0.0
    for v in grad.storage { gscale = max(gscale, Double(abs(v))) }
    for _ in 0..<samples {
        let i = Int.random(in: 0..<x.count, using: &rng)
        var xp = x, xm = x
        let h = step * max(1, abs(x.storage[i]))
        xp.storage[i] += h
        xm.storage[i] -= h
        let num = (f(xp) - f(xm)) / (2 * Double(h))
        let ana = Double(grad.storage[i])
        let err = abs(num - ana) / max(abs(num), abs(ana), floor * max(gscale, 1e-12))
        worst = max(worst, err)
    }
    return worst
}

/// Directional-derivative check: for random directions v, compares
/// (f(x+hv) − f(x−hv)) / 2h with ⟨∇f, v⟩, taking the best of several steps h (float32
/// rounding favours large h, kinks of ReLU/max favour small h). Returns the worst, over
/// directions, of the best relative error.
public func directionalCheck(at x: Tensor, gradient grad: Tensor, directions: Int = 6,
                             steps: [Float] = [1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4], seed: UInt64 = 5,
                             f: (Tensor) -> Double) -> Double {
    var rng = SplitMix64(seed: seed)
    var worst = 0.0
    for _ in 0..<directions {
        let v = Tensor.random(channels: x.channels, height: x.height, width: x.width, in: -1...1, generator: &rng)
        let ana = grad.dot(v)
        var best = Double.infinity
        for h in steps {
            var xp = x, xm = x
            xp.add(v, scaled: h)
            xm.add(v, scaled: -h)
            let num = (f(xp) - f(xm)) / (2 * Double(h))
            best = min(best, abs(num - ana) / max(abs(num), abs(ana), 1e-12))
        }
        worst = max(worst, best)
    }
    return worst
}
