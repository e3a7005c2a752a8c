//! A littlefs filesystem on a caller's block device: format, mount, and the
//! path operations (stat, directories, remove, rename, attributes, traverse, grow).
//!
//! Memory layout and why it is sound: littlefs keeps raw pointers between its
//! structures (the `lfs_t` points at its `lfs_config`, the config at the buffers
//! and at the callback context, open files and directories are linked into the
//! `lfs_t`). So everything littlefs points into lives in one heap allocation
//! ([`Inner`]) that never moves and is only freed after littlefs is done with it.
//! The allocation is reached through a raw pointer, never through a `Box` or a
//! `&mut Inner` while C code runs, so no Rust reference aliases what C mutates.

use std::ffi::{c_int, c_void, CString};
use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::ptr::{addr_of, addr_of_mut, NonNull};

use mpimg_littlefs_sys as sys;

use crate::device::{erase_cb, prog_cb, read_cb, sync_cb, Hooks};
use crate::types::{Attribute, DirEntry, FileType, FsInfo};
use crate::{BlockDevice, Config, Error};

/// Everything littlefs holds pointers into, kept at one fixed heap address.
pub(crate) struct Inner<D> {
    pub(crate) lfs: sys::lfs_t,
    device: D,
    pub(crate) cfg: sys::lfs_config,
    pub(crate) hooks: Hooks<D>,
    // u64 storage keeps the buffers 8-byte aligned; their heap blocks never move
    // because the vectors are never resized.
    _read_buf: Vec<u64>,
    _prog_buf: Vec<u64>,
    _lookahead_buf: Vec<u64>,
}

/// A mounted littlefs filesystem on a block device it owns (pass `&mut dev`
/// to lend one instead: `&mut D` is a device too). Dropping it unmounts
/// (littlefs keeps no unwritten state outside open files).
pub struct Filesystem<D: BlockDevice> {
    pub(crate) inner: NonNull<Inner<D>>,
    _owns: PhantomData<D>,
}

fn words(bytes: u32) -> Vec<u64> {
    vec![0u64; (bytes as usize).div_ceil(8)]
}

/// Allocate an [`Inner`] for `device` with `cfg` filled in (validated first).
fn new_inner<D: BlockDevice>(device: D, cfg: &Config) -> Result<NonNull<Inner<D>>, (Error, D)> {
    if let Err(e) = cfg.validate() {
        return Err((e, device));
    }
    let inner = Box::new(Inner {
        lfs: sys::lfs_t::default(),
        device,
        cfg: sys::lfs_config::default(),
        hooks: Hooks { device: std::ptr::null_mut(), panic: None },
        _read_buf: words(cfg.cache_size),
        _prog_buf: words(cfg.cache_size),
        _lookahead_buf: words(cfg.lookahead_size),
    });
    let p = Box::into_raw(inner);
    // SAFETY: `p` was just produced by `Box::into_raw`, so it is valid, aligned
    // and not aliased; the buffer pointers are the vectors' heap blocks, sized
    // as the config announces (cache_size and lookahead_size bytes at least).
    unsafe {
        (*p).hooks.device = addr_of_mut!((*p).device);
        let c = &mut (*p).cfg;
        c.context = addr_of_mut!((*p).hooks) as *mut c_void;
        c.read = Some(read_cb::<D>);
        c.prog = Some(prog_cb::<D>);
        c.erase = Some(erase_cb::<D>);
        c.sync = Some(sync_cb::<D>);
        c.read_size = cfg.read_size;
        c.prog_size = cfg.prog_size;
        c.block_size = cfg.block_size;
        c.block_count = cfg.block_count;
        c.block_cycles = cfg.block_cycles;
        c.cache_size = cfg.cache_size;
        c.lookahead_size = cfg.lookahead_size;
        c.read_buffer = (*p)._read_buf.as_mut_ptr() as *mut c_void;
        c.prog_buffer = (*p)._prog_buf.as_mut_ptr() as *mut c_void;
        c.lookahead_buffer = (*p)._lookahead_buf.as_mut_ptr() as *mut c_void;
        c.disk_version = cfg.disk_version;
    }
    // SAFETY: `Box::into_raw` never returns null.
    Ok(unsafe { NonNull::new_unchecked(p) })
}

