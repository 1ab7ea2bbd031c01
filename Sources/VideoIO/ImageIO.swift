import CFFmpeg
import Foundation

/// Still images (PNG, JPEG, WebP, BMP, TIFF, ...) read and written through FFmpeg's image
/// codecs, so stills and video frames share one decoder path.
public enum ImageIO {
    /// File extensions `write` can encode, with the codec behind each.
    public static let writableExtensions = ["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff"]

    /// Extensions treated as still images by the CLI (anything else is probed as video).
    public static let stillExtensions: Set<String> = ["png", "jpg", "jpeg", "webp", "bmp", "tif", "tiff", "gif", "ppm", "pgm", "tga"]

    public static func isStillImagePath(_ path: String) -> Bool {
        stillExtensions.contains(URL(fileURLWithPath: path).pathExtension.lowercased())
    }

    /// Decodes the first frame of `path` to RGB.
    public static func read(_ path: String) throws -> RGBImage {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw MediaError.fileNotFound(path: path)
        }
        if isDir.boolValue { throw MediaError.openFailed(path: path, reason: "is a folder") }
        av_log_set_level(AV_LOG_QUIET)
        let input = try InputContext(path: path)
        try check(avformat_find_stream_info(input.ptr, nil)) { MediaError.openFailed(path: path, reason: $0) }
        var decoder: UnsafePointer<AVCodec>?
        let index = av_find_best_stream(input.ptr, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0)
        guard index >= 0, let codec = decoder else { throw MediaError.noVideoStream(path: path) }
        let stream = input.ptr.pointee.streams[Int(index)]!
        let ctx = try CodecContext(codec: codec)
        try check(avcodec_parameters_to_context(ctx.ptr, stream.pointee.codecpar)) { MediaError.decodeFailed(path: path, reason: $0) }
        try check(avcodec_open2(ctx.ptr, codec, nil)) { MediaError.decodeFailed(path: path, reason: $0) }
        let packet = Packet(), frame = try Frame()
        var got = false
        var lastError = "no frame in the file"
        readLoop: while true {
            let rc = av_read_frame(input.ptr, packet.ptr)
            if rc < 0 { avcodec_send_packet(ctx.ptr, nil) } else if packet.ptr.pointee.stream_index != index {
                av_packet_unref(packet.ptr); continue
            } else {
                let s = avcodec_send_packet(ctx.ptr, packet.ptr)
                av_packet_unref(packet.ptr)
                if s < 0 && s != shim_averror_eagain() { lastError = avErrorString(s) }
            }
            while true {
                let r = avcodec_receive_frame(ctx.ptr, frame.ptr)
                if r == 0 { got = true; break readLoop }
                if r == shim_averror_eagain() { break }
                if r != shim_averror_eof() { lastError = avErrorString(r) }
                break readLoop
            }
            if rc < 0 { break }
        }
        guard got else { throw MediaError.decodeFailed(path: path, reason: lastError) }
        let w = Int(frame.ptr.pointee.width), h = Int(frame.ptr.pointee.height)
        guard w > 0, h > 0 else { throw MediaError.decodeFailed(path: path, reason: "image has size \(w)×\(h)") }
        return try toRGB(frame, path: path)
    }

    /// Converts a decoded frame to RGB. Images with an alpha channel are composited over
    /// white, as a viewer shows them: the colour under transparent pixels is arbitrary
    /// (often white or black) and must not leak into the result.
    static func toRGB(_ frame: Frame, path: String) throws -> RGBImage {
        let w = Int(frame.ptr.pointee.width), h = Int(frame.ptr.pointee.height)
        let fmt = AVPixelFormat(rawValue: frame.ptr.pointee.format)
        if fmt == AV_PIX_FMT_RGB24 { return RGBImage(rgbFrame: frame) }
        if let desc = av_pix_fmt_desc_get(fmt), desc.pointee.flags & UInt64(AV_PIX_FMT_FLAG_ALPHA) != 0 {
            let rgba = try Frame(format: AV_PIX_FMT_RGBA, width: w, height: h)
            let scaler = try Scaler(srcWidth: w, srcHeight: h, srcFormat: fmt,
                                    dstWidth: w, dstHeight: h, dstFormat: AV_PIX_FMT_RGBA, downscaling: false)
            do { try scaler.scale(frame, into: rgba) } catch { throw MediaError.decodeFailed(path: path, reason: "\(error)") }
            let ls = Int(rgba.ptr.pointee.linesize.0), base = rgba.ptr.pointee.data.0!
            var px = [UInt8](repeating: 0, count: w * h * 3)
            for y in 0..<h {
                let row = base + y * ls
                for x in 0..<w {
                    let a = UInt32(row[4 * x + 3])
                    for c in 0..<3 {
                        px[(y * w + x) * 3 + c] = UInt8((UInt32(row[4 * x + c]) * a + 255 * (255 - a) + 127) / 255)
                    }
                }
            }
            return RGBImage(width: w, height: h, pixels: px)
        }
        let out = try Frame(format: AV_PIX_FMT_RGB24, width: w, height: h)
        let scaler = try Scaler(srcWidth: w, srcHeight: h, srcFormat: fmt,
                                dstWidth: w, dstHeight: h, dstFormat: AV_PIX_FMT_RGB24, downscaling: false)
        do { try scaler.scale(frame, into: out) } catch { throw MediaError.decodeFailed(path: path, reason: "\(error)") }
        return RGBImage(rgbFrame: out)
    }

    /// Encodes `image` into `path` (format from the extension) atomically: on any failure
    /// the destination is left as it was. `quality` is 1...100 for JPEG and WebP.
    public static func write(_ image: RGBImage, to path: String, quality: Int = 95) throws {
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        let bytes = try encode(image, format: ext, path: path, quality: quality)
        let file = try AtomicFile(destination: path)
        try bytes.withUnsafeBytes { try file.write($0) }
        try file.commit()
    }

    /// Encodes to the bytes of one image file of the given format ("png", "jpg", ...).
    public static func encode(_ image: RGBImage, format ext: String, path: String = "", quality: Int = 95) throws -> [UInt8] {
        guard image.width > 0, image.height > 0 else {
            throw MediaError.invalidSize(width: image.width, height: image.height, reason: "empty image")
        }
        av_log_set_level(AV_LOG_QUIET)
        let codec: UnsafePointer<AVCodec>?
        let pixfmt: AVPixelFormat
        switch ext {
        case "png": codec = avcodec_find_encoder(AV_CODEC_ID_PNG); pixfmt = AV_PIX_FMT_RGB24
        case "jpg", "jpeg": codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG); pixfmt = AV_PIX_FMT_YUVJ444P
        case "webp": codec = avcodec_find_encoder_by_name("libwebp"); pixfmt = AV_PIX_FMT_YUV420P
        case "bmp": codec = avcodec_find_encoder(AV_CODEC_ID_BMP); pixfmt = AV_PIX_FMT_BGR24
        case "tif", "tiff": codec = avcodec_find_encoder(AV_CODEC_ID_TIFF); pixfmt = AV_PIX_FMT_RGB24
        default:
            throw MediaError.unsupportedFormat(path: path, reason: "unknown image extension '.\(ext)' (use one of \(writableExtensions.joined(separator: ", ")))")
        }
        guard let enc = codec else {
            throw MediaError.unsupportedFormat(path: path, reason: "this FFmpeg has no encoder for .\(ext)")
        }
        let ctx = try CodecContext(codec: enc)
        ctx.ptr.pointee.width = Int32(image.width)
        ctx.ptr.pointee.height = Int32(image.height)
        ctx.ptr.pointee.pix_fmt = pixfmt
        ctx.ptr.pointee.time_base = AVRational(num: 1, den: 25)
        let q = Swift.min(100, Swift.max(1, quality))
        if enc.pointee.id == AV_CODEC_ID_MJPEG {
            // qscale 1 (best) ... 31 (worst)
            ctx.ptr.pointee.flags |= shim_codec_flag_qscale()
            ctx.ptr.pointee.global_quality = shim_lambda(Int32(max(1, 31 - (q * 30) / 100)))
            ctx.ptr.pointee.color_range = AVCOL_RANGE_JPEG
        }
        if ext == "webp" { av_opt_set_double(ctx.ptr.pointee.priv_data, "quality", Double(q), 0) }
        try check(avcodec_open2(ctx.ptr, enc, nil)) { MediaError.encodeFailed(path: path, reason: $0) }
        let rgb = try image.makeFrame()
        var frame = rgb
        if pixfmt != AV_PIX_FMT_RGB24 {
            frame = try Frame(format: pixfmt, width: image.width, height: image.height)
            let scaler = try Scaler(srcWidth: image.width, srcHeight: image.height, srcFormat: AV_PIX_FMT_RGB24,
                                    dstWidth: image.width, dstHeight: image.height, dstFormat: pixfmt, downscaling: false)
            try scaler.scale(rgb, into: frame)
        }
        frame.ptr.pointee.pts = 0
        try check(avcodec_send_frame(ctx.ptr, frame.ptr)) { MediaError.encodeFailed(path: path, reason: $0) }
        try check(avcodec_send_frame(ctx.ptr, nil)) { MediaError.encodeFailed(path: path, reason: $0) }
        var out = [UInt8]()
        let packet = Packet()
        while true {
            let r = avcodec_receive_packet(ctx.ptr, packet.ptr)
            if r == shim_averror_eof() || r == shim_averror_eagain() { break }
            try check(r) { MediaError.encodeFailed(path: path, reason: $0) }
            out.append(contentsOf: UnsafeBufferPointer(start: packet.ptr.pointee.data, count: Int(packet.ptr.pointee.size)))
            av_packet_unref(packet.ptr)
        }
        guard !out.isEmpty else { throw MediaError.encodeFailed(path: path, reason: "encoder produced no data") }
        return out
    }

    /// High-quality resampling through swscale (area filter when shrinking, bicubic when
    /// enlarging).
    public static func scale(_ image: RGBImage, width: Int, height: Int) throws -> RGBImage {
        guard width > 0, height > 0 else {
            throw MediaError.invalidSize(width: width, height: height, reason: "sizes must be positive")
        }
        if width == image.width && height == image.height { return image }
        let src = try image.makeFrame()
        let dst = try Frame(format: AV_PIX_FMT_RGB24, width: width, height: height)
        let scaler = try Scaler(srcWidth: image.width, srcHeight: image.height, srcFormat: AV_PIX_FMT_RGB24,
                                dstWidth: width, dstHeight: height, dstFormat: AV_PIX_FMT_RGB24,
                                downscaling: width * height < image.width * image.height)
        try scaler.scale(src, into: dst)
        return RGBImage(rgbFrame: dst)
    }
}
