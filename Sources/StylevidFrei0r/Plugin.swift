import CFrei0r
import Engine
import Foundation
import Temporal
import VideoIO

// stylevid as a frei0r 1.2 filter (RGBA8888): FFmpeg's `frei0r` filter, MLT (melt,
// Kdenlive, Shotcut) and GStreamer's frei0r elements load it. Every frame starts from the
// previous result warped by optical flow and is held by the temporal term, as in the
// CLI; the sequence of frames lives in a `FrameSequence` that every instance with the
// same settings shares, so it survives hosts that render with one instance per thread.
// The parameters are in Parameters.swift, the shared state in Shared.swift.

/// C strings that live as long as the library (hosts keep the pointers, and call the info
/// functions on every frame from several threads).
enum CStrings {
    static let name = strdup("stylevid")!
    static let author = strdup("the stylevid authors")!
    static let explanation = strdup("Neural style transfer with optical-flow temporal consistency")!
    static let paramNames = Parameter.allCases.map { strdup($0.name)! }
    static let paramExplanations = Parameter.allCases.map { strdup($0.explanation)! }
}

/// One host instance. Construction does no work (hosts construct instances only to read
/// the defaults); the network and the style load on the first frame, once per process.
final class Instance {
    let width: Int, height: Int
    var settings = PluginSettings()
    /// The strings as the host last set them, owned here (f0r_get_param_value hands them out).
    var strings: [Parameter: UnsafeMutablePointer<CChar>] = [.style: strdup("")!, .chain: strdup("")!]
    var sequence: FrameSequence?
    /// One thread per instance, says the spec; MLT's frame slicing breaks that rule.
    let lock = NSLock()

    init(width: Int, height: Int) { self.width = width; self.height = height }
    deinit {
        strings.values.forEach { free($0) }
        if let sequence { FrameSequences.release(sequence) }
    }

    func set(_ p: Parameter, string: UnsafePointer<CChar>?) {
        let s = string.map { String(cString: $0) } ?? ""
        free(strings[p]!)
        strings[p] = strdup(s)
        if p == .style { settings.style = s } else { settings.chain = s }
    }

    /// The sequence these settings and this frame size belong to.
    func sequenceFor(_ key: String) -> FrameSequence {
        if let s = sequence, s.key == key { return s }
        if let s = sequence { FrameSequences.release(s) }
        let s = FrameSequences.acquire(key)
        sequence = s
        return s
    }

    func update(time: Double, input: UnsafePointer<UInt32>, output: UnsafeMutablePointer<UInt32>) {
        lock.lock(); defer { lock.unlock() }
        let n = width * height
        // RGBA8888: bytes R, G, B, A in memory order
        let inBytes = UnsafeRawPointer(input).assumingMemoryBound(to: UInt8.self)
        let outBytes = UnsafeMutableRawPointer(output).assumingMemoryBound(to: UInt8.self)
        do {
            let video = try settings.resolve()
            let key = "\(video)|\(width)x\(height)"
            let styles = try video.stylePaths.map(SharedResources.image)
            var rgb = [UInt8](repeating: 0, count: n * 3)
            for i in 0..<n { rgb[3 * i] = inBytes[4 * i]; rgb[3 * i + 1] = inBytes[4 * i + 1]; rgb[3 * i + 2] = inBytes[4 * i + 2] }
            // the command line's sizing rule and memory budget (`FrameRenderer`); the result
            // is enlarged to the host's frame, as --output-size scaled does
            var styled = try sequenceFor(key).render(time: time, frame: RGBImage(width: width, height: height, pixels: rgb)) {
                try FrameRenderer(settings: video, sourceWidth: width, sourceHeight: height, styles: styles) { _ in try SharedResources.network() }
            }
            if styled.width != width || styled.height != height { styled = try ImageIO.scale(styled, width: width, height: height) }
            for i in 0..<n {
                outBytes[4 * i] = styled.pixels[3 * i]; outBytes[4 * i + 1] = styled.pixels[3 * i + 1]
                outBytes[4 * i + 2] = styled.pixels[3 * i + 2]; outBytes[4 * i + 3] = inBytes[4 * i + 3]
            }
        } catch let e as FilterChainError {
            SharedResources.report("chain: \(e.message) (at character \(e.position + 1))")
            output.update(from: input, count: n)
        } catch {
            SharedResources.report("\(error)")
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
    info.pointee.type = p.isString ? F0R_PARAM_STRING : F0R_PARAM_DOUBLE
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
    inst.lock.lock(); defer { inst.lock.unlock() }
    if p.isString {
        // a char** (the spec); the host's string lives only for this call
        inst.set(p, string: param.assumingMemoryBound(to: UnsafePointer<CChar>?.self).pointee)
    } else {
        let v = param.assumingMemoryBound(to: Double.self).pointee
        if v.isFinite { inst.settings.positions[p.rawValue] = min(1, max(0, v)) }
    }
}

@_cdecl("f0r_get_param_value")
public func stylevidF0rGetParamValue(_ instance: UnsafeMutableRawPointer?, _ param: UnsafeMutableRawPointer?, _ index: Int32) {
    guard let instance, let param, let p = Parameter(rawValue: Int(index)) else { return }
    let inst = Unmanaged<Instance>.fromOpaque(instance).takeUnretainedValue()
    inst.lock.lock(); defer { inst.lock.unlock() }
    if p.isString {
        param.assumingMemoryBound(to: UnsafeMutablePointer<CChar>?.self).pointee = inst.strings[p]
    } else {
        param.assumingMemoryBound(to: Double.self).pointee = inst.settings.positions[p.rawValue]
    }
}

@_cdecl("f0r_update")
public func stylevidF0rUpdate(_ instance: UnsafeMutableRawPointer?, _ time: Double,
                              _ inframe: UnsafePointer<UInt32>?, _ outframe: UnsafeMutablePointer<UInt32>?) {
    guard let instance, let inframe, let outframe else { return }
    Unmanaged<Instance>.fromOpaque(instance).takeUnretainedValue().update(time: time, input: inframe, output: outframe)
}
