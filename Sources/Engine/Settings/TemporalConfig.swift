import Foundation
import Kernels
import Temporal

/// Settings of temporally consistent video stylisation (Ruder, Dosovitskiy & Brox).
public struct TemporalConfig: Sendable, Equatable, Codable {
    /// γ of the temporal loss (0 = frames independent, no warm start). Default 200: on
    /// bikes.mp4 the warping error was flat from 50 to 1000 (BENCHMARKS.md).
    public var weight: Float = 200
    /// Evaluations for frames after the first (which gets the full budget and the
    /// pyramid). Default `defaultLaterIterations` (never more than the first frame's budget).
    public var laterIterations: Int? = nil
    /// Earlier frames the temporal term looks back to (1 = the previous frame; Ruder's
    /// long-term set is 1, 10, 20, 40). A frame's consistency weight is reduced by the
    /// nearer frames' (c_j ← max(c_j − Σ_{k<j} c_k, 0)), so each pixel is pulled toward
    /// the closest frame where it was visible. Default [1, 10, 20, 40].
    public var frames: [Int] = [1, 10, 20, 40]
    /// Later frames stop early once the loss improved by less than this (relative) over
    /// `stopWindow` evaluations. Default 1e-3 over 3 (0 = never stop early).
    public var stopTolerance: Double = 1e-3
    public var stopWindow: Int = 3
    /// The early-stop rule of a later frame (nil: never stop early).
    var earlyStop: EarlyStop? { stopTolerance > 0 ? EarlyStop(tolerance: stopTolerance, window: stopWindow) : nil }
    /// A frame where fewer than this fraction of the pixels were seen (consistently) in an
    /// earlier frame is a new shot: it is stylised from scratch with the full budget, like
    /// the first frame. Default 0.5.
    public var sceneCutThreshold: Float = 0.5
    /// Radius of the consistency-weight smoothing (0 = off, the default): weights taper
    /// toward occlusions and motion boundaries (`Warp.smoothWeights`).
    public var weightSmoothing: Int = 0
    /// Later frames start L-BFGS with the curvature learnt on the frames before (the last
    /// `carriedPairs` pairs), instead of afresh (Ruder et al.). On bikes.mp4 at 384 px
    /// this kept the later frames' style loss at 1.3× the first frame's instead of
    /// drifting to 2× within 8 frames, at no extra evaluations (BENCHMARKS.md).
    public var carryCurvature = true
    public var flow = FlowOptions()
    public init() {}

    /// 20: with the carried curvature and max-blur pooling, later frames reach 1.025× the
    /// published schedule's style loss at 8.8 s/frame on 2 cores at 384 px (max pooling:
    /// 1.15×; 10 evaluations: 6.1 s; BENCHMARKS.md).
    public static let defaultLaterIterations = 20
    /// Pooling of the network for videos (images keep max pooling, the published
    /// default): max-blur. Max pooling ties a converged frame to its alignment with the
    /// pooling grid, so a warped start that moved by 1-3 px has 2.5x the content loss and
    /// later frames spend their evaluations re-aligning; with max-blur the default schedule
    /// is within 2.5% of the published schedule's style loss on bikes.mp4 (max: 1.15x;
    /// BENCHMARKS.md); frames looked at on three clip/style pairs and `stylevid photo` look
    /// as they do with max pooling.
    public static let defaultPooling: Layers.Pooling = .maxBlur
    /// Curvature pairs carried from frame to frame (and checkpointed for --resume).
    public static let carriedPairs = 20

    public func validate() throws {
        func bad(_ m: String) -> EngineError { .invalidOption(m) }
        guard weight >= 0, weight.isFinite else { throw bad("--temporal-weight must be a finite number ≥ 0") }
        if let l = laterIterations, l < 1 { throw bad("--later-iterations must be at least 1") }
        guard !frames.isEmpty, frames.allSatisfy({ $0 >= 1 && $0 <= 1000 }) else {
            throw bad("--temporal-frames must list frame offsets from 1 to 1000, e.g. 1,10,20,40")
        }
        guard frames.contains(1) else { throw bad("--temporal-frames must include 1 (the previous frame, which the warm start uses)") }
        guard (0...50).contains(weightSmoothing) else { throw bad("--smooth-weights must be a radius from 0 to 50") }
        guard sceneCutThreshold >= 0, sceneCutThreshold <= 1 else { throw bad("the scene-cut threshold must be in 0...1") }
        guard stopTolerance >= 0, stopTolerance.isFinite, stopWindow >= 1 else { throw bad("the early-stop tolerance must be ≥ 0 and its window ≥ 1") }
    }
}
