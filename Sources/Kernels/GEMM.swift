import CBLAS
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// OpenBLAS runs single-threaded; stylevid splits GEMMs over its own threads. OpenBLAS's
/// pthread workers spin (up to 2²⁸ cycles) after every call, and between the calls of a
/// Winograd layer that spinning took a core from the transforms running on our threads
/// (perf: ~15% of an iteration in sched_yield). Set once, before the first GEMM.
private let blasSingleThreaded: Void = { openblas_set_num_threads(1) }()

/// Single-precision matrix multiply, row-major: C = alpha·op(A)·op(B) + beta·C, with
/// op(A) m×k and op(B) k×n. Large products are split into column (or row) blocks over
/// the kernel threads, each one single-threaded `cblas_sgemm` call.
public func gemm(transA: Bool = false, transB: Bool = false,
                 m: Int, n: Int, k: Int, alpha: Float = 1,
                 a: UnsafePointer<Float>, lda: Int,
                 b: UnsafePointer<Float>, ldb: Int,
                 beta: Float = 0,
                 c: UnsafeMutablePointer<Float>, ldc: Int) {
    precondition(m >= 0 && n >= 0 && k >= 0, "gemm: negative size m=\(m) n=\(n) k=\(k)")
    if m == 0 || n == 0 { return }
    let threads = kernelThreads
    // below ~4 MFLOP a dispatch costs more than it saves
    if threads <= 1 || m * n * Swift.max(k, 1) < 1 << 21 {
        gemmSerial(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        return
    }
    if n >= m {
        // column blocks (multiples of 16): B's columns and C's columns
        let chunk = ((n + threads - 1) / threads + 15) / 16 * 16
        parallelFor((n + chunk - 1) / chunk) { range in
            for part in range {
                let j0 = part * chunk, cols = Swift.min(chunk, n - j0)
                gemmSerial(transA: transA, transB: transB, m: m, n: cols, k: k, alpha: alpha, a: a, lda: lda,
                           b: transB ? b + j0 * ldb : b + j0, ldb: ldb, beta: beta, c: c + j0, ldc: ldc)
            }
        }
    } else {
        // row blocks (multiples of 8): A's rows and C's rows
        let chunk = ((m + threads - 1) / threads + 7) / 8 * 8
        parallelFor((m + chunk - 1) / chunk) { range in
            for part in range {
                let i0 = part * chunk, rows = Swift.min(chunk, m - i0)
                gemmSerial(transA: transA, transB: transB, m: rows, n: n, k: k, alpha: alpha,
                           a: transA ? a + i0 : a + i0 * lda, lda: lda, b: b, ldb: ldb, beta: beta, c: c + i0 * ldc, ldc: ldc)
            }
        }
    }
}

/// `gemm` on the calling thread only: for callers that run several products in parallel
/// themselves. The one place in stylevid that calls `cblas_sgemm` (OpenBLAS).
@inline(__always)
public func gemmSerial(transA: Bool = false, transB: Bool = false,
                       m: Int, n: Int, k: Int, alpha: Float = 1,
                       a: UnsafePointer<Float>, lda: Int,
                       b: UnsafePointer<Float>, ldb: Int,
                       beta: Float = 0,
                       c: UnsafeMutablePointer<Float>, ldc: Int) {
    _ = blasSingleThreaded
    if m == 0 || n == 0 { return }
    cblas_sgemm(CblasRowMajor,
                transA ? CblasTrans : CblasNoTrans,
                transB ? CblasTrans : CblasNoTrans,
                blasint(m), blasint(n), blasint(k), alpha,
                a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
}

/// The kernel family OpenBLAS chose for this CPU when it loaded (`openblas_get_corename`),
/// e.g. "Haswell", "SkylakeX", or "Prescott" (its SSE3 fallback).
public var blasCoreName: String { openblas_get_corename().map { String(cString: $0) } ?? "unknown" }

/// Whether this CPU runs AVX2 and FMA.
public var cpuHasAVX2FMA: Bool { shim_cpu_has_avx2_fma() != 0 }

/// Number of worker threads the kernels split their own (non-GEMM) loops over:
/// $STYLEVID_THREADS if set, else the CPUs this process may run on (`allowedCPUs`).
public let kernelThreads: Int = {
    if let s = getenvString("STYLEVID_THREADS"), let n = Int(s), n > 0 { return n }
    return allowedCPUs()
}()

/// The CPUs this process may actually use, not the node's core count: its affinity mask
/// (Slurm, taskset and cgroup cpusets set it), the cgroup's CPU quota (containers,
/// Kubernetes limits), and $SLURM_CPUS_PER_TASK, the smallest of those known. A 4-CPU
/// task on a 64-core node gets 4 threads, not 64.
public func allowedCPUs(cgroupFile: String = "/sys/fs/cgroup/cpu.max",
                        environment: [String: String] = ProcessInfo.processInfo.environment) -> Int {
    var n = Int(shim_allowed_cpus())
    if n <= 0 { n = Swift.max(1, Int(openblas_get_num_procs())) }
    // cgroup v2: "QUOTA PERIOD" or "max PERIOD"
    if let text = try? String(contentsOfFile: cgroupFile, encoding: .utf8) {
        let f = text.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        if f.count == 2, let quota = Double(f[0]), let period = Double(f[1]), quota > 0, period > 0 {
            n = Swift.min(n, Swift.max(1, Int((quota / period).rounded(.up))))
        }
    }
    if let s = environment["SLURM_CPUS_PER_TASK"], let c = Int(s), c > 0 { n = Swift.min(n, c) }
    return n
}

func getenvString(_ name: String) -> String? {
    guard let p = getenv(name) else { return nil }
    return String(cString: p)
}

/// How many kernel threads `n` items are split over: at most `kernelThreads`, and at least
/// `minPerThread` items each.
@inline(__always)
func kernelWorkers(_ n: Int, minPerThread: Int) -> Int {
    Swift.min(kernelThreads, Swift.max(1, n / Swift.max(1, minPerThread)))
}

/// Runs `body(i)` for i in 0..<n, split into contiguous chunks over the kernel threads.
/// Small loops run inline: a dispatch costs more than it saves below ~`minPerThread` items.
@inline(__always)
public func parallelFor(_ n: Int, minPerThread: Int = 1, _ body: (Range<Int>) -> Void) {
    if n <= 0 { return }
    let workers = kernelWorkers(n, minPerThread: minPerThread)
    if workers <= 1 { body(0..<n); return }
    let chunk = (n + workers - 1) / workers
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        let lo = w * chunk, hi = Swift.min(n, lo + chunk)
        if lo < hi { body(lo..<hi) }
    }
}

/// Keeps freed tensor memory in the process instead of returning it to the kernel: every
/// iteration allocates and frees the same few hundred MB of activations, and with glibc's
/// defaults each large block is a fresh mmap whose pages fault in (and are zeroed by the
/// kernel) again. Measured: ~15% of an iteration at 512×288 (BENCHMARKS.md).
public func configureAllocator() {
    shim_keep_freed_memory()
}
