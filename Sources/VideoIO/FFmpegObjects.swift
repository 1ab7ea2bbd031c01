import CFFmpeg

/// Owners of FFmpeg objects: each frees its C resource in deinit, and no raw pointer
/// leaves VideoIO's public API.
final class Frame {
    var ptr: UnsafeMutablePointer<AVFrame>
    init() throws {
        guard let f = av_frame_alloc() else { throw MediaError.decodeFailed(path: "", reason: "out of memory") }
        ptr = f
    }
    /// A frame with its own buffers, of the given format and size.
    convenience init(format: AVPixelFormat, width: Int, height: Int) throws {
        try self.init()
        ptr.pointee.format = format.rawValue
        ptr.pointee.width = Int32(width)
        ptr.pointee.height = Int32(height)
        try check(av_frame_get_buffer(ptr, 0)) { MediaError.encodeFailed(path: "", reason: "frame allocation: \($0)") }
        // Zeroed: a row is padded to the line alignment, and swscale's vector code reads
        // past the last pixel into that padding. Left as malloc returned it, the garbage
        // there changed the last column of every scaled image from one run to the next.
        withUnsafeBytes(of: ptr.pointee.buf) { refs in
            for ref in refs.bindMemory(to: UnsafeMutablePointer<AVBufferRef>?.self) {
                if let r = ref { r.pointee.data.initialize(repeating: 0, count: r.pointee.size) }
            }
        }
    }
    deinit { var p: UnsafeMutablePointer<AVFrame>? = ptr; av_frame_free(&p) }
}

final class Packet {
    var ptr: UnsafeMutablePointer<AVPacket>
    init() { ptr = av_packet_alloc()! }
    deinit { var p: UnsafeMutablePointer<AVPacket>? = ptr; av_packet_free(&p) }
}

final class CodecContext {
    var ptr: UnsafeMutablePointer<AVCodecContext>
    init(codec: UnsafePointer<AVCodec>?) throws {
        guard let c = avcodec_alloc_context3(codec) else {
            throw MediaError.decodeFailed(path: "", reason: "cannot allocate a codec context")
        }
        ptr = c
    }
    deinit { var p: UnsafeMutablePointer<AVCodecContext>? = ptr; avcodec_free_context(&p) }
}

final class InputContext {
    var ptr: UnsafeMutablePointer<AVFormatContext>
    init(path: String) throws {
        var ctx: UnsafeMutablePointer<AVFormatContext>?
        let rc = avformat_open_input(&ctx, path, nil, nil)
        guard rc >= 0, let c = ctx else {
            throw MediaError.openFailed(path: path, reason: avErrorString(rc))
        }
        ptr = c
    }
    deinit { var p: UnsafeMutablePointer<AVFormatContext>? = ptr; avformat_close_input(&p) }
}

/// Pixel-format / size conversion through swscale, frame to frame.
final class Scaler {
    let ptr: OpaquePointer
    init(srcWidth: Int, srcHeight: Int, srcFormat: AVPixelFormat,
         dstWidth: Int, dstHeight: Int, dstFormat: AVPixelFormat, downscaling: Bool) throws {
        let flags = (downscaling ? shim_sws_area() : shim_sws_bicubic()) | shim_sws_accurate()
        guard let s = sws_getContext(Int32(srcWidth), Int32(srcHeight), srcFormat,
                                     Int32(dstWidth), Int32(dstHeight), dstFormat,
                                     flags, nil, nil, nil) else {
            throw MediaError.unsupportedFormat(path: "", reason: "no conversion from \(pixelFormatName(srcFormat)) \(srcWidth)×\(srcHeight) to \(pixelFormatName(dstFormat)) \(dstWidth)×\(dstHeight)")
        }
        ptr = s
    }
    func scale(_ src: Frame, into dst: Frame) throws {
        try check(sws_scale_frame(ptr, dst.ptr, src.ptr)) { MediaError.decodeFailed(path: "", reason: "pixel conversion: \($0)") }
    }
    deinit { sws_freeContext(ptr) }
}

func pixelFormatName(_ f: AVPixelFormat) -> String {
    guard let n = av_get_pix_fmt_name(f) else { return "unknown" }
    return String(cString: n)
}

extension RGBImage {
    /// Copies an RGB24 frame's rows out into a packed image.
    init(rgbFrame f: Frame) {
        let w = Int(f.ptr.pointee.width), h = Int(f.ptr.pointee.height)
        let ls = Int(f.ptr.pointee.linesize.0)
        let base = f.ptr.pointee.data.0!
        var px = [UInt8](repeating: 0, count: w * h * 3)
        px.withUnsafeMutableBufferPointer { dst in
            for y in 0..<h {
                (dst.baseAddress! + y * w * 3).update(from: base + y * ls, count: w * 3)
            }
        }
        self.init(width: w, height: h, pixels: px)
    }

    /// A new RGB24 frame holding this image.
    func makeFrame() throws -> Frame {
        let f = try Frame(format: AV_PIX_FMT_RGB24, width: width, height: height)
        let ls = Int(f.ptr.pointee.linesize.0)
        let base = f.ptr.pointee.data.0!
        pixels.withUnsafeBufferPointer { src in
            for y in 0..<height {
                (base + y * ls).update(from: src.baseAddress! + y * width * 3, count: width * 3)
            }
        }
        return f
    }
}
