import ArgumentParser
import Engine
import Foundation
import Kernels
import Photoreal
import VideoIO

/// Ctrl-C / SIGTERM: remove any half-written output, say so, and exit.
func installInterruptHandler() {
    for sig in [SIGINT, SIGTERM] {
        signal(sig, SIG_IGN)
        let src = DispatchSource.makeSignalSource(signal: sig, queue: .global())
        src.setEventHandler {
            AtomicFile.removeAllTemporaryFiles()
            FileHandle.standardError.write("\nstylevid: interrupted; \(interruptMessage.value)\n".data(using: .utf8)!)
            // _exit, not exit: atexit handlers (OpenBLAS tears down its thread pool) would
            // run while the main thread is still inside a GEMM, and crash
            _exit(sig == SIGINT ? 130 : 143)
        }
        src.resume()
        signalSources.append(src)
    }
}
nonisolated(unsafe) var signalSources: [DispatchSourceSignal] = []

/// What the interrupt handler tells the user (the video path says how to resume).
final class InterruptMessage: @unchecked Sendable {
    private let lock = NSLock()
    private var text = "no output was written"
    var value: String { get { lock.lock(); defer { lock.unlock() }; return text } set { lock.lock(); text = newValue; lock.unlock() } }
}

let interruptMessage = InterruptMessage()
