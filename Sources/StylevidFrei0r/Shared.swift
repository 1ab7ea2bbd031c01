import Engine
import Foundation
import VideoIO

/// What every instance in the process shares: the network (60 MB, loaded once on the first
/// frame, never in `f0r_construct`, which hosts call only to read defaults), the style
/// images, and the messages already said.
enum SharedResources {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var networks: [String: VGG] = [:]
    nonisolated(unsafe) private static var images: [String: (modified: Date?, image: RGBImage)] = [:]
    nonisolated(unsafe) private static var said: Set<String> = []

    /// The default model, all its convolutions (each stylizer runs only what it needs).
    static func network() throws -> VGG {
        let path = try ModelLoader.resolve(nil)
        lock.lock(); defer { lock.unlock() }
        if let n = networks[path] { return n }
        let n = try ModelLoader.load(path: path)
        networks[path] = n
        return n
    }

    /// A style image, read again only when the file changed.
    static func image(_ path: String) throws -> RGBImage {
        let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
        lock.lock(); defer { lock.unlock() }
        if let c = images[path], c.modified == modified { return c.image }
        let image = try ImageIO.read(path)
        images[path] = (modified, image)
        return image
    }

    /// Says `message` on stderr once per process: hosts make an instance per thread and
    /// call every frame, and the host has no way to show it otherwise.
    static func report(_ message: String) {
        lock.lock()
        let new = said.insert(message).inserted
        lock.unlock()
        if new { FileHandle.standardError.write(Data("stylevid frei0r: \(message); frames pass through unchanged\n".utf8)) }
    }
}

/// One temporal sequence: the stylizer whose history each frame builds on, shared by every
/// instance with the same settings and frame size. MLT renders with one instance per
/// thread, so consecutive frames reach different instances, at the same time and out of
/// order; the sequence takes them one at a time in time order, so the result is the one a
/// single instance would give.
///
/// Frames are taken in time order: a frame waits while an earlier one is waiting or
/// running. A frame that does not directly follow the last one done (the first, or after
/// a gap) also waits up to `grace` for an earlier frame to arrive. A time before the last
/// one done (a seek back) or more than `maxStep` frame steps after it (a seek forward)
/// starts a new sequence, as does a new shot (`TemporalStylizer`'s scene-cut test); the
/// same frame at the same time again gives the result it had. The
/// time unit does not matter (FFmpeg passes milliseconds, MLT and GStreamer seconds):
/// the frame step is the smallest positive step seen.
final class FrameSequence {
    static let grace: TimeInterval = 0.5
    static let maxStep = 4.0

    let key: String
    private let condition = NSCondition()
    private var waiting: [Double] = []
    private var busy = false
    private var lastTime: Double?
    private var step: Double?
    private var renderer: FrameRenderer?
    /// Frames the renderer has done since the sequence (re)started.
    private var number = 0
    /// The last frame done, as it came and as it went: hosts render one position again
    /// (MLT at the end of a clip, a preview refresh), and the same frame gives the same result.
    private var last: (input: RGBImage, output: RGBImage)?

    init(key: String) { self.key = key }

    /// Whether a frame at `time` carries on from the last one done (within `steps` frame steps).
    private func follows(_ time: Double, within steps: Double) -> Bool {
        guard let last = lastTime, time >= last else { return false }
        guard let step else { return true }
        return time - last <= steps * step
    }

    /// Stylises the frame at `time`; `make` builds the renderer a new sequence starts with.
    func render(time: Double, frame: RGBImage, make: () throws -> FrameRenderer) throws -> RGBImage {
        condition.lock()
        waiting.append(time)
        let deadline = Date().addingTimeInterval(FrameSequence.grace)
        while true {
            let earlier = waiting.contains { $0 < time }
            if !busy && !earlier && (follows(time, within: 1.5) || Date() >= deadline) { break }
            if busy || earlier { condition.wait() } else { _ = condition.wait(until: deadline) }
        }
        waiting.remove(at: waiting.firstIndex(of: time)!)
        if time == lastTime, let last, last.input == frame {
            condition.broadcast()
            condition.unlock()
            return last.output
        }
        busy = true
        if !follows(time, within: FrameSequence.maxStep) { renderer = nil }
        if let last = lastTime, time > last { step = min(step ?? .infinity, time - last) }
        condition.unlock()

        var result: Result<RGBImage, Error>
        do {
            if renderer == nil { renderer = try make(); number = 0 }
            result = .success(try renderer!.render(number: number, decoded: frame))
            number += 1
        } catch {
            result = .failure(error)
        }
        condition.lock()
        switch result {
        case .success(let output): last = (frame, output)
        case .failure: renderer = nil; last = nil
        }
        lastTime = time
        busy = false
        condition.broadcast()
        condition.unlock()
        return try result.get()
    }
}

/// The sequences in use, by key; a sequence lives while an instance uses it.
enum FrameSequences {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var table: [String: (sequence: FrameSequence, users: Int)] = [:]

    static func acquire(_ key: String) -> FrameSequence {
        lock.lock(); defer { lock.unlock() }
        let entry = table[key] ?? (FrameSequence(key: key), 0)
        table[key] = (entry.sequence, entry.users + 1)
        return entry.sequence
    }

    static func release(_ sequence: FrameSequence) {
        lock.lock(); defer { lock.unlock() }
        guard let entry = table[sequence.key] else { return }
        table[sequence.key] = entry.users > 1 ? (entry.sequence, entry.users - 1) : nil
    }
}
