import CFFmpeg

/// Re-encodes one audio stream whose codec the output container cannot hold (AAC into
/// WebM, say): decode → resample (libswresample) → frame-size FIFO → encode (Opus for
/// WebM, AAC otherwise). Packets go to the muxer as they are made.
final class AudioTranscoder {
    let codecName: String
    private let dec: CodecContext
    private let enc: CodecContext
    private let stream: UnsafeMutablePointer<AVStream>
    private var swr: OpaquePointer?
    private let fifo: OpaquePointer
    private let decoded: Frame
    private let packet = Packet()
    private var samplesOut: Int64 = 0
    private let out: UnsafeMutablePointer<AVFormatContext>
    private let path: String

    init(source: UnsafeMutablePointer<AVStream>, output: UnsafeMutablePointer<AVFormatContext>, container: String, path: String) throws {
        self.out = output
        self.path = path
        let par = source.pointee.codecpar!
        guard let decoder = avcodec_find_decoder(par.pointee.codec_id) else {
            throw MediaError.unsupportedFormat(path: path, reason: "no decoder for the input's audio")
        }
        dec = try CodecContext(codec: decoder)
        try check(avcodec_parameters_to_context(dec.ptr, par)) { MediaError.decodeFailed(path: path, reason: $0) }
        dec.ptr.pointee.pkt_timebase = source.pointee.time_base
        try check(avcodec_open2(dec.ptr, decoder, nil)) { MediaError.decodeFailed(path: path, reason: $0) }

        let opus = container == "webm"
        guard let encoder = opus ? avcodec_find_encoder_by_name("libopus") : avcodec_find_encoder(AV_CODEC_ID_AAC) else {
            throw MediaError.unsupportedFormat(path: path, reason: "this FFmpeg has no \(opus ? "Opus" : "AAC") encoder")
        }
        codecName = opus ? "opus" : "aac"
        enc = try CodecContext(codec: encoder)
        // Opus runs at 48 kHz; both encoders are given stereo (or mono) for portability
        enc.ptr.pointee.sample_rate = opus ? 48000 : dec.ptr.pointee.sample_rate
        if dec.ptr.pointee.ch_layout.nb_channels == 1 {
            av_channel_layout_default(&enc.ptr.pointee.ch_layout, 1)
        } else {
            enc.ptr.pointee.ch_layout = shim_stereo_layout()
        }
        enc.ptr.pointee.sample_fmt = encoder.pointee.sample_fmts?.pointee ?? AV_SAMPLE_FMT_FLTP
        enc.ptr.pointee.bit_rate = 160_000
        enc.ptr.pointee.time_base = AVRational(num: 1, den: enc.ptr.pointee.sample_rate)
        if output.pointee.oformat.pointee.flags & shim_fmt_globalheader() != 0 {
            enc.ptr.pointee.flags |= shim_codec_flag_global_header()
        }
        try check(avcodec_open2(enc.ptr, encoder, nil)) { MediaError.encodeFailed(path: path, reason: "audio: \($0)") }
        guard let s = avformat_new_stream(output, nil) else { throw MediaError.encodeFailed(path: path, reason: "cannot add a stream") }
        stream = s
        try check(avcodec_parameters_from_context(s.pointee.codecpar, enc.ptr)) { MediaError.encodeFailed(path: path, reason: $0) }
        s.pointee.time_base = enc.ptr.pointee.time_base

        var ctx: OpaquePointer?
        try check(swr_alloc_set_opts2(&ctx, &enc.ptr.pointee.ch_layout, enc.ptr.pointee.sample_fmt, enc.ptr.pointee.sample_rate,
                                      &dec.ptr.pointee.ch_layout, dec.ptr.pointee.sample_fmt, dec.ptr.pointee.sample_rate, 0, nil)) {
            MediaError.encodeFailed(path: path, reason: "audio resampler: \($0)")
        }
        swr = ctx
        try check(swr_init(ctx)) { MediaError.encodeFailed(path: path, reason: "audio resampler: \($0)") }
        guard let f = av_audio_fifo_alloc(enc.ptr.pointee.sample_fmt, enc.ptr.pointee.ch_layout.nb_channels, 4096) else {
            throw MediaError.encodeFailed(path: path, reason: "out of memory")
        }
        fifo = f
        decoded = try Frame()
    }

