import Foundation
import XCTest

public enum StylevidPaths {
    public static var home: String {
        ProcessInfo.processInfo.environment["STYLEVID_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? NSHomeDirectory() + "/.cache/stylevid"
    }
    public static var data: String { home + "/data" }
    /// The stylevid binary beside the test bundle (same build configuration).
    public static var binary: String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments.first { $0.hasSuffix(".xctest") } ?? CommandLine.arguments[0])
        var dir = bundle.deletingLastPathComponent()
        if dir.path.hasSuffix("Contents/MacOS") { dir = dir.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }
        return dir.appendingPathComponent("stylevid").path
    }
}

/// What `make test` installs and builds (sample data, the plugin, host programs) is
/// required under `make test` and CI: it sets STYLEVID_REQUIRE_INSTALLED=1 (CI sets
/// CI=true), and a missing path fails the test, naming it. Run by hand (`swift test`)
/// before `make setup`, the test is skipped with the same words instead.
public func requireInstalled(_ paths: [String], _ hint: String = "run `make setup` (make test does it)") throws {
    let missing = paths.filter { !FileManager.default.fileExists(atPath: $0) }
    guard !missing.isEmpty else { return }
    try requirement("missing \(missing.joined(separator: ", ")): \(hint)")
}

/// A requirement of the suite that is not met: a failure under `make test` and CI, a skip
/// otherwise (see `requireInstalled`).
public func requirement(_ unmet: String) throws -> Never {
    let env = ProcessInfo.processInfo.environment
    if env["STYLEVID_REQUIRE_INSTALLED"] == "1" || env["CI"] == "true" { throw UnmetRequirement(description: unmet) }
    throw XCTSkip(unmet)
}

public struct UnmetRequirement: Error, CustomStringConvertible { public var description: String }

/// A pipe drained in the background as the child writes, so that a child filling one pipe
/// past its buffer (64 KB) while the other is being read never blocks (a fuzzer's log did).
final class PipeReader: @unchecked Sendable {
    private var data = Data()
    private let lock = NSLock(), done = DispatchSemaphore(value: 0)
    init(_ pipe: Pipe) {
        DispatchQueue.global().async { [self] in
            while case let chunk = pipe.fileHandleForReading.availableData, !chunk.isEmpty {
                lock.lock(); data.append(chunk); lock.unlock()
            }
            done.signal()
        }
    }
    /// Bytes read so far.
    var count: Int { lock.lock(); defer { lock.unlock() }; return data.count }
    /// Everything, once the writers have closed the pipe.
    func text() -> String {
        done.wait(); done.signal()
        lock.lock(); defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }
}

public struct RunResult {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public init(status: Int32, stdout: String, stderr: String) { self.status = status; self.stdout = stdout; self.stderr = stderr }
}

/// Runs the binary with a timeout; a hang is a failure, not a stuck test suite.
public func runStylevid(_ args: [String], timeout: TimeInterval = 300) -> RunResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: StylevidPaths.binary)
    p.arguments = args
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    do { try p.run() } catch { return RunResult(status: -1, stdout: "", stderr: "cannot start \(StylevidPaths.binary): \(error)") }
    let outReader = PipeReader(out), errReader = PipeReader(err)
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(20_000) }
    if p.isRunning { p.terminate(); p.waitUntilExit(); return RunResult(status: -2, stdout: "", stderr: "timed out") }
    p.waitUntilExit()
    return RunResult(status: p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus,
                     stdout: outReader.text(), stderr: errReader.text())
}

public struct RawImage { public var width: Int; public var height: Int; public var rgb: [UInt8] }

/// Decodes an image to raw RGB with the ffmpeg program (an independent decoder, so the
/// tool's own reader does not grade itself), optionally scaled to size×size.
public func readPNGViaTool(_ path: String, size: Int? = nil) throws -> RawImage {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/ffprobe")
    p.arguments = ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0", path]
    let pipe = Pipe(); p.standardOutput = pipe
    try p.run(); p.waitUntilExit()
    let dims = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        .trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ",").compactMap { Int($0) }
    guard dims.count == 2 else { throw NSError(domain: "ffprobe", code: 1, userInfo: [NSLocalizedDescriptionKey: "cannot probe \(path)"]) }
    let (w, h) = size.map { ($0, $0) } ?? (dims[0], dims[1])
    let f = Process()
    f.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
    f.arguments = ["-v", "error", "-i", path, "-vf", "scale=\(w):\(h)", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    let fp = Pipe(); f.standardOutput = fp
    try f.run()
    let data = fp.fileHandleForReading.readDataToEndOfFile()
    f.waitUntilExit()
    return RawImage(width: w, height: h, rgb: [UInt8](data))
}

/// Mean over pixels of the distance between mean colours of 8×8 blocks (colour
/// distribution, not structure).
public func meanColorDistance(_ a: RawImage, _ b: RawImage) -> Double {
    func means(_ im: RawImage) -> [Double] {
        var m = [0.0, 0.0, 0.0]
        for i in 0..<(im.width * im.height) { for c in 0..<3 { m[c] += Double(im.rgb[3 * i + c]) } }
        return m.map { $0 / Double(im.width * im.height) }
    }
    let ma = means(a), mb = means(b)
    return zip(ma, mb).map { abs($0 - $1) }.reduce(0, +) / 3
}

/// Runs a shell command line (for resource limits), with the same result shape.
public func runShell(_ line: String) -> RunResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", line]
    let err = Pipe(), out = Pipe()
    p.standardError = err; p.standardOutput = out
    try! p.run()
    let eReader = PipeReader(err), oReader = PipeReader(out)
    let e = eReader.text(), o = oReader.text()
    p.waitUntilExit()
    return RunResult(status: p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus,
                     stdout: o, stderr: e)
}

