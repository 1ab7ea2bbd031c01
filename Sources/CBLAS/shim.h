#ifndef STYLEVID_CBLAS_SHIM_H
#define STYLEVID_CBLAS_SHIM_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     /* sched_getaffinity, CPU_COUNT */
#endif
#include <cblas.h>

/* glibc allocator tuning for the kernels (malloc.h is not in Swift's Glibc module):
   keep large freed blocks instead of unmapping them. */
#if defined(__GLIBC__)
#include <malloc.h>
static inline void shim_keep_freed_memory(void) {
    mallopt(M_MMAP_THRESHOLD, 512 << 20);
    mallopt(M_TRIM_THRESHOLD, 0x7fffffff);
}
#else
static inline void shim_keep_freed_memory(void) {}
#endif
/* The CPUs this process may run on: its affinity mask (what Slurm, taskset and
   cgroup cpusets set), not the machine's core count. 0 where it cannot be read. */
#if defined(__linux__)
#include <sched.h>
static inline int shim_allowed_cpus(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    return CPU_COUNT(&set);
}
#else
static inline int shim_allowed_cpus(void) { return 0; }
#endif
/* Whether the CPU runs AVX2 and FMA (what OpenBLAS's Haswell kernels need). */
static inline int shim_cpu_has_avx2_fma(void) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}
#endif
