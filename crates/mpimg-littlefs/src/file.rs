//! An open littlefs file.
//!
//! littlefs links an open file into its `lfs_t` and keeps pointers to the
//! file's cache buffer and attribute list, so those live in one heap block
//! ([`FileInner`]) that stays put until the file is closed. The [`File`] borrows
//! the filesystem mutably, so nothing else runs on it while the file is open;
//! dropping the file closes it. If a `File` is leaked (`mem::forget`), its heap
//! block is leaked with it, so littlefs's link never dangles.

use std::ffi::c_void;
use std::ptr::{addr_of, addr_of_mut, NonNull};

use mpimg_littlefs_sys as sys;

use crate::{Attribute, BlockDevice, Error, Filesystem, OpenFlags};

struct FileInner {
    file: sys::lfs_file_t,
    cfg: sys::lfs_file_config,
    _buffer: Vec<u64>,
    _attrs: Vec<sys::lfs_attr>,
    _values: Vec<Vec<u8>>,
}

/// An open file on a [`Filesystem`]; closed (and, if written, committed) on drop
/// or by [`File::close`], which reports errors.
pub struct File<'a, D: BlockDevice> {
    fs: &'a mut Filesystem<D>,
    inner: Option<NonNull<FileInner>>,
}

impl<D: BlockDevice> Filesystem<D> {
    /// Open `path`. With [`OpenFlags::CreateTruncate`] the `attrs` are written
    /// together with the file when it is closed (how MicroPython stores mtime);
    /// with [`OpenFlags::Read`] littlefs reads each stored attribute into the
    /// given value at open (see [`File::attr_value`]).
    pub fn open<'a>(
        &'a mut self,
        path: impl AsRef<[u8]>,
        flags: OpenFlags,
        attrs: &[Attribute],
    ) -> Result<File<'a, D>, Error> {
        if attrs.iter().any(|a| a.value.len() > crate::ATTR_MAX) || attrs.len() > u8::MAX as usize {
            return Err(Error::NoSpace);
        }
        let path = std::ffi::CString::new(path.as_ref()).map_err(|_| Error::PathHasNul)?;
        let cache = u32::try_from(self.cache_size()).unwrap_or(u32::MAX);
        let values: Vec<Vec<u8>> = attrs.iter().map(|a| a.value.clone()).collect();
        let inner = Box::new(FileInner {
            file: sys::lfs_file_t::default(),
            cfg: sys::lfs_file_config::default(),
            _buffer: vec![0u64; (cache as usize).div_ceil(8)],
            _attrs: Vec::with_capacity(attrs.len()),
            _values: values,
        });
        let p = Box::into_raw(inner);
        // SAFETY: `p` is a fresh, unaliased allocation. The attribute records
        // point into `_values`' heap blocks, which are never resized; the cache
        // buffer has the filesystem's cache size, as littlefs requires.
        unsafe {
            for (a, v) in attrs.iter().zip((*p)._values.iter_mut()) {
                (*p)._attrs.push(sys::lfs_attr {
                    type_: a.kind,
                    buffer: v.as_mut_ptr() as *mut c_void,
                    size: v.len() as u32,
                });
            }
            (*p).cfg.buffer = (*p)._buffer.as_mut_ptr() as *mut c_void;
            (*p).cfg.attrs = if attrs.is_empty() { std::ptr::null_mut() } else { (*p)._attrs.as_mut_ptr() };
            (*p).cfg.attr_count = attrs.len() as u32;
        }
        let flags = flags.bits();
        // SAFETY: `p` stays valid and in place while the file is open; on
        // failure littlefs unlinks the file before returning, so it can be freed.
        let code = self.call(|lfs| unsafe {
            sys::lfs_file_opencfg(lfs, addr_of_mut!((*p).file), path.as_ptr(), flags, addr_of!((*p).cfg))
        });
        if let Err(e) = Error::check(code) {
            // SAFETY: not linked into littlefs (see above); freed once.
            drop(unsafe { Box::from_raw(p) });
            return Err(e);
        }
        // SAFETY: `Box::into_raw` never returns null.
        Ok(File { fs: self, inner: Some(unsafe { NonNull::new_unchecked(p) }) })
    }

    fn cache_size(&self) -> usize {
        // SAFETY: reading a plain field of the live allocation; no C call runs
        // (we hold `&self`, and C only runs under `&mut self`).
        unsafe { (*self.inner.as_ptr()).cfg.cache_size as usize }
    }

    /// Read the whole file at `path`.
    pub fn read_file(&mut self, path: impl AsRef<[u8]>) -> Result<Vec<u8>, Error> {
        let mut f = self.open(path, OpenFlags::Read, &[])?;
        let data = f.read_to_end()?;
        f.close()?;
        Ok(data)
    }

    /// Read the whole file at `path` together with its user attribute `kind`,
    /// taken as exactly `len` bytes, in one lookup of the path (a separate
    /// [`Filesystem::getattr`] walks the directory again).
    ///
    /// littlefs reads the attribute when it opens the file and does not say how
    /// long the stored value was: a shorter value comes back zero-padded, a longer
    /// one cut. An absent attribute leaves the buffer as it was; the buffer starts
    /// as all 0xFF, so absent and a stored all-0xFF value both give `None`.
    pub fn read_file_with_attr(
        &mut self,
        path: impl AsRef<[u8]>,
        kind: u8,
        len: usize,
    ) -> Result<(Vec<u8>, Option<Vec<u8>>), Error> {
        let probe = [Attribute { kind, value: vec![0xFF; len] }];
        let mut f = self.open(path, OpenFlags::Read, &probe)?;
        let data = f.read_to_end()?;
        let value = f.attr_value(0).filter(|v| v.iter().any(|&b| b != 0xFF)).map(<[u8]>::to_vec);
        f.close()?;
        Ok((data, value))
    }

    /// Create or replace the file at `path` with `data` and `attrs`.
    pub fn write_file(&mut self, path: impl AsRef<[u8]>, data: &[u8], attrs: &[Attribute]) -> Result<(), Error> {
        let mut f = self.open(path, OpenFlags::CreateTruncate, attrs)?;
        f.write_all(data)?;
        f.close()
    }
}

