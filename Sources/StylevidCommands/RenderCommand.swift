import ArgumentParser
import Engine
import Foundation
import VideoIO

/// `stylevid render DIR [--seam] [--task K | --all]`.
struct RenderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render task(s) of a plan into its job folder (lossless, resumable).",
        discussion: """
            Where a task continues the shot of the task before it, its seam pass (the \
            plan's --seam-pass-frames) renders its first frames again once both tasks are \
            done, continuing the task before's last frame and handing over to the task's \
            own frames, and encodes the task: so render the tasks, then `--seam` (`--all` \
            does both, in order). In fast mode there is no seam pass: the two tasks share \
            the keyframe where they meet (DIR/keyframes), made by whichever needs it first, \
            so the tasks run in any order. Without --task \
            or --all, the task is $SLURM_ARRAY_TASK_ID (a Slurm array job) or \
            $JOB_COMPLETION_INDEX (a Kubernetes Indexed Job), so one command line serves \
            every task. A task run again continues from its saved frames and gives the \
            frames an uninterrupted run gives; finished work is left as it is.
            """)
    @Argument(help: "The job folder of `stylevid plan`.") var dir: String
    @Option(help: "The task to render (0-based).") var task: Int?
    @Flag(help: "Render every unfinished task, in order, on this machine (seam passes last).") var all = false
    @Flag(help: "Run only the seam pass of the task(s), once the task and the one before it are rendered.") var seam = false
    @Flag(help: "No progress output.") var quiet = false

    func tasks(_ plan: RenderPlan) throws -> [Int] {
        if all {
            guard task == nil else { throw CLIError("--task and --all exclude each other") }
            return Array(plan.tasks.indices)
        }
        let env = ProcessInfo.processInfo.environment
        guard let k = task ?? env["SLURM_ARRAY_TASK_ID"].flatMap({ Int($0) }) ?? env["JOB_COMPLETION_INDEX"].flatMap({ Int($0) }) else {
            throw CLIError("which task? give --task K or --all (or run it as an array job: $SLURM_ARRAY_TASK_ID, $JOB_COMPLETION_INDEX)")
        }
        guard plan.tasks.indices.contains(k) else {
            throw CLIError("task \(k) is out of range: the plan in \(dir) has tasks 0-\(plan.tasks.count - 1)")
        }
        return [k]
    }

    func run() throws {
        let folder = JobFolder(dir)
        let plan = try folder.load()
        let renderer = TaskRenderer(plan: plan, folder: folder, reporter: ProgressReporter(quiet: quiet))
        let chosen = try tasks(plan)
        if !seam || all {
            for k in chosen { try renderer.task(k) }
        }
        if seam || all {
            for k in chosen where plan.seamPassLength(task: k) > 0 { try renderer.seamPass(k) }
        }
    }
}
