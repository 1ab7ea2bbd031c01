import Foundation
import Kernels
import Temporal

/// Lai et al.'s warping error of a stylised sequence, with the flow taken from the input
/// frames: E = 1/(T−1) Σ_t Σ_i M_t(i)‖O_t(i) − ω(O_{t−1})(i)‖² / Σ_i M_t(i), M the
/// consistency mask. Frames are RGB 0...1 tensors of one size. Pairs across a shot change
/// (where the flow connects fewer than `cutBelow` of the pixels) are left out: there the
/// few pixels the check lets through are chance matches, and the normalisation by ΣM
/// would give them a whole frame's weight.
public func warpingError(inputs: [Tensor], outputs: [Tensor], flow: FlowOptions = FlowOptions(), cutBelow: Double = WarpingError.cutThreshold) -> Double {
    precondition(inputs.count == outputs.count && inputs.count >= 2, "warpingError: need ≥ 2 matching frames")
    var total = 0.0, pairs = 0
    for t in 1..<inputs.count {
        let e = WarpingError(previousInput: inputs[t - 1], input: inputs[t], previousOutput: outputs[t - 1], output: outputs[t], flow: flow)
        if e.coverage >= cutBelow { total += e.error; pairs += 1 }
    }
    return pairs > 0 ? total / Double(pairs) : 0
}

/// One term of the warping error: frame t against frame t−1, and the fraction of pixels
/// the flow connects (the mask's coverage).
public struct WarpingError {
    public static let cutThreshold = 0.1
    public let error: Double
    public let coverage: Double

    public init(previousInput: Tensor, input: Tensor, previousOutput: Tensor, output: Tensor, flow: FlowOptions = FlowOptions()) {
        let back = OpticalFlow.compute(from: input, to: previousInput, options: flow)
        let fwd = OpticalFlow.compute(from: previousInput, to: input, options: flow)
        let m = Warp.consistency(backward: back, forward: fwd)
        let warped = Warp.backward(previousOutput, flow: back).image
        let n = warped.plane
        var num = 0.0, den = 0.0
        for i in 0..<n where m[i] > 0 {
            var d2 = 0.0
            for c in 0..<3 { let d = Double(output.storage[c * n + i] - warped.storage[c * n + i]); d2 += d * d }
            num += d2; den += 1
        }
        error = den > 0 ? num / den : 0
        coverage = den / Double(n)
    }
}
