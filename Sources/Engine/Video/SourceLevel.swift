import Foundation
import Kernels
import Temporal
import VideoIO

/// The last level of a video rendered at its source size (`--output-size source`). The
/// frames are stylised at the processing size first (`TemporalStylizer`: flows, warm
/// starts, the temporal term, scene cuts); each result is then the lower level of a
/// two-level pyramid whose top is the source size, so strokes and detail are drawn at full
/// resolution instead of being enlarged.
///
/// A shot's first frame starts from its processing-size result, upsampled, with the budget
/// an image pyramid gives a level of that size (`Stylizer.levelBudget`). A later frame
/// starts from the previous source-size result warped onto it by the processing-size flow
/// (upsampled, vectors scaled), where that flow is consistent, and from the upsampled
/// result elsewhere (the two blended by the upsampled consistency weight); the temporal
/// term pulls it toward that warp with the same weights, and it gets the later-frame
/// budget and early stop. Only the previous frame is linked at this level (the long-term
/// frames act at the processing size, whose result fills what the previous frame did not
/// see), and the optimiser starts afresh on every frame: carrying the L-BFGS curvature
/// here, as the processing level does, made bikes.mp4 less steady, and would cost 40
/// full-size vectors (BENCHMARKS.md, "Full-size video frames").
public final class SourceLevel {
    public let stylizer: Stylizer
    public let config: TemporalConfig
    /// The size of the results: the source's, longest side `stylizer.config.size`.
    public let width: Int, height: Int
    private var previous: RGBImage?
    /// For the next frame: a result of it rendered apart (a cluster task's own frame, which
    /// a seam pass hands over to) and the weight its start and temporal target take from
    /// it (0...1). The processing level's guide does the same at its size.
    public var guide: (output: RGBImage, weight: Float)?

    /// `stylizer`: its `config.size` is the longest side of the source.
    public init(stylizer: Stylizer, config: TemporalConfig, sourceWidth: Int, sourceHeight: Int) {
        self.stylizer = stylizer; self.config = config
        (width, height) = Stylizer.fitSize(width: sourceWidth, height: sourceHeight, longest: stylizer.config.size)
    }

    /// Evaluations of a shot's first frame at this level: what the top level of an image
    /// pyramid of this size gets.
    public var firstBudget: Int { Stylizer.levelBudget(stylizer.config.iterations, width: width, height: height) }
    /// Evaluations of a later frame: the later-frame budget, never above the first's.
    public var laterBudget: Int { min(firstBudget, config.laterIterations ?? TemporalConfig.defaultLaterIterations) }

    /// Resumes after a checkpointed frame: the next frame links to `result`.
    public func restore(result: RGBImage) { previous = result }

    /// The source-size result of `frame` (the decoded frame, at any size; it is scaled to
    /// this level's), given its processing-size result `processed`.
    public func next(_ frame: RGBImage, processed: TemporalStylizer.Frame, styles: [RGBImage],
                     progress: @escaping (StyleProgress) -> Void = { _ in }) throws -> TemporalStylizer.Frame {
        var start = Tensor(image: try ImageIO.scale(processed.image, width: width, height: height))
        let toward = try guide.map { (Tensor(image: try ImageIO.scale($0.output, width: width, height: height)), min(max($0.weight, 0), 1)) }
        var request = Stylizer.Request(start: start, iterations: firstBudget, pyramid: false)
        if config.weight > 0, let link = processed.link, let prev = previous, prev.width == width, prev.height == height {
            var (warped, trust) = linked(prev, by: link)
            if let (g, w) = toward { warped.blend(toward: g, by: w) }
            start.blend(toward: warped, weights: trust)
            request = Stylizer.Request(start: start, extraLosses: [TemporalLoss(warpedPrevious: warped, weights: trust, weight: config.weight)],
                                       iterations: laterBudget, pyramid: false, earlyStop: config.earlyStop)
        }
        if let (g, w) = toward { request.start?.blend(toward: g, by: w) }
        let out = try stylizer.run(content: frame, styles: styles, request, hooks: Stylizer.Hooks(progress: progress))
        previous = out.image
        return TemporalStylizer.Frame(image: out.image, evaluations: out.evaluations, coverage: processed.coverage, breakdown: out.breakdown)
    }

    /// `image` (the previous result, at this level's size) warped by the link's flow, and
    /// the link's consistency weights, both brought up to this level's size.
    public func linked(_ image: RGBImage, by link: TemporalStylizer.Link) -> (warped: Tensor, trust: [Float]) {
        let flow = link.backward.resampled(width: width, height: height)
        let weights = Tensor(channels: 1, height: link.backward.height, width: link.backward.width, storage: link.consistency)
        let trust = Resize.bilinear(weights, height: height, width: width).storage.map { min(max($0, 0), 1) }
        return (Warp.backwardCubic(Tensor(image: image), flow: flow), trust)
    }
}

extension Tensor {
    /// Moves every value the fraction `w` of the way toward `other`'s.
    mutating func blend(toward other: Tensor, by w: Float) {
        precondition(sameShape(other))
        for i in storage.indices { storage[i] += w * (other.storage[i] - storage[i]) }
    }

    /// Moves each pixel (all channels) the fraction `scale`·weights[pixel] of the way
    /// toward `other`'s; pixels of weight 0 are left as they are.
    mutating func blend(toward other: Tensor, weights: [Float], scale: Float = 1) {
        precondition(sameShape(other) && weights.count == plane)
        let n = plane
        for i in 0..<n where weights[i] > 0 {
            let a = scale * weights[i]
            for ch in 0..<channels { let k = ch * n + i; storage[k] += a * (other.storage[k] - storage[k]) }
        }
    }
}
