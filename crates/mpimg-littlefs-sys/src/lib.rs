//! Raw bindings to the C littlefs v2.9 that `littlefs/` vendors unmodified
//! (upstream: github.com/littlefs-project/littlefs, BSD-3-Clause; the same
//! sources littlefs2-sys 0.3 ships). MicroPython's `VfsLfs2` is this C code,
//! so compiling it, rather than reimplementing it, keeps every byte mpimg
//! writes what a board would write.
//!
//! The bindings in `bindings.rs` were generated once by bindgen on x86_64
//! (`scripts/regen-littlefs-bindings.sh`), so a build needs a C compiler but
//! no libclang. They hold for 64-bit hosts: bindgen's layout assertions stop a
//! build where pointer sizes differ, and `tests` compares every struct's size
//! and alignment with what this machine's C compiler chose.
//!
//! Build flags (see `build.rs`): no malloc (the caller supplies every
//! buffer), no asserts or logging, and `LFS_MULTIVERSION` so a filesystem can
//! be written as on-disk version 2.0 (MicroPython ≤ v1.21) or 2.1.

#![no_std]
#![allow(non_upper_case_globals, non_camel_case_types, non_snake_case, missing_docs)]
#![allow(clippy::all)]

include!("bindings.rs");

/// Called by [`mpimg_lfs_list_attrs`] once per user attribute: its type, and
/// `size` bytes of value at `value` (valid only during the call). A non-zero
/// return stops the listing and is returned from it.
pub type mpimg_lfs_attr_cb = ::core::option::Option<
    unsafe extern "C" fn(
        data: *mut ::core::ffi::c_void,
        type_: u8,
        value: *const ::core::ffi::c_void,
        size: lfs_size_t,
    ) -> ::core::ffi::c_int,
>;

extern "C" {
    /// Every user attribute of the file or directory at `path` (the root's
    /// too), each passed to `cb` with `data`, in one pass over the entry's
    /// metadata log (`src/attrs.c`). Returns 0 or a negative `lfs_error`.
    pub fn mpimg_lfs_list_attrs(
        lfs: *mut lfs_t,
        path: *const ::core::ffi::c_char,
        cb: mpimg_lfs_attr_cb,
        data: *mut ::core::ffi::c_void,
    ) -> ::core::ffi::c_int;
}

#[cfg(test)]
mod tests {
    extern crate std;
    use core::mem::{align_of, size_of};

    use super::*;

    /// Compare one struct's Rust layout with the C compiler's (src/layout.c).
    macro_rules! layout_matches {
        ($t:ident) => {{
            extern "C" {
                #[link_name = concat!("mpimg_lfs_sizeof_", stringify!($t))]
                static C_SIZE: usize;
                #[link_name = concat!("mpimg_lfs_alignof_", stringify!($t))]
                static C_ALIGN: usize;
            }
            // SAFETY: plain constants defined in src/layout.c.
            let (c_size, c_align) = unsafe { (C_SIZE, C_ALIGN) };
            assert_eq!((size_of::<$t>(), align_of::<$t>()), (c_size, c_align), stringify!($t));
        }};
    }

    #[test]
    fn struct_layouts_match_the_c_compiler() {
        layout_matches!(lfs_t);
        layout_matches!(lfs_config);
        layout_matches!(lfs_file_t);
        layout_matches!(lfs_file_config);
        layout_matches!(lfs_dir_t);
        layout_matches!(lfs_info);
        layout_matches!(lfs_fsinfo);
        layout_matches!(lfs_attr);
    }

    #[test]
    fn fields_rust_code_sets_are_where_the_c_compiler_put_them() {
        extern "C" {
            static mpimg_lfs_offsetof_lfs_t_lookahead: usize;
            static mpimg_lfs_offsetof_lfs_t_block_count: usize;
        }
        // SAFETY: plain constants defined in src/layout.c.
        let (lookahead, block_count) =
            unsafe { (mpimg_lfs_offsetof_lfs_t_lookahead, mpimg_lfs_offsetof_lfs_t_block_count) };
        assert_eq!(core::mem::offset_of!(lfs_t, lookahead), lookahead);
        assert_eq!(core::mem::offset_of!(lfs_t, block_count), block_count);
    }

    #[test]
    fn vendored_version_is_2_9_with_disk_2_1() {
        assert_eq!((LFS_VERSION_MAJOR, LFS_VERSION_MINOR), (2, 9));
        assert_eq!(LFS_DISK_VERSION, 0x0002_0001);
    }
}
