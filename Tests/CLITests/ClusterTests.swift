import Foundation
import TestSupport
import XCTest

/// `stylevid plan / render / join / status / slurm` through the real binary, with a real
/// single-node Slurm (Debian's slurm-wlm and munge) that the test starts and stops.
final class ClusterTests: CLITestCase {
    var repository: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }
    /// 13 frames (0.52 s) of Big Buck Bunny with its audio.
    var clip: String { dir + "/bunny.mp4" }

    func makeClip() throws {
        try requireSampleData()
        let r = runShell("ffmpeg -v error -y -i '\(StylevidPaths.data)/bigbuckbunny.mp4' -t 0.5 -c:v libx264 -c:a aac '\(clip)'")
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    /// A plan of the clip at 64 px, small budgets, `chunk` frames a task.
    func plan(_ job: String, output: String, chunk: Int = 5, extra: [String] = []) -> RunResult {
        runStylevid(["plan", clip, painting, output, "--job", job, "--size", "64", "--iterations", "10", "--later-iterations", "4",
                     "--chunk-frames", String(chunk), "--quiet"] + extra)
    }

    func taskFrames(_ job: String) -> [String: Data] {
        var out: [String: Data] = [:]
        let base = job + "/tasks"
        for k in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [] {
            for f in (try? FileManager.default.contentsOfDirectory(atPath: base + "/" + k)) ?? [] where f.hasPrefix("frame-") {
                out["\(k)/\(f)"] = FileManager.default.contents(atPath: "\(base)/\(k)/\(f)")
            }
        }
        return out
    }

    /// Presentation times of a file's video frames, in order.
    func frameTimes(_ path: String) -> [String] {
        runShell("ffprobe -v error -select_streams v -show_entries frame=best_effort_timestamp_time -of csv=p=0 '\(path)'")
            .stdout.split(separator: "\n").map { String($0.split(separator: ",").first ?? "") }   // (a frame with side data gets a trailing comma)
    }

    /// A checksum of every decoded video frame.
    func decodedFrames(_ path: String) -> [String] {
        runShell("ffmpeg -v error -i '\(path)' -map 0:v -f framemd5 - | grep -v '^#'").stdout.split(separator: "\n").map(String.init)
    }

    /// The slurm-cluster script's Slurm, for this test only.
    func startSlurm() throws -> String {
        try requireInstalled(["/usr/sbin/slurmctld"], "slurm-wlm is not installed: run `make setup` (make test does it)")
        let script = repository.appendingPathComponent("scripts/slurm-cluster.sh").path
        let slurm: String = dir + "/slurm"
        let r = runShell("'\(script)' start '\(slurm)'")
        addTeardownBlock { _ = runShell("'\(script)' stop '\(slurm)'") }
        XCTAssertEqual(r.status, 0, r.stderr)
        return "SLURM_CONF='\(dir!)/slurm/slurm.conf'"
    }

    func stylevid(_ env: String, _ args: String) -> RunResult {
        runShell("\(env) timeout 120 '\(StylevidPaths.binary)' \(args)")
    }

    /// Waits until `condition` holds (polling), at most `seconds`.
    /// Waits for `condition` while Slurm still has jobs at it, so that a loaded machine
    /// makes the test slower, not failed: it gives up at once, with the jobs' own last log
    /// lines, when the queue has emptied without it (a task that failed), and after 10
    /// minutes at most (a task that spins).
    func wait(_ what: String, env: String, job: String, _ condition: () -> Bool) {
        let deadline = Date().addingTimeInterval(600)
        var emptyPolls = 0
        while !condition() && Date() < deadline && emptyPolls < 3 {
            usleep(500_000)
            emptyPolls = runShell("\(env) squeue -h").stdout.isEmpty ? emptyPolls + 1 : 0
        }
        guard !condition() else { return }
        let logs = runShell("tail -n 5 '\(job)'/logs/*.log 2>&1").stdout
        XCTFail("\(emptyPolls >= 3 ? "Slurm's queue emptied" : "10 minutes passed") without \(what); the jobs' logs end:\n\(logs)")
    }

    /// The whole cluster path: submitted to Slurm, one task killed mid-render and
    /// resubmitted, joined by the dependent job; the frames are those of one machine.
    func testSlurmRendersAKilledTaskAgainAndGivesTheFramesOfOneMachine() throws {
        try makeClip()
        let env = try startSlurm()
        // the reference: every task on this machine, in order, then the join
        let refJob = dir + "/ref", refOut = dir + "/ref.mp4"
        XCTAssertEqual(plan(refJob, output: refOut).status, 0)
        var r = runStylevid(["render", refJob, "--all", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = runStylevid(["join", refJob, "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)

        let job = dir + "/job", out = dir + "/out.mp4"
        XCTAssertEqual(plan(job, output: out).status, 0)
        let planned = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: job + "/plan.json"))) as? [String: Any])
        XCTAssertEqual((planned["tasks"] as? [[String: Int]])?.count, 3)
        // 2 CPUs a task (the default): as many threads as the reference had (the kernels'
        // float sums are split by thread, so another thread count rounds otherwise)
        r = stylevid(env, "slurm '\(job)' --max-parallel 1")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssert(r.stdout.contains("submitted seam array job"), r.stdout)
        XCTAssert(r.stdout.contains("submitted render array job"), r.stdout)
        let renderLine = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.contains("render array job") })
        let arrayID = try XCTUnwrap(renderLine.split(separator: " ").drop { $0 != "job" }.dropFirst().first.map(String.init))
        // kill task 1 once it has saved a frame
        let fm = FileManager.default
        wait("task 1 to start", env: env, job: job) { ((try? fm.contentsOfDirectory(atPath: job + "/tasks/1")) ?? []).contains { $0.hasPrefix("frame-") } }
        _ = runShell("\(env) scancel '\(arrayID)_1'")
        wait("task 1 to end", env: env, job: job) { !runShell("\(env) squeue -h -j '\(arrayID)_1'").stdout.contains("\(arrayID)_1") }
        XCTAssertFalse(fm.fileExists(atPath: job + "/tasks/1/done"), "task 1 finished before it was killed")
        wait("the other tasks", env: env, job: job) { fm.fileExists(atPath: job + "/tasks/2/done") }
        XCTAssertFalse(fm.fileExists(atPath: out), "the join ran with a task missing")
        let status = stylevid(env, "status '\(job)'")
        XCTAssert(status.stdout.contains("2 of 3 task(s) done"), status.stdout)
        r = stylevid(env, "slurm '\(job)' --resubmit")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssert(r.stdout.contains("(1 task(s)"), r.stdout)
        wait("the join job to write the output", env: env, job: job) { fm.fileExists(atPath: out) && runShell("\(env) squeue -h").stdout.isEmpty }

        XCTAssertEqual(taskFrames(job), taskFrames(refJob))
        XCTAssertEqual(taskFrames(job).count, 13)
        XCTAssertEqual(frameTimes(out), frameTimes(clip))
        XCTAssertEqual(frameTimes(out), frameTimes(refOut))
        XCTAssertEqual(decodedFrames(out), decodedFrames(refOut), "the joined videos differ")
        XCTAssert(runShell("ffprobe -v error -show_entries stream=codec_type -of csv=p=0 '\(out)'").stdout.contains("audio"))

        // join --reencode: the same frames in one encode, without a key frame where each
        // task starts; DIR given relative to another folder than the plan's
        let copied = dir + "/ref-copied.mp4"
        try fm.copyItem(atPath: refOut, toPath: copied)
        let starts = try XCTUnwrap(planned["tasks"] as? [[String: Int]]).compactMap { $0["first"] }
        XCTAssertEqual(keyFrames(copied), starts)
        r = runShell("cd '\(dir!)' && '\(StylevidPaths.binary)' status ref && '\(StylevidPaths.binary)' join ref --reencode --quiet")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssert(r.stdout.contains("3 of 3 task(s) done"), r.stdout)
        XCTAssertEqual(keyFrames(refOut), [0])
        XCTAssertEqual(frameTimes(refOut), frameTimes(copied))
        XCTAssert(runShell("ffprobe -v error -show_entries stream=codec_type -of csv=p=0 '\(refOut)'").stdout.contains("audio"))
        let psnr = runShell("ffmpeg -v info -i '\(refOut)' -i '\(copied)' -lavfi psnr -f null - 2>&1 | grep -o 'average:[0-9.]*' | cut -d: -f2")
        XCTAssertGreaterThan(Double(psnr.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, 35, "the re-encoded frames are not the copied ones")
    }

    /// --mode fast on Slurm: one shot in 3 tasks; a task that continues the shot starts on
    /// the keyframe the task before ends on (DIR/keyframes, made once), so there is no seam
    /// pass and the tasks are independent: rendered here in reverse order, they give the
    /// frames Slurm gave.
    func testFastModeOnSlurmSharesKeyframesAndRendersTasksInAnyOrder() throws {
        try makeClip()
        let env = try startSlurm()
        let fast = ["--mode", "fast", "--keyframe-gap", "4"]
        let job = dir + "/job", out = dir + "/out.mp4"
        XCTAssertEqual(plan(job, output: out, extra: fast).status, 0)
        let planned = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: job + "/plan.json"))) as? [String: Any])
        XCTAssertEqual((planned["tasks"] as? [[String: Int]])?.compactMap { $0["first"] }, [0, 4, 8])
        XCTAssertEqual(planned["seam_pass_frames"] as? Int, 0)
        var r = stylevid(env, "slurm '\(job)' --max-parallel 3")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stdout.contains("seam"), r.stdout)
        let fm = FileManager.default
        wait("the join job to write the output", env: env, job: job) { fm.fileExists(atPath: out) && runShell("\(env) squeue -h").stdout.isEmpty }

        let reversed = dir + "/reversed", reversedOut = dir + "/reversed.mp4"
        XCTAssertEqual(plan(reversed, output: reversedOut, extra: fast).status, 0)
        for k in [2, 1, 0] {
            r = runStylevid(["render", reversed, "--task", String(k), "--quiet"])
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        XCTAssertEqual(runStylevid(["join", reversed, "--quiet"]).status, 0)
        let shared = ["frame-000004.png", "frame-000008.png"]
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: job + "/keyframes").sorted(), shared)
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: reversed + "/keyframes").sorted(), shared)
        for f in shared {
            XCTAssertEqual(fm.contents(atPath: job + "/keyframes/" + f), fm.contents(atPath: reversed + "/keyframes/" + f), f)
        }
        // each task's first frame is the keyframe it shares with the task before
        XCTAssertEqual(fm.contents(atPath: job + "/tasks/1/frame-000000.png"), fm.contents(atPath: job + "/keyframes/frame-000004.png"))
        XCTAssertEqual(taskFrames(job).count, 13)
        XCTAssertEqual(taskFrames(job), taskFrames(reversed))
        XCTAssertFalse(fm.fileExists(atPath: job + "/seams"))
        XCTAssertEqual(frameTimes(out), frameTimes(clip))
        XCTAssertEqual(decodedFrames(out), decodedFrames(reversedOut), "the joined videos differ")
    }

    /// --output-size source through plan, render and join on this machine: the tasks and
    /// the seam passes keep source-size results beside the processing-size
    /// frames; the copying join and `join --reencode` both give frames at the input's size.
    func testSourceSizeThroughPlanRenderAndJoin() throws {
        try makeClip()
        let small = dir + "/small.mp4"
        let ff = runShell("ffmpeg -v error -y -i '\(clip)' -vf scale=160:90 -c:v libx264 -c:a copy '\(small)'")
        XCTAssertEqual(ff.status, 0, ff.stderr)
        let job = dir + "/job", out = dir + "/out.mp4"
        var r = runStylevid(["plan", small, painting, out, "--job", job, "--size", "64", "--iterations", "6", "--later-iterations", "3",
                             "--chunk-frames", "5", "--output-size", "source", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = runStylevid(["render", job, "--all", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let fm = FileManager.default
        for folder in ["tasks/0", "tasks/1", "seams/1", "seams/2"] {
            let sources = ((try? fm.contentsOfDirectory(atPath: job + "/" + folder)) ?? []).filter { $0.hasPrefix("source-") }
            XCTAssertFalse(sources.isEmpty, "\(folder) has no source-size results")
            for f in sources {
                XCTAssertEqual(runStylevid(["probe", job + "/" + folder + "/" + f]).stdout.contains("160×90"), true, "\(folder)/\(f)")
            }
        }
        r = runStylevid(["join", job, "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(runShell("ffprobe -v error -select_streams v -show_entries stream=width,height -of csv=p=0 '\(out)'").stdout
            .trimmingCharacters(in: .whitespacesAndNewlines), "160,90")
        XCTAssertEqual(frameTimes(out), frameTimes(small))
        let copied = dir + "/copied.mp4"
        try fm.moveItem(atPath: out, toPath: copied)
        r = runStylevid(["join", job, "--reencode", "--quiet"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(frameTimes(out), frameTimes(copied))
        let psnr = runShell("ffmpeg -v info -i '\(out)' -i '\(copied)' -lavfi psnr -f null - 2>&1 | grep -o 'average:[0-9.]*' | cut -d: -f2")
        XCTAssertGreaterThan(Double(psnr.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, 35, "the re-encoded frames are not the copied ones")
    }

    /// Indices of a file's key frames.
    func keyFrames(_ path: String) -> [Int] {
        runShell("ffprobe -v error -select_streams v -show_entries frame=key_frame -of csv=p=0 '\(path)'").stdout
            .split(separator: "\n").enumerated().compactMap { $0.element.hasPrefix("1") ? $0.offset : nil }
    }

    func testBadJobsGiveOneLine() throws {
        try makeClip()
        assertOneLineError(runStylevid(["render", dir + "/nope", "--all"]), contains: "no such job folder")
        try FileManager.default.createDirectory(atPath: dir + "/empty", withIntermediateDirectories: true)
        assertOneLineError(runStylevid(["join", dir + "/empty"]), contains: "has no plan.json")
        assertOneLineError(plan(dir + "/j0", output: "/nonexistent/out.mp4"), contains: "does not exist")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/j0/plan.json"))

        let job = dir + "/j", out = dir + "/out.mp4"
        XCTAssertEqual(plan(job, output: out).status, 0)
        assertOneLineError(plan(job, output: out), contains: "already holds a plan")
        assertOneLineError(runStylevid(["render", job, "--task", "3"]), contains: "task 3 is out of range")
        assertOneLineError(runStylevid(["render", job]), contains: "which task?")
        assertOneLineError(runStylevid(["join", job]), contains: "3 of 3 task(s) are not finished")
        // a task marked done whose segment is gone
        let planned = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: job + "/plan.json"))) as? [String: Any])
        for (k, t) in try XCTUnwrap(planned["tasks"] as? [[String: Int]]).enumerated() {
            try FileManager.default.createDirectory(atPath: job + "/tasks/\(k)", withIntermediateDirectories: true)
            try "\(t["last"]! - t["first"]! + 1) frames\n".write(toFile: job + "/tasks/\(k)/done", atomically: true, encoding: .utf8)
        }
        assertOneLineError(runStylevid(["join", job]), contains: "task 0's segment is missing or damaged")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        try FileManager.default.removeItem(atPath: job + "/tasks")
        // one shot in 3 tasks: a seam pass needs both its tasks
        assertOneLineError(runStylevid(["render", job, "--seam", "--task", "1"]), contains: "needs tasks 0 and 1 rendered first")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        // sbatch absent, and sbatch refusing
        assertOneLineError(runShell("PATH=/nonexistent '\(StylevidPaths.binary)' slurm '\(job)'"), contains: "sbatch not found")
        // (a configuration sbatch cannot read; a missing one makes it search DNS for a minute)
        try "NotASlurmOption=1\n".write(toFile: dir + "/bad-slurm.conf", atomically: true, encoding: .utf8)
        assertOneLineError(runShell("SLURM_CONF='\(dir!)/bad-slurm.conf' '\(StylevidPaths.binary)' slurm '\(job)'"), contains: "submitting the render array: sbatch failed")

        // a plan made by another version, or resolving to other settings or another model
        let planPath = job + "/plan.json"
        let original = try String(contentsOfFile: planPath, encoding: .utf8)
        try original.replacingOccurrences(of: "\"stylevid_version\" : \"", with: "\"stylevid_version\" : \"0.0.1-").write(toFile: planPath, atomically: true, encoding: .utf8)
        assertOneLineError(runStylevid(["render", job, "--task", "0"]), contains: "was made by stylevid 0.0.1-")
        try original.replacingOccurrences(of: "model vgg16", with: "model vgg19").write(toFile: planPath, atomically: true, encoding: .utf8)
        assertOneLineError(runStylevid(["render", job, "--task", "2"]), contains: "other settings or another model")
        try "{\"tasks\": 1}".write(toFile: planPath, atomically: true, encoding: .utf8)
        assertOneLineError(runStylevid(["status", job]), contains: "is not a stylevid plan")
        try original.write(toFile: planPath, atomically: true, encoding: .utf8)
        // the input vanished after planning
        try FileManager.default.removeItem(atPath: clip)
        assertOneLineError(runStylevid(["render", job, "--task", "0"]), contains: "no longer exists")
        XCTAssertFalse(FileManager.default.fileExists(atPath: job + "/tasks/0/done"))
    }
}
