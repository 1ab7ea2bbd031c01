import ArgumentParser
import Engine
import Foundation

/// `stylevid slurm DIR`: the plan's tasks as a Slurm array job, and the join as a job that
/// runs once every task succeeded. Slurm is the scheduler; we only write and submit.
struct SlurmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slurm",
        abstract: "Submit a plan to Slurm: an array job of its tasks, then the join.",
        discussion: """
            Writes DIR/slurm/keyframes.sbatch (the first frame of every task that continues \
            a shot, `stylevid render --keyframe DIR`), DIR/slurm/render.sbatch (one array \
            task per plan task, `stylevid render DIR`, after the keyframes) and \
            DIR/slurm/join.sbatch (`stylevid join DIR`, submitted with \
            --dependency=afterok on the array), submits them with sbatch and prints the job \
            ids. Then wait: the join job writes OUTPUT. `stylevid status DIR` shows the \
            progress from any node; logs are in DIR/logs. --resubmit submits the unfinished \
            tasks again (each continues from its saved frames) and a new join. DIR, the \
            input, the output, this stylevid build and $STYLEVID_HOME must be visible at the \
            same paths on every node.
            """)
    @Argument(help: "The job folder of `stylevid plan`.") var dir: String
    @Option(help: "Slurm partition (default: the cluster's default).") var partition: String?
    @Option(help: "Time limit of each task, as sbatch takes it (e.g. 2:00:00).") var time: String?
    @Option(help: "CPUs per task; stylevid uses as many threads.") var cpusPerTask: Int = 2
    @Option(help: "Memory per task, as sbatch takes it (e.g. 4G).") var mem: String?
    @Option(help: "Most tasks running at once (default: no limit).") var maxParallel: Int?
    @Option(help: "Account to charge.") var account: String?
    @Flag(help: "Write and print the scripts; submit nothing.") var dryRun = false
    @Flag(help: "Submit only the unfinished tasks (they continue from their saved frames), and the join.") var resubmit = false

    func validate() throws {
        guard cpusPerTask >= 1 else { throw ValidationError("--cpus-per-task must be at least 1") }
        if let k = maxParallel, k < 1 { throw ValidationError("--max-parallel must be at least 1") }
    }

    /// The absolute path of this executable, which every node runs.
    static var executable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// `cpus`: the job's CPUs (default --cpus-per-task).
    func header(name: String, log: String, cpus: Int? = nil) -> [String] {
        var lines = ["#!/bin/bash", "#SBATCH --job-name=\(name)", "#SBATCH --output=\(log)", "#SBATCH --cpus-per-task=\(cpus ?? cpusPerTask)"]
        if let partition { lines.append("#SBATCH --partition=\(partition)") }
        if let time { lines.append("#SBATCH --time=\(time)") }
        if let mem { lines.append("#SBATCH --mem=\(mem)") }
        if let account { lines.append("#SBATCH --account=\(account)") }
        return lines
    }

    /// "0-7%4" or "1,3,5%4" (`count`: the plan's tasks; the whole range is written 0-N).
    func arraySpec(_ tasks: [Int], count: Int) -> String {
        let list = tasks.count == count ? "0-\(count - 1)" : tasks.map(String.init).joined(separator: ",")
        return list + (maxParallel.map { "%\($0)" } ?? "")
    }

    func run() throws {
        let folder = JobFolder(dir)
        let plan = try folder.load()
        let job = URL(fileURLWithPath: dir).standardizedFileURL.path
        let unfinished = plan.tasks.indices.filter { folder.finishedFrames($0) != plan.tasks[$0].count }
        let tasks = resubmit ? unfinished : Array(plan.tasks.indices)
        if !resubmit && !unfinished.elementsEqual(plan.tasks.indices) && !dryRun {
            throw CLIError("\(dir) has finished tasks already; use --resubmit to submit the rest")
        }
        // the keyframes of the tasks that continue a shot, before any task (each task before
        // such a task is drawn toward its keyframe at the seam)
        let keyframes = tasks.filter { plan.needsKeyframe($0) && folder.keyframe($0) == nil }
        let env = ["export STYLEVID_HOME=\(SlurmCommand.quote(StylevidHome.path))"]
        let exe = SlurmCommand.quote(SlurmCommand.executable)
        let keyScript = header(name: "stylevid-keyframes", log: "\(job)/logs/keyframe-%a.log")
            + ["#SBATCH --array=\(arraySpec(keyframes, count: -1))"]
            + env + ["exec \(exe) render --keyframe --quiet \(SlurmCommand.quote(job))"]
        let render = header(name: "stylevid-render", log: "\(job)/logs/render-%a.log")
            + (tasks.isEmpty ? [] : ["#SBATCH --array=\(arraySpec(tasks, count: plan.tasks.count))"])
            + env + ["exec \(exe) render --quiet \(SlurmCommand.quote(job))"]
        // the join copies the tasks' encoded segments: one CPU, seconds
        let join = header(name: "stylevid-join", log: "\(job)/logs/join.log", cpus: 1)
            + env + ["exec \(exe) join --quiet \(SlurmCommand.quote(job))"]
        let scripts = job + "/slurm"
        do {
            for d in [scripts, job + "/logs"] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
            try? FileManager.default.removeItem(atPath: scripts + "/keyframes.sbatch")
            if !keyframes.isEmpty {
                try (keyScript.joined(separator: "\n") + "\n").write(toFile: scripts + "/keyframes.sbatch", atomically: true, encoding: .utf8)
            }
            try (render.joined(separator: "\n") + "\n").write(toFile: scripts + "/render.sbatch", atomically: true, encoding: .utf8)
            try (join.joined(separator: "\n") + "\n").write(toFile: scripts + "/join.sbatch", atomically: true, encoding: .utf8)
        } catch {
            throw CLIError("cannot write the batch scripts into \(scripts): \(error.localizedDescription)")
        }
        if dryRun {
            if !keyframes.isEmpty { print("# \(scripts)/keyframes.sbatch\n" + keyScript.joined(separator: "\n") + "\n") }
            print("# \(scripts)/render.sbatch\(keyframes.isEmpty ? "" : " (submitted with --dependency=afterok:KEYFRAMES_JOB_ID)")\n" + render.joined(separator: "\n"))
            print("\n# \(scripts)/join.sbatch (submitted with --dependency=afterok:RENDER_JOB_ID)\n" + join.joined(separator: "\n"))
            print("\n# dry run: nothing submitted")
            return
        }
        if resubmit, let old = try? String(contentsOfFile: scripts + "/jobs", encoding: .utf8) {
            // the earlier join waits on a failed array forever: cancel it
            if let j = old.split(separator: "\n").first(where: { $0.hasPrefix("join ") })?.split(separator: " ").last {
                _ = try? Sbatch.run("scancel", [String(j)])
            }
        }
        var keyID: String?, renderID: String?
        if !keyframes.isEmpty { keyID = try Sbatch.submit(scripts + "/keyframes.sbatch", what: "the keyframe array") }
        if !tasks.isEmpty {
            renderID = try Sbatch.submit(scripts + "/render.sbatch", extra: keyID.map { ["--dependency=afterok:\($0)"] } ?? [], what: "the render array")
        }
        let joinID = try Sbatch.submit(scripts + "/join.sbatch", extra: renderID.map { ["--dependency=afterok:\($0)"] } ?? [], what: "the join job")
        let ids = [keyID, renderID, joinID].compactMap { $0 }
        try? ([keyID.map { "keyframes \($0)" }, renderID.map { "render \($0)" }, "join \(joinID)"].compactMap { $0 }.joined(separator: "\n") + "\n")
            .write(toFile: scripts + "/jobs", atomically: true, encoding: .utf8)
        if let k = keyID { print("submitted keyframe array job \(k) (\(keyframes.count) keyframe(s))") }
        if let r = renderID { print("submitted render array job \(r) (\(tasks.count) task(s)\(maxParallel.map { ", at most \($0) at once" } ?? "")), after the keyframes") }
        print("submitted join job \(joinID), which runs once every task succeeded and writes \(plan.output)")
        print("follow it: stylevid status \(dir)   (squeue -j \((ids + [joinID]).joined(separator: ",")); logs in \(job)/logs)")
        print("if a task fails: stylevid slurm \(dir) --resubmit")
    }
}

