import ArgumentParser
import Engine
import Foundation
import Kernels
import Photoreal
import VideoIO

/// The main form's arguments: INPUT STYLE [STYLE...] OUTPUT, the -vf chain and every
/// option (`stylevid plan` takes the same, and its tasks read them back from the plan).
struct MainForm: ParsableArguments {
    @Argument(help: "INPUT STYLE [STYLE...] OUTPUT (or INPUT OUTPUT with style= in -vf)")
    var paths: [String] = []
    @Option(name: [.customLong("vf", withSingleDash: true), .customLong("filter")],
            help: "An FFmpeg-style filter chain, e.g. \"scale=640:-2,style=painting.jpg:weight=200,temporal=200\" (`stylevid filters` lists the filters). It is applied on top of the other options.")
    var filter: String?
    @OptionGroup var options: StyleOptions
    @OptionGroup(title: "Video options") var video: VideoOptions

    func validate() throws {
        guard paths.count >= 3 || (paths.count == 2 && filter != nil) else {
            throw ValidationError("expected INPUT STYLE [STYLE...] OUTPUT (or INPUT OUTPUT -vf \"style=...\"), got \(paths.count) path\(paths.count == 1 ? "" : "s")")
        }
    }

    var videoJob: VideoJob { VideoJob(paths: paths, options: options, video: video, chain: filter) }
}

/// `stylevid INPUT STYLE [STYLE...] OUTPUT`: the main form.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Stylize INPUT with STYLE image(s) into OUTPUT (the default command).",
        shouldDisplay: false)

    @OptionGroup var main: MainForm

    func run() throws {
        // anything that is not a still image by its extension goes the video way
        // (FFmpeg probes the content; a non-media file fails there with a clear line)
        if ImageIO.isStillImagePath(main.paths[0]) {
            try ImageJob(paths: main.paths, options: main.options, chain: main.filter).run()
        } else {
            try main.videoJob.run()
        }
    }
}

/// `stylevid image CONTENT STYLE [STYLE...] OUTPUT`.
struct ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Stylize one image: CONTENT STYLE [STYLE...] OUTPUT.",
        discussion: "Several style images are blended (see --style-blend). OUTPUT may be .png, .jpg, .webp, .bmp or .tif; it is written only when the run succeeds.")

    @Argument(help: "CONTENT STYLE [STYLE...] OUTPUT")
    var paths: [String] = []
    @OptionGroup var options: StyleOptions

    func validate() throws {
        guard paths.count >= 3 else {
            throw ValidationError("expected CONTENT STYLE [STYLE...] OUTPUT, got \(paths.count) path\(paths.count == 1 ? "" : "s")")
        }
    }

    func run() throws { try ImageJob(paths: paths, options: options).run() }
}

/// `stylevid photo CONTENT REFERENCE OUTPUT`: photo-to-photo relighting.
struct PhotoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "photo",
        abstract: "Relight a photo with the colours and tone of a reference photo: CONTENT REFERENCE OUTPUT.",
        discussion: """
            Deep Photo Style Transfer (Luan et al.): style transfer from the content, with the \
            matting-Laplacian term (--photoreal) that keeps the result locally an affine \
            function of the content's colours, so edges stay in place and nothing is painted. \
            The colour mapping found at --size is applied to the photo at its own resolution \
            (guided upsampling). With --content-mask/--style-mask, each labelled region takes \
            its colours from the same region of the reference. --method reinhard is the \
            instant global alternative (Lab mean and spread matched). A video CONTENT is \
            relit frame by frame with the same defaults plus the temporal term.
            """)

    static let upsampleRadius = 2
    static let upsampleEpsilon: Float = 1e-4

    @Argument(help: "CONTENT REFERENCE OUTPUT")
    var paths: [String] = []
    enum Method: String, ExpressibleByArgument, CaseIterable { case optimize, reinhard }
    @Option(help: "optimize, or reinhard (global Lab colour transfer, no network).")
    var method: Method = .optimize
    @OptionGroup var options: StyleOptions
    @OptionGroup(title: "Video options (when CONTENT is a video)") var video: VideoOptions

    func validate() throws {
        guard paths.count == 3 else {
            throw ValidationError("expected CONTENT REFERENCE OUTPUT, got \(paths.count) path\(paths.count == 1 ? "" : "s")")
        }
    }

    func run() throws {
        if method == .reinhard {
            guard ImageIO.isStillImagePath(paths[0]) else { throw CLIError("--method reinhard is for photos; relight a video with the default method") }
            try checkOutput(paths[2], inputs: [paths[0], paths[1]])
            let content = Tensor(image: try ImageIO.read(paths[0])), reference = Tensor(image: try ImageIO.read(paths[1]))
            try ImageIO.write(ColorMetrics.reinhard(content, reference: reference).rgbImage(), to: paths[2])
            return
        }
        if ImageIO.isStillImagePath(paths[0]) {
            try ImageJob(paths: paths, options: options, photo: true).run()
        } else {
            try VideoJob(paths: paths, options: options, video: video, photo: true).run()
        }
    }
}