/// A host program (melt, gst-launch-1.0, ffmpeg) run as a user runs it, under a watchdog
/// instead of a short time limit, so that a loaded machine makes it slower but not
/// failed. It is stalled once, over the last `idle` seconds, `output` and its stderr have
/// not grown and the process tree has used under 0.1 s of CPU: a host waiting on itself
/// (a deadlock, or melt after MLT's start-up race). Output growth alone is no sign of
/// life (muxers buffer small frames to the end), so a host that keeps the CPU busy is
/// let run, up to `limit` seconds. A stalled host gets SIGINT (melt and gst-launch stop
/// cleanly on it), then SIGKILL; `stalled` is set, and stderr ends with what happened
/// after the host's own last lines.
public struct HostRun {
    public var result: RunResult
    public var stalled: Bool
    public var seconds: Double
}

public func runHost(_ line: String, output: String, idle: TimeInterval = 5, limit: TimeInterval = 600) -> HostRun {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", line]
    let err = Pipe(), out = Pipe()
    p.standardError = err; p.standardOutput = out
    p.standardInput = FileHandle.nullDevice
    let start = Date()
    do { try p.run() } catch { return HostRun(result: RunResult(status: -1, stdout: "", stderr: "cannot start /bin/sh: \(error)"), stalled: false, seconds: 0) }
    let eReader = PipeReader(err), oReader = PipeReader(out)
    func outputSize() -> Int { var st = stat(); return stat(output, &st) == 0 ? Int(st.st_size) : 0 }
    var marks: [(time: Date, cpu: Double)] = []          // the CPU used, sampled each poll
    var lastGrowth = Date(), lastSizes = (-1, -1)
    var why: String?
    let cpu = TreeCPU(root: p.processIdentifier)
    while p.isRunning {
        usleep(250_000)
        let now = Date(), sizes = (outputSize(), eReader.count)
        if sizes != lastSizes { lastSizes = sizes; lastGrowth = now }
        marks.append((now, cpu.seconds()))
        marks.removeAll { now.timeIntervalSince($0.time) > idle + 0.5 }
        let waited = now.timeIntervalSince(lastGrowth)
        if waited >= idle, let first = marks.first, now.timeIntervalSince(first.time) >= idle - 0.5, marks.last!.cpu - first.cpu < 0.1 {
            why = "no output and no CPU for \(Int(idle)) s"
        } else if now.timeIntervalSince(start) >= limit {
            why = "still running after \(Int(limit)) s"
        }
        if why != nil { stopDescendants(of: p); break }
    }
    p.waitUntilExit()
    var stderr = eReader.text()
    if let why { stderr += (stderr.isEmpty || stderr.hasSuffix("\n") ? "" : "\n") + "watchdog: the host stalled (\(why)) and was stopped" }
    let status = p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus
    return HostRun(result: RunResult(status: why == nil ? status : -2, stdout: oReader.text(), stderr: stderr),
                   stalled: why != nil, seconds: Date().timeIntervalSince(start))
}

/// The pids of a process and of all its descendants (from /proc), parents first.
func processTree(root: Int32) -> [Int32] {
    var children: [Int32: [Int32]] = [:]
    for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
        guard let pid = Int32(name), let stat = procStat(pid), stat.count > 1, let ppid = Int32(stat[1]) else { continue }
        children[ppid, default: []].append(pid)
    }
    var tree = [root], i = 0
    while i < tree.count { tree += children[tree[i]] ?? []; i += 1 }
    return tree
}

/// The fields of /proc/PID/stat after the command's name: state is [0], ppid [1],
/// utime [11], stime [12].
func procStat(_ pid: Int32) -> [Substring]? {
    // read(2) to the end: /proc files report a size of 0, which Foundation's readers trust
    let fd = open("/proc/\(pid)/stat", O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes = [UInt8](repeating: 0, count: 4096), n = 0
    while n < bytes.count, case let got = bytes.withUnsafeMutableBytes({ read(fd, $0.baseAddress! + n, $0.count - n) }), got > 0 { n += got }
    let text = String(decoding: bytes[..<n], as: UTF8.self)
    guard let close = text.lastIndex(of: ")") else { return nil }
    return text[text.index(after: close)...].split(separator: " ")
}

/// CPU seconds used by the processes of a tree (their threads included), each counted at
/// the last figure seen for it, so that the sum never drops when one exits.
final class TreeCPU {
    let root: Int32
    var seen: [Int32: Double] = [:]
    init(root: Int32) { self.root = root }
    func seconds() -> Double {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        for pid in processTree(root: root) {
            if let f = procStat(pid), f.count > 12 { seen[pid] = ((Double(f[11]) ?? 0) + (Double(f[12]) ?? 0)) / ticks }
        }
        return seen.values.reduce(0, +)
    }
}

/// Stops what a shell runs, not the shell, so that what the shell line does after its
/// host (print the host's log) still happens: SIGINT, then SIGKILL; the shell last.
func stopDescendants(of p: Process) {
    func signal(_ s: Int32) { for pid in processTree(root: p.processIdentifier).dropFirst().reversed() { kill(pid, s) } }
    func wait(_ seconds: Double) { for _ in 0..<Int(seconds * 4) where p.isRunning { usleep(250_000) } }
    signal(SIGINT); wait(5)
    if p.isRunning { signal(SIGKILL); wait(2) }
    if p.isRunning { kill(p.processIdentifier, SIGKILL) }
}
