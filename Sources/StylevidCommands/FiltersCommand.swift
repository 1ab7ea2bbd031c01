import ArgumentParser
import Engine
import Foundation
import Photoreal
import VideoIO

/// `stylevid filters [NAME]`: the filters of `-vf` chains and their options.
struct FiltersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "filters",
        abstract: "List the filters of -vf chains, or show one filter's options.",
        discussion: """
            A chain is FFmpeg's syntax: filters separated by ',', options by ':', given \
            in order or as key=value; quote with '...' or escape with \\. Lists inside an \
            option use '|' (frames=1|10|20|40) or quotes (frames='1,10,20,40').
              stylevid in.mp4 out.mp4 -vf "scale=640:-2,style=painting.jpg:weight=200,temporal=200,iterations=100:10"
            """)
    @Argument(help: "A filter name.") var name: String?

    func run() throws {
        guard let name else {
            for f in FilterChain.filters {
                print("\(f.name.padding(toLength: 11, withPad: " ", startingAt: 0)) \(f.options.map(\.name).joined(separator: ":"))")
                print("            \(f.help)")
            }
            return
        }
        guard let def = FilterChain.definition(name) else {
            let hint = FilterChain.nearest(name, in: FilterChain.filters.map(\.name)).map { " (did you mean '\($0)'?)" } ?? ""
            throw CLIError("no filter named '\(name)'\(hint); `stylevid filters` lists them")
        }
        print(FilterChain.help(def))
    }
}

/// The configuration a run uses: the CLI options, then the -vf chain on top of them.
struct RunSettings {
    var config: StyleConfig
    var temporal: TemporalConfig
    var stylePaths: [String]
    var geometry: [GeometryOp] = []
    var passes: Int
    /// Segmentation masks (content, reference) from the options or the photoreal filter.
    var contentMask: String? = nil
    var referenceMask: String? = nil
    var maskMap: String? = nil
    /// What the job may use in memory (--max-memory).
    var maxMemory = MemoryPlan.defaultBudget

    /// `positional`: the STYLE paths given as arguments (each weighs --style-weight).
    init(config: StyleConfig, temporal: TemporalConfig, passes: Int, positional: [String], chain: String?,
         masks: StyleOptions? = nil) throws {
        self.config = config; self.temporal = temporal; self.passes = passes; stylePaths = positional
        contentMask = masks?.contentMask; referenceMask = masks?.styleMask; maskMap = masks?.maskMap
        maxMemory = try masks?.memoryLimit() ?? maxMemory
        var s = ChainSettings(style: config, temporal: temporal)
        if let chain {
            s = try FilterChain.parse(chain, onto: s)
            if let m = s.contentMask { contentMask = m }
            if let m = s.referenceMask { referenceMask = m }
            if (contentMask == nil) != (referenceMask == nil) {
                throw CLIError("-vf: photoreal needs both mask= and refmask= (or neither)")
            }
        }
        geometry = s.geometry
        self.passes = s.passes ?? passes
        do {
            (stylePaths, self.config, self.temporal) = try s.validated(positional: positional, explicitStart: masks?.`init` != nil,
                                                                       missingStyle: "give STYLE paths or a style= filter in -vf")
        } catch let e as EngineError { throw CLIError(chain == nil || e.description.hasPrefix("no style image") ? e.description : "-vf: \(e.description)") }
    }
}


/// Reads the segmentation masks, if any, and pairs their labels (errors name the file).
func loadSegmentation(_ settings: RunSettings) throws -> MaskPairing? {
    guard let cm = settings.contentMask, let rm = settings.referenceMask else { return nil }
    guard settings.stylePaths.count == 1 else {
        throw CLIError("segmentation masks need exactly one style/reference image, got \(settings.stylePaths.count)")
    }
    func read(_ path: String, _ what: String) throws -> LabelMap {
        let img = try ImageIO.read(path)
        do { return try LabelMap.decode(width: img.width, height: img.height, rgb: img.pixels, what: what) }
        catch let e as MaskError { throw CLIError("\(path): \(e.description)") }
    }
    let content = try read(cm, "content"), reference = try read(rm, "reference")
    do {
        let map = try settings.maskMap.map { try MaskPairing.parseMap($0) } ?? [:]
        return try MaskPairing(content: content, reference: reference, map: map)
    } catch let e as MaskError { throw CLIError(e.description) }
}
