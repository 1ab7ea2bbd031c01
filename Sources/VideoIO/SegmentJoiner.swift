import CFFmpeg
import Foundation

/// Joins video segments encoded separately (a cluster render's tasks) into one output by
/// copying their packets: no decoding, no encoding. Each segment is a video-only file
/// whose timestamps start at 0 and are placed at its `offset`, in a container that keeps
/// decode timestamps (MP4 for H.264, which any of the outputs takes; WebM for VP9, whose
/// frames are not reordered); the segments must have been
/// encoded alike (codec, size, codec headers), as `VideoWriter` does with one
/// `VideoEncoding`. The input's audio is interleaved and the output is atomic, as with
/// `VideoWriter`.
public enum SegmentJoiner {
    public struct Segment: Sendable {
        public var path: String
        /// Where the segment's time 0 falls in the output, in the output's time base.
        public var offset: Int64
        public init(path: String, offset: Int64) { self.path = path; self.offset = offset }
    }

    /// Writes `path` from `segments`, in order. `timeBase`: the output's video time base
    /// (the input's); `startTime`/`endTime`: the stretch of `audioFrom` that goes with it;
    /// `expectedFrames`: refuse (and write nothing) when the segments hold another number.
    /// Returns the packets written and the audio warnings.
    public static func join(_ segments: [Segment], into path: String, timeBase: Rational, frameRate: Rational,
                            rotation: Int, audioFrom: String?, startTime: Double = 0,
                            endTime: Double? = nil, expectedFrames: Int? = nil) throws -> (frames: Int, warnings: [String]) {
        guard let first = segments.first else { throw MediaError.encodeFailed(path: path, reason: "no segments to join") }
        let muxer = try OutputMuxer(path: path)
        let reference = try SegmentReader(first.path)
        _ = try muxer.addVideoStream(timeBase: timeBase, frameRate: frameRate, rotation: rotation) { par in
            try check(avcodec_parameters_copy(par, reference.parameters)) { MediaError.encodeFailed(path: path, reason: $0) }
            par.pointee.codec_tag = 0
        }
        if let a = audioFrom { try muxer.addAudio(from: a, startTime: startTime, endTime: endTime) }
        try muxer.start()
        var written = 0, lastDts = Int64.min
        let packet = Packet()
        for (index, segment) in segments.enumerated() {
            let reader = index == 0 ? reference : try SegmentReader(segment.path)
            if let difference = reader.differs(from: reference.parameters) {
                throw MediaError.encodeFailed(path: path, reason: "\(segment.path) was encoded otherwise than \(first.path) (\(difference)); encode every segment alike")
            }
            while try reader.next(packet.ptr) {
                // in the output's time base, moved to the segment's place
                av_packet_rescale_ts(packet.ptr, reader.timeBase, timeBase.av)
                for field in [\AVPacket.pts, \AVPacket.dts] where packet.ptr.pointee[keyPath: field] != shim_nopts_value() {
                    packet.ptr.pointee[keyPath: field] += segment.offset
                }
                let pts = packet.ptr.pointee.pts, dts = packet.ptr.pointee.dts
                if dts != shim_nopts_value() {
                    // a segment's first decode timestamps may reach back past the segment
                    // before it (an encoder's B-frame delay on uneven frame times): they
                    // only need to increase and stay at or before the presentation time
                    if dts <= lastDts {
                        guard pts == shim_nopts_value() || pts > lastDts else {
                            throw MediaError.encodeFailed(path: path, reason: "\(segment.path) overlaps the segment before it in time")
                        }
                        packet.ptr.pointee.dts = lastDts + 1
                    }
                    lastDts = packet.ptr.pointee.dts
                }
                let time = Double(pts == shim_nopts_value() ? packet.ptr.pointee.dts : pts) * timeBase.value
                try muxer.writeVideo(packet.ptr, timeBase: timeBase.av)
                written += 1
                try muxer.copyAudio(upTo: time)
            }
        }
        if let n = expectedFrames, n != written {
            throw MediaError.encodeFailed(path: path, reason: "the segments hold \(written) frames, \(n) were expected")
        }
        try muxer.finish()
        return (written, muxer.warnings)
    }
}

/// The video packets of one segment file.
private final class SegmentReader {
    let path: String
    private let input: InputContext
    private let stream: Int32
    let parameters: UnsafeMutablePointer<AVCodecParameters>
    let timeBase: AVRational

    init(_ path: String) throws {
        self.path = path
        input = try InputContext(path: path)
        try check(avformat_find_stream_info(input.ptr, nil)) { MediaError.openFailed(path: path, reason: $0) }
        let index = av_find_best_stream(input.ptr, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        guard index >= 0 else { throw MediaError.decodeFailed(path: path, reason: "no video stream") }
        stream = index
        let s = input.ptr.pointee.streams[Int(index)]!
        parameters = s.pointee.codecpar
        timeBase = s.pointee.time_base
    }

    /// How this segment's encoding differs from `other`'s, nil if it does not.
    func differs(from other: UnsafeMutablePointer<AVCodecParameters>) -> String? {
        let a = parameters.pointee, b = other.pointee
        if a.codec_id != b.codec_id { return "another codec" }
        if a.width != b.width || a.height != b.height { return "\(a.width)×\(a.height), not \(b.width)×\(b.height)" }
        if a.format != b.format { return "another pixel format" }
        let same = a.extradata_size == b.extradata_size
            && (a.extradata_size == 0 || memcmp(a.extradata, b.extradata, Int(a.extradata_size)) == 0)
        return same ? nil : "other codec headers"
    }

    /// The next video packet (false at the end).
    func next(_ packet: UnsafeMutablePointer<AVPacket>) throws -> Bool {
        while true {
            av_packet_unref(packet)
            let rc = av_read_frame(input.ptr, packet)
            if rc == shim_averror_eof() { return false }
            try check(rc) { MediaError.decodeFailed(path: path, reason: $0) }
            if packet.pointee.stream_index == stream { return true }
        }
    }
}
