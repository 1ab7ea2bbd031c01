import CFFmpeg
import Foundation

/// Encoder settings for `VideoWriter`.
public struct VideoEncoding: Sendable, Equatable {
    /// Constant rate factor (x264: 0–51, default 18; VP9: 0–63, default 31).
    public var crf: Int? = nil
    /// x264 preset (default "medium").
    public var preset: String = "medium"
    public init() {}
}

/// Encodes RGB frames into a new video file: H.264 (libx264, yuv420p) for .mp4/.mov/.mkv,
/// VP9 (libvpx-vp9) for .webm. Each frame keeps the timestamp it is given (in the input's
/// time base), rotation metadata is kept, and the audio streams of `audioSource` are copied
/// packet by packet, interleaved as the video advances (re-encoded, with a warning, when the
/// container cannot hold their codec: Opus for WebM, AAC otherwise). The file appears at `path` only
/// when `finish()` succeeds; until then it is a hidden temporary file in the same folder.
public final class VideoWriter {
    public static let containers = ["mp4", "mov", "mkv", "webm"]

    public let path: String
    public let width: Int
    public let height: Int
    /// Audio streams that were re-encoded or left out, and why (the CLI prints these).
    public private(set) var warnings: [String] = []
    public private(set) var framesWritten = 0

    private let file: AtomicFile
    private var out: UnsafeMutablePointer<AVFormatContext>?
    private let enc: CodecContext
    private let videoStream: UnsafeMutablePointer<AVStream>
    private let timeBase: Rational
    private let scaler: Scaler
    private let yuv: Frame
    private let packet = Packet()
    private var headerWritten = false
    private var finished = false
    private var lastPts: Int64 = Int64.min

    // audio copy
    private var audio: InputContext?
    private var audioMap: [Int32: UnsafeMutablePointer<AVStream>] = [:]
    private var transcoders: [Int32: AudioTranscoder] = [:]
    private let audioPacket = Packet()
    private var audioDone = true
    private let offset: Double

    /// - timeBase: the input's video time base; frames' pts are in it.
    /// - startTime: seconds of the input that map to output time 0 (when trimming); audio
    ///   packets before it are skipped and the rest shifted by it.
    public init(path: String, width: Int, height: Int, timeBase: Rational, frameRate: Rational,
                rotation: Int = 0, audioFrom audioSource: String? = nil, startTime: Double = 0,
                endTime: Double? = nil, encoding: VideoEncoding = VideoEncoding()) throws {
        self.path = path
        self.width = width
        self.height = height
        self.timeBase = timeBase
        self.offset = startTime
        self.endTime = endTime
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        guard VideoWriter.containers.contains(ext) else {
            throw MediaError.unsupportedFormat(path: path, reason: "unknown video container '.\(ext)' (use one of \(VideoWriter.containers.joined(separator: ", ")))")
        }
        guard width > 0, height > 0, width % 2 == 0, height % 2 == 0 else {
            throw MediaError.invalidSize(width: width, height: height, reason: "video frames need even, positive dimensions")
        }
        av_log_set_level(AV_LOG_QUIET)
        file = try AtomicFile(destination: path, writer: false)
        let muxer = ext == "mkv" ? "matroska" : ext
        var ctx: UnsafeMutablePointer<AVFormatContext>?
        try check(avformat_alloc_output_context2(&ctx, nil, muxer, file.temporaryPath)) { MediaError.unsupportedFormat(path: path, reason: $0) }
        out = ctx!
        let encoderName = ext == "webm" ? "libvpx-vp9" : "libx264"
        guard let codec = avcodec_find_encoder_by_name(encoderName) else {
            throw MediaError.unsupportedFormat(path: path, reason: "this FFmpeg has no \(encoderName) encoder")
        }
        enc = try CodecContext(codec: codec)
        enc.ptr.pointee.width = Int32(width)
        enc.ptr.pointee.height = Int32(height)
        enc.ptr.pointee.pix_fmt = AV_PIX_FMT_YUV420P
        enc.ptr.pointee.time_base = timeBase.av
        if frameRate.num > 0 && frameRate.den > 0 { enc.ptr.pointee.framerate = frameRate.av }
        enc.ptr.pointee.color_range = AVCOL_RANGE_MPEG
        enc.ptr.pointee.colorspace = AVCOL_SPC_BT709
        enc.ptr.pointee.color_primaries = AVCOL_PRI_BT709
        enc.ptr.pointee.color_trc = AVCOL_TRC_BT709
        if ext == "webm" {
            enc.ptr.pointee.bit_rate = 0
            av_opt_set_int(enc.ptr.pointee.priv_data, "crf", Int64(encoding.crf ?? 31), 0)
            av_opt_set(enc.ptr.pointee.priv_data, "deadline", "good", 0)
            av_opt_set_int(enc.ptr.pointee.priv_data, "cpu-used", 4, 0)
        } else {
            av_opt_set(enc.ptr.pointee.priv_data, "crf", String(encoding.crf ?? 18), 0)
            av_opt_set(enc.ptr.pointee.priv_data, "preset", encoding.preset, 0)
        }
        if ctx!.pointee.oformat.pointee.flags & shim_fmt_globalheader() != 0 {
            enc.ptr.pointee.flags |= shim_codec_flag_global_header()
        }
        try check(avcodec_open2(enc.ptr, codec, nil)) { MediaError.encodeFailed(path: path, reason: $0) }
        guard let vs = avformat_new_stream(ctx, nil) else { throw MediaError.encodeFailed(path: path, reason: "cannot add a stream") }
        videoStream = vs
        try check(avcodec_parameters_from_context(vs.pointee.codecpar, enc.ptr)) { MediaError.encodeFailed(path: path, reason: $0) }
        vs.pointee.time_base = timeBase.av
        if frameRate.num > 0 { vs.pointee.avg_frame_rate = frameRate.av }
        if rotation % 360 != 0, let sd = av_stream_new_side_data(vs, AV_PKT_DATA_DISPLAYMATRIX, 9 * 4) {
            // set() takes a clockwise angle, get() (VideoInfo.rotation) returns a counterclockwise one
            av_display_rotation_set(UnsafeMutableRawPointer(sd).assumingMemoryBound(to: Int32.self), Double(-rotation))
        }
        scaler = try Scaler(srcWidth: width, srcHeight: height, srcFormat: AV_PIX_FMT_RGB24,
                            dstWidth: width, dstHeight: height, dstFormat: AV_PIX_FMT_YUV420P, downscaling: false)
        yuv = try Frame(format: AV_PIX_FMT_YUV420P, width: width, height: height)

        if let src = audioSource { try addAudio(from: src, container: ext) }
        try check(avio_open(&ctx!.pointee.pb, file.temporaryPath, AVIO_FLAG_WRITE)) { MediaError.writeFailed(path: path, reason: $0) }
        try check(avformat_write_header(ctx, nil)) { MediaError.writeFailed(path: path, reason: $0) }
        headerWritten = true
    }

