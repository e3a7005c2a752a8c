/* Every user attribute of one entry, in one backwards pass over its metadata
 * log. littlefs's public API can only ask for one attribute type at a time
 * (lfs_getattr: a path lookup and a log scan per type), and has no way to
 * list the types an entry carries; copying a filesystem exactly needs all of
 * them. This file is the one translation unit of littlefs: it includes the
 * vendored, unmodified lfs.c to reach its internal helpers (path lookup, tag
 * decoding, block reads through littlefs's own cache).
 *
 * The scan follows the rules of lfs_dir_getslice: newest tag first; an entry
 * id shifts across the splices (creates, deletes) of lower ids; the create of
 * the entry itself ends its history; a pending move of the entry out of this
 * metadata pair hides it. The first tag seen for an attribute type is its
 * current value; a delete tag (size 0x3ff) means the type was removed. */
#include "lfs.c"

typedef int (*mpimg_lfs_attr_cb)(void *data, uint8_t type, const void *value, lfs_size_t size);

int mpimg_lfs_list_attrs(lfs_t *lfs, const char *path, mpimg_lfs_attr_cb cb, void *data) {
    lfs_mdir_t dir;
    lfs_stag_t found = lfs_dir_find(lfs, &dir, &path, NULL);
    if (found < 0) {
        return found;
    }
    uint16_t id = lfs_tag_id(found);
    if (id == 0x3ff) {
        /* the root: its attributes sit on the superblock entry (as lfs_getattr) */
        id = 0;
        int err = lfs_dir_fetch(lfs, &dir, lfs->root);
        if (err) {
            return err;
        }
    }

    lfs_tag_t gtag = LFS_MKTAG(LFS_TYPE_USERATTR, id, 0);
    lfs_stag_t gdiff = 0;
    if (lfs_gstate_hasmovehere(&lfs->gdisk, dir.pair)) {
        if (lfs_tag_id(lfs->gdisk.tag) == id) {
            return 0;
        } else if (lfs_tag_id(lfs->gdisk.tag) < id) {
            gdiff -= LFS_MKTAG(0, 1, 0);
        }
    }

    uint8_t seen[256 / 8] = {0};
    uint8_t value[LFS_ATTR_MAX];
    lfs_off_t off = dir.off;
    lfs_tag_t ntag = dir.etag;
    while (off >= sizeof(lfs_tag_t) + lfs_tag_dsize(ntag)) {
        off -= lfs_tag_dsize(ntag);
        lfs_tag_t tag = ntag;
        int err = lfs_bd_read(lfs, NULL, &lfs->rcache, sizeof(ntag), dir.pair[0], off, &ntag, sizeof(ntag));
        if (err) {
            return err;
        }
        ntag = (lfs_frombe32(ntag) ^ tag) & 0x7fffffff;

        uint16_t want = lfs_tag_id(gtag - gdiff);
        if (lfs_tag_type1(tag) == LFS_TYPE_SPLICE && lfs_tag_id(tag) <= want) {
            if (tag == (LFS_MKTAG(LFS_TYPE_CREATE, 0, 0) | LFS_MKTAG(0, want, 0))) {
                break; /* where the entry was created: nothing older is its */
            }
            gdiff += LFS_MKTAG(0, lfs_tag_splice(tag), 0);
            continue;
        }
        if (lfs_tag_type1(tag) != LFS_TYPE_USERATTR || lfs_tag_id(tag) != want) {
            continue;
        }
        uint8_t type = lfs_tag_chunk(tag);
        if (seen[type / 8] & (1u << (type % 8))) {
            continue;
        }
        seen[type / 8] |= (uint8_t)(1u << (type % 8));
        if (lfs_tag_isdelete(tag)) {
            continue;
        }
        lfs_size_t size = lfs_min(lfs_tag_size(tag), LFS_ATTR_MAX);
        err = lfs_bd_read(lfs, NULL, &lfs->rcache, size, dir.pair[0], off + sizeof(tag), value, size);
        if (err) {
            return err;
        }
        err = cb(data, type, value, size);
        if (err) {
            return err;
        }
    }
    return 0;
}
