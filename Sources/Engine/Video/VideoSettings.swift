import Foundation
import VideoIO

/// The size of the frames a video's results are written at.
public enum OutputSize: String, Codable, Sendable, CaseIterable {
    /// The processing-size result.
    case processing
    /// That result enlarged to the input's size: no extra work, soft.
    case scaled
    /// Optimised again at the input's size (`SourceLevel`).
    case source
}

/// Everything that decides a video's frames, resolved once: from the command line (the
/// main form, `-vf`), from a plan, or from the plugin's parameters. `plan.json` stores it,
/// and a resume's or a cluster task's fingerprint is made of it.
public struct VideoSettings: Codable, Equatable, Sendable {
    public var style: StyleConfig
    public var temporal: TemporalConfig
    /// The style images (each weighs `style.styleBlend`).
    public var stylePaths: [String]
    /// The `-vf` chain's scale and crop: when there are any, they decide the processing size.
    public var geometry: [GeometryOp] = []
    /// Passes over the video (Ruder et al.'s multi-pass); 1: the forward pass only.
    public var passes = 1
    /// Segmentation masks (content, reference) and the label map between them.
    public var contentMask: String? = nil
    public var referenceMask: String? = nil
    public var maskMap: String? = nil
    /// What the stylisation may use in memory, in bytes (`--max-memory`); nil: the default
    /// of the machine that renders (a plan's tasks each take their own node's).
    public var maxMemory: Int? = nil
    /// `--model` as given (nil: the default model).
    public var model: String? = nil
    public var outputSize: OutputSize = .processing
    /// A folder of precomputed .flo files (`FlowDirectory`).
    public var flowDir: String? = nil
    /// The frames of the input to render.
    public var range = FrameRange()
    public var noAudio = false
    public var encoding = VideoEncoding()
    /// Every frame optimised, or keyframes optimised and the rest propagated (`--mode`).
    public var mode: RenderMode = .full
    /// Fast mode's keyframe and synthesis rules.
    public var fast = FastConfig()

    public init(style: StyleConfig, temporal: TemporalConfig, stylePaths: [String]) {
        self.style = style; self.temporal = temporal; self.stylePaths = stylePaths
    }

    /// Checks of the combination that need no file: throws `EngineError.invalidOption`.
    public func validate() throws {
        func bad(_ m: String) -> EngineError { .invalidOption(m) }
        guard (1...50).contains(passes) else { throw bad("--passes must be between 1 and 50") }
        if passes > 1 && temporal.weight == 0 { throw bad("--passes needs the temporal term (--temporal-weight > 0)") }
        if outputSize != .processing && !geometry.isEmpty {
            throw bad("--output-size \(outputSize.rawValue): the -vf chain's scale or crop decides the frame size; leave one of them out")
        }
        if outputSize == .source && passes > 1 {
            throw bad("--passes refines frames at the processing size; with --output-size source it is not available yet (use --output-size scaled)")
        }
        if case .image = style.initMode { throw bad("--init PATH is for images; for videos use content or random") }
        if mode == .fast {
            try fast.validate()
            if passes > 1 { throw bad("--passes refines every frame by the optimiser; --mode fast propagates most of them (leave one out)") }
            if outputSize == .source { throw bad("--output-size source is not available with --mode fast yet (use --output-size scaled)") }
        }
    }

    /// The longest side frames are decoded at, for a source whose longest side is
    /// `longest` (nil: the source's own size, which the chain's geometry or the source
    /// level needs).
    public func decodingSize(longest: Int) -> Int? {
        guard geometry.isEmpty, outputSize != .source else { return nil }
        return VideoSettings.processingLongest(cap: style.size, frameLongest: longest)
    }

    /// The one sizing rule of video, in the CLI, on the cluster and in the plugin:
    /// `--size` caps the longest side, and a smaller video is not enlarged (but frames are
    /// at least 64 px, what the network needs to see anything).
    public static func processingLongest(cap: Int, frameLongest: Int) -> Int { min(cap, max(64, frameLongest)) }

    /// The processing size of width×height source frames: the chain's geometry where it
    /// has any, else the sizing rule (even sizes, as H.264 and VP9 in 4:2:0 need).
    public func processingSize(width: Int, height: Int) throws -> (width: Int, height: Int) {
        guard geometry.isEmpty else {
            let (w, h) = try geometry.outputSize(width: width, height: height)
            guard min(w, h) >= StyleConfig.sizeRange.lowerBound else {
                throw EngineError.invalidOption("the frames would be \(w)×\(h); the shorter side must be at least \(StyleConfig.sizeRange.lowerBound) px")
            }
            return (w, h)
        }
        return VideoReader.scaledSize(width: width, height: height,
                                      longest: VideoSettings.processingLongest(cap: style.size, frameLongest: max(width, height)))
    }

    /// Everything that decides the frames, as text: a resume or a cluster task with other
    /// settings is refused. The input, the settings (defaults included, which may change
    /// between versions), the form of the loss terms and the model `model` resolved to.
    public func fingerprint(input: String, network: String) -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = (try? e.encode(self)).flatMap { String(data: $0, encoding: .utf8) } ?? "\(self)"
        return "input \(input)\nmodel \(network)\n\(StyleConfig.lossForm)\n\(json)\n"
    }
}
