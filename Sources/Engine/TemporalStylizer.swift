import Foundation
import Kernels
import Temporal
import VideoIO

extension TemporalLoss: ImageLoss {}

/// Settings of temporally consistent video stylisation (Ruder, Dosovitskiy & Brox).
public struct TemporalConfig: Sendable, Equatable {
    /// γ of the temporal loss (0 = frames independent, no warm start). Default 200: on
    /// bikes.mp4 the warping error was flat from 50 to 1000 (BENCHMARKS.md).
    public var weight: Float = 200
    /// Evaluations for frames after the first (which gets the full image budget and the
    /// pyramid). Default 30% of --iterations, at least 10 (never more than --iterations).
    public var laterIterations: Int? = nil
    public var flow = FlowOptions()
    public init() {}
}

/// Stylises a sequence of frames: the first like an image; each later one starts from
/// the previous result warped by the optical flow (disoccluded and out-of-frame pixels
/// from the current frame's own content) and is pulled toward it by the temporal loss,
/// weighted by the forward–backward consistency of the flow.
public final class TemporalStylizer {
    public let stylizer: Stylizer
    public let config: TemporalConfig
    private var previousInput: Tensor?
    private var previousOutput: Tensor?
    public private(set) var framesDone = 0

    public init(stylizer: Stylizer, config: TemporalConfig) {
        self.stylizer = stylizer; self.config = config
    }

    /// Resumes after a frame whose result was checkpointed: the state becomes exactly what
    /// `next` would have left (the result is kept at 8 bits in both cases).
    public func restore(frame: RGBImage, result: RGBImage) throws {
        let (w, h) = Stylizer.fitSize(width: frame.width, height: frame.height, longest: stylizer.config.size)
        previousInput = Tensor(image: try ImageIO.scale(frame, width: w, height: h))
        previousOutput = Tensor(image: result)
        framesDone += 1
    }

    public func next(_ frame: RGBImage, styles: [RGBImage], progress: (StyleProgress) -> Void = { _ in }) throws -> RGBImage {
        let (w, h) = Stylizer.fitSize(width: frame.width, height: frame.height, longest: stylizer.config.size)
        let input = Tensor(image: try ImageIO.scale(frame, width: w, height: h))
        defer { framesDone += 1 }
        guard config.weight > 0, let prevIn = previousInput, let prevOut = previousOutput,
              prevIn.sameShape(input) else {
            let out = try stylizer.stylize(content: frame, styles: styles, progress: progress)
            previousInput = input
            previousOutput = Tensor(image: out)
            return out
        }
        // flows between the input frames: backward (t → t−1) warps the previous result
        let back = OpticalFlow.compute(from: input, to: prevIn, options: config.flow)
        let fwd = OpticalFlow.compute(from: prevIn, to: input, options: config.flow)
        let weights = Warp.consistency(backward: back, forward: fwd)
        let (warped, valid) = Warp.backward(prevOut, flow: back)
        var start = warped
        let n = input.plane
        for i in 0..<n where !valid[i] { for c in 0..<3 { start.storage[c * n + i] = input.storage[c * n + i] } }
        let loss = TemporalLoss(warpedPrevious: warped, weights: weights, weight: config.weight)
        let budget = stylizer.config.iterations
        let later = config.laterIterations ?? min(budget, max(10, budget * 3 / 10))
        let out = try stylizer.stylize(content: frame, styles: styles, initImage: nil, start: start,
                                       extraLosses: [loss], iterations: later, pyramid: false, progress: progress)
        previousInput = input
        previousOutput = Tensor(image: out)
        return out
    }
}

/// Lai et al.'s warping error of a stylised sequence, with the flow taken from the input
/// frames: E = 1/(T−1) Σ_t Σ_i M_t(i)‖O_t(i) − ω(O_{t−1})(i)‖² / Σ_i M_t(i), M the
/// consistency mask. Frames are RGB 0...1 tensors of one size.
public func warpingError(inputs: [Tensor], outputs: [Tensor], flow: FlowOptions = FlowOptions()) -> Double {
    precondition(inputs.count == outputs.count && inputs.count >= 2, "warpingError: need ≥ 2 matching frames")
    var total = 0.0
    for t in 1..<inputs.count {
        let back = OpticalFlow.compute(from: inputs[t], to: inputs[t - 1], options: flow)
        let fwd = OpticalFlow.compute(from: inputs[t - 1], to: inputs[t], options: flow)
        let m = Warp.consistency(backward: back, forward: fwd)
        let warped = Warp.backward(outputs[t - 1], flow: back).image
        let n = warped.plane
        var num = 0.0, den = 0.0
        for i in 0..<n where m[i] > 0 {
            var d2 = 0.0
            for c in 0..<3 { let d = Double(outputs[t].storage[c * n + i] - warped.storage[c * n + i]); d2 += d * d }
            num += d2; den += 1
        }
        total += den > 0 ? num / den : 0
    }
    return total / Double(inputs.count - 1)
}
