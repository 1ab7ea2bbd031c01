import ArgumentParser
import Engine
import Foundation
import Kernels
import VideoIO

/// `stylevid INPUT STYLE [STYLE...] OUTPUT`: the main form.
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Stylize INPUT with STYLE image(s) into OUTPUT (the default command).",
        shouldDisplay: false)

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

    func run() throws {
        // anything that is not a still image by its extension goes the video way
        // (FFmpeg probes the content; a non-media file fails there with a clear line)
        if ImageIO.isStillImagePath(paths[0]) {
            try ImageJob(paths: paths, options: options, chain: filter).run()
        } else {
            try VideoJob(paths: paths, options: options, video: video, chain: filter).run()
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

/// Reads the inputs, checks everything that can be checked before minutes of work,
/// stylizes, and writes the output atomically.
struct ImageJob {
    let paths: [String]
    let options: StyleOptions
    var chain: String? = nil

    func run() throws {
        let content = paths[0], output = paths[paths.count - 1]
        let positional = Array(paths[1..<(paths.count - 1)])
        let settings = try RunSettings(config: try options.makeConfig(styleCount: max(1, positional.count)),
                                       temporal: TemporalConfig(), passes: 1, positional: positional, chain: chain)
        var config = settings.config
        let styles = settings.stylePaths
        try checkOutput(output, inputs: [content] + styles)
        installInterruptHandler()

        var contentImage = try ImageIO.read(content)
        if !settings.geometry.isEmpty {
            do { contentImage = try settings.geometry.apply(to: contentImage) } catch let e as EngineError { throw CLIError("-vf: \(e.description)") }
            config.size = max(contentImage.width, contentImage.height)
        }
        let styleImages = try styles.map { try ImageIO.read($0) }
        var initImage: RGBImage? = nil
        if case .image(let p) = config.initMode { initImage = try ImageIO.read(p) }
        try checkMemory(config: config, width: contentImage.width, height: contentImage.height)

        let network = try ModelLoader.load(path: try ModelLoader.resolve(options.model), for: config)
        let stylizer = try Stylizer(network: network, config: config)
        let reporter = ProgressReporter(quiet: options.quiet)
        let (fw, fh) = Stylizer.fitSize(width: contentImage.width, height: contentImage.height, longest: config.size)
        let levels = stylizer.levelSizes(width: fw, height: fh).map { "\($0.0)×\($0.1)" }
        reporter.note("model \(network.name); \(config.iterations) iterations at \(levels.joined(separator: ", then "))")
        let stem = URL(fileURLWithPath: output).deletingPathExtension().path
        let ext = URL(fileURLWithPath: output).pathExtension
        let result = try stylizer.stylize(
            content: contentImage, styles: styleImages, initImage: initImage,
            progress: { reporter.update($0) },
            snapshotEvery: options.saveEvery,
            snapshot: { img, n in try? ImageIO.write(img, to: "\(stem).iter\(n).\(ext)") })
        reporter.finish()
        try ImageIO.write(result, to: output)
        let b = stylizer.lastBreakdown
        reporter.note(String(format: "wrote %@ (%d×%d); loss content %.3g style %.3g tv %.3g",
                             output, result.width, result.height, b.content, b.style, b.tv))
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
    guard access(dir, W_OK) == 0 else { throw CLIError("\(output): output folder \(dir) is not writable") }
    if FileManager.default.fileExists(atPath: output, isDirectory: &isDir), isDir.boolValue {
        throw CLIError("\(output): is a folder")
    }
    AtomicFile.removeStale(for: output)
}

/// Estimates the peak memory of one evaluation and refuses sizes that cannot fit.
func checkMemory(config: StyleConfig, width: Int, height: Int) throws {
    let (w, h) = Stylizer.fitSize(width: width, height: height, longest: config.size)
    // activations up to relu5_1 hold 266 (VGG16) to 290 (VGG19) floats per input pixel
    // (64·2 + 128·2/4 + 256·4/16 + 512·4/64 + 512/256); gradients, pooling outputs and
    // L-BFGS history add about as much again
    let bytes = Double(w * h) * 290 * 4 * 2.5
    let physical = Double(ProcessInfo.processInfo.physicalMemory)
    if bytes > physical * 0.8 {
        throw CLIError(String(format: "--size %d needs about %.1f GB of memory at %d×%d; this machine has %.1f GB. Use a smaller --size",
                              config.size, bytes / 1e9, w, h, physical / 1e9))
    }
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