/// Free an [`Inner`] made by [`new_inner`], handing back its device.
///
/// # Safety
/// littlefs must hold no live state pointing into it (never mounted, mount or
/// format failed, or unmounted), and `p` must not be used afterwards.
unsafe fn free_inner<D>(p: NonNull<Inner<D>>) -> D {
    // SAFETY: `p` came from `Box::into_raw` and is freed once (caller's contract).
    unsafe { Box::from_raw(p.as_ptr()) }.device
}

/// Run a littlefs call on `p`, then resume any panic a callback caught.
///
/// # Safety
/// `p` must be a live [`Inner`] with no Rust reference to it or its device alive.
unsafe fn run<D, R>(p: NonNull<Inner<D>>, f: impl FnOnce(*mut sys::lfs_t, *const sys::lfs_config) -> R) -> R {
    let raw = p.as_ptr();
    // SAFETY: projections of a live allocation, no references created.
    let r = f(unsafe { addr_of_mut!((*raw).lfs) }, unsafe { addr_of!((*raw).cfg) });
    // SAFETY: the C call has returned, so nothing else touches the hooks now.
    if let Some(payload) = unsafe { (*raw).hooks.panic.take() } {
        resume_unwind(payload);
    }
    r
}

fn c_path(path: &[u8]) -> Result<CString, Error> {
    CString::new(path).map_err(|_| Error::PathHasNul)
}

fn entry_from_info(info: &sys::lfs_info) -> DirEntry {
    let name: Vec<u8> = info.name.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    let file_type = if u32::from(info.type_) == sys::lfs_type_LFS_TYPE_DIR { FileType::Dir } else { FileType::File };
    DirEntry { name, file_type, size: info.size }
}

/// Closes an open directory when dropped (also while unwinding), so the
/// `lfs_t` never keeps a link to a freed `lfs_dir_t`.
struct DirGuard<D> {
    inner: NonNull<Inner<D>>,
    dir: NonNull<sys::lfs_dir_t>,
}

impl<D> Drop for DirGuard<D> {
    fn drop(&mut self) {
        // SAFETY: the directory was opened on this `lfs_t` and is still open;
        // closing only unlinks it (no device access), then its box is freed.
        unsafe {
            sys::lfs_dir_close(addr_of_mut!((*self.inner.as_ptr()).lfs), self.dir.as_ptr());
            drop(Box::from_raw(self.dir.as_ptr()));
        }
    }
}

/// Write an empty filesystem with `cfg` (its `disk_version`, 0 = newest) on `device`.
pub fn format<D: BlockDevice>(device: &mut D, cfg: &Config) -> Result<(), Error> {
    if cfg.block_count == 0 {
        return Err(Error::Config("format needs a block count"));
    }
    let p = new_inner(device, cfg).map_err(|(e, _)| e)?;
    // SAFETY: `p` is fresh; `lfs_format` deinitialises before returning, so
    // littlefs holds nothing afterwards and `p` can be freed. A resumed panic
    // would leak `p` (never a dangling pointer).
    let code = unsafe { run(p, |lfs, c| sys::lfs_format(lfs, c)) };
    // SAFETY: see above.
    unsafe { free_inner(p) };
    Error::check(code).map(|_| ())
}

impl<D: BlockDevice> Filesystem<D> {
    /// Write an empty filesystem with `cfg` on `device` (see [`format`]).
    pub fn format(device: &mut D, cfg: &Config) -> Result<(), Error> {
        format(device, cfg)
    }