    deinit {
        av_audio_fifo_free(fifo)
        swr_free(&swr)
    }

    /// One packet of the input stream (its timestamps already shifted to the output's start).
    func feed(_ pkt: UnsafeMutablePointer<AVPacket>) throws {
        let r = avcodec_send_packet(dec.ptr, pkt)
        if r < 0 && r != shim_averror_eagain() { return }   // a damaged audio packet: skip it
        try drainDecoder()
    }

    func finish() throws {
        avcodec_send_packet(dec.ptr, nil)
        try drainDecoder()
        try encodeFromFifo(flush: true)
        avcodec_send_frame(enc.ptr, nil)
        try drainEncoder()
    }

    private func drainDecoder() throws {
        while avcodec_receive_frame(dec.ptr, decoded.ptr) == 0 {
            defer { av_frame_unref(decoded.ptr) }
            let inSamples = decoded.ptr.pointee.nb_samples
            let maxOut = swr_get_out_samples(swr, inSamples)
            guard maxOut > 0 else { continue }
            let conv = try encoderFrame(samples: maxOut)
            let n = withUnsafeMutablePointer(to: &conv.ptr.pointee.data) { dst in
                withUnsafeMutablePointer(to: &decoded.ptr.pointee.data) { src in
                    dst.withMemoryRebound(to: UnsafeMutablePointer<UInt8>?.self, capacity: 8) { d in
                        src.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 8) { s in
                            swr_convert(swr, d, maxOut, s, inSamples)
                        }
                    }
                }
            }
            guard n > 0 else { continue }
            _ = withUnsafeMutablePointer(to: &conv.ptr.pointee.data) { dst in
                dst.withMemoryRebound(to: UnsafeMutableRawPointer?.self, capacity: 8) { d in
                    av_audio_fifo_write(fifo, d, n)
                }
            }
            try encodeFromFifo(flush: false)
        }
    }

    private func encodeFromFifo(flush: Bool) throws {
        let size = enc.ptr.pointee.frame_size > 0 ? enc.ptr.pointee.frame_size : 1024
        while av_audio_fifo_size(fifo) >= size || (flush && av_audio_fifo_size(fifo) > 0) {
            let n = min(size, av_audio_fifo_size(fifo))
            let f = try encoderFrame(samples: n)
            _ = withUnsafeMutablePointer(to: &f.ptr.pointee.data) { dst in
                dst.withMemoryRebound(to: UnsafeMutableRawPointer?.self, capacity: 8) { d in
                    av_audio_fifo_read(fifo, d, n)
                }
            }
            f.ptr.pointee.pts = samplesOut
            samplesOut += Int64(n)
            try check(avcodec_send_frame(enc.ptr, f.ptr)) { MediaError.encodeFailed(path: path, reason: "audio: \($0)") }
            try drainEncoder()
        }
    }

    /// An audio frame in the encoder's format with room for `samples` samples.
    private func encoderFrame(samples: Int32) throws -> Frame {
        let f = try Frame()
        f.ptr.pointee.format = enc.ptr.pointee.sample_fmt.rawValue
        f.ptr.pointee.sample_rate = enc.ptr.pointee.sample_rate
        av_channel_layout_copy(&f.ptr.pointee.ch_layout, &enc.ptr.pointee.ch_layout)
        f.ptr.pointee.nb_samples = samples
        try check(av_frame_get_buffer(f.ptr, 0)) { MediaError.encodeFailed(path: path, reason: $0) }
        return f
    }

    private func drainEncoder() throws {
        while true {
            let r = avcodec_receive_packet(enc.ptr, packet.ptr)
            if r == shim_averror_eagain() || r == shim_averror_eof() { return }
            try check(r) { MediaError.encodeFailed(path: path, reason: "audio: \($0)") }
            av_packet_rescale_ts(packet.ptr, enc.ptr.pointee.time_base, stream.pointee.time_base)
            packet.ptr.pointee.stream_index = stream.pointee.index
            try check(av_interleaved_write_frame(out, packet.ptr)) { MediaError.writeFailed(path: path, reason: $0) }
        }
    }
}
