import CFFmpeg
import Foundation

/// A rational number as FFmpeg uses them (time bases, frame rates).
public struct Rational: Equatable, Sendable, CustomStringConvertible {
    public var num: Int32
    public var den: Int32
    public init(_ num: Int32, _ den: Int32) { self.num = num; self.den = den }
    init(_ r: AVRational) { num = r.num; den = r.den }
    var av: AVRational { AVRational(num: num, den: den) }
    public var value: Double { den == 0 ? 0 : Double(num) / Double(den) }
    public var description: String { "\(num)/\(den)" }
}

/// One stream of a media file, as `stylevid probe` shows it.
public struct StreamInfo: Sendable {
    public var index: Int
    public var kind: String          // video, audio, subtitle, data
    public var codec: String
    public var details: String
}

/// What a video file is: its video stream's properties and every stream's summary.
public struct VideoInfo: Sendable {
    public var path: String
    public var container: String
    public var width: Int
    public var height: Int
    public var frameRate: Rational     // average (r_frame_rate when unknown)
    public var timeBase: Rational
    public var duration: Double?       // seconds
    public var frameCount: Int?        // from the container, or estimated from duration × rate
    public var rotation: Int           // degrees, from the display matrix as ffprobe shows it (0, 90, 180, 270)
    public var videoStreamIndex: Int
    public var streams: [StreamInfo]
}

/// A decoded frame converted to RGB at the processing size, with its timestamp.
public struct VideoFrame: Sendable {
    public var image: RGBImage
    public var pts: Int64            // in `VideoInfo.timeBase`
    public var time: Double          // seconds
    public var index: Int            // 0-based, in decode order of the whole stream
}

/// Decodes the best video stream of any file FFmpeg reads and converts each frame to RGB
/// at a requested size. Timestamps are carried, not assumed (variable frame rate works).
public final class VideoReader {
    public let info: VideoInfo
    public let outputWidth: Int
    public let outputHeight: Int
    /// Packets the decoder rejected (corrupt or truncated data); decoding goes on past them.
    public private(set) var corruptPackets = 0
    public private(set) var lastDecodeError: String?

    private let input: InputContext
    private let codec: CodecContext
    private let streamIndex: Int32
    private let packet = Packet()
    private let decoded: Frame
    private var scaler: Scaler?
    private var scalerKey: (Int32, Int32, Int32) = (0, 0, 0)
    private var draining = false
    private var finished = false
    private var nextIndex = 0
    /// After `seek`: frames before this pts are dropped unconverted.
    private var seekTarget: Int64?
    /// The stream's first frame (pts, seconds): seen while decoding, or given to `seek`.
    public private(set) var videoStart: (pts: Int64, time: Double)?

    /// `size`: longest side of the output (aspect kept, even dimensions); nil = source size.
    public convenience init(path: String, longestSide size: Int? = nil) throws {
        try self.init(path: path, sizing: { _ in size })
    }