/// Reads the inputs, checks everything that can be checked before minutes of work,
/// stylizes, and writes the output atomically.
struct ImageJob {
    let paths: [String]
    let options: StyleOptions
    var chain: String? = nil
    /// `stylevid photo`: photoreal defaults, and the result brought back to the photo's
    /// own resolution by guided upsampling.
    var photo = false

    func run() throws {
        let content = paths[0], output = paths[paths.count - 1]
        let settings = try RunSettings(options: options, positional: Array(paths[1..<(paths.count - 1)]), chain: chain, photo: photo)
        let setup = try JobSetup(settings, content: content, output: output, checkOutput: checkOutput)
        var config = settings.config
        var contentImage = try ImageIO.read(content)
        if !settings.geometry.isEmpty {
            do { contentImage = try settings.geometry.apply(to: contentImage) } catch let e as EngineError { throw CLIError("-vf: \(e.description)") }
            config.size = max(contentImage.width, contentImage.height)
        }
        var initImage: RGBImage? = nil
        if case .image(let p) = config.initMode { initImage = try ImageIO.read(p) }
        let stylizer = try setup.stylizer(config: config, model: options.model, width: contentImage.width, height: contentImage.height)
        let network = stylizer.network, segmentation = setup.segmentation
        let reporter = ProgressReporter(quiet: options.quiet)
        let (fw, fh) = Stylizer.fitSize(width: contentImage.width, height: contentImage.height, longest: config.size)
        let levels = stylizer.levelSizes(width: fw, height: fh).map { w, h -> String in
            let layout = stylizer.layout(width: w, height: h)
            return "\(w)×\(h) (\(Stylizer.levelBudget(config.iterations, width: w, height: h))\(layout.isWhole ? "" : " in \(layout.count) tiles"))"
        }
        var plan = "model \(network.name), \(config.pooling.rawValue) pooling; evaluations at \(levels.joined(separator: ", then "))"
        if config.photorealWeight > 0 {
            plan += config.photorealTwoStage ? ", then \(config.iterations) with the photorealism term (λ \(config.photorealWeight))"
                                             : "; photorealism term λ \(config.photorealWeight)"
        }
        if let s = segmentation { plan += "; \(s.pairs.count) mask label\(s.pairs.count == 1 ? "" : "s")" }
        if levels.contains(where: { $0.hasSuffix("tiles)") }) {
            plan += String(format: "; tiles within --max-memory %.1f GB", Double(settings.maxMemory) / 1e9)
        }
        reporter.note(plan)
        let stem = URL(fileURLWithPath: output).deletingPathExtension().path
        let ext = URL(fileURLWithPath: output).pathExtension
        let outcome = try stylizer.run(
            content: contentImage, styles: setup.styleImages, Stylizer.Request(initImage: initImage),
            hooks: Stylizer.Hooks(progress: { reporter.update($0) }, snapshotEvery: options.saveEvery,
                                  snapshot: { img, n in try? ImageIO.write(img, to: "\(stem).iter\(n).\(ext)") }))
        var result = outcome.image
        reporter.finish()
        if photo && result.width < contentImage.width {
            // the colour mapping found at the processing size, applied to the full photo
            let low = try ImageIO.scale(contentImage, width: result.width, height: result.height)
            result = GuidedFilter.upsample(lowResult: Tensor(image: result), lowGuide: Tensor(image: low),
                                           guide: Tensor(image: contentImage), radius: PhotoCommand.upsampleRadius,
                                           epsilon: PhotoCommand.upsampleEpsilon).rgbImage()
        }
        try ImageIO.write(result, to: output)
        let b = outcome.breakdown
        var summary = String(format: "wrote %@ (%d×%d); loss content %.3g style %.3g tv %.3g",
                             output, result.width, result.height, b.content, b.style, b.tv)
        if config.photorealWeight > 0 { summary += String(format: " photoreal %.3g", b.photoreal) }
        reporter.note(summary)
    }
}

