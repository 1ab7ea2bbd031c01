import Foundation
import VideoIO

/// Where a video render keeps its finished frames, so that it can resume: the checkpoint
/// folder of `--resume` and of a cluster task or seam pass (`Checkpoints`), or nothing
/// (`FrameRenderer.render` without a store: the plugin's sequences live in memory).
/// Frames are numbered from the first of the rendered range.
public protocol FrameStore: AnyObject {
    /// Whether frame n is saved (and may be restored instead of rendered).
    func has(_ n: Int) -> Bool
    /// Frame n's processing-size result, nil when it is missing, damaged or of another size.
    func load(_ n: Int, width: Int, height: Int) -> RGBImage?
    func save(_ img: RGBImage, _ n: Int) throws
    /// The source-size result of `--output-size source`.
    func loadSource(_ n: Int, width: Int, height: Int) -> RGBImage?
    func saveSource(_ img: RGBImage, _ n: Int) throws
    /// The processing-size input, kept for the later passes of --passes.
    func saveInput(_ img: RGBImage, _ n: Int) throws
    /// The optimiser's curvature after frame n.
    func saveCurvature(_ memory: LBFGS.Memory?, after n: Int) throws
    func loadCurvature(after n: Int) -> LBFGS.Memory?
    func removeCurvature(after n: Int)
}

/// Finished frames of a video run, kept as lossless PNGs in a hidden folder next to the
/// output, so an interrupted run can resume. Each is written atomically; one that does
/// not decode (or has the wrong size) is redone, never trusted. Removed on success.
public final class Checkpoints: FrameStore {
    public let folder: String
    public private(set) var available = 0

    public convenience init(output: String, fingerprint: String, resume: Bool) throws {
        let url = URL(fileURLWithPath: output)
        try self.init(folder: url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).stylevid-frames").path,
                      output: output, fingerprint: fingerprint, resume: resume)
    }

    /// `output`: what the messages name.
    public init(folder: String, output: String, fingerprint: String, resume: Bool) throws {
        self.folder = folder
        let fm = FileManager.default
        let manifest = folder + "/settings"
        if resume {
            guard fm.fileExists(atPath: manifest) else {
                throw EngineError.failed("--resume: nothing to resume for \(output) (no checkpoints in \(folder))")
            }
            guard (try? String(contentsOfFile: manifest, encoding: .utf8)) == fingerprint else {
                throw EngineError.failed("--resume: the checkpoints in \(folder) were made with other settings; run the same command, or without --resume to start over")
            }
            available = ((try? fm.contentsOfDirectory(atPath: folder)) ?? []).filter(Checkpoints.isFrameName).count
        } else {
            try? fm.removeItem(atPath: folder)   // our own folder from an earlier run: start over
            do {
                try fm.createDirectory(atPath: folder, withIntermediateDirectories: true)
                try fingerprint.write(toFile: manifest, atomically: true, encoding: .utf8)
            } catch {
                throw EngineError.failed("cannot create the checkpoint folder \(folder): \(error.localizedDescription)")
            }
        }
    }

    /// File names inside a checkpoint folder (a cluster task's folder is one).
    public static func frameName(_ n: Int) -> String { String(format: "frame-%06d.png", n) }
    public static func inputName(_ n: Int) -> String { String(format: "input-%06d.png", n) }
    public static func isFrameName(_ name: String) -> Bool { name.hasPrefix("frame-") && name.hasSuffix(".png") }

    public func path(_ n: Int) -> String { folder + "/" + Checkpoints.frameName(n) }

    public func has(_ n: Int) -> Bool { n < available && FileManager.default.fileExists(atPath: path(n)) }

    public func load(_ n: Int, width: Int, height: Int) -> RGBImage? {
        guard n < available || FileManager.default.fileExists(atPath: path(n)),
              let img = try? ImageIO.read(path(n)), img.width == width, img.height == height else { return nil }
        return img
    }

    /// Finished frames on disk (from this run or an earlier one).
    public var saved: Int { ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter(Checkpoints.isFrameName).count }

    public func save(_ img: RGBImage, _ n: Int) throws { try ImageIO.write(img, to: path(n)) }

    /// The optimiser's curvature after frame n (only the newest is kept), so a resumed run
    /// continues exactly as an uninterrupted one would.
    public func curvaturePath(_ n: Int) -> String { folder + String(format: "/curvature-%06d.bin", n) }
    public func saveCurvature(_ memory: LBFGS.Memory?, after n: Int) throws {
        if let m = memory { try m.serialized().write(to: URL(fileURLWithPath: curvaturePath(n)), options: .atomic) }
    }
    public func removeCurvature(after n: Int) {
        if n >= 0 { try? FileManager.default.removeItem(atPath: curvaturePath(n)) }
    }
    public func loadCurvature(after n: Int) -> LBFGS.Memory? {
        (try? Data(contentsOf: URL(fileURLWithPath: curvaturePath(n)))).flatMap { LBFGS.Memory(serialized: $0) }
    }

    /// The source-size results of `--output-size source` (frame-N holds the processing-size
    /// result the next frame continues).
    public func sourcePath(_ n: Int) -> String { folder + String(format: "/source-%06d.png", n) }
    public func saveSource(_ img: RGBImage, _ n: Int) throws { try ImageIO.write(img, to: sourcePath(n)) }
    public func loadSource(_ n: Int, width: Int, height: Int) -> RGBImage? {
        guard let img = try? ImageIO.read(sourcePath(n)), img.width == width, img.height == height else { return nil }
        return img
    }
    /// Frame n's finished result: its source-size one when the job has a source level.
    public func loadResult(_ n: Int, width: Int, height: Int, source: Bool) -> RGBImage? {
        source ? loadSource(n, width: width, height: height) : load(n, width: width, height: height)
    }

    /// The processing-size input frames, kept for the later passes of --passes.
    public func inputPath(_ n: Int) -> String { folder + "/" + Checkpoints.inputName(n) }
    public func saveInput(_ img: RGBImage, _ n: Int) throws { try ImageIO.write(img, to: inputPath(n)) }
    public func loadInput(_ n: Int, width: Int, height: Int) -> RGBImage? {
        guard let img = try? ImageIO.read(inputPath(n)), img.width == width, img.height == height else { return nil }
        return img
    }

    /// Later passes: the pass under way and how many positions of it are done.
    public func passProgress() -> (pass: Int, position: Int)? {
        guard let s = try? String(contentsOfFile: folder + "/passes", encoding: .utf8) else { return nil }
        let p = s.split(separator: " ").compactMap { Int($0) }
        return p.count == 2 ? (p[0], p[1]) : nil
    }
    public func setPassProgress(pass: Int, position: Int) throws {
        try "\(pass) \(position)".write(toFile: folder + "/passes", atomically: true, encoding: .utf8)
    }

    public func removeAll() { try? FileManager.default.removeItem(atPath: folder) }
}