    /// `sizing` gets the source's longest side and returns the output's (nil = source
    /// size), so a caller can cap or floor the size without opening the file twice.
    public init(path: String, sizing: (Int) -> Int?) throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw MediaError.fileNotFound(path: path) }
        if isDir.boolValue { throw MediaError.openFailed(path: path, reason: "is a folder") }
        av_log_set_level(AV_LOG_QUIET)
        input = try InputContext(path: path)
        try check(avformat_find_stream_info(input.ptr, nil)) { MediaError.openFailed(path: path, reason: $0) }
        var dec: UnsafePointer<AVCodec>?
        let idx = av_find_best_stream(input.ptr, AVMEDIA_TYPE_VIDEO, -1, -1, &dec, 0)
        guard idx >= 0, let decoder = dec else { throw MediaError.noVideoStream(path: path) }
        streamIndex = idx
        let stream = input.ptr.pointee.streams[Int(idx)]!
        codec = try CodecContext(codec: decoder)
        try check(avcodec_parameters_to_context(codec.ptr, stream.pointee.codecpar)) { MediaError.decodeFailed(path: path, reason: $0) }
        codec.ptr.pointee.thread_count = 0   // let FFmpeg pick
        try check(avcodec_open2(codec.ptr, decoder, nil)) { MediaError.decodeFailed(path: path, reason: $0) }
        decoded = try Frame()
        // discard every other stream while demuxing
        for i in 0..<Int(input.ptr.pointee.nb_streams) where i != Int(idx) {
            input.ptr.pointee.streams[i]!.pointee.discard = AVDISCARD_ALL
        }

        let par = stream.pointee.codecpar.pointee
        let w = Int(par.width), h = Int(par.height)
        guard w > 0 && h > 0 else { throw MediaError.decodeFailed(path: path, reason: "video stream has size \(w)×\(h)") }
        let tb = Rational(stream.pointee.time_base)
        var rate = Rational(stream.pointee.avg_frame_rate)
        if rate.num <= 0 || rate.den <= 0 { rate = Rational(stream.pointee.r_frame_rate) }
        var duration: Double? = nil
        if stream.pointee.duration > 0 { duration = Double(stream.pointee.duration) * tb.value }
        else if input.ptr.pointee.duration > 0 { duration = Double(input.ptr.pointee.duration) / Double(AV_TIME_BASE) }
        var count: Int? = stream.pointee.nb_frames > 0 ? Int(stream.pointee.nb_frames) : nil
        if count == nil, let d = duration, rate.value > 0 { count = Int((d * rate.value).rounded()) }
        var rotation = 0
        if let sd = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, nil) {
            let deg = av_display_rotation_get(UnsafeRawPointer(sd).assumingMemoryBound(to: Int32.self))
            // the angle as ffprobe reports it (and as the legacy `rotate` tag gives it)
            if deg.isFinite { rotation = ((Int(deg.rounded()) % 360) + 360) % 360 }
        }
        info = VideoInfo(path: path, container: String(cString: input.ptr.pointee.iformat.pointee.name),
                         width: w, height: h, frameRate: rate, timeBase: tb, duration: duration, frameCount: count,
                         rotation: rotation, videoStreamIndex: Int(idx), streams: VideoReader.describeStreams(input.ptr))
        if let s = sizing(max(w, h)) {
            guard s >= 2 else { throw MediaError.invalidSize(width: s, height: s, reason: "processing size must be at least 2") }
            (outputWidth, outputHeight) = VideoReader.scaledSize(width: w, height: h, longest: s)
        } else {
            outputWidth = w; outputHeight = h
        }
    }

    /// The size frames of width×height are decoded at for a longest side of `longest`:
    /// aspect kept, both sides even.
    public static func scaledSize(width w: Int, height h: Int, longest s: Int) -> (width: Int, height: Int) {
        let scale = Double(s) / Double(max(w, h))
        return (max(2, Int((Double(w) * scale / 2).rounded()) * 2), max(2, Int((Double(h) * scale / 2).rounded()) * 2))
    }

    static func describeStreams(_ ctx: UnsafeMutablePointer<AVFormatContext>) -> [StreamInfo] {
        (0..<Int(ctx.pointee.nb_streams)).map { i in
            let s = ctx.pointee.streams[i]!
            let p = s.pointee.codecpar.pointee
            let codecName = avcodec_get_name(p.codec_id).map { String(cString: $0) } ?? "unknown"
            var kind = "data", details = ""
            switch p.codec_type {
            case AVMEDIA_TYPE_VIDEO:
                kind = "video"
                let r = Rational(s.pointee.avg_frame_rate)
                details = "\(p.width)×\(p.height)" + (r.value > 0 ? String(format: ", %.3f fps", r.value) : "")
                    + ", time base \(Rational(s.pointee.time_base))"
                if let f = av_get_pix_fmt_name(AVPixelFormat(rawValue: p.format)) { details += ", " + String(cString: f) }
            case AVMEDIA_TYPE_AUDIO:
                kind = "audio"
                details = "\(p.sample_rate) Hz, \(p.ch_layout.nb_channels) channel\(p.ch_layout.nb_channels == 1 ? "" : "s")"
            case AVMEDIA_TYPE_SUBTITLE: kind = "subtitle"
            default: break
            }
            if s.pointee.duration > 0 {
                details += String(format: ", %.2f s", Double(s.pointee.duration) * Rational(s.pointee.time_base).value)
            }
            return StreamInfo(index: i, kind: kind, codec: codecName, details: details)
        }
    }

    /// Starts decoding at the frame shown at `pts` (input time base), which is frame
    /// `index` of the stream, the stream's first frame being `videoStart`: the demuxer
    /// jumps to the key frame before it and the frames in between are decoded but not
    /// converted. For a part of a long video (a cluster task) this saves decoding and
    /// converting everything before it. Where the container cannot seek there, it decodes
    /// from the start, as without `seek`. Call before the first `nextFrame`.
    public func seek(toPts pts: Int64, index: Int, videoStart start: (pts: Int64, time: Double)) {
        precondition(nextIndex == 0 && !finished, "VideoReader.seek before decoding only")
        guard index > 0 else { return }
        guard av_seek_frame(input.ptr, streamIndex, pts, AVSEEK_FLAG_BACKWARD) >= 0 else { return }
        avcodec_flush_buffers(codec.ptr)
        seekTarget = pts
        nextIndex = index
        videoStart = start
    }

    /// Back to the stream's start after a seek that landed past its target.
    private func rewind() throws {
        let start = input.ptr.pointee.streams[Int(streamIndex)]!.pointee.start_time
        try check(av_seek_frame(input.ptr, streamIndex, start == shim_nopts_value() ? 0 : start, AVSEEK_FLAG_BACKWARD)) {
            MediaError.decodeFailed(path: info.path, reason: "cannot seek back to the start: \($0)")
        }
        avcodec_flush_buffers(codec.ptr)
        seekTarget = nil
        nextIndex = 0
        videoStart = nil
    }

    /// The next frame, or nil at the end of the stream. Corrupt packets are skipped and
    /// counted (`corruptPackets`), so a damaged file yields every frame that can be decoded.
    public func nextFrame() throws -> VideoFrame? {
        while !finished {
            let r = avcodec_receive_frame(codec.ptr, decoded.ptr)
            if r == 0, let target = seekTarget {
                let pts = frameTimestamp()
                if pts < target { av_frame_unref(decoded.ptr); continue }
                if pts > target { av_frame_unref(decoded.ptr); try rewind(); continue }   // landed past it
                seekTarget = nil
            }
            if r == 0 { return try convert() }
            if r == shim_averror_eof() { finished = true; break }
            if r != shim_averror_eagain() {
                corruptPackets += 1; lastDecodeError = avErrorString(r)
                continue
            }
            if draining { finished = true; break }
            let rc = av_read_frame(input.ptr, packet.ptr)
            if rc < 0 {
                if rc != shim_averror_eof() { lastDecodeError = avErrorString(rc); corruptPackets += 1 }
                draining = true
                avcodec_send_packet(codec.ptr, nil)
                continue
            }
            defer { av_packet_unref(packet.ptr) }
            if packet.ptr.pointee.stream_index != streamIndex { continue }
            let s = avcodec_send_packet(codec.ptr, packet.ptr)
            if s < 0 && s != shim_averror_eagain() { corruptPackets += 1; lastDecodeError = avErrorString(s) }
        }
        return nil
    }

    private func convert() throws -> VideoFrame {
        defer { av_frame_unref(decoded.ptr) }
        let f = decoded.ptr.pointee
        let key = (f.width, f.height, f.format)
        if scaler == nil || key != scalerKey {
            scaler = try Scaler(srcWidth: Int(f.width), srcHeight: Int(f.height), srcFormat: AVPixelFormat(rawValue: f.format),
                                dstWidth: outputWidth, dstHeight: outputHeight, dstFormat: AV_PIX_FMT_RGB24,
                                downscaling: outputWidth * outputHeight < Int(f.width) * Int(f.height))
            scalerKey = key
        }
        let out = try Frame(format: AV_PIX_FMT_RGB24, width: outputWidth, height: outputHeight)
        try scaler!.scale(decoded, into: out)
        let pts = frameTimestamp(), time = Double(pts) * info.timeBase.value
        if videoStart == nil { videoStart = (pts, time) }
        defer { nextIndex += 1 }
        return VideoFrame(image: RGBImage(rgbFrame: out), pts: pts, time: time, index: nextIndex)
    }

    /// The decoded frame's timestamp; without one, derived from the frame rate.
    private func frameTimestamp() -> Int64 {
        let f = decoded.ptr.pointee
        var pts = f.best_effort_timestamp
        if pts == shim_nopts_value() { pts = f.pts }
        if pts == shim_nopts_value() {
            let r = info.frameRate.value > 0 ? info.frameRate.value : 25
            pts = Int64((Double(nextIndex) / r / info.timeBase.value).rounded())
        }
        return pts
    }
}
