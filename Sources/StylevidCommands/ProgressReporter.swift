import Engine
import Foundation

/// Progress on stderr: a redrawn bar on a terminal, plain periodic lines otherwise.
final class ProgressReporter {
    let quiet: Bool
    let tty: Bool
    /// Notes each video frame's coverage, evaluations and losses (`--verbose`).
    var verbose = false
    var lastDraw = Date.distantPast
    var lastFraction = -1.0
    var drewBar = false

    init(quiet: Bool) {
        self.quiet = quiet
        tty = isatty(2) == 1
    }

    func note(_ s: String) {
        if quiet { return }
        if drewBar { eprint(""); drewBar = false }
        eprint("stylevid: " + s)
    }

    func update(_ p: StyleProgress) {
        if quiet { return }
        let now = Date()
        let eta = p.fraction > 0.001 ? p.elapsed * (1 - p.fraction) / p.fraction : .nan
        let level = p.levels > 1 ? "level \(p.level + 1)/\(p.levels) \(p.levelSize.width)×\(p.levelSize.height) " : ""
        let line = String(format: "%@it %d/%d loss %.4g  %.2f s/it  ETA %@",
                          level, p.iteration, p.iterations, p.loss,
                          p.elapsed / Double(max(1, p.evaluations)), formatDuration(eta))
        if tty {
            guard now.timeIntervalSince(lastDraw) > 0.1 || p.iteration == p.iterations else { return }
            lastDraw = now
            let width = 24
            let filled = Int(p.fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            FileHandle.standardError.write("\r\u{1B}[K[\(bar)] \(Int(p.fraction * 100))% \(line)".data(using: .utf8)!)
            drewBar = true
        } else {
            // a line every 10% of the job, or every 30 s
            guard p.fraction - lastFraction >= 0.1 || now.timeIntervalSince(lastDraw) > 30 else { return }
            lastFraction = p.fraction; lastDraw = now
            eprint("stylevid: \(Int(p.fraction * 100))% \(line)")
        }
    }

    /// After each video frame: frames done, seconds per frame, ETA.
    func updateVideo(_ v: VideoProgress) {
        if quiet { return }
        let total = v.framesExpected.map { "/\($0)" } ?? ""
        let eta = v.secondsLeft.map(formatDuration) ?? "--:--"
        let line = String(format: "frame %d%@  %.1f s/frame  elapsed %@  ETA %@", v.framesDone, total,
                          v.secondsPerFrame, formatDuration(v.elapsed), eta)
        if tty {
            FileHandle.standardError.write("\r\u{1B}[K\(line)".data(using: .utf8)!)
            drewBar = true
        } else {
            let frac = v.framesExpected.map { Double(v.framesDone) / Double(max(1, $0)) } ?? 0
            guard frac - lastFraction >= 0.05 || Date().timeIntervalSince(lastDraw) > 30 || v.framesDone == v.framesExpected else { return }
            lastFraction = frac; lastDraw = Date()
            eprint("stylevid: " + line)
        }
    }

    /// Inside a frame (terminal only): the frame's own iteration progress.
    func updateFrame(video v: VideoProgress, frame p: StyleProgress) {
        if quiet || !tty { return }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) > 0.2 else { return }
        lastDraw = now
        let total = v.framesExpected.map { "/\($0)" } ?? ""
        // this frame's time left from its own progress; the frames after it as the render
        // estimates them, or at the later frames' rate, or (none finished yet) at this frame's
        let thisFrame = p.elapsed / max(p.fraction, 0.01)
        let eta = v.framesExpected.map {
            formatDuration(thisFrame * (1 - p.fraction)
                + (v.estimatedSecondsLeft ?? Double(max(0, $0 - v.framesDone - 1)) * (v.laterSecondsPerFrame ?? thisFrame)))
        } ?? "--:--"
        FileHandle.standardError.write(String(format: "\r\u{1B}[Kframe %d%@ [%3d%%] loss %.4g  %.1f s/frame  ETA %@",
                                              v.framesDone + 1, total, Int(p.fraction * 100), p.loss,
                                              v.secondsPerFrame, eta).data(using: .utf8)!)
        drewBar = true
    }

    func finish() {
        if drewBar { eprint(""); drewBar = false }
    }
}

func eprint(_ s: String) {
    FileHandle.standardError.write((s + "\n").data(using: .utf8)!)
}

func formatDuration(_ s: Double) -> String {
    guard s.isFinite && s >= 0 else { return "--:--" }
    let t = Int(s.rounded())
    return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, (t / 60) % 60, t % 60) : String(format: "%d:%02d", t / 60, t % 60)
}

/// What a video render shows and what an interrupt says.
extension ProgressReporter: RenderObserver {
    func interruptible(_ message: String) { interruptMessage.value = message }
}
