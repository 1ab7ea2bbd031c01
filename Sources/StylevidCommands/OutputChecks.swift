import ArgumentParser
import Engine
import Foundation
import Kernels
import Photoreal
import VideoIO

/// Fails early, before any work, if OUTPUT cannot be written or would destroy an input.
func checkOutput(_ output: String, inputs: [String]) throws {
    let ext = URL(fileURLWithPath: output).pathExtension.lowercased()
    guard ImageIO.writableExtensions.contains(ext) else {
        throw CLIError("\(output): unknown output format '.\(ext)' (use one of \(ImageIO.writableExtensions.joined(separator: ", ")))")
    }
    try checkOutputLocation(output, inputs: inputs)
}

/// The output folder exists and is writable, and the output is not one of the inputs.
func checkOutputLocation(_ output: String, inputs: [String]) throws {
    let outURL = URL(fileURLWithPath: output).standardizedFileURL.resolvingSymlinksInPath()
    for i in inputs where URL(fileURLWithPath: i).standardizedFileURL.resolvingSymlinksInPath() == outURL {
        throw CLIError("\(output): output would overwrite the input \(i); choose another output path")
    }
    let dir = outURL.deletingLastPathComponent().path
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
        throw CLIError("\(output): output folder \(dir) does not exist")
    }
    // try a create rather than ask access(): access() says yes to root everywhere, and a
    // read-only or special file system only refuses the create itself
    let probe = dir + "/.stylevid-probe-\(getpid())"
    let fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0o600)
    guard fd >= 0 else {
        throw CLIError("\(output): output folder \(dir) is not writable (\(String(cString: strerror(errno))))")
    }
    close(fd); unlink(probe)
    if FileManager.default.fileExists(atPath: output, isDirectory: &isDir), isDir.boolValue {
        throw CLIError("\(output): is a folder")
    }
    AtomicFile.removeStale(for: output)
}

func checkVideoOutput(_ output: String, inputs: [String]) throws {
    let ext = URL(fileURLWithPath: output).pathExtension.lowercased()
    guard VideoWriter.containers.contains(ext) else {
        throw CLIError("\(output): a video input needs a video output (.\(VideoWriter.containers.joined(separator: ", ."))), not '.\(ext)'")
    }
    try checkOutputLocation(output, inputs: inputs)
}
