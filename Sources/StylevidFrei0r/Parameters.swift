import Engine
import Foundation

/// Slider positions and the values they stand for. The frei0r spec defines a double
/// parameter as a value in [0, 1], and hosts build their sliders and clamp by that range
/// (GStreamer refuses anything outside it), so each real value has a documented mapping:
/// - weights: 10^(10·x − 3), a tenth of the slider per factor of ten (0.5 = 100,
///   0.7 = 10 000, 1 = 10^7); where 0 means off, x = 0 is exactly 0;
/// - evaluation counts: 1000·x rounded, at least 1 (0.1 = 100, 0.02 = 20);
/// - sizes: 8192·x in 16-pixel steps, at least 16 (0.046875 = 384).
public enum SliderScale: Sendable, Equatable {
    case weight(zeroIsOff: Bool)
    case count
    case size

    static let decades = 10.0, lowestExponent = -3.0
    static let countScale = 1000.0
    static let sizeScale = Double(StyleConfig.sizeRange.upperBound), sizeStep = 16.0

    /// The real value of slider position `x` (clamped to [0, 1]).
    public func value(_ x: Double) -> Double {
        let x = min(1, max(0, x))
        switch self {
        case .weight(let zeroIsOff):
            return zeroIsOff && x == 0 ? 0 : pow(10, SliderScale.decades * x + SliderScale.lowestExponent)
        case .count:
            return max(1, (SliderScale.countScale * x).rounded())
        case .size:
            return max(SliderScale.sizeStep, (SliderScale.sizeScale * x / SliderScale.sizeStep).rounded() * SliderScale.sizeStep)
        }
    }

    /// The slider position of `value` (the inverse of `value(_:)`, clamped to [0, 1]).
    public func position(_ value: Double) -> Double {
        let x: Double
        switch self {
        case .weight:
            if value <= 0 { return 0 }
            x = (log10(value) - SliderScale.lowestExponent) / SliderScale.decades
        case .count: x = value / SliderScale.countScale
        case .size: x = value / SliderScale.sizeScale
        }
        return min(1, max(0, x))
    }

    /// How a host's UI shows it: the text of each parameter's explanation.
    var rule: String {
        switch self {
        case .weight(let off): return "10^(10x-3): 0.1 per factor of ten, 0.5 = 100, 0.7 = 10000\(off ? ", 0 = off" : "")"
        case .count: return "1000x evaluations: 0.1 = 100"
        case .size: return "8192x pixels in steps of 16: 0.046875 = 384"
        }
    }
}

/// The plugin's parameters, in frei0r index order (FFmpeg's `filter_params` lists them in
/// this order, separated by `|`; MLT and GStreamer address them by name).
public enum Parameter: Int, CaseIterable, Sendable {
    case style, styleWeight, temporalWeight, iterations, laterIterations, size, photoreal, chain

    /// Lower case with dashes: GStreamer makes property names of them as they are.
    public var name: String {
        switch self {
        case .style: return "style"
        case .styleWeight: return "style-weight"
        case .temporalWeight: return "temporal-weight"
        case .iterations: return "iterations"
        case .laterIterations: return "later-iterations"
        case .size: return "size"
        case .photoreal: return "photoreal"
        case .chain: return "chain"
        }
    }

    public var isString: Bool { self == .style || self == .chain }

    /// nil for the string parameters.
    public var scale: SliderScale? {
        switch self {
        case .style, .chain: return nil
        case .styleWeight: return .weight(zeroIsOff: false)
        case .temporalWeight, .photoreal: return .weight(zeroIsOff: true)
        case .iterations, .laterIterations: return .count
        case .size: return .size
        }
    }

    /// The command line's video defaults (`Preset.video`), as slider positions.
    public var defaultPosition: Double {
        let style = Preset.video.style(), temporal = TemporalConfig()
        switch self {
        case .style, .chain: return 0
        case .styleWeight: return scale!.position(Double(style.styleWeight))
        case .temporalWeight: return scale!.position(Double(temporal.weight))
        case .iterations: return scale!.position(Double(style.iterations))
        case .laterIterations: return scale!.position(Double(TemporalConfig.defaultLaterIterations))
        case .size: return scale!.position(Double(style.size))
        case .photoreal: return scale!.position(Double(style.photorealWeight))
        }
    }

