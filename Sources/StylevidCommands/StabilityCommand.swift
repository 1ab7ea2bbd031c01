import ArgumentParser
import Engine
import Foundation
import Kernels
import VideoIO
import Temporal

/// `stylevid stability OUTPUT INPUT`: Lai et al.'s temporal warping error of a stylized
/// video (lower is steadier), with the flow taken from the input video.
struct Stability: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stability",
        abstract: "Measure the flicker of a stylized video: its warping error against the input (lower is steadier).",
        discussion: """
            Lai et al. (2018): the mean over frames of the squared difference between each \
            output frame and the previous output frame warped by the optical flow of the \
            input, over the pixels where that flow is consistent (RGB in 0...1). The input \
            is scaled to the output's size and matched to it by time. Pairs across a shot \
            change (the flow connects fewer than 10% of the pixels) are left out. Prints \
            one JSON line.
            """)
    @Argument(help: "The stylized video.") var output: String
    @Argument(help: "The input video it was made from.") var input: String
    @Option(help: "Only frames A-B (0-based, inclusive) of the stylized video; the input is matched by time.") var frames: String?
    @Flag(help: "Also count pairs across a shot change (where the input's flow connects fewer than 10% of the pixels); they are left out by default.") var keepCuts = false
    @Option(help: "Also measure style strength: the style loss of every output frame against this style image (default layers and weights), and the content loss against the input frame; the means are added to the JSON line (lower style loss = stronger style).") var style: String?
    @Option(help: "Model for --style: \(StyleOptions.modelChoices).") var model: String?
    @Option(help: "The optical flow that measures: robust or classic (see the main form's --flow).") var flow: VideoOptions.FlowMethod = .robust
    @Option(help: "Pooling of the network for --style; measure with the pooling the video was made with (videos are made with max-blur unless their --pooling said otherwise).") var pooling: Layers.Pooling = TemporalConfig.defaultPooling

    func run() throws {
        let out = try VideoReader(path: output)
        let w = out.info.width, h = out.info.height
        var strength: (stylizer: Stylizer, style: RGBImage)? = nil
        if let sp = style {
            let styleImage = try ImageIO.read(sp)
            var config = StyleConfig()
            config.size = max(w, h)
            config.pooling = pooling
            strength = (try JobSetup.stylizer(config: config, model: model, width: w, height: h, maxMemory: MemoryPlan.defaultBudget), styleImage)
        }
        var styleLosses: [Double] = [], contentLosses: [Double] = []
        let inp = try VideoReader(path: input, longestSide: max(w, h))
        let range = try VideoOptions.parse(frames.map { ["--frames", $0] } ?? []).range()
        var firstIn: Double? = nil
        var previous: (input: Tensor, output: Tensor)? = nil
        var total = 0.0, count = 0, pairs = 0, cuts = 0
        var pairErrors: [Double] = []      // pair k: frames k and k + 1, cuts included
        while let o = try out.nextFrame() {
            guard range.frames?.contains(o.index) ?? true else { if o.index > (range.frames?.upperBound ?? .max) { break }; continue }
            // the input frame shown at the same time (output time 0 = first input frame)
            var f: VideoFrame? = nil
            while let i = try inp.nextFrame() {
                firstIn = firstIn ?? i.time
                if i.time - firstIn! >= o.time - 1e-3 { f = i; break }
            }
            guard let match = f else { break }
            let current = (input: Tensor(image: try ImageIO.scale(match.image, width: w, height: h)), output: Tensor(image: o.image))
            count += 1
            if let m = strength {
                let b = try m.stylizer.measure(o.image, content: match.image, styles: [m.style])
                styleLosses.append(b.style); contentLosses.append(b.content)
            }
            if let p = previous {
                let e = WarpingError(previousInput: p.input, input: current.input, previousOutput: p.output, output: current.output,
                                     flow: flow.options)
                pairErrors.append(e.error)
                if e.coverage >= WarpingError.cutThreshold || keepCuts { total += e.error; pairs += 1 } else { cuts += 1 }
            }
            previous = current
        }
        guard count >= 2 else { throw CLIError("need at least 2 frames to measure flicker, found \(count)") }
        guard pairs >= 1 else { throw CLIError("every pair of frames is a shot change; nothing to measure (--keep-cuts counts them)") }
        var json = String(format: "{\"frames\":%d,\"pairs\":%d,\"shot_changes_skipped\":%d,\"warping_error\":%.6f", count, pairs, cuts, total / Double(pairs))
        if !styleLosses.isEmpty {
            let mean = { (v: [Double]) in v.reduce(0, +) / Double(v.count) }
            json += String(format: ",\"style_loss\":%.4f,\"style_loss_max\":%.4f,\"content_loss\":%.4f,\"style_loss_per_frame\":[",
                           mean(styleLosses), styleLosses.max()!, mean(contentLosses))
            json += styleLosses.map { String(format: "%.3f", $0) }.joined(separator: ",") + "]"
        }
        json += ",\"warping_error_per_pair\":[" + pairErrors.map { String(format: "%.6f", $0) }.joined(separator: ",") + "]"
        print(json + "}")
    }
}