    private let endTime: Double?

    private func addAudio(from source: String, container: String) throws {
        let inp = try InputContext(path: source)
        try check(avformat_find_stream_info(inp.ptr, nil)) { MediaError.openFailed(path: source, reason: $0) }
        for i in 0..<Int(inp.ptr.pointee.nb_streams) {
            let s = inp.ptr.pointee.streams[i]!
            guard s.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_AUDIO else { s.pointee.discard = AVDISCARD_ALL; continue }
            let id = s.pointee.codecpar.pointee.codec_id
            let name = avcodec_get_name(id).map { String(cString: $0) } ?? "unknown"
            if avformat_query_codec(out!.pointee.oformat, id, FF_COMPLIANCE_NORMAL) != 1 {
                do {
                    let t = try AudioTranscoder(source: s, output: out!, container: container, path: path)
                    transcoders[Int32(i)] = t
                    warnings.append("audio stream \(i) (\(name)) cannot be stored in .\(container) as it is; it was re-encoded to \(t.codecName) (use .mkv to copy it untouched)")
                } catch {
                    warnings.append("audio stream \(i) (\(name)) cannot be stored in .\(container) and could not be re-encoded (\(error)); it was left out")
                    s.pointee.discard = AVDISCARD_ALL
                }
                continue
            }
            guard let os = avformat_new_stream(out, nil) else { continue }
            avcodec_parameters_copy(os.pointee.codecpar, s.pointee.codecpar)
            os.pointee.codecpar.pointee.codec_tag = 0
            os.pointee.time_base = s.pointee.time_base
            audioMap[Int32(i)] = os
        }
        if !audioMap.isEmpty || !transcoders.isEmpty { audio = inp; audioDone = false }
    }