    /// Mount the filesystem on `device`. A `block_count` of 0 in `cfg` takes the
    /// count from the superblock; a non-zero one must match it. A `disk_version`
    /// of 0 accepts 2.0 and 2.1 but upgrades a 2.0 filesystem on its first write:
    /// pin the version (see [`Filesystem::fs_stat`]) to keep it.
    /// On failure the device is handed back with the error.
    pub fn mount(device: D, cfg: &Config) -> Result<Self, (Error, D)> {
        let p = new_inner(device, cfg)?;
        // SAFETY: `p` is fresh and not referenced elsewhere.
        let code = unsafe { run(p, |lfs, c| sys::lfs_mount(lfs, c)) };
        if let Err(e) = Error::check(code) {
            // SAFETY: a failed mount leaves nothing of littlefs pointing into `p`.
            return Err((e, unsafe { free_inner(p) }));
        }
        Ok(Filesystem { inner: p, _owns: PhantomData })
    }

    /// Unmount and hand back the device, with littlefs's verdict.
    pub fn unmount(self) -> (Result<(), Error>, D) {
        let p = self.inner;
        std::mem::forget(self);
        // SAFETY: `self` is gone, so this is the last use of `p`; after
        // `lfs_unmount` littlefs holds nothing in it.
        let code = unsafe { run(p, |lfs, _| sys::lfs_unmount(lfs)) };
        // SAFETY: as above.
        let device = unsafe { free_inner(p) };
        (Error::check(code).map(|_| ()), device)
    }

    /// The device, between littlefs calls.
    pub fn device(&self) -> &D {
        // SAFETY: C code only runs under `&mut self`, so nothing mutates the
        // device while this shared borrow lives.
        unsafe { &(*self.inner.as_ptr()).device }
    }

    /// The device, mutably, between littlefs calls (littlefs itself keeps no
    /// reference to it outside a call).
    pub fn device_mut(&mut self) -> &mut D {
        // SAFETY: `&mut self` excludes any littlefs call for the borrow's life.
        unsafe { &mut (*self.inner.as_ptr()).device }
    }

    /// Run a littlefs call with exclusive access (`&mut self`).
    pub(crate) fn call<R>(&mut self, f: impl FnOnce(*mut sys::lfs_t) -> R) -> R {
        // SAFETY: `&mut self` guarantees no other use of the filesystem or its
        // device (owned by this value) during the call.
        unsafe { run(self.inner, |lfs, _| f(lfs)) }
    }

    /// What littlefs reports about the mounted filesystem (on-disk version,
    /// geometry, limits). The version is the one on disk, even when the mount
    /// accepted a newer one.
    pub fn fs_stat(&mut self) -> Result<FsInfo, Error> {
        let mut info = sys::lfs_fsinfo::default();
        // SAFETY: `info` is a valid out-parameter for the duration of the call.
        let code = self.call(|lfs| unsafe { sys::lfs_fs_stat(lfs, &mut info) });
        Error::check(code)?;
        Ok(FsInfo {
            disk_version: info.disk_version,
            block_size: info.block_size,
            block_count: info.block_count,
            name_max: info.name_max,
            file_max: info.file_max,
            attr_max: info.attr_max,
        })
    }

