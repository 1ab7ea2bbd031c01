#ifndef STYLEVID_CBLAS_SHIM_H
#define STYLEVID_CBLAS_SHIM_H
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
#endif
