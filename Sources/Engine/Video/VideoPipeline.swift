import Foundation
import Kernels
import VideoIO

/// A FIFO of fixed capacity between two threads: `put` blocks while full, `take` while
/// empty; `close` ends it (take returns nil once drained). Memory stays bounded however
/// long the video is.
public final class BoundedQueue<T>: @unchecked Sendable {
    private var items: [T] = []
    private let capacity: Int
    private let cond = NSCondition()
    private var closed = false
    public init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Returns false if the queue was closed (the consumer gave up).
    @discardableResult
    public func put(_ item: T) -> Bool {
        cond.lock(); defer { cond.unlock() }
        while items.count >= capacity && !closed { cond.wait() }
        if closed { return false }
        items.append(item)
        cond.broadcast()
        return true
    }

    public func take() -> T? {
        cond.lock(); defer { cond.unlock() }
        while items.isEmpty && !closed { cond.wait() }
        if items.isEmpty { return nil }
        let item = items.removeFirst()
        cond.broadcast()
        return item
    }

    public func close() { cond.lock(); closed = true; cond.broadcast(); cond.unlock() }
    public var count: Int { cond.lock(); defer { cond.unlock() }; return items.count }
}

/// Which frames of the input to process: by time (`start`, `duration`, seconds) or by
/// 0-based frame indices (`frames`, inclusive).
public struct FrameRange: Sendable, Equatable, Codable {
    public var start: Double? = nil
    public var duration: Double? = nil
    public var frames: ClosedRange<Int>? = nil
    public init(start: Double? = nil, duration: Double? = nil, frames: ClosedRange<Int>? = nil) {
        self.start = start; self.duration = duration; self.frames = frames
    }

    public func contains(_ f: VideoFrame, firstTime: Double) -> Bool {
        if let r = frames { return r.contains(f.index) }
        let t = f.time - firstTime
        if let s = start, t < s - 1e-6 { return false }
        if let d = duration, t >= (start ?? 0) + d - 1e-6 { return false }
        return true
    }

    /// True once no later frame can be in the range (decoding can stop).
    public func isPast(_ f: VideoFrame, firstTime: Double) -> Bool {
        if let r = frames { return f.index > r.upperBound }
        if let d = duration { return f.time - firstTime >= (start ?? 0) + d - 1e-6 }
        return false
    }

    /// Frames expected, for progress (nil when unknown).
    public func expectedCount(total: Int?, frameRate: Double) -> Int? {
        if let r = frames { return total.map { min(r.count, max(0, $0 - r.lowerBound)) } ?? r.count }
        var n = total.map(Double.init)
        if let d = duration, frameRate > 0 { n = min(n ?? .infinity, (d * frameRate).rounded()) }
        if let s = start, frameRate > 0, duration == nil, let t = n { n = max(0, t - s * frameRate) }
        return n.map { Int($0) }
    }
}

/// Progress of a video run, after each frame.
public struct VideoProgress: Sendable {
    public var framesDone: Int
    public var framesExpected: Int?
    public var elapsed: Double
    public var secondsPerFrame: Double
    /// The average of the frames after the first, once there is one: a shot's first frame
    /// gets the pyramid and the full budget, several times a later frame's work, so the
    /// time left is estimated from these.
    public var laterSecondsPerFrame: Double?
    /// The time left as the render estimates it, where its frames cost unlike each
    /// other (fast mode: `FastEstimate`); it replaces the per-frame rate.
    public var estimatedSecondsLeft: Double?
    public init(framesDone: Int, framesExpected: Int?, elapsed: Double, secondsPerFrame: Double, laterSecondsPerFrame: Double? = nil) {
        self.framesDone = framesDone; self.framesExpected = framesExpected
        self.elapsed = elapsed; self.secondsPerFrame = secondsPerFrame; self.laterSecondsPerFrame = laterSecondsPerFrame
    }

    /// Seconds left for the frames not started yet, or nil when the count is unknown.
    public var secondsLeft: Double? {
        estimatedSecondsLeft ?? framesExpected.map { Double(max(0, $0 - framesDone)) * (laterSecondsPerFrame ?? secondsPerFrame) }
    }
}