    /// Call `f` for every block in use (`lfs_fs_traverse`: metadata pairs, file
    /// data, orphans), possibly more than once for a block.
    pub fn traverse(&mut self, f: &mut dyn FnMut(u32)) -> Result<(), Error> {
        struct State<'a> {
            f: &'a mut dyn FnMut(u32),
            panic: Option<Box<dyn std::any::Any + Send>>,
        }
        unsafe extern "C" fn cb(data: *mut c_void, block: sys::lfs_block_t) -> c_int {
            // SAFETY: `data` is the `State` passed to `lfs_fs_traverse` below,
            // alive and otherwise unreferenced for the duration of that call.
            let state = unsafe { &mut *(data as *mut State) };
            if state.panic.is_some() {
                return sys::lfs_error_LFS_ERR_IO;
            }
            match catch_unwind(AssertUnwindSafe(|| (state.f)(block))) {
                Ok(()) => 0,
                Err(p) => {
                    state.panic = Some(p);
                    sys::lfs_error_LFS_ERR_IO
                }
            }
        }
        let mut state = State { f, panic: None };
        let data = &mut state as *mut State as *mut c_void;
        // SAFETY: `cb` matches the callback type and only uses `data` as above.
        let code = self.call(|lfs| unsafe { sys::lfs_fs_traverse(lfs, Some(cb), data) });
        if let Some(p) = state.panic.take() {
            resume_unwind(p);
        }
        Error::check(code).map(|_| ())
    }

    /// Make the block allocator look for free blocks from block 0 upward, as
    /// if the seed littlefs took at mount were 0.
    ///
    /// littlefs starts each mount's allocations at `seed % block_count`, the
    /// seed being a CRC of the metadata commits it read (which include file
    /// times), to spread wear over a board's boots: a few new files can land
    /// anywhere in the partition. An image made on a computer is better off
    /// with its blocks packed at the start, so the file can end right after
    /// them. Nothing on disk changes (existing blocks stay where they are);
    /// the next mount, e.g. on the board, picks its own start again.
    ///
    /// This sets the fields `lfs_mount` sets for its start (`lookahead.start`,
    /// and an empty window as `lfs_alloc_drop` leaves it); the vendored C code
    /// is not changed.
    pub fn allocate_from_start(&mut self) {
        // SAFETY: between littlefs calls (`&mut self`) nothing else reads the
        // `lfs_t`; these are the values a mount with seed 0 leaves, so the
        // allocator's invariants (an empty window, a checkpoint over all
        // blocks) hold. Field offsets are checked against the C compiler's by
        // mpimg-littlefs-sys's tests.
        self.call(|lfs| unsafe {
            (*lfs).lookahead.start = 0;
            (*lfs).lookahead.size = 0;
            (*lfs).lookahead.next = 0;
            (*lfs).lookahead.ckpoint = (*lfs).block_count;
        });
    }

    /// Number of blocks in use as the board's `os.statvfs` counts them
    /// (one per `lfs_fs_traverse` callback).
    pub fn used_blocks(&mut self) -> Result<u32, Error> {
        let mut n = 0u32;
        self.traverse(&mut |_| n += 1)?;
        Ok(n)
    }

    /// Grow the filesystem to `block_count` blocks (littlefs cannot shrink).
    /// The device must have that many blocks.
    pub fn grow(&mut self, block_count: u32) -> Result<(), Error> {
        let current = self.fs_stat()?.block_count;
        if block_count < current {
            return Err(Error::Config("littlefs cannot shrink a filesystem"));
        }
        // SAFETY: plain call on the mounted filesystem.
        let code = self.call(|lfs| unsafe { sys::lfs_fs_grow(lfs, block_count) });
        Error::check(code).map(|_| ())
    }

    /// Type and size of the entry at `path`.
    pub fn stat(&mut self, path: impl AsRef<[u8]>) -> Result<DirEntry, Error> {
        let path = c_path(path.as_ref())?;
        let mut info = sys::lfs_info::default();
        // SAFETY: `path` is NUL-terminated and `info` a valid out-parameter.
        let code = self.call(|lfs| unsafe { sys::lfs_stat(lfs, path.as_ptr(), &mut info) });
        Error::check(code)?;
        Ok(entry_from_info(&info))
    }

    /// The entries of the directory at `path` (without `.` and `..`), in
    /// littlefs's order (sorted by name). Fails with [`Error::Corrupt`] after
    /// `limit` entries, which only a damaged or crafted image reaches.
    pub fn read_dir(&mut self, path: impl AsRef<[u8]>, limit: usize) -> Result<Vec<DirEntry>, Error> {
        self.read_dir_with_head(path, limit).map(|(_, entries)| entries)
    }

    /// [`Filesystem::read_dir`], and the directory's metadata pair (the two
    /// blocks its entries live in; `[0, 1]` for the root): what identifies
    /// the directory on disk, whatever path led to it.
    pub fn read_dir_with_head(
        &mut self,
        path: impl AsRef<[u8]>,
        limit: usize,
    ) -> Result<([u32; 2], Vec<DirEntry>), Error> {
        let path = c_path(path.as_ref())?;
        let dir = NonNull::from(Box::leak(Box::new(sys::lfs_dir_t::default())));
        // SAFETY: `dir` is a fresh heap value that stays put until the guard
        // frees it; on failure `lfs_dir_open` leaves it unlinked, so it is freed
        // directly.
        let code = self.call(|lfs| unsafe { sys::lfs_dir_open(lfs, dir.as_ptr(), path.as_ptr()) });
        if let Err(e) = Error::check(code) {
            // SAFETY: not linked into littlefs (the open failed).
            drop(unsafe { Box::from_raw(dir.as_ptr()) });
            return Err(e);
        }
        let guard = DirGuard { inner: self.inner, dir };
        // SAFETY: `dir` is open and owned by the guard; a plain field read.
        let head = unsafe { (*guard.dir.as_ptr()).head };
        let mut out = Vec::new();
        loop {
            let mut info = sys::lfs_info::default();
            // SAFETY: `dir` is open on this filesystem; `info` is an out-parameter.
            let code = self.call(|lfs| unsafe { sys::lfs_dir_read(lfs, guard.dir.as_ptr(), &mut info) });
            if Error::check(code)? == 0 {
                break;
            }
            let entry = entry_from_info(&info);
            if entry.name == b"." || entry.name == b".." {
                continue;
            }
            if out.len() >= limit {
                return Err(Error::Corrupt);
            }
            out.push(entry);
        }
        drop(guard);
        Ok((head, out))
    }

    /// Create the directory `path` (its parent must exist).
    pub fn mkdir(&mut self, path: impl AsRef<[u8]>) -> Result<(), Error> {
        let path = c_path(path.as_ref())?;
        // SAFETY: NUL-terminated path, plain call.
        let code = self.call(|lfs| unsafe { sys::lfs_mkdir(lfs, path.as_ptr()) });
        Error::check(code).map(|_| ())
    }

    /// Remove a file or an empty directory.
    pub fn remove(&mut self, path: impl AsRef<[u8]>) -> Result<(), Error> {
        let path = c_path(path.as_ref())?;
        // SAFETY: NUL-terminated path, plain call.
        let code = self.call(|lfs| unsafe { sys::lfs_remove(lfs, path.as_ptr()) });
        Error::check(code).map(|_| ())
    }

    /// Rename (move) an entry; an existing file at `to` is replaced, an existing
    /// directory only if it is empty and `from` is a directory too.
    pub fn rename(&mut self, from: impl AsRef<[u8]>, to: impl AsRef<[u8]>) -> Result<(), Error> {
        let from = c_path(from.as_ref())?;
        let to = c_path(to.as_ref())?;
        // SAFETY: NUL-terminated paths, plain call.
        let code = self.call(|lfs| unsafe { sys::lfs_rename(lfs, from.as_ptr(), to.as_ptr()) });
        Error::check(code).map(|_| ())
    }

    /// Read custom attribute `kind` of `path` into `buf`. Returns the attribute's
    /// stored size (only `buf.len()` bytes of it are copied), or `None` if absent.
    pub fn getattr(&mut self, path: impl AsRef<[u8]>, kind: u8, buf: &mut [u8]) -> Result<Option<usize>, Error> {
        let path = c_path(path.as_ref())?;
        let size = u32::try_from(buf.len()).unwrap_or(u32::MAX);
        let ptr = buf.as_mut_ptr() as *mut c_void;
        // SAFETY: `buf` is valid for `size` bytes of writing during the call.
        let code = self.call(|lfs| unsafe { sys::lfs_getattr(lfs, path.as_ptr(), kind, ptr, size) });
        match Error::check(code) {
            Ok(n) => Ok(Some(n as usize)),
            Err(Error::NoAttr) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Set custom attribute `kind` of `path` to `value` (at most [`crate::ATTR_MAX`] bytes).
    pub fn setattr(&mut self, path: impl AsRef<[u8]>, kind: u8, value: &[u8]) -> Result<(), Error> {
        if value.len() > crate::ATTR_MAX {
            return Err(Error::NoSpace);
        }
        let path = c_path(path.as_ref())?;
        let ptr = value.as_ptr() as *const c_void;
        let size = value.len() as u32;
        // SAFETY: `value` is valid for `size` bytes of reading during the call.
        let code = self.call(|lfs| unsafe { sys::lfs_setattr(lfs, path.as_ptr(), kind, ptr, size) });
        Error::check(code).map(|_| ())
    }

    /// Every custom attribute of the file or directory at `path` (the root
    /// `/` too), sorted by type, with its exact stored value. One path lookup
    /// and one pass over the entry's metadata, where asking
    /// [`Filesystem::getattr`] for each of the 256 types would take 256 of each.
    pub fn attrs(&mut self, path: impl AsRef<[u8]>) -> Result<Vec<Attribute>, Error> {
        struct State {
            out: Vec<Attribute>,
            panic: Option<Box<dyn std::any::Any + Send>>,
        }
        unsafe extern "C" fn cb(data: *mut c_void, kind: u8, value: *const c_void, size: sys::lfs_size_t) -> c_int {
            // SAFETY: `data` is the `State` passed below, alive and otherwise
            // unreferenced during the call; `value` holds `size` readable bytes.
            let state = unsafe { &mut *(data as *mut State) };
            let bytes = unsafe { std::slice::from_raw_parts(value as *const u8, size as usize) };
            match catch_unwind(AssertUnwindSafe(|| state.out.push(Attribute { kind, value: bytes.to_vec() }))) {
                Ok(()) => 0,
                Err(p) => {
                    state.panic = Some(p);
                    sys::lfs_error_LFS_ERR_IO
                }
            }
        }
        let path = c_path(path.as_ref())?;
        let mut state = State { out: Vec::new(), panic: None };
        let data = &mut state as *mut State as *mut c_void;
        // SAFETY: NUL-terminated path; `cb` matches the callback type and only
        // uses `data` as above.
        let code = self.call(|lfs| unsafe { sys::mpimg_lfs_list_attrs(lfs, path.as_ptr(), Some(cb), data) });
        if let Some(p) = state.panic.take() {
            resume_unwind(p);
        }
        Error::check(code)?;
        state.out.sort_by_key(|a| a.kind);
        Ok(state.out)
    }

    /// Remove custom attribute `kind` of `path`.
    pub fn removeattr(&mut self, path: impl AsRef<[u8]>, kind: u8) -> Result<(), Error> {
        let path = c_path(path.as_ref())?;
        // SAFETY: NUL-terminated path, plain call.
        let code = self.call(|lfs| unsafe { sys::lfs_removeattr(lfs, path.as_ptr(), kind) });
        Error::check(code).map(|_| ())
    }
}

impl<D: BlockDevice> Drop for Filesystem<D> {
    fn drop(&mut self) {
        let raw = self.inner.as_ptr();
        // SAFETY: last use of the allocation. `lfs_unmount` only releases
        // littlefs's own state (no device access in this version); a panic a
        // callback might still catch is dropped rather than resumed, because
        // this may run while already unwinding.
        unsafe {
            sys::lfs_unmount(addr_of_mut!((*raw).lfs));
            (*raw).hooks.panic = None;
            drop(free_inner(self.inner));
        }
    }
}