    /// Copies audio packets up to `time` (seconds of the input) into the output.
    private func copyAudio(upTo time: Double) throws {
        guard let inp = audio, !audioDone else { return }
        while true {
            let rc = av_read_frame(inp.ptr, audioPacket.ptr)
            if rc < 0 { audioDone = true; return }
            let si = audioPacket.ptr.pointee.stream_index
            let os = audioMap[si], transcoder = transcoders[si]
            guard os != nil || transcoder != nil else { av_packet_unref(audioPacket.ptr); continue }
            let itb = Rational(inp.ptr.pointee.streams[Int(si)]!.pointee.time_base)
            let pts = audioPacket.ptr.pointee.pts == shim_nopts_value() ? audioPacket.ptr.pointee.dts : audioPacket.ptr.pointee.pts
            let t = Double(pts) * itb.value
            if t < offset - 1e-6 { av_packet_unref(audioPacket.ptr); continue }
            if let e = endTime, t >= e { av_packet_unref(audioPacket.ptr); audioDone = true; return }
            let shift = Int64((offset / itb.value).rounded())
            if audioPacket.ptr.pointee.pts != shim_nopts_value() { audioPacket.ptr.pointee.pts -= shift }
            if audioPacket.ptr.pointee.dts != shim_nopts_value() { audioPacket.ptr.pointee.dts -= shift }
            if let t = transcoder {
                defer { av_packet_unref(audioPacket.ptr) }
                try t.feed(audioPacket.ptr)
            } else if let os {
                av_packet_rescale_ts(audioPacket.ptr, itb.av, os.pointee.time_base)
                audioPacket.ptr.pointee.stream_index = os.pointee.index
                audioPacket.ptr.pointee.pos = -1
                try check(av_interleaved_write_frame(out, audioPacket.ptr)) { MediaError.writeFailed(path: path, reason: $0) }
            }
            if t > time { return }
        }
    }

    /// Encodes one frame shown at `pts` (input time base, already shifted to the output's
    /// start). Timestamps must increase.
    public func write(_ image: RGBImage, pts: Int64) throws {
        precondition(!finished, "VideoWriter.write after finish")
        guard image.width == width, image.height == height else {
            throw MediaError.invalidSize(width: image.width, height: image.height, reason: "frame size differs from the video's \(width)×\(height)")
        }
        guard pts > lastPts else {
            throw MediaError.encodeFailed(path: path, reason: "timestamps must increase (\(pts) after \(lastPts))")
        }
        lastPts = pts
        let rgb = try image.makeFrame()
        try check(av_frame_make_writable(yuv.ptr)) { MediaError.encodeFailed(path: path, reason: $0) }
        try scaler.scale(rgb, into: yuv)
        yuv.ptr.pointee.pts = pts
        try check(avcodec_send_frame(enc.ptr, yuv.ptr)) { MediaError.encodeFailed(path: path, reason: $0) }
        try drainEncoder()
        framesWritten += 1
        try copyAudio(upTo: Double(pts) * timeBase.value + offset)
    }

    private func drainEncoder() throws {
        while true {
            let r = avcodec_receive_packet(enc.ptr, packet.ptr)
            if r == shim_averror_eagain() || r == shim_averror_eof() { return }
            try check(r) { MediaError.encodeFailed(path: path, reason: $0) }
            av_packet_rescale_ts(packet.ptr, enc.ptr.pointee.time_base, videoStream.pointee.time_base)
            packet.ptr.pointee.stream_index = videoStream.pointee.index
            try check(av_interleaved_write_frame(out, packet.ptr)) { MediaError.writeFailed(path: path, reason: $0) }
        }
    }

    /// Flushes the encoder, copies the remaining audio, writes the trailer and moves the
    /// file into place. Without a successful `finish` no file appears at `path`.
    public func finish() throws {
        precondition(!finished, "VideoWriter.finish twice")
        guard framesWritten > 0 else {
            close(); throw MediaError.encodeFailed(path: path, reason: "no frames to write")
        }
        try check(avcodec_send_frame(enc.ptr, nil)) { MediaError.encodeFailed(path: path, reason: $0) }
        try drainEncoder()
        try copyAudio(upTo: .infinity)
        for t in transcoders.values { try t.finish() }
        try check(av_write_trailer(out)) { MediaError.writeFailed(path: path, reason: $0) }
        try check(avio_closep(&out!.pointee.pb)) { MediaError.writeFailed(path: path, reason: $0) }
        finished = true
        try file.commit()
        close()
    }

    private func close() {
        if let o = out {
            if o.pointee.pb != nil { avio_closep(&o.pointee.pb) }
            avformat_free_context(o)
            out = nil
        }
        audio = nil
        transcoders = [:]
        if !finished { file.abandon() }
    }

    deinit { close() }
}
