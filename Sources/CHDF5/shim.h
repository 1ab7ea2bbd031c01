#ifndef STYLEVID_CHDF5_SHIM_H
#define STYLEVID_CHDF5_SHIM_H
#include <hdf5.h>
/* H5T_NATIVE_* and H5P_DEFAULT are macros over globals Swift cannot import. */
static inline hid_t shim_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t shim_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t shim_h5s_all(void) { return H5S_ALL; }
static inline unsigned shim_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned shim_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
/* A link-creation property list that creates missing parent groups (for writers). */
static inline hid_t shim_h5p_intermediate_groups(void) {
    hid_t p = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(p, 1);
    return p;
}
/* Silence HDF5's own stderr error stack: we report errors ourselves. */
static inline void shim_h5_silence(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* Recursive visit of every link name, independent of the H5Lvisit version macros. */
typedef int (*shim_visit_fn)(const char *name, void *ctx);
struct shim_visit_ctx { shim_visit_fn fn; void *ctx; };
static inline herr_t shim_visit_cb(hid_t g, const char *name, const H5L_info_t *info, void *op) {
    (void)g; (void)info;
    struct shim_visit_ctx *c = (struct shim_visit_ctx *)op;
    return c->fn(name, c->ctx);
}
static inline herr_t shim_visit_links(hid_t file, shim_visit_fn fn, void *ctx) {
    struct shim_visit_ctx c = { fn, ctx };
    return H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, shim_visit_cb, &c);
}
/* 1 if the named object is a dataset. */
static inline int shim_is_dataset(hid_t file, const char *name) {
    H5O_info_t info;
#if H5_VERSION_GE(1, 12, 0)
    if (H5Oget_info_by_name3(file, name, &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return 0;
#else
    if (H5Oget_info_by_name2(file, name, &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) return 0;
#endif
    return info.type == H5O_TYPE_DATASET;
}
#endif
