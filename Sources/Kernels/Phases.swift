import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs `body(phase, rows)` for every phase in 0..<phases, each phase's `n` rows split
/// into chunks over the kernel threads, and every chunk of a phase after all chunks of
/// the phase before it: an iterative kernel (red-black sweeps) in one dispatch instead of
/// one per phase. Chunks are claimed in order from a shared counter, and a thread waits
/// only for chunks already claimed by a running thread, so the work finishes even when
/// the pool lends fewer threads than asked (then one thread claims them all). The
/// result does not depend on which thread runs which chunk as long as the chunks of one
/// phase are independent of each other.
public func parallelPhases(_ phases: Int, rows n: Int, minPerThread: Int = 1,
                           _ body: (_ phase: Int, _ rows: Range<Int>) -> Void) {
    if phases <= 0 || n <= 0 { return }
    let workers = kernelWorkers(n, minPerThread: minPerThread)
    if workers <= 1 {
        for p in 0..<phases { body(p, 0..<n) }
        return
    }
    let chunk = (n + workers - 1) / workers, chunks = (n + chunk - 1) / chunk
    let total = phases * chunks
    let counters = PhaseCounters()
    DispatchQueue.concurrentPerform(iterations: workers) { _ in
        while true {
            let g = counters.next.wrappingAdd(1, ordering: .relaxed).oldValue
            if g >= total { break }
            let phase = g / chunks, k = g % chunks
            // every chunk of the phases before this one finished
            var spins = 0
            while counters.done.load(ordering: .acquiring) < phase * chunks {
                spins += 1
                if spins > 64 { sched_yield() }
            }
            body(phase, (k * chunk)..<Swift.min(n, (k + 1) * chunk))
            counters.done.wrappingAdd(1, ordering: .releasing)
        }
    }
}

private final class PhaseCounters: Sendable {
    let next = Atomic<Int>(0)
    let done = Atomic<Int>(0)
}
