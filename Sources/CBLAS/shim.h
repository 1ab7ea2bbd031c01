#ifndef STYLEVID_CBLAS_SHIM_H
#define STYLEVID_CBLAS_SHIM_H
#include <cblas.h>
#endif
