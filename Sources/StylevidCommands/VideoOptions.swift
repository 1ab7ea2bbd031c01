import ArgumentParser
import Engine
import Foundation
import Kernels
import VideoIO
import Temporal

/// Options only the video path has.
struct VideoOptions: ParsableArguments {
    @Option(help: "Start at this time of the input (seconds, MM:SS or HH:MM:SS.ms; default 0).")
    var start: String?
    @Option(help: "Process only this much of the input (same formats; default to the end).")
    var duration: String?
    @Option(help: "Process only frames A-B (0-based, inclusive), instead of --start/--duration.")
    var frames: String?
    @Flag(help: "Leave the audio out (by default every audio stream is copied).")
    var noAudio = false
    @Option(help: "Video quality, constant rate factor (default \(VideoEncoding.defaultCRF.h264) for H.264, \(VideoEncoding.defaultCRF.vp9) for VP9; lower is better).")
    var crf: Int?
    @Option(help: "x264 preset.")
    var preset: String = VideoEncoding().preset
    @Option(help: "Temporal-consistency weight γ: each frame starts from the previous result warped by optical flow and is pulled toward it (0 = independent frames).")
    var temporalWeight: Float = TemporalConfig().weight
    @Option(help: "Evaluations for frames after the first, which start from the previous result (default \(TemporalConfig.defaultLaterIterations)).")
    var laterIterations: Int?
    @Option(help: "Earlier frames the temporal term looks back to, comma-separated offsets.")
    var temporalFrames: String = TemporalConfig().frames.map(String.init).joined(separator: ",")
    @Option(help: "Later frames stop once the loss improves by less than this fraction over --stop-window evaluations (0 = use the whole budget).")
    var stopTolerance: Double = TemporalConfig().stopTolerance
    @Option(help: "Evaluations the early stop looks back over (Ruder et al.'s schedule: --stop-tolerance 1e-4 --stop-window 50).")
    var stopWindow: Int = TemporalConfig().stopWindow
    @Flag(help: "Start every later frame's optimiser afresh (Ruder et al.), instead of with the L-BFGS curvature learnt on the frames before it.")
    var freshOptimizer = false
    @Option(help: "Soften the consistency weights over this radius, so trust tapers toward occlusions and motion boundaries (0 = off).")
    var smoothWeights: Int = 0
    @Option(help: "Folder of precomputed .flo files (backward_T_S.flo and forward_S_T.flo, frames numbered from 1 in the processed range); missing ones are computed.")
    var flowDir: String?
    @Option(help: "Passes over the video (Ruder et al.'s multi-pass): after the first, forward pass, each pass goes the other way, blending every frame with its refined neighbour warped onto it and optimising again.")
    var passes: Int = 1
    @Option(help: "full: every frame optimised. fast: keyframes optimised (each shot's first frame, and wherever the content has moved on), the frames between synthesised from their patches; 3–4× faster on the clips measured, softer strokes (README \"Fast mode\").")
    var mode: RenderMode = .full
    @Option(help: "--mode fast: at most this many frames from one keyframe to the next.")
    var keyframeGap: Int = FastConfig().maxGap
    @Flag(help: "Continue an interrupted run from its checkpoints (same command, same settings).")
    var resume = false
    @Flag(help: "Say each frame's cost: the share of its pixels an earlier frame vouched for, its evaluations and its loss terms.")
    var verbose = false
    enum FlowMethod: String, ExpressibleByArgument, CaseIterable {
        case robust, classic
        var options: FlowOptions { self == .classic ? .classic : FlowOptions() }
    }
    @Option(help: "Optical flow between frames: robust (a patch search at every level for large motions, robust penalties, edge-aware smoothness) or classic (Horn–Schunck: blurs motion boundaries, and was no faster in renders, BENCHMARKS.md \"The robust flow in renders\").")
    var flow: FlowMethod = .robust
    @Option(help: "Output frame size: processing (the --size result), scaled (that result enlarged to the input's size: no extra work, soft), or source (optimised again at the input's size: strokes and detail at full resolution, about 14× the time per frame at 720p).")
    var outputSize: OutputSize = .processing

    static func parseTime(_ s: String, _ name: String) throws -> Double {
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...3).contains(parts.count) else { throw ValidationError("--\(name): '\(s)' is not a time") }
        var t = 0.0
        for p in parts {
            guard let v = Double(p), v >= 0, v.isFinite else { throw ValidationError("--\(name): '\(s)' is not a time") }
            t = t * 60 + v
        }
        return t
    }

    func temporalConfig() throws -> TemporalConfig {
        var t = TemporalConfig()
        t.weight = temporalWeight
        t.laterIterations = laterIterations
        t.frames = try temporalFrames.split(separator: ",", omittingEmptySubsequences: false).map {
            guard let j = Int($0.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("--temporal-frames: '\($0)' is not a frame offset (expected e.g. 1,10,20,40)")
            }
            return j
        }
        t.stopTolerance = stopTolerance
        t.stopWindow = stopWindow
        t.weightSmoothing = smoothWeights
        t.carryCurvature = !freshOptimizer
        t.flow = flow.options
        do { try t.validate() } catch let e as EngineError { throw ValidationError(e.description) }
        return t
    }

    func range() throws -> FrameRange {
        if let f = frames {
            guard start == nil && duration == nil else { throw ValidationError("--frames cannot be combined with --start or --duration") }
            let p = f.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
            guard p.count == 2, let a = p[0], let b = p[1], a >= 0, b >= a else {
                throw ValidationError("--frames: expected A-B with 0 ≤ A ≤ B, got '\(f)'")
            }
            return FrameRange(frames: a...b)
        }
        let d = try duration.map { try VideoOptions.parseTime($0, "duration") }
        if let d, d <= 0 { throw ValidationError("--duration must be positive") }
        return FrameRange(start: try start.map { try VideoOptions.parseTime($0, "start") }, duration: d)
    }
}
