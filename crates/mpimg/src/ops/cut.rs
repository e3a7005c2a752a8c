//! What a device write cut off half way leaves on the board, said with the
//! error: the operations that write to a device know which of their writes
//! a board needs to start (its bootloader, its partition table, the app
//! otadata selects), so they add to the device's interruption report
//! whether the board still starts and why not. The order those operations
//! write in keeps these windows short (see `flash_image`, `update`, `ota`).

pub use crate::error::CutLeaves;
use crate::error::Error;

/// Add to a device write's interruption (or failed verification) what it
/// leaves on the board: `leaves` gets whether the transfer in flight may have
/// landed in part, and says the state (None: nothing to add). Other errors,
/// and every error without the `device` feature, pass unchanged.
pub(crate) fn leaving<T>(r: Result<T, Error>, leaves: impl FnOnce(bool) -> Option<CutLeaves>) -> Result<T, Error> {
    #[cfg(feature = "device")]
    {
        use crate::flash::device::DeviceError;
        use crate::flash::FlashError;
        r.map_err(|e| match e {
            Error::Flash(FlashError::Device(d))
                if matches!(d, DeviceError::Interrupted { .. } | DeviceError::Unverified { .. }) =>
            {
                let torn = matches!(d, DeviceError::Interrupted { torn: Some(_), .. });
                match leaves(torn) {
                    Some(leaves) => Error::Interrupted { source: d, leaves },
                    None => Error::Flash(FlashError::Device(d)),
                }
            }
            other => other,
        })
    }
    #[cfg(not(feature = "device"))]
    {
        let _ = leaves;
        r
    }
}