    public var explanation: String {
        let style = Preset.video.style()
        switch self {
        case .style:
            return "Path of the style image (a painting)"
        case .styleWeight:
            return "Style strength: weight of the style loss, default \(FilterOption.format(Double(style.styleWeight))). Slider \(scale!.rule)"
        case .temporalWeight:
            return "Temporal consistency: how strongly each frame holds to the previous result, default \(FilterOption.format(Double(TemporalConfig().weight))). Slider \(scale!.rule)"
        case .iterations:
            return "Optimizer evaluations for the first frame of a shot, default \(style.iterations). Slider \(scale!.rule)"
        case .laterIterations:
            return "Optimizer evaluations for each later frame, default \(TemporalConfig.defaultLaterIterations). Slider \(scale!.rule)"
        case .size:
            return "Largest processing size, longest side in pixels: frames are stylised at their own size up to it, never enlarged, as by the command line, and the result is scaled to the frame; default \(style.size). Slider \(scale!.rule)"
        case .photoreal:
            return "Photorealism: weight of the matting-Laplacian term for photo-to-photo relighting, default off (relighting: \(FilterOption.format(Double(StyleConfig.defaultPhotorealWeight)))). Slider \(scale!.rule)"
        case .chain:
            return "Filter chain in the syntax of stylevid's -vf, e.g. style=painting.jpg:weight=200,temporal=200,iterations=100:20; it overrides the sliders"
        }
    }
}

/// What the host has set: the slider positions and the two strings.
public struct PluginSettings: Equatable, Sendable {
    public var positions: [Double] = Parameter.allCases.map(\.defaultPosition)
    public var style = ""
    public var chain = ""
    public init() {}

    static func blank(_ s: String) -> Bool { s.allSatisfy(\.isWhitespace) }

    public func value(_ p: Parameter) -> Double { p.scale!.value(positions[p.rawValue]) }

    /// The settings of a run, as the command line resolves them for a video: the video
    /// preset, the sliders on top, then the chain on top of both (parsed by the same parser
    /// as `-vf`, with the same messages; its style filters replace the style parameter).
    /// The result is enlarged to the host's frame (`OutputSize.scaled`). Throws
    /// `EngineError` or `FilterChainError`.
    public func resolve() throws -> VideoSettings {
        var style = Preset.video.style()
        style.styleWeight = Float(value(.styleWeight))
        style.iterations = Int(value(.iterations))
        style.size = Int(value(.size))
        style.photorealWeight = Float(value(.photoreal))
        var temporal = TemporalConfig()
        temporal.weight = Float(value(.temporalWeight))
        temporal.laterIterations = Int(value(.laterIterations))
        var chained = ChainSettings(style: style, temporal: temporal)
        if !PluginSettings.blank(chain) {
            chained = try FilterChain.parse(chain, onto: chained)
            guard chained.geometry.isEmpty else {
                throw EngineError.invalidOption("chain: scale and crop change the frame, which a frei0r filter cannot; use the host's own scaling")
            }
            guard chained.contentMask == nil, chained.passes == nil else {
                throw EngineError.invalidOption("chain: segmentation masks and multi-pass need the whole video; use the stylevid command")
            }
            guard chained.mode == nil else {
                throw EngineError.invalidOption("chain: fast mode is not in the plugin yet; use the stylevid command (--mode fast)")
            }
        }
        // a style in the chain replaces the style parameter's
        let slider = chained.styles.isEmpty && !PluginSettings.blank(self.style) ? [self.style] : []
        let run = try chained.validated(positional: slider, explicitStart: false,
                                        missingStyle: "set the 'style' parameter to an image path, or a style= filter in 'chain'")
        var video = VideoSettings(style: run.style, temporal: run.temporal, stylePaths: run.paths)
        video.outputSize = .scaled
        return video
    }
}