/// Slurm's command-line clients, run as child processes.
enum Sbatch {
    /// Runs `tool` from PATH; returns its output, or throws one line with its complaint.
    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [tool] + arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out; p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let stderr = String(decoding: e, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if p.terminationStatus == 127 {
            throw CLIError("\(tool) not found: is this a Slurm login node? (`stylevid slurm DIR --dry-run` writes the scripts without it)")
        }
        guard p.terminationStatus == 0 else {
            throw CLIError("\(tool) failed: \(stderr.split(separator: "\n").last.map(String.init) ?? "exit \(p.terminationStatus)")")
        }
        return String(decoding: o, as: UTF8.self)
    }

    /// Submits a script with `sbatch --parsable`; returns the job id.
    static func submit(_ script: String, extra: [String] = [], what: String) throws -> String {
        let out: String
        do { out = try run("sbatch", ["--parsable"] + extra + [script]) } catch let e as CLIError {
            throw CLIError("submitting \(what): \(e.description)")
        }
        // "ID" or "ID;CLUSTER"
        guard let id = out.split(separator: "\n").last?.split(separator: ";").first.map(String.init), Int(id) != nil else {
            throw CLIError("submitting \(what): sbatch answered '\(out.trimmingCharacters(in: .whitespacesAndNewlines))', not a job id")
        }
        return id
    }
}