/// Fails early, before any work, if OUTPUT cannot be written or would destroy an input.
func checkOutput(_ output: String, inputs: [String]) throws {
    let ext = URL(fileURLWithPath: output).pathExtension.lowercased()
    guard ImageIO.writableExtensions.contains(ext) else {
        throw CLIError("\(output): unknown output format '.\(ext)' (use one of \(ImageIO.writableExtensions.joined(separator: ", ")))")
    }
    try checkOutputLocation(output, inputs: inputs)
}

/// The output folder exists and is writable, and the output is not one of the inputs.
func checkOutputLocation(_ output: String, inputs: [String]) throws {
    let outURL = URL(fileURLWithPath: output).standardizedFileURL.resolvingSymlinksInPath()
    for i in inputs where URL(fileURLWithPath: i).standardizedFileURL.resolvingSymlinksInPath() == outURL {
        throw CLIError("\(output): output would overwrite the input \(i); choose another output path")
    }
    let dir = outURL.deletingLastPathComponent().path
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
        throw CLIError("\(output): output folder \(dir) does not exist")
    }
    // try a create rather than ask access(): access() says yes to root everywhere, and a
    // read-only or special file system only refuses the create itself
    let probe = dir + "/.stylevid-probe-\(getpid())"
    let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0o600)
    guard fd >= 0 else {
        throw CLIError("\(output): output folder \(dir) is not writable (\(String(cString: strerror(errno))))")
    }
    close(fd); unlink(probe)
    if FileManager.default.fileExists(atPath: output, isDirectory: &isDir), isDir.boolValue {
        throw CLIError("\(output): is a folder")
    }
    AtomicFile.removeStale(for: output)
}

/// Ctrl-C / SIGTERM: remove any half-written output, say so, and exit.
func installInterruptHandler() {
    for sig in [SIGINT, SIGTERM] {
        signal(sig, SIG_IGN)
        let src = DispatchSource.makeSignalSource(signal: sig, queue: .global())
        src.setEventHandler {
            AtomicFile.removeAllTemporaryFiles()
            FileHandle.standardError.write("\nstylevid: interrupted; \(interruptMessage.value)\n".data(using: .utf8)!)
            // _exit, not exit: atexit handlers (OpenBLAS tears down its thread pool) would
            // run while the main thread is still inside a GEMM, and crash
            _exit(sig == SIGINT ? 130 : 143)
        }
        src.resume()
        signalSources.append(src)
    }
}
nonisolated(unsafe) var signalSources: [DispatchSourceSignal] = []

/// What the interrupt handler tells the user (the video path says how to resume).
final class InterruptMessage: @unchecked Sendable {
    private let lock = NSLock()
    private var text = "no output was written"
    var value: String { get { lock.lock(); defer { lock.unlock() }; return text } set { lock.lock(); text = newValue; lock.unlock() } }
}
let interruptMessage = InterruptMessage()

