import Kernels
import XCTest

final class PhasesTests: XCTestCase {
    /// Each phase reads every row the phase before wrote (a 1-D averaging with its two
    /// neighbours, double-buffered), so a chunk that started before the last phase had
    /// finished would read a stale row: the result must equal the serial one exactly,
    /// on sizes that split into chunks unevenly and on ones too small to split.
    func testEveryPhaseSeesTheWholePreviousPhase() {
        for (n, phases, minPerThread) in [(1000, 40, 1), (7, 9, 1), (3, 5, 16), (257, 1, 1)] {
            let start = (0..<n).map { Float(($0 * 37) % 11) }
            func step(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ i: Int) {
                dst[i] = (src[(i + n - 1) % n] + 2 * src[i] + src[(i + 1) % n]) / 4 + Float(i % 3)
            }
            var serial = start, next = start
            for _ in 0..<phases {
                serial.withUnsafeBufferPointer { src in
                    next.withUnsafeMutableBufferPointer { dst in
                        for i in 0..<n { step(src.baseAddress!, dst.baseAddress!, i) }
                    }
                }
                swap(&serial, &next)
            }
            var buffers = start + [Float](repeating: 0, count: n)
            buffers.withUnsafeMutableBufferPointer { b in
                let base = b.baseAddress!
                parallelPhases(phases, rows: n, minPerThread: minPerThread) { p, rows in
                    let src = UnsafePointer(base + (p & 1) * n), dst = base + ((p + 1) & 1) * n
                    for i in rows { step(src, dst, i) }
                }
            }
            XCTAssertEqual(Array(buffers[(phases & 1) * n..<((phases & 1) + 1) * n]), serial, "n \(n), \(phases) phases")
        }
    }
}
