import ArgumentParser
import Engine
import Foundation
import VideoIO

/// `stylevid status DIR`: per-task progress, from the job folder alone.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show a plan's progress: frames done per task, and the work left (reads only the job folder).")
    @Argument(help: "The job folder of `stylevid plan`.") var dir: String

    func run() throws {
        let folder = JobFolder(dir)
        let plan = try folder.load()
        let fm = FileManager.default
        var done = 0, finished = 0, busySeconds = 0.0, timedFrames = 0
        for (k, t) in plan.tasks.enumerated() {
            let names = ((try? fm.contentsOfDirectory(atPath: folder.taskFolder(k))) ?? []).filter(Checkpoints.isFrameName).sorted()
            let isDone = folder.finishedFrames(k) == t.count
            // seconds per frame, from the saved frames' times
            let times = names.compactMap { (try? fm.attributesOfItem(atPath: folder.taskFolder(k) + "/" + $0))?[.modificationDate] as? Date }
            if let a = times.min(), let b = times.max(), times.count >= 2 {
                busySeconds += b.timeIntervalSince(a); timedFrames += times.count - 1
            }
            done += names.count
            if isDone { finished += 1 }
            let state = isDone ? "done" : names.isEmpty ? "not started" : "running or stopped"
            print(String(format: "task %3d  frames %6d-%-6d  %5d/%-5d  %@", k, t.first, t.last, names.count, t.count, state))
        }
        let left = plan.frameCount - done
        var line = "\(finished) of \(plan.tasks.count) task(s) done, \(done) of \(plan.frameCount) frames"
        if timedFrames > 0 && left > 0 {
            let perFrame = busySeconds / Double(timedFrames)
            line += String(format: "; %.1f s per frame, about %.1f h of work left (divide by the tasks running at once)", perFrame, perFrame * Double(left) / 3600)
        }
        print(line)
        let seams = plan.tasks.indices.filter { plan.seamPassLength(task: $0) > 0 }
        let seamsDone = seams.filter { folder.segmentInfo($0) != nil }.count
        if !seams.isEmpty { print("\(seamsDone) of \(seams.count) seam pass(es) done") }
        if finished == plan.tasks.count && seamsDone == seams.count { print("every task is done: stylevid join \(dir)") }
    }
}
