/* The sizes and alignments the C compiler gives littlefs's structs, so a
 * test can compare them with the pre-generated Rust bindings (a mismatch
 * would corrupt memory silently), and the offsets of the fields Rust code
 * reaches into (mpimg-littlefs sets the allocator's start). */
#include <stddef.h>
#include "lfs.h"

#define LAYOUT(NAME, T) \
    const size_t mpimg_lfs_sizeof_##NAME = sizeof(T); \
    const size_t mpimg_lfs_alignof_##NAME = offsetof(struct { char c; T t; }, t);

LAYOUT(lfs_t, lfs_t)
LAYOUT(lfs_config, struct lfs_config)
LAYOUT(lfs_file_t, lfs_file_t)
LAYOUT(lfs_file_config, struct lfs_file_config)
LAYOUT(lfs_dir_t, lfs_dir_t)
LAYOUT(lfs_info, struct lfs_info)
LAYOUT(lfs_fsinfo, struct lfs_fsinfo)
LAYOUT(lfs_attr, struct lfs_attr)

const size_t mpimg_lfs_offsetof_lfs_t_lookahead = offsetof(lfs_t, lookahead);
const size_t mpimg_lfs_offsetof_lfs_t_block_count = offsetof(lfs_t, block_count);
