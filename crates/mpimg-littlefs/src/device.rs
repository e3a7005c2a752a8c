//! The block device littlefs runs on, and the C callbacks that reach it.
//!
//! littlefs calls back through function pointers in its `lfs_config`, with the
//! config's `context` pointer. Here `context` points at a [`Hooks`] value owned
//! by the mounted filesystem, which holds a pointer to the caller's device and a
//! slot for a panic raised inside the device (a panic must not unwind through C:
//! it is caught, littlefs sees an I/O error, and the panic resumes once the C
//! call has returned).

use std::any::Any;
use std::ffi::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};

use mpimg_littlefs_sys as sys;

/// What littlefs reads, programs and erases. Offsets are within a block;
/// littlefs never crosses a block boundary in one call.
pub trait BlockDevice {
    /// Fill `buf` with the bytes at `offset` of `block`.
    fn read(&mut self, block: u32, offset: u32, buf: &mut [u8]) -> Result<(), DeviceError>;
    /// Program `data` at `offset` of `block` (which littlefs erased before).
    fn prog(&mut self, block: u32, offset: u32, data: &[u8]) -> Result<(), DeviceError>;
    /// Erase `block` (to 0xFF on NOR flash).
    fn erase(&mut self, block: u32) -> Result<(), DeviceError>;
    /// Make earlier programs durable.
    fn sync(&mut self) -> Result<(), DeviceError> {
        Ok(())
    }
}

impl<T: BlockDevice + ?Sized> BlockDevice for &mut T {
    fn read(&mut self, block: u32, offset: u32, buf: &mut [u8]) -> Result<(), DeviceError> {
        (**self).read(block, offset, buf)
    }
    fn prog(&mut self, block: u32, offset: u32, data: &[u8]) -> Result<(), DeviceError> {
        (**self).prog(block, offset, data)
    }
    fn erase(&mut self, block: u32) -> Result<(), DeviceError> {
        (**self).erase(block)
    }
    fn sync(&mut self) -> Result<(), DeviceError> {
        (**self).sync()
    }
}

/// How a device call failed, as littlefs understands it. A device that wants to
/// report more keeps the details itself and hands them out after the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceError {
    /// The device could not do it (littlefs `LFS_ERR_IO`).
    Io,
    /// The request was out of range or the data is bad (littlefs `LFS_ERR_CORRUPT`).
    Corrupt,
}

impl DeviceError {
    fn code(self) -> c_int {
        match self {
            DeviceError::Io => sys::lfs_error_LFS_ERR_IO,
            DeviceError::Corrupt => sys::lfs_error_LFS_ERR_CORRUPT,
        }
    }
}

/// What `lfs_config.context` points at.
pub(crate) struct Hooks<D> {
    /// The device, a field of the same allocation as these hooks.
    pub(crate) device: *mut D,
    /// A panic caught in a callback, to resume after the C call returns.
    pub(crate) panic: Option<Box<dyn Any + Send + 'static>>,
}

impl<D: BlockDevice> Hooks<D> {
    /// Run `f` on the device unless an earlier callback panicked; catch a panic.
    fn call(&mut self, f: impl FnOnce(&mut D) -> Result<(), DeviceError>) -> c_int {
        if self.panic.is_some() {
            return sys::lfs_error_LFS_ERR_IO;
        }
        let device = self.device;
        // SAFETY: `device` points at the device field of the filesystem's heap
        // allocation, alive while littlefs runs; littlefs calls only happen
        // under `&mut Filesystem`, so no other reference to the device exists.
        let result = catch_unwind(AssertUnwindSafe(|| f(unsafe { &mut *device })));
        match result {
            Ok(Ok(())) => 0,
            Ok(Err(e)) => e.code(),
            Err(payload) => {
                self.panic = Some(payload);
                sys::lfs_error_LFS_ERR_IO
            }
        }
    }
}

/// Recover the hooks from the config littlefs passes back.
///
/// # Safety
/// `c` must be the `lfs_config` of a live filesystem created by this crate, so
/// that its context points at that filesystem's `Hooks<D>`, and no other
/// reference to those hooks may exist during the callback.
unsafe fn hooks<'a, D>(c: *const sys::lfs_config) -> &'a mut Hooks<D> {
    // SAFETY: guaranteed by the caller (see above).
    unsafe { &mut *((*c).context as *mut Hooks<D>) }
}

pub(crate) unsafe extern "C" fn read_cb<D: BlockDevice>(
    c: *const sys::lfs_config,
    block: sys::lfs_block_t,
    off: sys::lfs_off_t,
    buffer: *mut c_void,
    size: sys::lfs_size_t,
) -> c_int {
    // SAFETY: littlefs calls this only with the config we gave it, during a call
    // made by this crate; `buffer` is valid for `size` bytes of writing for the
    // duration of the callback (littlefs's read contract).
    unsafe {
        let buf = std::slice::from_raw_parts_mut(buffer as *mut u8, size as usize);
        hooks::<D>(c).call(|d| d.read(block, off, buf))
    }
}

pub(crate) unsafe extern "C" fn prog_cb<D: BlockDevice>(
    c: *const sys::lfs_config,
    block: sys::lfs_block_t,
    off: sys::lfs_off_t,
    buffer: *const c_void,
    size: sys::lfs_size_t,
) -> c_int {
    // SAFETY: as in `read_cb`; `buffer` is valid for `size` bytes of reading.
    unsafe {
        let data = std::slice::from_raw_parts(buffer as *const u8, size as usize);
        hooks::<D>(c).call(|d| d.prog(block, off, data))
    }
}

pub(crate) unsafe extern "C" fn erase_cb<D: BlockDevice>(c: *const sys::lfs_config, block: sys::lfs_block_t) -> c_int {
    // SAFETY: as in `read_cb`.
    unsafe { hooks::<D>(c).call(|d| d.erase(block)) }
}

pub(crate) unsafe extern "C" fn sync_cb<D: BlockDevice>(c: *const sys::lfs_config) -> c_int {
    // SAFETY: as in `read_cb`.
    unsafe { hooks::<D>(c).call(|d| d.sync()) }
}
