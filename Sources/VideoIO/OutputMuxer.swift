import CFFmpeg
import Foundation

/// The muxing half of a video output, shared by `VideoWriter` (frames it encodes) and
/// `SegmentJoiner` (packets it copies): the container, the video stream with the input's
/// time base and rotation, the input's audio interleaved as the video advances (copied
/// packet by packet, or re-encoded with a warning where the container cannot hold the
/// codec: Opus for WebM, AAC otherwise), and the atomic file, which appears at `path` only
/// when `finish()` succeeds.
final class OutputMuxer {
    static let containers = ["mp4", "mov", "mkv", "webm"]

    let path: String
    let container: String
    private(set) var warnings: [String] = []
    private let file: AtomicFile
    private(set) var ctx: UnsafeMutablePointer<AVFormatContext>?
    private(set) var videoStream: UnsafeMutablePointer<AVStream>?
    private var finished = false

    // audio
    private var audio: InputContext?
    private var audioMap: [Int32: UnsafeMutablePointer<AVStream>] = [:]
    private var transcoders: [Int32: AudioTranscoder] = [:]
    private let audioPacket = Packet()
    private var audioDone = true
    private var offset = 0.0
    private var endTime: Double?

    init(path: String) throws {
        self.path = path
        container = URL(fileURLWithPath: path).pathExtension.lowercased()
        guard OutputMuxer.containers.contains(container) else {
            throw MediaError.unsupportedFormat(path: path, reason: "unknown video container '.\(container)' (use one of \(OutputMuxer.containers.joined(separator: ", ")))")
        }
        av_log_set_level(AV_LOG_QUIET)
        file = try AtomicFile(destination: path, writer: false)
        var c: UnsafeMutablePointer<AVFormatContext>?
        try check(avformat_alloc_output_context2(&c, nil, container == "mkv" ? "matroska" : container, file.temporaryPath)) {
            MediaError.unsupportedFormat(path: path, reason: $0)
        }
        ctx = c
    }

    /// Whether the container wants codec headers out of band (encoders must be told).
    var wantsGlobalHeader: Bool { ctx!.pointee.oformat.pointee.flags & shim_fmt_globalheader() != 0 }

    /// The video stream, its parameters set by `parameters`, in the input's time base.
    func addVideoStream(timeBase: Rational, frameRate: Rational, rotation: Int,
                        parameters: (UnsafeMutablePointer<AVCodecParameters>) throws -> Void) throws -> UnsafeMutablePointer<AVStream> {
        guard let vs = avformat_new_stream(ctx, nil) else { throw MediaError.encodeFailed(path: path, reason: "cannot add a stream") }
        try parameters(vs.pointee.codecpar)
        vs.pointee.time_base = timeBase.av
        if frameRate.num > 0 && frameRate.den > 0 { vs.pointee.avg_frame_rate = frameRate.av }
        if rotation % 360 != 0, let sd = av_stream_new_side_data(vs, AV_PKT_DATA_DISPLAYMATRIX, 9 * 4) {
            // set() takes a clockwise angle, get() (VideoInfo.rotation) returns a counterclockwise one
            av_display_rotation_set(UnsafeMutableRawPointer(sd).assumingMemoryBound(to: Int32.self), Double(-rotation))
        }
        videoStream = vs
        return vs
    }

    /// The audio streams of `source`, from `startTime` (seconds of the input, which maps to
    /// output time 0) to `endTime`.
    func addAudio(from source: String, startTime: Double, endTime: Double?) throws {
        offset = startTime
        self.endTime = endTime
        let inp = try InputContext(path: source)
        try check(avformat_find_stream_info(inp.ptr, nil)) { MediaError.openFailed(path: source, reason: $0) }
        for i in 0..<Int(inp.ptr.pointee.nb_streams) {
            let s = inp.ptr.pointee.streams[i]!
            guard s.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_AUDIO else { s.pointee.discard = AVDISCARD_ALL; continue }
            let id = s.pointee.codecpar.pointee.codec_id
            let name = avcodec_get_name(id).map { String(cString: $0) } ?? "unknown"
            if avformat_query_codec(ctx!.pointee.oformat, id, FF_COMPLIANCE_NORMAL) != 1 {
                do {
                    let t = try AudioTranscoder(source: s, output: ctx!, container: container, path: path)
                    transcoders[Int32(i)] = t
                    warnings.append("audio stream \(i) (\(name)) cannot be stored in .\(container) as it is; it was re-encoded to \(t.codecName) (use .mkv to copy it untouched)")
                } catch {
                    warnings.append("audio stream \(i) (\(name)) cannot be stored in .\(container) and could not be re-encoded (\(error)); it was left out")
                    s.pointee.discard = AVDISCARD_ALL
                }
                continue
            }
            guard let os = avformat_new_stream(ctx, nil) else { continue }
            avcodec_parameters_copy(os.pointee.codecpar, s.pointee.codecpar)
            os.pointee.codecpar.pointee.codec_tag = 0
            os.pointee.time_base = s.pointee.time_base
            audioMap[Int32(i)] = os
        }
        if !audioMap.isEmpty || !transcoders.isEmpty { audio = inp; audioDone = false }
    }

    /// Opens the file and writes the header: the streams are fixed from here on.
    func start() throws {
        try check(avio_open(&ctx!.pointee.pb, file.temporaryPath, AVIO_FLAG_WRITE)) { MediaError.writeFailed(path: path, reason: $0) }
        try check(avformat_write_header(ctx, nil)) { MediaError.writeFailed(path: path, reason: $0) }
    }

    /// One video packet, its timestamps in `timeBase`.
    func writeVideo(_ packet: UnsafeMutablePointer<AVPacket>, timeBase: AVRational) throws {
        av_packet_rescale_ts(packet, timeBase, videoStream!.pointee.time_base)
        packet.pointee.stream_index = videoStream!.pointee.index
        packet.pointee.pos = -1
        try check(av_interleaved_write_frame(ctx, packet)) { MediaError.writeFailed(path: path, reason: $0) }
    }

    /// Copies audio packets up to `time` (seconds of the output) into the output.
    func copyAudio(upTo time: Double) throws {
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
                try check(av_interleaved_write_frame(ctx, audioPacket.ptr)) { MediaError.writeFailed(path: path, reason: $0) }
            }
            if t - offset > time { return }
        }
    }

    /// Copies the remaining audio (up to `audioUntil`, seconds of the output, if given),
    /// writes the trailer and moves the file into place.
    func finish(audioUntil videoEnd: Double? = nil) throws {
        if let v = videoEnd { endTime = min(endTime ?? .infinity, offset + v) }
        try copyAudio(upTo: .infinity)
        for t in transcoders.values { try t.finish() }
        try check(av_write_trailer(ctx)) { MediaError.writeFailed(path: path, reason: $0) }
        try check(avio_closep(&ctx!.pointee.pb)) { MediaError.writeFailed(path: path, reason: $0) }
        finished = true
        try file.commit()
        close()
    }

    /// Frees everything; without a successful `finish` the temporary file is removed.
    func close() {
        if let o = ctx {
            if o.pointee.pb != nil { avio_closep(&o.pointee.pb) }
            avformat_free_context(o)
            ctx = nil
        }
        audio = nil
        transcoders = [:]
        if !finished { file.abandon() }
    }

    deinit { close() }
}
