import Engine
import Foundation
import VideoIO

/// A job folder: plan.json, and tasks/K/ with task K's frames (`Checkpoints` files,
/// numbered from the task's first frame) and, once finished, its `done` file.
struct JobFolder {
    let path: String
    /// `path` made absolute here: loading a plan moves into the plan's working folder.
    init(_ path: String) { self.path = URL(fileURLWithPath: path).standardizedFileURL.path }
    var planPath: String { path + "/plan.json" }
    func taskFolder(_ k: Int) -> String { path + "/tasks/\(k)" }
    func doneFile(_ k: Int) -> String { taskFolder(k) + "/done" }
    /// Task k's frames encoded as OUTPUT is (video only, timestamps from 0), in a container
    /// that keeps decode timestamps (`SegmentJoiner`).
    func segmentFile(_ k: Int, plan: RenderPlan) -> String {
        taskFolder(k) + (URL(fileURLWithPath: plan.output).pathExtension.lowercased() == "webm" ? "/segment.webm" : "/segment.mp4")
    }
    func segmentInfoFile(_ k: Int) -> String { taskFolder(k) + "/segment.json" }
    /// Task k's seam pass: its first frames rendered again (`RenderPlan.seamPassLength`).
    func seamFolder(_ k: Int) -> String { path + "/seams/\(k)" }
    /// Fast mode's keyframes that two tasks of a shot share, by input frame.
    var keyframeFolder: String { path + "/keyframes" }
    func keyframeFile(_ f: Int) -> String { keyframeFolder + "/" + Checkpoints.frameName(f) }

    /// Where a task's segment goes in the output: its first frame's pts after the video's
    /// first frame (input time base), and where the video starts (seconds of the input).
    struct SegmentInfo: Codable {
        var offset: Int64
        var videoStartTime: Double
    }
    func writeSegmentInfo(_ info: SegmentInfo, task k: Int) throws {
        let e = JSONEncoder()
        e.keyEncodingStrategy = .convertToSnakeCase
        try e.encode(info).write(to: URL(fileURLWithPath: segmentInfoFile(k)), options: .atomic)
    }
    func segmentInfo(_ k: Int) -> SegmentInfo? {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return FileManager.default.contents(atPath: segmentInfoFile(k)).flatMap { try? d.decode(SegmentInfo.self, from: $0) }
    }

    /// What a task must reproduce: the settings, the model, and the stylevid version.
    static func fingerprint(_ render: VideoRender) -> String {
        "stylevid \(StyleVid.configuration.version)\n" + render.fingerprint
    }

    /// The plan, or one line saying why there is none.
    func load() throws -> RenderPlan {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            throw CLIError("\(path): no such job folder (make one with stylevid plan … --job \(path))")
        }
        guard let data = FileManager.default.contents(atPath: planPath) else {
            throw CLIError("\(path) is not a job folder: it has no plan.json (make one with stylevid plan … --job \(path))")
        }
        let plan: RenderPlan
        do { plan = try RenderPlan.decode(data) } catch RenderPlan.FormatError.format(let n) {
            throw CLIError("\(planPath) was made by an earlier version of stylevid (plan format \(n); this one reads \(RenderPlan.currentFormat)): plan again")
        } catch {
            throw CLIError("\(planPath) is not a stylevid plan (\(error.localizedDescription))")
        }
        guard plan.stylevidVersion == StyleVid.configuration.version else {
            throw CLIError("\(planPath) was made by stylevid \(plan.stylevidVersion); this is stylevid \(StyleVid.configuration.version): use the same build on every node, or plan again")
        }
        guard FileManager.default.changeCurrentDirectoryPath(plan.workingDirectory) else {
            throw CLIError("the plan's working folder \(plan.workingDirectory) is not here: DIR, the input and the output must be on a filesystem every node sees")
        }
        guard FileManager.default.fileExists(atPath: plan.input) else {
            throw CLIError("the plan's input \(plan.input) no longer exists")
        }
        return plan
    }

    /// The plan's render, prepared for frames `range` of the input (nil: all of it, as
    /// one machine renders it); refused when this build resolves the settings or the
    /// model otherwise than the planning one did.
    func prepare(_ plan: RenderPlan, range: ClosedRange<Int>?) throws -> VideoRender {
        let render = try VideoJob.render(input: plan.input, output: plan.output, settings: plan.settings, range: FrameRange(frames: range))
        if let first = range?.lowerBound { render.seek = plan.seekPoint(frame: first) }
        guard JobFolder.fingerprint(render) == plan.fingerprint else {
            throw CLIError("\(planPath) was made with other settings or another model than this stylevid resolves them to (\(render.summary.components(separatedBy: "; ").last ?? "")): plan again with this build")
        }
        return render
    }

    /// Task k's finished frames: its `done` file says how many (nil: not finished).
    func finishedFrames(_ k: Int) -> Int? {
        (try? String(contentsOfFile: doneFile(k), encoding: .utf8)).flatMap { Int($0.split(separator: " ").first ?? "") }
    }
}
