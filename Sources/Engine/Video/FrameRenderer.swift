import Foundation
import Photoreal
import VideoIO

/// The per-frame core of every video render: the main form, the cluster tasks and seam
/// passes, and the frei0r plugin all stylise a frame here. It owns the processing size
/// (`VideoSettings.processingSize`), the memory budget and the model, the temporal
/// stylizer (warm start, temporal term, shot cuts, seam guides) and the source-size level.
/// Frames come in order, as decoded; each result goes to a `FrameStore` when there is one,
/// and a frame the store already holds is restored instead of rendered.
public final class FrameRenderer {
    public let settings: VideoSettings
    public let styles: [RGBImage]
    /// The size frames are stylised at.
    public let processing: (width: Int, height: Int)
    public let temporal: TemporalStylizer
    /// The source-size level (`--output-size source`), nil when the result is the
    /// processing-size one (or that one enlarged).
    public let source: SourceLevel?
    /// The size of the results: the source level's, or the processing size.
    public var resultSize: (width: Int, height: Int) { source.map { ($0.width, $0.height) } ?? processing }
    /// Evaluations spent on frames after the first, and their count.
    public private(set) var laterEvaluations = 0, sourceEvaluations = 0, laterFrames = 0

    /// Builds the stylizer for `sourceWidth`×`sourceHeight` frames (before the chain's
    /// geometry): the network that `network` loads for the settings' config, under the
    /// settings' memory budget; a size that cannot fit even in tiles is refused here,
    /// before any work, as are settings that do not go together (`VideoSettings.validate`).
    /// `flowSource`: flows from files instead of the built-in solver.
    public init(settings: VideoSettings, sourceWidth: Int, sourceHeight: Int, styles: [RGBImage],
                segmentation: MaskPairing? = nil, flowSource: FlowSource? = nil,
                network: (StyleConfig) throws -> VGG) throws {
        try settings.validate()
        self.settings = settings
        self.styles = styles
        let (w, h): (Int, Int)
        do { (w, h) = try settings.processingSize(width: sourceWidth, height: sourceHeight) } catch let e as EngineError {
            throw EngineError.invalidOption("-vf: \(e.description)")
        }
        processing = (w, h)
        var config = settings.style
        config.size = max(w, h)
        let stylizer = try Stylizer(network: try network(config), config: config)
        stylizer.maxMemory = settings.maxMemory ?? MemoryPlan.defaultBudget
        stylizer.segmentation = segmentation
        do { try stylizer.checkMemory(width: w, height: h) } catch let e as EngineError {
            throw EngineError.invalidOption("--size \(config.size): \(e.description)")
        }
        temporal = TemporalStylizer(stylizer: stylizer, config: settings.temporal, flowSource: flowSource)
        source = settings.outputSize == .source && (w, h) != (sourceWidth, sourceHeight)
            ? try FrameRenderer.sourceLevel(sharing: stylizer, temporal: settings.temporal, width: sourceWidth, height: sourceHeight)
            : nil
    }

    /// The source-size level of `--output-size source`: the processing stylizer's network
    /// and settings at the source's longest side, under the same memory limit (refused
    /// before any work when even tiles cannot fit it).
    static func sourceLevel(sharing processing: Stylizer, temporal: TemporalConfig, width: Int, height: Int) throws -> SourceLevel {
        var c = processing.config
        c.size = max(width, height)
        let s = try Stylizer(network: processing.network, config: c)
        s.maxMemory = processing.maxMemory
        s.segmentation = processing.segmentation
        do { try s.checkMemory(width: width, height: height) } catch let e as EngineError {
            throw EngineError.invalidOption("--output-size source: \(e.description) (a \(width)×\(height) frame; use --output-size scaled, or raise --max-memory)")
        }
        return SourceLevel(stylizer: s, config: temporal, sourceWidth: width, sourceHeight: height)
    }

    /// What a render does around each frame: `beforeFrame(n)` runs before frame n is
    /// stylised (not when it is restored), `beforeSaving(n)` after, before it is saved
    /// (state a resume needs goes first), `saved(n)` once it is saved; `progress` gets the
    /// frame's own progress, `rendered` a line on what the frame cost (`--verbose`).
    public struct Hooks {
        public var beforeFrame: (Int) throws -> Void = { _ in }
        public var beforeSaving: (Int) throws -> Void = { _ in }
        public var saved: (Int) -> Void = { _ in }
        public var progress: (StyleProgress) -> Void = { _ in }
        public var rendered: ((String) -> Void)? = nil
        public init(beforeFrame: @escaping (Int) throws -> Void = { _ in }, beforeSaving: @escaping (Int) throws -> Void = { _ in },
                    saved: @escaping (Int) -> Void = { _ in }, progress: @escaping (StyleProgress) -> Void = { _ in }) {
            self.beforeFrame = beforeFrame; self.beforeSaving = beforeSaving; self.saved = saved; self.progress = progress
        }
    }

