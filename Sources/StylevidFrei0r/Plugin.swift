import CFrei0r
import Engine
import Foundation
import Temporal
import VideoIO

// stylevid as a frei0r 1.2 filter (RGBA8888): FFmpeg's `frei0r` filter, Kdenlive,
// Shotcut and other hosts load it. Each instance keeps a TemporalStylizer, so every frame
// starts from the previous result warped by optical flow and is held by the temporal
// term, as in the CLI.

/// The parameters, in frei0r index order (FFmpeg: filter_params=style|weight|…).
enum Parameter: Int, CaseIterable {
    case style, styleWeight, temporalWeight, iterations, laterIterations, size, photoreal

    var name: String {
        switch self {
        case .style: return "style"
        case .styleWeight: return "style weight"
        case .temporalWeight: return "temporal weight"
        case .iterations: return "iterations"
        case .laterIterations: return "later iterations"
        case .size: return "size"
        case .photoreal: return "photoreal"
        }
    }
    var type: Int32 { self == .style ? F0R_PARAM_STRING : F0R_PARAM_DOUBLE }
    var explanation: String {
        switch self {
        case .style: return "Path of the style image"
        case .styleWeight: return "Style loss weight (default 100)"
        case .temporalWeight: return "Temporal consistency weight (default 200; 0 = independent frames)"
        case .iterations: return "Optimizer evaluations for the first frame (default 100)"
        case .laterIterations: return "Optimizer evaluations for each later frame (default \(TemporalConfig.defaultLaterIterations))"
        case .size: return "Processing size, longest side in pixels (default 384)"
        case .photoreal: return "Photorealism weight lambda of the matting-Laplacian term (0 = off; \(Int(StyleConfig.defaultPhotorealWeight)) for photo-to-photo relighting)"
        }
    }
    var defaultValue: Double {
        switch self {
        case .style: return 0
        case .styleWeight: return Double(StyleConfig().styleWeight)
        case .temporalWeight: return Double(TemporalConfig().weight)
        case .iterations: return 100
        case .laterIterations: return Double(TemporalConfig.defaultLaterIterations)
        case .size: return 384
        case .photoreal: return 0
        }
    }
}

/// C strings that live as long as the library (the host keeps the pointers).
enum CStrings {
    static let name = strdup("stylevid")!
    static let author = strdup("the stylevid authors")!
    static let explanation = strdup("Neural style transfer with optical-flow temporal consistency")!
    static let paramNames = Parameter.allCases.map { strdup($0.name)! }
    static let paramExplanations = Parameter.allCases.map { strdup($0.explanation)! }
}

final class Instance {
    let width: Int, height: Int
    var values: [Double] = Parameter.allCases.map(\.defaultValue)
    var stylePath: String = ""
    var styleCString: UnsafeMutablePointer<CChar> = strdup("")!
    var temporal: TemporalStylizer?
    var styles: [RGBImage] = []
    var builtFor: [Double] = []
    var builtStyle = ""
    var lastTime = -Double.infinity
    var reported = false
    /// Where the model comes from (tests point STYLEVID_HOME elsewhere).
    init(width: Int, height: Int) { self.width = width; self.height = height }
    deinit { free(styleCString) }

    func report(_ message: String) {
        guard !reported else { return }
        reported = true
        FileHandle.standardError.write("stylevid frei0r: \(message)\n".data(using: .utf8)!)
    }

    /// Builds (or rebuilds after a parameter change) the stylizer.
    func stylizer() throws -> TemporalStylizer {
        if let t = temporal, builtFor == values, builtStyle == stylePath { return t }
        guard !stylePath.isEmpty else { throw EngineError.invalidOption("no style image: set the 'style' parameter to an image path") }
        var config = StyleConfig()
        config.pooling = TemporalConfig.defaultPooling
        config.photorealWeight = Float(max(0, values[Parameter.photoreal.rawValue]))
        config.styleWeight = Float(values[Parameter.styleWeight.rawValue])
        config.iterations = max(1, Int(values[Parameter.iterations.rawValue]))
        config.size = min(4096, max(32, Int(values[Parameter.size.rawValue])))
        var tconfig = TemporalConfig()
        tconfig.weight = Float(values[Parameter.temporalWeight.rawValue])
        tconfig.laterIterations = max(1, Int(values[Parameter.laterIterations.rawValue]))
        try tconfig.validate()
        styles = [try ImageIO.read(stylePath)]
        let network = try ModelLoader.load(path: try ModelLoader.resolve(nil), for: config)
        let t = TemporalStylizer(stylizer: try Stylizer(network: network, config: config), config: tconfig)
        temporal = t; builtFor = values; builtStyle = stylePath
        return t
    }

