import CFFmpeg
import Foundation

/// Encoder settings for `VideoWriter`.
public struct VideoEncoding: Sendable, Equatable, Codable {
    /// Constant rate factor (x264: 0–51, VP9: 0–63; nil: the codec's default below).
    public var crf: Int? = nil
    public static let defaultCRF = (h264: 18, vp9: 31)
    /// x264 preset (default "medium").
    public var preset: String = "medium"
    /// Encoder threads (nil: as many as the encoder likes). The bitstream depends on the
    /// thread count, so outputs that must be identical wherever they are made (a cluster
    /// task's segment) fix it.
    public var threads: Int? = nil
    public init() {}
}

/// Encodes RGB frames into a new video file: H.264 (libx264, yuv420p) for .mp4/.mov/.mkv,
/// VP9 (libvpx-vp9) for .webm. Each frame keeps the timestamp it is given (in the input's
/// time base), rotation metadata is kept, and the audio streams of `audioSource` are copied
/// packet by packet, interleaved as the video advances (re-encoded, with a warning, when the
/// container cannot hold their codec: Opus for WebM, AAC otherwise). The file appears at `path` only
/// when `finish()` succeeds; until then it is a hidden temporary file in the same folder.
public final class VideoWriter {
    public static let containers = OutputMuxer.containers

    public let path: String
    public let width: Int
    public let height: Int
    /// Audio streams that were re-encoded or left out, and why (the CLI prints these).
    public var warnings: [String] { muxer.warnings }
    public private(set) var framesWritten = 0

    private let muxer: OutputMuxer
    private let enc: CodecContext
    private let timeBase: Rational
    private let frameRate: Rational
    private let trimAudio: Bool
    private let scaler: Scaler
    private let yuv: Frame
    private let packet = Packet()
    private var finished = false
    private var lastPts: Int64 = Int64.min

    /// - timeBase: the input's video time base; frames' pts are in it.
    /// - startTime: seconds of the input that map to output time 0 (when trimming); audio
    ///   packets before it are skipped and the rest shifted by it.
    /// - trimAudioToVideo: the audio ends with the last frame (a part of the input chosen
    ///   by frames, whose end time is known only when the frames are written).
    public init(path: String, width: Int, height: Int, timeBase: Rational, frameRate: Rational,
                rotation: Int = 0, audioFrom audioSource: String? = nil, startTime: Double = 0,
                endTime: Double? = nil, trimAudioToVideo: Bool = false, encoding: VideoEncoding = VideoEncoding()) throws {
        self.path = path
        self.width = width
        self.height = height
        self.timeBase = timeBase
        self.frameRate = frameRate
        self.trimAudio = trimAudioToVideo
        muxer = try OutputMuxer(path: path)
        guard width > 0, height > 0, width % 2 == 0, height % 2 == 0 else {
            throw MediaError.invalidSize(width: width, height: height, reason: "video frames need even, positive dimensions")
        }
        let vp9 = muxer.container == "webm"
        let encoderName = vp9 ? "libvpx-vp9" : "libx264"
        guard let codec = avcodec_find_encoder_by_name(encoderName) else {
            throw MediaError.unsupportedFormat(path: path, reason: "this FFmpeg has no \(encoderName) encoder")
        }
        enc = try CodecContext(codec: codec)
        let e = enc.ptr
        e.pointee.width = Int32(width)
        e.pointee.height = Int32(height)
        e.pointee.pix_fmt = AV_PIX_FMT_YUV420P
        e.pointee.time_base = timeBase.av
        if frameRate.num > 0 && frameRate.den > 0 { e.pointee.framerate = frameRate.av }
        e.pointee.color_range = AVCOL_RANGE_MPEG
        e.pointee.colorspace = AVCOL_SPC_BT709
        e.pointee.color_primaries = AVCOL_PRI_BT709
        e.pointee.color_trc = AVCOL_TRC_BT709
        if let t = encoding.threads { e.pointee.thread_count = Int32(t) }
        if vp9 {
            e.pointee.bit_rate = 0
            av_opt_set_int(e.pointee.priv_data, "crf", Int64(encoding.crf ?? VideoEncoding.defaultCRF.vp9), 0)
            av_opt_set(e.pointee.priv_data, "deadline", "good", 0)
            av_opt_set_int(e.pointee.priv_data, "cpu-used", 4, 0)
        } else {
            av_opt_set(e.pointee.priv_data, "crf", String(encoding.crf ?? VideoEncoding.defaultCRF.h264), 0)
            av_opt_set(e.pointee.priv_data, "preset", encoding.preset, 0)
        }
        if muxer.wantsGlobalHeader { e.pointee.flags |= shim_codec_flag_global_header() }
        try check(avcodec_open2(e, codec, nil)) { MediaError.encodeFailed(path: path, reason: $0) }
        _ = try muxer.addVideoStream(timeBase: timeBase, frameRate: frameRate, rotation: rotation) { par in
            try check(avcodec_parameters_from_context(par, e)) { MediaError.encodeFailed(path: path, reason: $0) }
        }
        scaler = try Scaler(srcWidth: width, srcHeight: height, srcFormat: AV_PIX_FMT_RGB24,
                            dstWidth: width, dstHeight: height, dstFormat: AV_PIX_FMT_YUV420P, downscaling: false)
        yuv = try Frame(format: AV_PIX_FMT_YUV420P, width: width, height: height)
        if let src = audioSource { try muxer.addAudio(from: src, startTime: startTime, endTime: endTime) }
        try muxer.start()
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
        try muxer.copyAudio(upTo: Double(pts) * timeBase.value)
    }

    private func drainEncoder() throws {
        while true {
            let r = avcodec_receive_packet(enc.ptr, packet.ptr)
            if r == shim_averror_eagain() || r == shim_averror_eof() { return }
            try check(r) { MediaError.encodeFailed(path: path, reason: $0) }
            try muxer.writeVideo(packet.ptr, timeBase: enc.ptr.pointee.time_base)
        }
    }

    /// Flushes the encoder, copies the remaining audio, writes the trailer and moves the
    /// file into place. Without a successful `finish` no file appears at `path`.
    public func finish() throws {
        precondition(!finished, "VideoWriter.finish twice")
        finished = true
        guard framesWritten > 0 else {
            muxer.close(); throw MediaError.encodeFailed(path: path, reason: "no frames to write")
        }
        try check(avcodec_send_frame(enc.ptr, nil)) { MediaError.encodeFailed(path: path, reason: $0) }
        try drainEncoder()
        let frame = frameRate.value > 0 ? 1 / frameRate.value : 0
        try muxer.finish(audioUntil: trimAudio ? Double(lastPts) * timeBase.value + frame : nil)
    }
}
