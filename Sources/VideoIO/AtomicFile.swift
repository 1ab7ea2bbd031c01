import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes a file so that the destination is either the complete new content or untouched:
/// the bytes go to a hidden temporary file in the destination's folder, are flushed, and
/// the temporary file is renamed over the destination. A failure (full disk, interrupt,
/// encoder error) removes the temporary file and leaves any existing file as it was.
public final class AtomicFile {
    public let destination: String
    public let temporaryPath: String
    private var fd: Int32
    private var finished = false

    /// `writer: false` only reserves the temporary path (for libraries such as libavformat
    /// that open the file themselves); `commit` still renames it into place.
    public init(destination: String, writer: Bool = true) throws {
        self.destination = destination
        let url = URL(fileURLWithPath: destination)
        let dir = url.deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw MediaError.writeFailed(path: destination, reason: "folder \(dir) does not exist")
        }
        if FileManager.default.fileExists(atPath: destination, isDirectory: &isDir), isDir.boolValue {
            throw MediaError.writeFailed(path: destination, reason: "is a folder")
        }
        let ext = url.pathExtension
        temporaryPath = dir + "/." + url.deletingPathExtension().lastPathComponent
            + ".stylevid-\(getpid())-\(UInt32.random(in: 0...UInt32.max))" + (ext.isEmpty ? "" : "." + ext)
        fd = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 {
            throw MediaError.writeFailed(path: destination, reason: String(cString: strerror(errno)))
        }
        AtomicFile.register(temporaryPath)
        if !writer { close(fd); fd = -1 }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        var off = 0
        while off < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + off, bytes.count - off)
            if n < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                abandon()
                throw MediaError.writeFailed(path: destination, reason: reason)
            }
            off += n
        }
    }

    /// Flushes, closes and renames into place.
    public func commit() throws {
        precondition(!finished, "AtomicFile.commit called twice")
        if fd >= 0 {
            if fsync(fd) != 0 && errno != EINVAL {
                let reason = String(cString: strerror(errno)); abandon()
                throw MediaError.writeFailed(path: destination, reason: reason)
            }
            close(fd); fd = -1
        }
        if rename(temporaryPath, destination) != 0 {
            let reason = String(cString: strerror(errno)); abandon()
            throw MediaError.writeFailed(path: destination, reason: reason)
        }
        finished = true
        AtomicFile.unregister(temporaryPath)
    }

    /// Removes the temporary file; the destination is untouched.
    public func abandon() {
        if finished { return }
        if fd >= 0 { close(fd); fd = -1 }
        unlink(temporaryPath)
        finished = true
        AtomicFile.unregister(temporaryPath)
    }

    deinit { abandon() }

    /// Removes temporary files of `destination` left by processes that no longer exist
    /// (killed with SIGKILL, or a power cut): `.NAME.stylevid-PID-N.EXT` whose PID is dead.
    public static func removeStale(for destination: String) {
        let url = URL(fileURLWithPath: destination)
        let dir = url.deletingLastPathComponent().path
        let prefix = "." + url.deletingPathExtension().lastPathComponent + ".stylevid-"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where name.hasPrefix(prefix) {
            let rest = name.dropFirst(prefix.count)
            guard let pid = Int32(rest.split(separator: "-").first ?? "") else { continue }
            if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH { unlink(dir + "/" + name) }
        }
    }

    // Temporary files still open, so a signal handler can remove them before exiting.
    nonisolated(unsafe) private static var live = Set<String>()
    private static let lock = NSLock()
    static func register(_ p: String) { lock.lock(); live.insert(p); lock.unlock() }
    static func unregister(_ p: String) { lock.lock(); live.remove(p); lock.unlock() }
    /// Deletes every temporary file still being written (called on SIGINT/SIGTERM).
    public static func removeAllTemporaryFiles() {
        lock.lock(); for p in live { unlink(p) }; live.removeAll(); lock.unlock()
    }
}
