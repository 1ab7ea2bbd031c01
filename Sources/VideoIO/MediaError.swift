import CFFmpeg

/// Everything that can go wrong reading or writing media, with the context a user needs
/// to fix it. `description` is the one line the CLI prints.
public enum MediaError: Error, CustomStringConvertible, Equatable {
    case fileNotFound(path: String)
    case openFailed(path: String, reason: String)
    case noVideoStream(path: String)
    case decodeFailed(path: String, reason: String)
    case unsupportedFormat(path: String, reason: String)
    case encodeFailed(path: String, reason: String)
    case writeFailed(path: String, reason: String)
    case invalidSize(width: Int, height: Int, reason: String)

    public var description: String {
        switch self {
        case .fileNotFound(let p): return "\(p): no such file"
        case .openFailed(let p, let r): return "\(p): cannot open: \(r)"
        case .noVideoStream(let p): return "\(p): contains no image or video stream"
        case .decodeFailed(let p, let r): return "\(p): cannot decode: \(r)"
        case .unsupportedFormat(let p, let r): return "\(p): unsupported format: \(r)"
        case .encodeFailed(let p, let r): return "\(p): cannot encode: \(r)"
        case .writeFailed(let p, let r): return "\(p): cannot write: \(r)"
        case .invalidSize(let w, let h, let r): return "invalid image size \(w)×\(h): \(r)"
        }
    }
}

/// FFmpeg's own message for an error code (av_strerror).
func avErrorString(_ code: Int32) -> String {
    var buf = [CChar](repeating: 0, count: Int(shim_av_error_max_string_size()))
    av_strerror(code, &buf, buf.count)
    return String(cString: buf)
}

/// Turns a negative FFmpeg return code into a thrown error built by `make`.
@discardableResult
func check(_ code: Int32, _ make: (String) -> MediaError) throws -> Int32 {
    if code < 0 { throw make(avErrorString(code)) }
    return code
}