    /// The chain's geometry applied to a decoded frame, then the frame brought to the
    /// processing size (decoders that already scaled give it unchanged).
    func processingInput(_ decoded: RGBImage) throws -> RGBImage {
        try ImageIO.scale(try cropped(decoded), width: processing.width, height: processing.height)
    }

    func cropped(_ decoded: RGBImage) throws -> RGBImage {
        settings.geometry.isEmpty ? decoded : try settings.geometry.apply(to: decoded)
    }

    /// Frame `number` (counted from the first rendered): restored from `store` when it
    /// holds it, else stylised (`upcoming`: the next decoded frame, whose flows are
    /// computed meanwhile) and saved there. `keepInputs`: the store keeps the inputs too
    /// (for later passes). Returns the result, at `resultSize`.
    public func render(number: Int, decoded: RGBImage, upcoming: RGBImage? = nil, store: FrameStore? = nil,
                       keepInputs: Bool = false, hooks: Hooks = Hooks()) throws -> RGBImage {
        let frame = try cropped(decoded)
        let input = try ImageIO.scale(frame, width: processing.width, height: processing.height)
        if let store, let saved = store.load(number, width: processing.width, height: processing.height),
           let result = source.map({ store.loadSource(number, width: $0.width, height: $0.height) }) ?? saved {
            try temporal.restore(frame: input, result: saved)
            temporal.curvature = store.loadCurvature(after: number)
            source?.restore(result: result)
            return result
        }
        let ahead = store?.has(number + 1) == true ? nil : try upcoming.map(processingInput)
        try hooks.beforeFrame(number)
        let started = Date()
        let (w, h) = processing
        let share = source.map { Double(w * h) / Double(w * h + $0.width * $0.height) } ?? 1
        func part(_ from: Double, _ to: Double) -> (StyleProgress) -> Void {
            { p in var q = p; q.fraction = from + (to - from) * p.fraction; q.elapsed = Date().timeIntervalSince(started); hooks.progress(q) }
        }
        let made = try temporal.next(input, upcoming: ahead, styles: styles, progress: part(0, share))
        let full = try source?.next(frame, processed: made, styles: styles, progress: part(share, 1))
        if number > 0 {
            laterEvaluations += made.evaluations; sourceEvaluations += full?.evaluations ?? 0; laterFrames += 1
        }
        if let say = hooks.rendered {
            let b = full?.breakdown ?? made.breakdown
            say(String(format: "frame %d: coverage %.3f, %d evaluations%@; loss: content %.4g, style %.4g, tv %.4g, temporal %.4g, photoreal %.4g",
                       number, made.coverage, made.evaluations, full.map { " + \($0.evaluations) at source size" } ?? "",
                       b.content, b.style, b.tv, b.temporal, b.photoreal))
        }
        try hooks.beforeSaving(number)
        if let store {
            try save(made: made.image, full: full?.image, input: keepInputs ? input : nil, number: number, into: store)
            hooks.saved(number)
        }
        return full?.image ?? made.image
    }

    /// Saves a frame: the curvature first and the older one removed last, so a kill at any
    /// point leaves each saved frame with the curvature that followed it; a frame counts
    /// as saved once its processing-size result is, so its source-size result goes before.
    func save(made: RGBImage, full: RGBImage?, input: RGBImage?, number: Int, into store: FrameStore) throws {
        if let input { try store.saveInput(input, number) }
        if let full { try store.saveSource(full, number) }
        try store.saveCurvature(temporal.curvature, after: number)
        try store.save(made, number)
        store.removeCurvature(after: number - 1)
    }

    /// The frames after the first: their mean evaluations, and the shot cuts restyled from
    /// scratch, as the summary line of a render says them.
    public var costSummary: String {
        guard laterFrames > 0 else { return "" }
        var s = String(format: "; later frames %.1f evaluations on average", Double(laterEvaluations) / Double(laterFrames))
        if source != nil { s += String(format: " + %.1f at source size", Double(sourceEvaluations) / Double(laterFrames)) }
        if temporal.sceneCuts > 0 { s += "; \(temporal.sceneCuts) scene cut(s) restyled from scratch" }
        return s
    }
}