    func update(time: Double, input: UnsafePointer<UInt32>, output: UnsafeMutablePointer<UInt32>) {
        let n = width * height
        // RGBA8888: bytes R, G, B, A in memory order
        let inBytes = UnsafeRawPointer(input).assumingMemoryBound(to: UInt8.self)
        let outBytes = UnsafeMutableRawPointer(output).assumingMemoryBound(to: UInt8.self)
        do {
            // a jump back in time (a seek) starts a new sequence
            if time < lastTime { temporal = nil }
            lastTime = time
            var rgb = [UInt8](repeating: 0, count: n * 3)
            for i in 0..<n { rgb[3 * i] = inBytes[4 * i]; rgb[3 * i + 1] = inBytes[4 * i + 1]; rgb[3 * i + 2] = inBytes[4 * i + 2] }
            let t = try stylizer()
            var styled = try t.next(RGBImage(width: width, height: height, pixels: rgb), styles: styles)
            if styled.width != width || styled.height != height { styled = try ImageIO.scale(styled, width: width, height: height) }
            for i in 0..<n {
                outBytes[4 * i] = styled.pixels[3 * i]; outBytes[4 * i + 1] = styled.pixels[3 * i + 1]
                outBytes[4 * i + 2] = styled.pixels[3 * i + 2]; outBytes[4 * i + 3] = inBytes[4 * i + 3]
            }
        } catch {
            // the host cannot be told: say it once, and pass the frame through
            report("\(error); frames pass through unchanged")
            output.update(from: input, count: n)
        }
    }
}

@_cdecl("f0r_init")
public func stylevidF0rInit() -> Int32 { 1 }

@_cdecl("f0r_deinit")
public func stylevidF0rDeinit() {}

@_cdecl("f0r_get_plugin_info")
public func stylevidF0rGetPluginInfo(_ info: UnsafeMutablePointer<f0r_plugin_info_t>?) {
    guard let info else { return }
    info.pointee.name = UnsafePointer(CStrings.name)
    info.pointee.author = UnsafePointer(CStrings.author)
    info.pointee.plugin_type = F0R_PLUGIN_TYPE_FILTER
    info.pointee.color_model = F0R_COLOR_MODEL_RGBA8888
    info.pointee.frei0r_version = FREI0R_MAJOR_VERSION
    info.pointee.major_version = 0
    info.pointee.minor_version = 1
    info.pointee.num_params = Int32(Parameter.allCases.count)
    info.pointee.explanation = UnsafePointer(CStrings.explanation)
}

@_cdecl("f0r_get_param_info")
public func stylevidF0rGetParamInfo(_ info: UnsafeMutablePointer<f0r_param_info_t>?, _ index: Int32) {
    guard let info, let p = Parameter(rawValue: Int(index)) else { return }
    info.pointee.name = UnsafePointer(CStrings.paramNames[p.rawValue])
    info.pointee.type = p.type
    info.pointee.explanation = UnsafePointer(CStrings.paramExplanations[p.rawValue])
}

@_cdecl("f0r_construct")
public func stylevidF0rConstruct(_ width: UInt32, _ height: UInt32) -> UnsafeMutableRawPointer? {
    guard width > 0, height > 0 else { return nil }
    return Unmanaged.passRetained(Instance(width: Int(width), height: Int(height))).toOpaque()
}

@_cdecl("f0r_destruct")
public func stylevidF0rDestruct(_ instance: UnsafeMutableRawPointer?) {
    guard let instance else { return }
    Unmanaged<Instance>.fromOpaque(instance).release()
}

@_cdecl("f0r_set_param_value")
public func stylevidF0rSetParamValue(_ instance: UnsafeMutableRawPointer?, _ param: UnsafeMutableRawPointer?, _ index: Int32) {
    guard let instance, let param, let p = Parameter(rawValue: Int(index)) else { return }
    let inst = Unmanaged<Instance>.fromOpaque(instance).takeUnretainedValue()
    if p == .style {
        guard let s = param.assumingMemoryBound(to: UnsafeMutablePointer<CChar>?.self).pointee else { return }
        inst.stylePath = String(cString: s)
        free(inst.styleCString)
        inst.styleCString = strdup(s)
    } else {
        let v = param.assumingMemoryBound(to: Double.self).pointee
        if v.isFinite { inst.values[p.rawValue] = v }
    }
}

@_cdecl("f0r_get_param_value")
public func stylevidF0rGetParamValue(_ instance: UnsafeMutableRawPointer?, _ param: UnsafeMutableRawPointer?, _ index: Int32) {
    guard let instance, let param, let p = Parameter(rawValue: Int(index)) else { return }
    let inst = Unmanaged<Instance>.fromOpaque(instance).takeUnretainedValue()
    if p == .style {
        param.assumingMemoryBound(to: UnsafeMutablePointer<CChar>?.self).pointee = inst.styleCString
    } else {
        param.assumingMemoryBound(to: Double.self).pointee = inst.values[p.rawValue]
    }
}

@_cdecl("f0r_update")
public func stylevidF0rUpdate(_ instance: UnsafeMutableRawPointer?, _ time: Double,
                              _ inframe: UnsafePointer<UInt32>?, _ outframe: UnsafeMutablePointer<UInt32>?) {
    guard let instance, let inframe, let outframe else { return }
    Unmanaged<Instance>.fromOpaque(instance).takeUnretainedValue().update(time: time, input: inframe, output: outframe)
}