/// `stylevid photo-metrics RESULT CONTENT REFERENCE`: how much of the content's structure
/// a relit photo kept and how far its colours moved toward the reference.
struct PhotoMetrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "photo-metrics",
        abstract: "Measure a relit photo: structure kept from the content, colour distance to the reference (one JSON line).",
        discussion: """
            structure: mean of SSIM's structure term (Wang et al., 11×11 Gaussian windows) \
            between the result's and the content's luma, the content scaled to the result's \
            size; 1 = every edge in place, insensitive to the brightness and contrast changes \
            a relighting makes. lab_distance: √Σ(Δmean² + Δstd²) over the CIE Lab channels, \
            result vs reference (content_lab_distance: the same for the content, the \
            starting point). Lower lab_distance = colours closer to the reference's.
            """)
    @Argument(help: "The relit photo.") var result: String
    @Argument(help: "The photo it was made from.") var content: String
    @Argument(help: "The reference photo.") var reference: String

    func run() throws {
        let r = try ImageIO.read(result)
        let c = Tensor(image: try ImageIO.scale(try ImageIO.read(content), width: r.width, height: r.height))
        let ref = Tensor(image: try ImageIO.read(reference))
        let rt = Tensor(image: r)
        print(String(format: "{\"structure\": %.4f, \"lab_distance\": %.2f, \"content_lab_distance\": %.2f}",
                     ColorMetrics.structureSimilarity(rt, c), ColorMetrics.labDistance(rt, ref), ColorMetrics.labDistance(c, ref)))
    }
}

/// `stylevid style-metrics RESULT CONTENT STYLE`: how painted a result is.
struct StyleMetrics: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "style-metrics",
        abstract: "Measure how strongly a result carries a style (one JSON line).",
        discussion: """
            gram_distance: the mean over the default style layers of the relative Gram \
            distance ‖G(RESULT) − G(STYLE)‖ / ‖G(STYLE)‖ at RESULT's size (0 = the same \
            Gram matrices); content_gram_distance: the same for CONTENT, where an unpainted \
            result starts; ratio: the first over the second (lower = more painted). \
            content_distance: ‖F − F̂‖ / ‖F̂‖ of RESULT's features against CONTENT's at the \
            content layer (relu4_2), how far the subject moved (0 = not at all). \
            ratio_by_layer: each style layer's Gram distance over CONTENT's (relu1_1 first).
            """)
    @Argument(help: "The stylized image.") var result: String
    @Argument(help: "The image it was made from.") var content: String
    @Argument(help: "The style image.") var style: String
    @Option(help: "Model: \(StyleOptions.modelChoices).") var model: String?

    func run() throws {
        let r = try ImageIO.read(result)
        let c = try ImageIO.scale(try ImageIO.read(content), width: r.width, height: r.height)
        let s = try ImageIO.read(style)
        var config = StyleConfig()
        config.size = max(r.width, r.height)
        let stylizer = try Stylizer(network: try ModelLoader.load(path: try ModelLoader.resolve(model), for: config), config: config)
        let layers = try stylizer.gramDistances(r, style: s), own = try stylizer.gramDistances(c, style: s)
        let painted = layers.reduce(0, +) / Double(layers.count), plain = own.reduce(0, +) / Double(own.count)
        let moved = stylizer.contentDistance(r, content: c)
        let byLayer = zip(layers, own).map { String(format: "%.3f", $0 / max($1, 1e-12)) }.joined(separator: ", ")
        print(String(format: "{\"gram_distance\": %.4f, \"content_gram_distance\": %.4f, \"ratio\": %.3f, \"content_distance\": %.4f, \"ratio_by_layer\": [%@]}",
                     painted, plain, painted / max(plain, 1e-12), moved, byLayer))
    }
}