/// Streams a video through a per-frame function: decoding runs ahead in its own thread
/// and encoding behind in another, through bounded queues, so memory does not grow with
/// the length of the video. Frames keep their input timestamps (shifted so the first
/// processed frame is at 0).
public final class FramePipeline {
    public let reader: VideoReader
    public let range: FrameRange
    /// After `run`: the first processed frame's place in the video, `pts` (input time
    /// base) after the video's first frame and that frame's `time` (seconds), where the
    /// whole video's output would start. A part rendered apart (a cluster task's segment)
    /// is placed there when the parts are joined.
    public private(set) var rangeStart: (pts: Int64, videoStartTime: Double)?
    public init(reader: VideoReader, range: FrameRange) { self.reader = reader; self.range = range }

    /// - makeWriter: called with the first processed frame's time (seconds), to open the
    ///   output (audio is trimmed to match); nil processes the frames without encoding.
    /// - process: the per-frame work on the calling thread, given the frame and the one
    ///   after it in the range (nil for the last), for work that looks ahead.
    /// Returns the number of frames written.
    @discardableResult
    public func run(makeWriter: (Double) throws -> VideoWriter?,
                    process: (VideoFrame, VideoFrame?) throws -> RGBImage,
                    progress: (VideoProgress) -> Void = { _ in },
                    shouldStop: () -> Bool = { false }) throws -> Int {
        let decoded = BoundedQueue<VideoFrame>(capacity: 3)
        let encoded = BoundedQueue<(RGBImage, Int64)>(capacity: 3)
        final class Failure: @unchecked Sendable {
            let lock = NSLock(); var error: Error?
            func set(_ e: Error) { lock.lock(); if error == nil { error = e }; lock.unlock() }
            var value: Error? { lock.lock(); defer { lock.unlock() }; return error }
        }
        let failure = Failure()
        let reader = self.reader, range = self.range
        let decodeDone = DispatchSemaphore(value: 0)
        final class Origin: @unchecked Sendable { var pts: Int64 = 0; var time = 0.0 }
        let origin = Origin()     // written before the first frame is queued, read after
        Thread.detachNewThread {
            defer { decoded.close(); decodeDone.signal() }
            var firstTime: Double? = nil
            do {
                while let f = try reader.nextFrame() {
                    // the video's first frame (a reader that seeked knows it without decoding it)
                    if firstTime == nil { (origin.pts, origin.time) = reader.videoStart ?? (f.pts, f.time) }
                    let t0 = firstTime ?? origin.time
                    firstTime = t0
                    if range.isPast(f, firstTime: t0) { break }
                    if range.contains(f, firstTime: t0) { if !decoded.put(f) { break } }
                }
            } catch { failure.set(error) }
        }
        var writer: VideoWriter? = nil
        var started = false
        let encodeDone = DispatchSemaphore(value: 0)
        var startPts: Int64 = 0
        let start = Date()
        var done = 0, firstFrame = 0.0
        let expected = range.expectedCount(total: reader.info.frameCount, frameRate: reader.info.frameRate.value)
        defer { decoded.close(); encoded.close() }
        var pending = decoded.take()
        while let frame = pending {
            pending = decoded.take()
            if let e = failure.value { throw e }
            if shouldStop() { break }
            if !started, let w = try makeWriter(frame.time) {
                writer = w
                Thread.detachNewThread {
                    defer { encodeDone.signal() }
                    while let (img, pts) = encoded.take() {
                        do { try w.write(img, pts: pts) } catch { failure.set(error); encoded.close(); return }
                    }
                }
            }
            if !started { started = true; startPts = frame.pts; rangeStart = (frame.pts - origin.pts, origin.time) }
            let out = try process(frame, pending)
            if writer != nil, !encoded.put((out, frame.pts - startPts)) { break }
            done += 1
            let el = Date().timeIntervalSince(start)
            if done == 1 { firstFrame = el }
            progress(VideoProgress(framesDone: done, framesExpected: expected, elapsed: el, secondsPerFrame: el / Double(done),
                                   laterSecondsPerFrame: done > 1 ? (el - firstFrame) / Double(done - 1) : nil))
        }
        decoded.close()
        decodeDone.wait()
        encoded.close()
        if writer != nil { encodeDone.wait() }
        if let e = failure.value { throw e }
        guard started else {
            throw MediaError.decodeFailed(path: reader.info.path, reason: reader.lastDecodeError.map { "no frame could be decoded (\($0))" } ?? "no frames in the selected range")
        }
        if shouldStop() { return done }
        try writer?.finish()
        return done
    }
}
