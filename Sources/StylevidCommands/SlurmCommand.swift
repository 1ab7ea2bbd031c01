import ArgumentParser
import Engine
import Foundation

/// `stylevid slurm DIR`: the plan's tasks as a Slurm array job, and the join as a job that
/// runs once every task succeeded. Slurm is the scheduler; we only write and submit.
struct SlurmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slurm",
        abstract: "Submit a plan to Slurm: an array job of its tasks, their seam passes, then the join.",
        discussion: """
            Writes DIR/slurm/render.sbatch (one array \
            task per plan task, `stylevid render DIR`), \
            DIR/slurm/seams.sbatch (the seam pass of every task that continues a shot, \
            `stylevid render --seam DIR`, after the tasks) and DIR/slurm/join.sbatch \
            (`stylevid join DIR`), each submitted with --dependency=afterok on the one \
            before, and prints the job ids. Then wait: the join job writes OUTPUT. `stylevid status DIR` shows the \
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
    @Flag(help: "Submit only the unfinished work (tasks continue from their saved frames), and the join.") var resubmit = false
    @Flag(help: "The join job encodes OUTPUT from the tasks' lossless frames (`join --reencode`: no key frame at the seams) instead of copying their segments.") var reencodeJoin = false

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

    /// One batch script: its phase, its lines, where it is written.
    struct Phase {
        let name: String
        let lines: [String]
        let file: String
    }

    func run() throws {
        let folder = JobFolder(dir)
        let plan = try folder.load()
        let job = folder.path
        let unfinished = plan.tasks.indices.filter { folder.finishedFrames($0) != plan.tasks[$0].count }
        let tasks = resubmit ? unfinished : Array(plan.tasks.indices)
        if !resubmit && !unfinished.elementsEqual(plan.tasks.indices) && !dryRun {
            throw CLIError("\(dir) has finished tasks already; use --resubmit to submit the rest")
        }
        // the tasks, then the seam passes, then the join
        let seams = plan.tasks.indices.filter { plan.seamPassLength(task: $0) > 0 && folder.segmentInfo($0) == nil }
        let phases = try writeScripts(plan: plan, job: job, tasks: tasks, seams: seams)
        if dryRun {
            for (i, p) in phases.enumerated() {
                let after = i > 0 ? " (submitted with --dependency=afterok:\(phases[i - 1].name.uppercased())_JOB_ID)" : ""
                print("# \(p.file)\(after)\n" + p.lines.joined(separator: "\n") + "\n")
            }
            print("# dry run: nothing submitted")
            return
        }
        let scripts = job + "/slurm"
        if resubmit, let old = try? String(contentsOfFile: scripts + "/jobs", encoding: .utf8) {
            // the earlier jobs that wait on a failed one wait forever: cancel those still pending
            let ids = old.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) }
            if !ids.isEmpty { _ = try? Sbatch.run("scancel", ["--state=PENDING"] + ids) }
        }
        var ids: [(name: String, id: String)] = []
        for p in phases {
            let what = ["render": "the render array", "seams": "the seam array"][p.name] ?? "the join job"
            let id = try Sbatch.submit(p.file, extra: ids.last.map { ["--dependency=afterok:\($0.id)"] } ?? [], what: what)
            ids.append((p.name, id))
        }
        try? (ids.map { "\($0.name) \($0.id)" }.joined(separator: "\n") + "\n").write(toFile: scripts + "/jobs", atomically: true, encoding: .utf8)
        for (name, id) in ids {
            switch name {
            case "render": print("submitted render array job \(id) (\(tasks.count) task(s)\(maxParallel.map { ", at most \($0) at once" } ?? ""))")
            case "seams": print("submitted seam array job \(id) (\(seams.count) seam pass(es)), after the tasks")
            default: print("submitted join job \(id), which runs once every task succeeded and writes \(plan.output)")
            }
        }
        print("follow it: stylevid status \(dir)   (squeue -j \(ids.map(\.id).joined(separator: ",")); logs in \(job)/logs)")
        print("if a task fails: stylevid slurm \(dir) --resubmit")
    }

    /// Writes the batch scripts of the phases that have work, in the order they run.
    func writeScripts(plan: RenderPlan, job: String, tasks: [Int], seams: [Int]) throws -> [Phase] {
        let env = ["export STYLEVID_HOME=\(SlurmCommand.quote(StylevidHome.path))"]
        let exe = SlurmCommand.quote(SlurmCommand.executable), quotedJob = SlurmCommand.quote(job)
        let scripts = job + "/slurm"
        var phases: [Phase] = []
        func add(_ name: String, _ lines: [String]) { phases.append(Phase(name: name, lines: lines, file: "\(scripts)/\(name).sbatch")) }
        if !tasks.isEmpty {
            add("render", header(name: "stylevid-render", log: "\(job)/logs/render-%a.log")
                + ["#SBATCH --array=\(arraySpec(tasks, count: plan.tasks.count))"] + env + ["exec \(exe) render --quiet \(quotedJob)"])
        }
        if !seams.isEmpty {
            add("seams", header(name: "stylevid-seams", log: "\(job)/logs/seam-%a.log")
                + ["#SBATCH --array=\(arraySpec(seams, count: -1))"] + env + ["exec \(exe) render --seam --quiet \(quotedJob)"])
        }
        // the join copies the tasks' encoded segments: one CPU, seconds (encoding OUTPUT
        // afresh takes a task's CPUs and about 0.1 s a frame at 1080p)
        add("join", header(name: "stylevid-join", log: "\(job)/logs/join.log", cpus: reencodeJoin ? cpusPerTask : 1) + env
            + ["exec \(exe) join --quiet \(reencodeJoin ? "--reencode " : "")\(quotedJob)"])
        do {
            for d in [scripts, job + "/logs"] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
            for name in ["render", "seams", "join"] { try? FileManager.default.removeItem(atPath: "\(scripts)/\(name).sbatch") }
            for p in phases { try (p.lines.joined(separator: "\n") + "\n").write(toFile: p.file, atomically: true, encoding: .utf8) }
        } catch {
            throw CLIError("cannot write the batch scripts into \(scripts): \(error.localizedDescription)")
        }
        return phases
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