impl<D: BlockDevice> File<'_, D> {
    fn file_ptr(&self) -> Result<*mut sys::lfs_file_t, Error> {
        let p = self.inner.ok_or(Error::BadFile)?;
        // SAFETY: projection of the live file allocation.
        Ok(unsafe { addr_of_mut!((*p.as_ptr()).file) })
    }

    /// The value of the `index`th attribute passed to [`Filesystem::open`], as
    /// littlefs left it (read from disk at open for a file opened to read).
    pub fn attr_value(&self, index: usize) -> Option<&[u8]> {
        let p = self.inner?;
        // SAFETY: shared read of the live allocation; littlefs writes attribute
        // buffers only inside calls made under `&mut self`.
        let values: &Vec<Vec<u8>> = unsafe { &(*p.as_ptr())._values };
        values.get(index).map(Vec::as_slice)
    }

    /// Read up to `buf.len()` bytes; 0 means end of file.
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let file = self.file_ptr()?;
        let size = u32::try_from(buf.len()).unwrap_or(u32::MAX >> 1).min(i32::MAX as u32);
        let ptr = buf.as_mut_ptr() as *mut c_void;
        // SAFETY: the file is open on this filesystem; `buf` is writable for `size` bytes.
        let code = self.fs.call(|lfs| unsafe { sys::lfs_file_read(lfs, file, ptr, size) });
        Error::check(code).map(|n| n as usize)
    }

    /// Read from the current position to the end. Fails with
    /// [`Error::Corrupt`] when the file claims more bytes than the whole
    /// filesystem holds (only a damaged entry does).
    pub fn read_to_end(&mut self) -> Result<Vec<u8>, Error> {
        let size = self.size()?;
        // A damaged entry can claim up to 2 GB: no file holds more than the
        // filesystem, and the buffer is allocated before littlefs reads.
        // SAFETY: plain field reads of the mounted filesystem and its config.
        let fs_bytes =
            self.fs.call(|lfs| unsafe { u64::from((*lfs).block_count) * u64::from((*(*lfs).cfg).block_size) });
        if u64::from(size) > fs_bytes {
            return Err(Error::Corrupt);
        }
        let mut out = vec![0u8; size as usize];
        let mut done = 0;
        while done < out.len() {
            let n = self.read(&mut out[done..])?;
            if n == 0 {
                break;
            }
            done += n;
        }
        out.truncate(done);
        Ok(out)
    }

    /// Write all of `data` at the current position.
    pub fn write_all(&mut self, data: &[u8]) -> Result<(), Error> {
        let file = self.file_ptr()?;
        // Chunks keep each length within littlefs's signed 32-bit return value.
        for chunk in data.chunks(1 << 20) {
            let ptr = chunk.as_ptr() as *const c_void;
            let size = chunk.len() as u32;
            // SAFETY: the file is open on this filesystem; `chunk` is readable for `size` bytes.
            let code = self.fs.call(|lfs| unsafe { sys::lfs_file_write(lfs, file, ptr, size) });
            let n = Error::check(code)?;
            if n != size {
                return Err(Error::NoSpace);
            }
        }
        Ok(())
    }

    /// Size of the file in bytes.
    pub fn size(&mut self) -> Result<u32, Error> {
        let file = self.file_ptr()?;
        // SAFETY: the file is open on this filesystem.
        let code = self.fs.call(|lfs| unsafe { sys::lfs_file_size(lfs, file) });
        Error::check(code)
    }

    /// Close the file, committing what was written (and its attributes).
    pub fn close(mut self) -> Result<(), Error> {
        self.close_inner(true)
    }

    fn close_inner(&mut self, resume_panic: bool) -> Result<(), Error> {
        let Some(p) = self.inner.take() else { return Ok(()) };
        let file = p.as_ptr();
        let code = if resume_panic {
            // SAFETY: the file is open on this filesystem.
            self.fs.call(|lfs| unsafe { sys::lfs_file_close(lfs, addr_of_mut!((*file).file)) })
        } else {
            // SAFETY: as above, but without resuming a caught panic (we may be
            // unwinding already); littlefs unlinks the file whatever the result.
            unsafe {
                let raw = self.fs.inner.as_ptr();
                let code = sys::lfs_file_close(addr_of_mut!((*raw).lfs), addr_of_mut!((*file).file));
                (*raw).hooks.panic = None;
                code
            }
        };
        // SAFETY: littlefs no longer links the file after `lfs_file_close`,
        // whatever it returned; this is the only free of `p`.
        drop(unsafe { Box::from_raw(file) });
        Error::check(code).map(|_| ())
    }
}

impl<D: BlockDevice> Drop for File<'_, D> {
    fn drop(&mut self) {
        let _ = self.close_inner(false);
    }
}
