import Foundation

enum StylevidPaths {
    static var home: String {
        ProcessInfo.processInfo.environment["STYLEVID_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? NSHomeDirectory() + "/.cache/stylevid"
    }
    static var data: String { home + "/data" }
    /// The stylevid binary beside the test bundle (same build configuration).
    static var binary: String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments.first { $0.hasSuffix(".xctest") } ?? CommandLine.arguments[0])
        var dir = bundle.deletingLastPathComponent()
        if dir.path.hasSuffix("Contents/MacOS") { dir = dir.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }
        return dir.appendingPathComponent("stylevid").path
    }
}

struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs the binary with a timeout; a hang is a failure, not a stuck test suite.
func runStylevid(_ args: [String], timeout: TimeInterval = 300) -> RunResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: StylevidPaths.binary)
    p.arguments = args
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    do { try p.run() } catch { return RunResult(status: -1, stdout: "", stderr: "cannot start \(StylevidPaths.binary): \(error)") }
    final class Box: @unchecked Sendable { var data = Data() }
    let outBox = Box(), errBox = Box()
    let group = DispatchGroup()
    group.enter(); DispatchQueue.global().async { outBox.data = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    group.enter(); DispatchQueue.global().async { errBox.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(20_000) }
    if p.isRunning { p.terminate(); p.waitUntilExit(); return RunResult(status: -2, stdout: "", stderr: "timed out") }
    p.waitUntilExit()
    group.wait()
    return RunResult(status: p.terminationReason == .uncaughtSignal ? 128 + p.terminationStatus : p.terminationStatus,
                     stdout: String(decoding: outBox.data, as: UTF8.self), stderr: String(decoding: errBox.data, as: UTF8.self))
}

struct RawImage { var width: Int; var height: Int; var rgb: [UInt8] }

/// Decodes an image to raw RGB with the ffmpeg program (an independent decoder, so the
/// tool's own reader does not grade itself), optionally scaled to size×size.
func readPNGViaTool(_ path: String, size: Int? = nil) throws -> RawImage {
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
func meanColorDistance(_ a: RawImage, _ b: RawImage) -> Double {
    func means(_ im: RawImage) -> [Double] {
        var m = [0.0, 0.0, 0.0]
        for i in 0..<(im.width * im.height) { for c in 0..<3 { m[c] += Double(im.rgb[3 * i + c]) } }
        return m.map { $0 / Double(im.width * im.height) }
    }
    let ma = means(a), mb = means(b)
    return zip(ma, mb).map { abs($0 - $1) }.reduce(0, +) / 3
}
